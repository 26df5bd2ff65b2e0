"""Streaming file objects for stores reached over HTTP (Swift, MogileFS).

Reads go through :class:`RangeReader`: one ranged GET from the current
position, consumed chunk by chunk, reopened after a seek or a dropped
connection. Writes spill to a temporary file and go up when the file is
closed. Memory stays bounded by a chunk, whatever the object's size.
"""

from __future__ import annotations

import io
import os
import tempfile
from collections.abc import Callable, Iterable, Iterator
from typing import IO, Any

from django.core.files.base import File

from storages.utils import content_chunks

#: A function that streams an object's bytes from an offset to its end.
Fetch = Callable[[int], Iterable[bytes]]

SPOOL_MAX = 4 * 1024 * 1024
BUFFER_SIZE = 256 * 1024


class RangeReader(io.RawIOBase):
    """A seekable raw stream over ranged GETs of a remote object of known size."""

    def __init__(self, fetch: Fetch, size: int, *, reopen_attempts: int = 2) -> None:
        self._fetch = fetch
        self._size = size
        self._pos = 0
        self._stream: Iterator[bytes] | None = None
        self._pending = memoryview(b"")
        self._reopen_attempts = reopen_attempts

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    @property
    def size(self) -> int:
        return self._size

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        base = {os.SEEK_SET: 0, os.SEEK_CUR: self._pos, os.SEEK_END: self._size}[whence]
        position = base + offset
        if position < 0:
            raise ValueError("negative seek position")
        if position != self._pos:
            self._drop()
            self._pos = position
        return position

    def readinto(self, buffer: Any) -> int:
        if self._pos >= self._size:
            return 0
        attempts = self._reopen_attempts
        while not self._pending:
            if self._stream is None:
                self._stream = iter(self._fetch(self._pos))
            try:
                chunk = next(self._stream, b"")
            except (OSError, ConnectionError) as exc:
                # A dropped connection: continue from where we are, a bounded number of times.
                self._drop()
                attempts -= 1
                if attempts < 0:
                    raise OSError(f"reading stopped at byte {self._pos}: {exc}") from exc
                continue
            if not chunk:
                self._drop()
                raise OSError(f"the object ended at byte {self._pos} of {self._size}")
            self._pending = memoryview(chunk)
        count = min(len(buffer), len(self._pending))
        buffer[:count] = self._pending[:count]
        self._pending = self._pending[count:]
        self._pos += count
        return count

    def _drop(self) -> None:
        stream, self._stream = self._stream, None
        self._pending = memoryview(b"")
        close = getattr(stream, "close", None)
        if close is not None:
            close()

    def close(self) -> None:
        self._drop()
        super().close()


class RemoteFile(File):
    """A Django ``File`` reading by ranges, or writing to a spool uploaded on close."""

    def __init__(
        self,
        name: str,
        mode: str,
        *,
        size: int | None = None,
        fetch: Fetch | None = None,
        upload: Callable[[IO[bytes]], None] | None = None,
    ) -> None:
        self._fetch = fetch
        self._upload = upload
        self._attach(name, mode, size)

    def _attach(self, name: str, mode: str, size: int | None) -> None:
        self._size = size
        if "+" in mode or "a" in mode:
            raise ValueError(f"mode {mode!r} is not supported; open for reading or for writing")
        fetch = self._fetch
        self._writing = "w" in mode or "x" in mode
        if self._writing:
            binary: IO[bytes] = tempfile.SpooledTemporaryFile(max_size=SPOOL_MAX)  # noqa: SIM115
        else:
            assert fetch is not None and size is not None
            binary = io.BufferedReader(RangeReader(fetch, size), buffer_size=BUFFER_SIZE)
            self.size = size
        self._binary = binary
        stream: IO[Any] = binary
        if "b" not in mode:
            stream = io.TextIOWrapper(binary, encoding="utf-8", write_through=True)
        File.__init__(self, stream, name)
        self.mode = mode

    def open(self, mode: str | None = None) -> RemoteFile:
        """Rewind an open file, or reopen a closed one (as ``FieldFile.open`` expects)."""
        if not self.closed:
            self.seek(0)
        elif self._writing and mode is None:
            raise ValueError("A file written to the store is reopened with storage.open().")
        else:
            self._attach(self.name, mode or self.mode, self._size)
        return self

    def close(self) -> None:
        if self.file.closed:
            return
        try:
            if self._writing and self._upload is not None:
                self.file.flush()
                self._binary.seek(0)
                self._upload(self._binary)
        finally:
            self.file.close()


class Window(io.RawIOBase):
    """Bytes ``offset .. offset+length`` of a seekable stream, itself seekable (one segment)."""

    def __init__(self, stream: IO[bytes], offset: int, length: int) -> None:
        self._stream = stream
        self._offset = offset
        self._length = length
        self._pos = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        base = {os.SEEK_SET: 0, os.SEEK_CUR: self._pos, os.SEEK_END: self._length}[whence]
        self._pos = max(0, min(self._length, base + offset))
        return self._pos

    def read(self, size: int = -1) -> bytes:
        remaining = self._length - self._pos
        if size is None or size < 0 or size > remaining:
            size = remaining
        if size <= 0:
            return b""
        self._stream.seek(self._offset + self._pos)
        data = self._stream.read(size)
        self._pos += len(data)
        return data

    def __len__(self) -> int:
        return self._length


class Source:
    """Upload content as a seekable binary stream of known size (spooled if need be)."""

    def __init__(self, content: Any) -> None:
        self._spool: IO[bytes] | None = None
        stream = self._direct(content)
        if stream is None:
            spool = tempfile.SpooledTemporaryFile(max_size=SPOOL_MAX)  # noqa: SIM115
            for chunk in content_chunks(content):
                spool.write(chunk)
            self._spool = spool
            stream = spool
        stream.seek(0, os.SEEK_END)
        self.size = stream.tell()
        stream.seek(0)
        self.stream = stream

    @staticmethod
    def _direct(content: Any) -> IO[bytes] | None:
        """The content itself when it is already seekable bytes; None to spool it."""
        try:
            if not content.seekable():
                return None
            content.seek(0)
            if not isinstance(content.read(0), bytes):
                return None
            content.seek(0)
        except (AttributeError, OSError, ValueError):
            return None
        return content

    def close(self) -> None:
        if self._spool is not None:
            self._spool.close()

    def __enter__(self) -> Source:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
