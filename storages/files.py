"""Streaming file objects shared by the remote backends, in bounded memory.

Reading: :class:`ReadFile` is the Django ``File`` a backend's ``_open`` returns
for ``r``/``rb``; it buffers (and for text modes decodes) a seekable raw reader
that the backend builds on demand. :class:`StreamReader` and
:class:`ChunkReader` are such readers over a backend callable that opens the
content at an offset: nothing is opened before the first read, and a seek
elsewhere drops the stream so the next read reopens it there.

Writing: :class:`SpooledWriteFile` collects what is written in a temporary
file (in memory while small, on disk beyond) and hands it to the backend's
upload callable once, on ``close()``; ``abort()`` or dropping it unclosed
stores nothing.

Uploading: :class:`Source` gives any content as a seekable binary stream of
known size; :class:`Window` is a seekable slice of one (a segment).
"""

from __future__ import annotations

import io
import os
import stat
import tempfile
from collections.abc import Callable, Iterable
from typing import IO, Any

from django.core.files.base import File
from django.core.files.utils import FileProxyMixin

from storages.utils import DEFAULT_CHUNK_SIZE, content_chunks

#: Bytes a write keeps in memory before spilling to a temporary file on disk.
SPOOL_MAX_MEMORY = 4 * 1024 * 1024
#: Read buffer on top of a raw remote stream.
READ_BUFFER = DEFAULT_CHUNK_SIZE

#: ``open_at(offset)``: a binary stream of the content from ``offset`` to its end.
Opener = Callable[[int], IO[bytes]]
#: ``fetch(offset)``: the content's bytes from ``offset`` to its end, in chunks.
Fetch = Callable[[int], Iterable[bytes]]
#: ``opener()``: a fresh raw reader at offset 0 and the content's size (None if unknown).
RawOpener = Callable[[], tuple[io.RawIOBase, int | None]]
#: ``upload(spool)``: store the written bytes (a binary stream at offset 0).
Upload = Callable[[IO[bytes]], Any]


def is_write_mode(mode: str) -> bool:
    """Whether ``mode`` asks for writing (those a write file refuses included)."""
    return any(flag in mode for flag in "wax+")


def refuse_partial_update(name: str, mode: str) -> None:
    """Remote files are read or written whole: no appending, no updating in place."""
    if "a" in mode or "+" in mode:
        raise ValueError(
            f"Mode {mode!r} is not supported for {name!r}: remote files are read or "
            "written whole; use 'r', 'rb', 'w' or 'wb'."
        )


def require_read_or_write_mode(name: str, mode: str) -> None:
    """The strict form: exactly one of ``r``/``w``, plus ``b`` or ``t`` (no ``x``)."""
    if set(mode) - set("rwbt") or ("r" in mode) == ("w" in mode):
        raise ValueError(f"Unsupported mode {mode!r} for {name!r}: use 'r', 'rb', 'w' or 'wb'.")


# --- raw readers -----------------------------------------------------------------


class SeekableReader(io.RawIOBase):
    """Position bookkeeping for a seekable read-only raw stream of known size.

    Subclasses set ``_size`` (or override ``size``), implement ``readinto`` and
    react to a move in ``_moved`` (e.g. drop the stream open at the old place);
    ``seek`` itself only computes the new position.
    """

    _pos = 0
    _size: int | None = None

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    @property
    def size(self) -> int:
        assert self._size is not None
        return self._size

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        if whence == io.SEEK_SET:
            target = offset
        elif whence == io.SEEK_CUR:
            target = self._pos + offset
        elif whence == io.SEEK_END:
            target = self.size + offset
        else:
            raise ValueError(f"invalid whence {whence!r}")
        if target < 0:
            raise ValueError("negative seek position")
        if target != self._pos:
            self._moved(target)
            self._pos = target
        return target

    def _moved(self, target: int) -> None:
        """The position changes to ``target`` (called before ``tell()`` says so)."""


class _LazyStreamReader(SeekableReader):
    """A reader holding one stream open at its position, dropped on seek and close."""

    _stream: Any = None

    def _moved(self, target: int) -> None:
        self._drop()

    def _drop(self) -> None:
        stream, self._stream = self._stream, None
        close = getattr(stream, "close", None)
        if close is not None:
            close()

    def close(self) -> None:
        if not self.closed:
            self._drop()
        super().close()


