"""Incremental blob I/O for DatabaseStorage on SQLite through a Django alias.

SQLite runs inside the process, so the portable way to grow and read a blob
(``blob || ?`` per part, ``substr()`` per read) makes SQLite build the whole
value in our memory on every call. Python 3.11's ``sqlite3.Connection.blobopen``
reads and writes a blob in place instead: a save inserts ``zeroblob(size)``
(which claims the name like any insert) and writes the bytes through the
handle, all in the save's transaction; a read opens the blob, reads one part
at an offset and closes it again, so no read lock outlives the query (a
reader kept open for a slow client never blocks writers).

Through pyodbc there is no blob handle, and Python 3.10's sqlite3 has no
``blobopen``: both keep the portable way (documented as a limit).
"""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import Iterator
from typing import Any

from django.core.files import File

from storages.utils import content_chunks


def blob_connection(django_connection: Any) -> Any | None:
    """The sqlite3 connection under a Django SQLite alias, if it can open blobs."""
    if django_connection.vendor != "sqlite":
        return None
    django_connection.ensure_connection()
    raw = django_connection.connection
    return raw if hasattr(raw, "blobopen") else None  # Python 3.11+


def split_table(table: str) -> tuple[str, str]:
    """``(schema, table)`` for blobopen: ``main`` unless the table is ``schema.table``."""
    schema, _, bare = table.rpartition(".")
    return schema or "main", bare


def known_size(content: Any) -> int | None:
    """The size ``content`` claims (Django's ``File.size``), or None if it cannot tell."""
    try:
        size = content.size
    except (AttributeError, OSError, ValueError, TypeError):
        return None
    return size if isinstance(size, int) and size >= 0 else None


@contextlib.contextmanager
def sized(content: Any, spool_limit: int) -> Iterator[tuple[Any, int]]:
    """``content`` and its size; content that cannot tell is spooled first (to disk
    past ``spool_limit``) to learn it."""
    size = known_size(content)
    if size is not None:
        yield content, size
        return
    with tempfile.SpooledTemporaryFile(max_size=spool_limit) as spool:
        for chunk in content_chunks(content):
            spool.write(chunk)
        size = spool.tell()
        spool.seek(0)
        yield File(spool), size


def write_chunks(blob: Any, chunks: Iterator[bytes], room: int) -> tuple[int, Any]:
    """Write ``chunks`` through ``blob`` (``room`` bytes long).

    Returns the bytes written and, if the content was longer than its claimed
    size, a spooled file holding the rest (the caller grows the blob for it).
    """
    written = 0
    overflow = None
    try:
        for chunk in chunks:
            if overflow is None and written + len(chunk) <= room:
                blob.write(chunk)
                written += len(chunk)
                continue
            if overflow is None:
                fits = room - written
                blob.write(chunk[:fits])
                written += fits
                chunk = chunk[fits:]
                # Closed by the caller (or below, if the content fails).
                overflow = tempfile.SpooledTemporaryFile(max_size=1024 * 1024)  # noqa: SIM115
            overflow.write(chunk)
    except BaseException:
        if overflow is not None:
            overflow.close()
        raise
    return written, overflow
