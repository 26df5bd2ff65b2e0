"""The file objects of DatabaseStorage: a blob read by parts, a blob written on close."""

from __future__ import annotations

import contextlib
import io
import tempfile
from typing import TYPE_CHECKING, Any

from django.core.files import File

from storages.backends.database.errors import BlobChangedError
from storages.backends.database.sqlite import split_table
from storages.utils import DEFAULT_CHUNK_SIZE

if TYPE_CHECKING:
    from storages.backends.database.storage import DatabaseStorage

MiB = 1024 * 1024


class DatabaseFile(File):
    """A file of a DatabaseStorage: its size is known without reading it."""

    def __init__(
        self, stream: Any, name: str, size: int | None, *, storage: DatabaseStorage, mode: str
    ) -> None:
        super().__init__(stream, name)
        self.mode = mode
        self._storage = storage
        if size is not None:
            self.size = size

    def __exit__(self, exc_type: Any, exc_value: Any, traceback: Any) -> None:
        # A ``with`` block left by an exception wrote something incomplete: drop it.
        writer = getattr(self.file, "buffer", self.file)
        if exc_type is not None and isinstance(writer, BlobWriter):
            writer._abandoned = True
        self.close()

    def open(self, mode: str | None = None) -> DatabaseFile:
        if not self.closed:
            self.seek(0)
            return self
        reopened = self._storage._open(self.name, mode or self.mode)
        self.file, self.mode = reopened.file, reopened.mode
        if "size" in reopened.__dict__:
            self.size = reopened.size
        return self


class BlobReader(io.RawIOBase):
    """Reads a blob by parts, each part one query (or one blob handle on SQLite).

    Parts start at 256 KiB and double while reads are sequential, up to the
    storage's ``read_part``: a range costs one small query, a whole file few
    large ones (each ``SUBSTRING`` on MySQL/MariaDB, and each blob open on
    SQLite, costs work in proportion to the blob or the offset). One part is
    kept at a time.
    """

    def __init__(self, storage: DatabaseStorage, key: str, size: int, modified: int | None):
        super().__init__()
        self.name = key
        self.size = size
        self._storage = storage
        self._modified = modified
        self._position = 0
        self._largest = storage.read_part
        self._next = min(DEFAULT_CHUNK_SIZE, self._largest)
        self._window: bytes = b""
        self._window_start = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._position

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._position, io.SEEK_END: self.size}[whence]
        if base + offset < 0:
            raise ValueError("negative seek position")
        self._position = base + offset
        return self._position

    def readinto(self, buffer: Any) -> int:
        remaining = self.size - self._position
        if remaining <= 0 or not len(buffer):
            return 0
        offset = self._position - self._window_start
        if not 0 <= offset < len(self._window):
            sequential = bool(self._window) and offset == len(self._window)
            grown = self._next * 2 if sequential else DEFAULT_CHUNK_SIZE
            self._next = min(max(grown, len(buffer)), self._largest)
            self._window = b""  # never two parts in memory at once
            self._window = self._fetch(min(self._next, remaining))
            self._window_start, offset = self._position, 0
        count = min(len(buffer), len(self._window) - offset)
        with memoryview(self._window) as view:
            buffer[:count] = view[offset : offset + count]
        self._position += count
        return count

    def readall(self) -> bytes:
        parts = []
        offset = self._position - self._window_start
        if 0 <= offset < len(self._window):
            parts.append(self._window[offset:])
            self._position += len(parts[-1])
        self._window = b""
        while self._position < self.size:
            parts.append(self._fetch(min(self._largest, self.size - self._position)))
            self._position += len(parts[-1])
        return b"".join(parts)

    def close(self) -> None:
        self._window = b""
        super().close()

    def _check(self, row: Any) -> None:
        storage, key = self._storage, self.name
        if row is None:
            raise BlobChangedError(f"{key!r} was deleted from {storage.describe()} while read.")
        size, modified = int(row[-2]), row[-1]
        if size != self.size or (modified is not None and int(modified) != self._modified):
            raise BlobChangedError(f"{key!r} was replaced in {storage.describe()} while read.")

    def _fetch(self, length: int) -> bytes:
        storage, key = self._storage, self.name
        with storage._errors("read", key):
            raw = storage._blob_connection()
        # Small files: one substr() query (loading a small value is cheap).
        blobs = raw is not None and self.size > DEFAULT_CHUNK_SIZE
        data = self._fetch_blob(raw, length) if blobs else self._fetch_part(length)
        if not data:
            raise BlobChangedError(f"{key!r} in {storage.describe()} is shorter than its size.")
        return data

    def _fetch_part(self, length: int) -> bytes:
        storage, key = self._storage, self.name
        sql = storage.sql
        with storage._errors("read", key), storage.connector.binary_cursor() as cursor:
            cursor.execute(
                sql.read_sql(storage.columns), sql.read_params(self._position + 1, length, key)
            )
            row = cursor.fetchone()
        self._check(row)
        return bytes(row[0] or b"")

    def _fetch_blob(self, raw: Any, length: int) -> bytes:
        storage, key = self._storage, self.name
        rowid_sql = storage.sql.rowid_sql(storage.columns)
        schema, table = split_table(storage.db_table)
        connector = storage.connector
        with storage._errors("read", key), connector.cursor() as cursor:
            cursor.execute(rowid_sql, (key,))
            row = cursor.fetchone()
            self._check(row)
            with (
                connector.connection.wrap_database_errors,
                raw.blobopen(
                    table, storage.blob_column, row[0], readonly=True, name=schema
                ) as blob,
            ):
                # The open handle holds a read snapshot: check the row is
                # still the version we started reading.
                cursor.execute(rowid_sql, (key,))
                current = cursor.fetchone()
                self._check(current)
                if tuple(current) != tuple(row):  # same size and time, another row
                    raise BlobChangedError(
                        f"{key!r} was replaced in {storage.describe()} while read."
                    )
                blob.seek(self._position)
                return blob.read(length)


class BlobWriter(io.RawIOBase):
    """Collects written bytes in a spooled temporary file; stores them when closed."""

    def __init__(self, storage: DatabaseStorage, key: str, *, exclusive: bool) -> None:
        super().__init__()
        self.name = key
        self._storage = storage
        self._exclusive = exclusive
        # Closed in close(), which the file wrapping this writer calls.
        spool_limit = storage.write_chunk_size or 8 * MiB
        self._spool = tempfile.SpooledTemporaryFile(max_size=spool_limit)  # noqa: SIM115
        self._abandoned = False

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        return self._spool.write(data)

    def close(self) -> None:
        if self.closed:
            return
        try:
            if not self._abandoned:
                self._spool.seek(0)
                self._storage._write(
                    self.name, File(self._spool), overwrite=True, exclusive=self._exclusive
                )
        finally:
            self._spool.close()
            super().close()

    def __del__(self) -> None:
        # A writer dropped without close() stores nothing, rather than a partial file.
        self._abandoned = True
        with contextlib.suppress(Exception):
            self.close()


class TextWriter(io.TextIOWrapper):
    """Text on top of a BlobWriter; dropping it unclosed stores nothing either."""

    def __del__(self) -> None:
        with contextlib.suppress(Exception):
            self.buffer._abandoned = True
            self.buffer.close()