class StreamReader(_LazyStreamReader):
    """Reads ``open_at(position)``, a binary stream; stops at ``size``.

    A stream that ends early ends the read there (errors are the stream's own).
    """

    def __init__(self, open_at: Opener, size: int) -> None:
        super().__init__()
        self._open_at = open_at
        self._size = size

    def readinto(self, buffer: Any) -> int:
        if self._pos >= self._size:
            return 0
        if self._stream is None:
            self._stream = self._open_at(self._pos)
        data = self._stream.read(min(len(buffer), self._size - self._pos))
        count = len(data)
        buffer[:count] = data
        self._pos += count
        return count


class ChunkReader(_LazyStreamReader):
    """Reads the chunks of ``fetch(position)`` (e.g. a ranged HTTP GET).

    A connection that drops mid-way is reopened where the read stopped, up to
    ``reopen_attempts`` times per read; a body shorter than ``size`` is an error.
    """

    def __init__(self, fetch: Fetch, size: int, *, reopen_attempts: int = 2) -> None:
        super().__init__()
        self._fetch = fetch
        self._size = size
        self._pending = memoryview(b"")
        self._reopen_attempts = reopen_attempts

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
        self._pending = memoryview(b"")
        super()._drop()


# --- Django File objects -------------------------------------------------------------


class ReadFile(File):
    """A remote file opened for reading: ``opener()`` gives a raw reader and the size.

    The opener runs again when a closed file is reopened (``FieldFile.open``),
    in the same or another read mode.
    """

    def __init__(self, name: str, mode: str, opener: RawOpener, *, encoding: str = "utf-8") -> None:
        refuse_partial_update(name, mode)
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

    def open(self, mode: str | None = None, *args: Any, **kwargs: Any) -> ReadFile:
        """Rewind an open file, or reopen a closed one (as ``FieldFile.open`` expects)."""
        if not self.closed:
            self.seek(0)
            return self
        mode = mode or self.mode
        refuse_partial_update(self.name, mode)
        if "w" in mode or "x" in mode:
            raise ValueError(f"{self.name!r} was opened for reading; use storage.open() to write.")
        self.file = self._stream(mode)
        self.mode = mode
        return self

    def readable(self) -> bool:
        return True

    def writable(self) -> bool:
        return False


class SpooledWriteFile(File):
    """A remote file opened for writing; ``upload(spool)`` stores it on ``close()``."""

    def __init__(
        self,
        name: str,
        mode: str,
        upload: Upload,
        *,
        encoding: str = "utf-8",
        max_memory_size: int = SPOOL_MAX_MEMORY,
    ) -> None:
        refuse_partial_update(name, mode)
        self._upload = upload
        self._spool: IO[bytes] = tempfile.SpooledTemporaryFile(max_size=max_memory_size)  # noqa: SIM115 - closed in close()
        self._finished = False
        stream: IO[Any] = self._spool
        if "b" not in mode:
            # newline="": the bytes stored are the text written, on every platform.
            stream = io.TextIOWrapper(self._spool, encoding=encoding, newline="")
        super().__init__(stream, name)
        self.mode = mode

    def readable(self) -> bool:
        return False

    def writable(self) -> bool:
        return True

    @property
    def size(self) -> int:  # type: ignore[override]
        """Bytes written so far."""
        self.file.flush()
        here = self._spool.tell()
        end = self._spool.seek(0, io.SEEK_END)
        self._spool.seek(here)
        return end

    def open(self, mode: str | None = None, *args: Any, **kwargs: Any) -> SpooledWriteFile:
        if self.closed:
            raise ValueError("A file written to the store is reopened with storage.open().")
        self.seek(0)
        return self

    def close(self) -> None:
        """Store what was written (once), then release the spool."""
        if self.file is None or self.file.closed:
            return
        try:
            self.file.flush()
            if not self._finished:
                self._finished = True
                self._spool.seek(0)
                self._upload(self._spool)
        finally:
            self.file.close()

    def abort(self) -> None:
        """Close without storing anything."""
        self._finished = True
        self.close()

    def __exit__(self, exc_type: Any, exc_value: Any, traceback: Any) -> None:
        # A ``with`` block left by an exception wrote something incomplete: drop it.
        if exc_type is None:
            self.close()
        else:
            self.abort()


