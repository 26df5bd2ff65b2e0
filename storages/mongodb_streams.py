"""Streaming file objects for stores read by position and written in one go.

Shared by the GridFS and CouchDB backends (nothing here is specific to
either; it could move to a common ``storages.files`` module). Reading opens
the remote stream lazily at the current position and reopens it after a
seek, so memory stays at one buffer whatever the file size. Writing spools
to a temporary file (in memory up to a limit, then on disk) and hands it to
the storage on ``close()``.
"""

from __future__ import annotations

import io
import tempfile
from collections.abc import Callable
from typing import IO, Any

from django.core.files.base import File

#: Spooled writes move from memory to a temporary file past this size.
SPOOL_MAX_MEMORY = 4 * 1024 * 1024
READ_BUFFER = 256 * 1024

Opener = Callable[[int], IO[bytes]]


class RangeReader(io.RawIOBase):
    """A seekable raw stream over ``open_at(position)``, which returns a binary stream."""

    def __init__(self, open_at: Opener, size: int) -> None:
        super().__init__()
        self._open_at = open_at
        self._size = size
        self._position = 0
        self._stream: IO[bytes] | None = None

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._position

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        if whence == io.SEEK_SET:
            target = offset
        elif whence == io.SEEK_CUR:
            target = self._position + offset
        elif whence == io.SEEK_END:
            target = self._size + offset
        else:
            raise ValueError(f"invalid whence {whence!r}")
        if target < 0:
            raise ValueError("negative seek position")
        if target != self._position:
            self._drop_stream()
            self._position = target
        return self._position

    def readinto(self, buffer: Any) -> int:
        if self._position >= self._size:
            return 0
        if self._stream is None:
            self._stream = self._open_at(self._position)
        want = min(len(buffer), self._size - self._position)
        data = self._stream.read(want)
        count = len(data)
        buffer[:count] = data
        self._position += count
        return count

    def _drop_stream(self) -> None:
        stream, self._stream = self._stream, None
        if stream is not None:
            stream.close()

    def close(self) -> None:
        if not self.closed:
            self._drop_stream()
        super().close()


class RemoteFile(File):
    """A Django ``File`` over a remote object, for reading or for writing.

    ``open_at(position)`` gives a binary stream of the stored content from a
    position (for read modes); ``upload(stream)`` stores what was written (for
    write modes). Only whole-file reads (``r``/``rb``) and whole-file writes
    (``w``/``wb``) are offered: remote stores cannot update in place.
    """

    def __init__(
        self,
        name: str,
        mode: str,
        *,
        size: int = 0,
        open_at: Opener | None = None,
        upload: Callable[[IO[bytes]], None] | None = None,
    ) -> None:
        if set(mode) - set("rwbt") or ("r" in mode) == ("w" in mode):
            raise ValueError(f"Unsupported mode {mode!r} for {name!r}: use 'r', 'rb', 'w' or 'wb'.")
        self.name = name
        self.mode = mode
        self._open_at = open_at
        self._upload = upload
        if "r" in mode:
            self.size = size
        self.file = self._make_file()

    def _make_file(self) -> IO[Any]:
        if "w" in self.mode:
            spool: IO[bytes] = tempfile.SpooledTemporaryFile(max_size=SPOOL_MAX_MEMORY)  # noqa: SIM115
            self._spool = spool
            if "b" in self.mode:
                return spool
            return io.TextIOWrapper(spool, encoding="utf-8", write_through=True)
        assert self._open_at is not None
        raw = io.BufferedReader(RangeReader(self._open_at, self.size_hint), READ_BUFFER)
        if "b" in self.mode:
            return raw
        return io.TextIOWrapper(raw, encoding="utf-8")

    @property
    def size_hint(self) -> int:
        return self.__dict__.get("size", 0)

    def open(self, mode: str | None = None) -> RemoteFile:
        if mode and mode != self.mode:
            raise ValueError(
                f"{self.name!r} was opened as {self.mode!r}; open it anew for {mode!r}"
            )
        if not self.closed:
            self.seek(0)
        else:
            self.file = self._make_file()
        return self

    def close(self) -> None:
        if self.file is None or self.file.closed:
            return
        try:
            if "w" in self.mode and self._upload is not None:
                self.file.flush()
                self._spool.seek(0)
                self._upload(self._spool)
        finally:
            self.file.close()
