"""Dropbox files as Django files, in bounded memory.

Reading: :class:`DropboxFile` opens with one ``files/download`` whose body is
streamed as it is read; a seek drops it, and the next read asks for a
``Range`` of the revision that was opened (``rev:...``), so a reader never
mixes two versions of a replaced file and a file of any size costs one buffer.

Writing: uploads go out in blocks of ``chunk_size`` (:func:`blocks`), one
``files/upload`` for a file of one block, an upload session beyond; only one
block is in memory at a time.
"""

from __future__ import annotations

import hashlib
import io
import mimetypes
import threading
import time
from collections import OrderedDict
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from storages.files import ChunkReader, ReadFile, file_on_disk, pread_exactly
from storages.utils import content_chunks

if TYPE_CHECKING:
    from storages.backends.dropbox.storage import DropboxStorage

#: Bytes asked of the response stream at a time.
STREAM_CHUNK = 256 * 1024


#: Dropbox's content hash hashes the content in blocks of this size.
HASH_BLOCK = 4 * 1024 * 1024


def content_hash(data: bytes) -> str:
    """Dropbox's ``content_hash`` of ``data``, which it checks on arrival (no copy made)."""
    view = memoryview(data)
    overall = hashlib.sha256()
    for start in range(0, len(view), HASH_BLOCK):
        overall.update(hashlib.sha256(view[start : start + HASH_BLOCK]).digest())
    return overall.hexdigest()


def blocks(content: Any, size: int) -> Iterator[bytes]:
    """The bytes of ``content`` in blocks of exactly ``size`` (the last may be shorter).

    An empty file is one empty block, so that it is uploaded too.
    """
    on_disk = _on_disk(content)
    if on_disk is not None:
        # A regular file: each block is read with one pread, no buffer copies.
        fd, start, length = on_disk
        for offset in range(start, start + length, size):
            yield pread_exactly(fd, min(size, start + length - offset), offset)
        if not length:
            yield b""
        return
    pending = bytearray()
    sent = False
    for chunk in content_chunks(content, size):
        if not pending and len(chunk) == size:
            yield chunk  # the common case: no copy
            sent = True
            continue
        pending += chunk
        while len(pending) >= size:
            block = bytes(memoryview(pending)[:size])
            del pending[:size]
            yield block
            sent = True
    if pending or not sent:
        yield bytes(pending)


def _on_disk(content: Any) -> tuple[int, int, int] | None:
    """``(fd, 0, size)`` when ``content`` is a regular file on disk, read from its start."""
    try:
        if not content.seekable():
            return None
        found = file_on_disk(content)
    except (AttributeError, OSError, ValueError):
        return None
    if found is None:
        return None
    fd, offset, length = found
    return fd, 0, offset + length  # a save stores the file from its start


class DropboxFile(ReadFile):
    """A Dropbox file opened for reading (``metadata`` is its ``dropbox.files.FileMetadata``)."""

    def __init__(self, name: str, storage: DropboxStorage, mode: str = "rb") -> None:
        self._storage = storage
        path = storage._path(name)
        metadata, response = storage._download(path, action="open")
        self.metadata = metadata
        self.mime_type = mimetypes.guess_type(name)[0]
        self._first: Any = response
        size = int(metadata.size)
        if size == 0:
            self._release_first()
        pinned = f"rev:{metadata.rev}"

        def fetch(offset: int) -> Iterator[bytes]:
            response = self._first if offset == 0 else None
            self._first = None
            if response is None:
                _metadata, response = storage._download(
                    pinned, action="read", shown=path, offset=offset
                )
            try:
                with storage._errors(path, "read"):  # a dropped body names the file too
                    yield from response.iter_content(STREAM_CHUNK)
            finally:
                response.close()

        def opener() -> tuple[io.RawIOBase, int]:
            return ChunkReader(fetch, size), size

        super().__init__(name, mode, opener)

    def _release_first(self) -> None:
        first, self._first = self._first, None
        if first is not None:
            first.close()

    def close(self) -> None:
        self._release_first()  # opened, never read: give the connection back
        super().close()


class LinkCache:
    """Temporary links by Dropbox path (case-insensitive), each reused for ``ttl`` seconds."""

    def __init__(self, ttl: float = 3600.0, size: int = 4096) -> None:
        self._ttl = ttl
        self._size = size
        self._links: OrderedDict[str, tuple[str, float]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, path: str) -> str | None:
        with self._lock:
            found = self._links.get(path.lower())
            if found is None or found[1] < time.monotonic():
                return None
            return found[0]

    def put(self, path: str, link: str) -> None:
        with self._lock:
            self._links[path.lower()] = (link, time.monotonic() + self._ttl)
            self._links.move_to_end(path.lower())
            while len(self._links) > self._size:
                self._links.popitem(last=False)

    def forget(self, path: str) -> None:
        with self._lock:
            self._links.pop(path.lower(), None)
