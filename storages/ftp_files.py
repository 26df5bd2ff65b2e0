"""File objects returned by the FTP and SFTP backends' ``open()``.

Reading streams from the server through a raw stream the backend supplies
(buffered here, decoded for text modes). Writing spills to a temporary file
(in memory only while small) and uploads on ``close()`` through the backend's
normal save path: temporary name first, then a rename into place.
"""

from __future__ import annotations

import io
import tempfile
from collections.abc import Callable
from typing import IO, Any

from django.core.files.base import File

#: Bytes kept in memory before a write spills to a temporary file on disk.
SPOOL_SIZE = 4 * 1024 * 1024
#: Read buffer on top of the raw network stream.
READ_BUFFER = 256 * 1024


def is_write_mode(mode: str) -> bool:
    return any(flag in mode for flag in "wax+")


class RemoteFile(File):
    """A readable remote file; ``opener()`` gives a fresh raw stream and the file's size."""

    def __init__(
        self,
        name: str,
        mode: str,
        opener: Callable[[], tuple[io.RawIOBase, int | None]],
        encoding: str = "utf-8",
    ) -> None:
        self._opener = opener
        self._encoding = encoding
        super().__init__(self._stream(mode), name)
        self.mode = mode

    def _stream(self, mode: str) -> IO[Any]:
        raw, size = self._opener()
        if size is not None:
            self.size = size
        buffered = io.BufferedReader(raw, buffer_size=READ_BUFFER)
        if "b" in mode:
            return buffered
        return io.TextIOWrapper(buffered, encoding=self._encoding)

    def open(self, mode: str | None = None, *args: Any, **kwargs: Any) -> RemoteFile:
        if not self.closed:
            self.seek(0)
        else:
            self.mode = mode or self.mode
            self.file = self._stream(self.mode)
        return self

    def readable(self) -> bool:
        return True

    def writable(self) -> bool:
        return False


class RemoteWriteFile(File):
    """A file opened for writing; its content is uploaded when it is closed."""

    def __init__(
        self, name: str, mode: str, upload: Callable[[IO[bytes]], Any], encoding: str = "utf-8"
    ) -> None:
        if "a" in mode or "+" in mode:
            raise ValueError(f"Mode {mode!r} is not supported for remote files; use 'w' or 'wb'.")
        self._upload = upload
        self._spool = tempfile.SpooledTemporaryFile(max_size=SPOOL_SIZE)  # noqa: SIM115 - closed in close()
        stream: IO[Any] = self._spool
        if "b" not in mode:
            stream = io.TextIOWrapper(self._spool, encoding=encoding, newline="")
        super().__init__(stream, name)
        self.mode = mode
        self._uploaded = False

    def readable(self) -> bool:
        return False

    def writable(self) -> bool:
        return True

    @property
    def size(self) -> int:
        self.file.flush()
        return self._spool.tell()

    def close(self) -> None:
        if self.file is None or self.file.closed:
            return
        try:
            self.file.flush()
            if isinstance(self.file, io.TextIOWrapper):
                self.file.detach()
            if not self._uploaded:
                self._uploaded = True
                self._spool.seek(0)
                self._upload(self._spool)
        finally:
            self._spool.close()
            self.file = self._spool