# --- upload sources -------------------------------------------------------------------


class Source:
    """Upload content as a seekable binary stream of known size (spooled if need be)."""

    def __init__(self, content: Any) -> None:
        self._spool: IO[bytes] | None = None
        stream = self._direct(content)
        if stream is None:
            spool = tempfile.SpooledTemporaryFile(max_size=SPOOL_MAX_MEMORY)  # noqa: SIM115
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
            if not content.seekable() or getattr(content, "size", None) == 0:
                return None  # nothing to gain for empty content: read it through chunks()
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


class Window(SeekableReader):
    """Bytes ``offset .. offset+length`` of a seekable stream, itself seekable (one segment).

    A seek outside the window stops at its edge.
    """

    def __init__(self, stream: IO[bytes], offset: int, length: int) -> None:
        self._stream = stream
        self._offset = offset
        self._length = self._size = length

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


__all__ = [
    "READ_BUFFER",
    "SPOOL_MAX_MEMORY",
    "ChunkReader",
    "Fetch",
    "Opener",
    "RawOpener",
    "ReadFile",
    "SeekableReader",
    "Source",
    "SpooledWriteFile",
    "StreamReader",
    "Upload",
    "Window",
    "is_write_mode",
    "refuse_partial_update",
    "require_read_or_write_mode",
]


# --- content that is a file on disk ------------------------------------------------

#: What ``tempfile.NamedTemporaryFile`` returns: a wrapper passing everything to ``.file``.
_TEMPORARY_FILE_WRAPPER = getattr(tempfile, "_TemporaryFileWrapper", None)


def plain_io(stream: Any) -> io.IOBase | None:
    """The io object under ``stream`` if every wrapper passes reads through unchanged.

    A ``File`` subclass with a ``read`` of its own (decrypting, counting,
    failing on purpose) is read through that ``read``, never around it.
    """
    while isinstance(stream, FileProxyMixin):
        kind = type(stream)
        if kind.read is not FileProxyMixin.read or kind.readinto is not FileProxyMixin.readinto:
            return None
        stream = stream.file
    if type(stream) is _TEMPORARY_FILE_WRAPPER:  # NamedTemporaryFile (TemporaryUploadedFile's)
        stream = stream.file
    return stream if isinstance(stream, io.IOBase) else None


def file_on_disk(stream: Any) -> tuple[int, int, int] | None:
    """``(fd, offset, size)`` of the rest of ``stream`` if it is a regular binary file.

    Uploads send such content from the disk with ``os.pread`` (no part held in
    memory, no shared file position) instead of reading it through ``stream``.
    """
    stream = plain_io(stream)
    if stream is None:
        return None
    if isinstance(stream, tempfile.SpooledTemporaryFile) and not getattr(stream, "_rolled", True):
        return None  # still in memory: fileno() would write it to disk first
    try:
        if not isinstance(stream.read(0), bytes):  # text mode: the bytes on disk may differ
            return None
        fd = stream.fileno()
        status = os.fstat(fd)
        offset = stream.tell()
        os.pread(fd, 0, 0)  # opened for writing only: refused
    except (AttributeError, OSError, ValueError):  # io.UnsupportedOperation is both
        return None
    if not stat.S_ISREG(status.st_mode) or offset > status.st_size:
        return None
    return fd, offset, status.st_size - offset


def pread_exactly(fd: int, length: int, offset: int) -> bytes:
    """``length`` bytes of ``fd`` at ``offset``; an ``OSError`` if the file shrank."""
    data = os.pread(fd, length, offset)
    if len(data) == length:
        return data
    pieces = [data]
    done = len(data)
    while done < length:
        piece = os.pread(fd, length - done, offset + done)
        if not piece:
            raise OSError(f"the file being uploaded shrank below {offset + done} bytes")
        pieces.append(piece)
        done += len(piece)
    return b"".join(pieces)
