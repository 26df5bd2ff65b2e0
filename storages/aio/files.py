"""Async files: what ``aopen()`` returns, and the bytes of whatever ``asave()`` is given.

:class:`AsyncFile` is the base of every async file: a native backend reads by
range or streams, :class:`ThreadedAsyncFile` runs a sync Django ``File`` call
by call in the bounded pool. Either way memory stays bounded: iteration reads
``chunk_size`` bytes at a time, never the whole file.

:func:`content_chunks` yields the bytes of any content ``asave()`` accepts
(native uploads stream from it); :func:`sync_content` turns the same content
into a Django ``File`` for a backend's sync ``_save``.
"""

from __future__ import annotations

import contextlib
import inspect
import io
import tempfile
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from django.core.files.base import ContentFile, File

from storages.aio.threads import run_sync
from storages.files import SPOOL_MAX_MEMORY, plain_io
from storages.utils import DEFAULT_CHUNK_SIZE
from storages.utils import content_chunks as sync_chunks

#: What ``async for chunk in f`` reads at a time.
ASYNC_CHUNK_SIZE = 64 * 1024

BYTES_TYPES = (bytes, bytearray, memoryview)

Runner = Callable[..., Awaitable[Any]]


class AsyncFile:
    """The base of every async file: ``await f.read(n)``, ``async for``, ``async with``.

    ``tell()`` is a plain method (the position is known without I/O); the
    others are coroutines. Subclasses implement ``read``, ``size`` and ``close``,
    and ``write``/``seek`` where the file allows them.
    """

    chunk_size = ASYNC_CHUNK_SIZE

    def __init__(self, name: str, mode: str = "rb") -> None:
        self.name = name
        self.mode = mode
        self.closed = False

    def __repr__(self) -> str:
        return f"<{type(self).__name__}: {self.name} ({self.mode})>"

    async def read(self, n: int = -1) -> bytes | str:
        raise io.UnsupportedOperation(f"{self.name!r} is not open for reading.")

    async def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        data = await self.read(len(view))
        view[: len(data)] = data
        return len(data)

    async def write(self, data: Any) -> int:
        raise io.UnsupportedOperation(f"{self.name!r} is not open for writing.")

    async def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        raise io.UnsupportedOperation(f"{self.name!r} cannot seek.")

    def tell(self) -> int:
        raise io.UnsupportedOperation(f"{self.name!r} cannot tell its position.")

    async def size(self) -> int:
        raise NotImplementedError

    async def close(self) -> None:
        self.closed = True

    async def abort(self) -> None:
        """Leave a file open for writing without storing it (``async with`` left by an error)."""
        await self.close()

    async def __aenter__(self) -> AsyncFile:
        return self

    async def __aexit__(self, exc_type: Any, exc_value: Any, traceback: Any) -> None:
        if exc_type is None:
            await self.close()
        else:
            await self.abort()

    def __aiter__(self) -> AsyncIterator[bytes | str]:
        return self._iterate(self.chunk_size)

    async def chunks(self, chunk_size: int | None = None) -> AsyncIterator[bytes | str]:
        """The file from its start (as Django's ``File.chunks``), ``chunk_size`` at a time."""
        with contextlib.suppress(io.UnsupportedOperation, AttributeError):
            await self.seek(0)
        async for chunk in self._iterate(chunk_size or self.chunk_size):
            yield chunk

    async def _iterate(self, chunk_size: int) -> AsyncIterator[bytes | str]:
        while True:
            chunk = await self.read(chunk_size)
            if not chunk:
                return
            yield chunk


class ThreadedAsyncFile(AsyncFile):
    """A sync Django ``File`` whose every call runs in the pool (or the storage's runner).

    ``storage`` (optional) supplies ``_run_sync``, so a file of a storage on
    Django's database connections runs where that storage's calls run.
    """

    def __init__(self, sync_file: File, storage: Any = None) -> None:
        super().__init__(str(sync_file.name), getattr(sync_file, "mode", None) or "rb")
        self.file = sync_file
        self.storage = storage
        runner = getattr(storage, "_run_sync", None)
        self._run: Runner = runner if runner is not None else run_sync

    async def read(self, n: int = -1) -> bytes | str:
        if n is None or n < 0:
            return await self._run(self.file.read)
        return await self._run(self.file.read, n)

    async def readinto(self, buffer: Any) -> int:
        if not hasattr(self.file, "readinto"):
            return await super().readinto(buffer)
        return await self._run(self.file.readinto, buffer)

    async def write(self, data: Any) -> int:
        return await self._run(self.file.write, data)

    async def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        return await self._run(self.file.seek, offset, whence)

    def tell(self) -> int:
        return self.file.tell()

    async def size(self) -> int:
        return await self._run(getattr, self.file, "size")

    async def close(self) -> None:
        await self._run(self.file.close)
        self.closed = True

    async def __aexit__(self, exc_type: Any, exc_value: Any, traceback: Any) -> None:
        # The sync file's own ``__exit__`` knows how to leave without storing.
        await self._run(self.file.__exit__, exc_type, exc_value, traceback)
        self.closed = True


async def content_chunks(
    content: Any, chunk_size: int = DEFAULT_CHUNK_SIZE
) -> AsyncIterator[bytes]:
    """The bytes of any content ``asave()`` accepts, from its start, in chunks.

    A Django ``File`` held in memory is read directly; one on disk (or any
    other stream) through the pool, a chunk per call. Also bytes-like objects,
    an :class:`AsyncFile`, anything with ``async read(n)`` and async iterables
    of bytes. Text is encoded as UTF-8, as the sync path stores it.
    """
    if isinstance(content, BYTES_TYPES):
        view = memoryview(content).cast("B")
        for start in range(0, len(view), chunk_size):
            yield bytes(view[start : start + chunk_size])
        return
    if isinstance(content, AsyncFile):
        async for chunk in content.chunks(chunk_size):
            yield _as_bytes(chunk)
        return
    if not hasattr(content, "chunks") and _has_async_read(content):
        while chunk := await content.read(chunk_size):
            yield _as_bytes(chunk)
        return
    if not hasattr(content, "chunks") and hasattr(content, "__aiter__"):
        async for chunk in content:
            if chunk:
                yield _as_bytes(chunk)
        return
    if not hasattr(content, "chunks") and not hasattr(content, "read"):
        raise TypeError(
            f"asave() cannot store a {type(content).__name__}: give a Django File, bytes, "
            "an async file, an object with async read(n) or an async iterable of bytes."
        )
    if in_memory(content):
        for chunk in sync_chunks(content, chunk_size):
            # InMemoryUploadedFile.chunks() gives the whole file at once.
            for start in range(0, len(chunk), chunk_size):
                yield chunk[start : start + chunk_size] if len(chunk) > chunk_size else chunk
        return
    chunks = sync_chunks(content, chunk_size)
    while (chunk := await run_sync(next, chunks, None)) is not None:
        yield chunk


def in_memory(content: Any) -> bool:
    """Whether reading ``content`` touches no disk or network (a ``ContentFile``, say)."""
    stream = plain_io(content if isinstance(content, File) else File(content))
    if isinstance(stream, (io.BytesIO, io.StringIO)):
        return True
    return isinstance(stream, tempfile.SpooledTemporaryFile) and not stream._rolled


async def sync_content(content: Any, name: str) -> tuple[File, Callable[[], None]]:
    """``content`` as a Django ``File`` for a sync ``_save``, and what to call once saved.

    Files and streams are used as they are (a sync ``save()`` would take them);
    bytes become a ``ContentFile``; async sources are spooled (in memory while
    small, then to a temporary file written through the pool).
    """
    if isinstance(content, BYTES_TYPES):
        return ContentFile(bytes(content), name=name), _nothing
    if hasattr(content, "chunks") and not isinstance(content, AsyncFile):
        return content, _nothing
    if hasattr(content, "read") and not _has_async_read(content):
        return File(content, name), _nothing
    spool = tempfile.SpooledTemporaryFile(max_size=SPOOL_MAX_MEMORY)  # noqa: SIM115 - closed once saved
    try:
        async for chunk in content_chunks(content):
            if spool._rolled or spool.tell() + len(chunk) > SPOOL_MAX_MEMORY:
                await run_sync(spool.write, chunk)
            else:
                spool.write(chunk)
        spool.seek(0)
    except BaseException:
        spool.close()
        raise
    return File(spool, name), spool.close


def _has_async_read(content: Any) -> bool:
    return inspect.iscoroutinefunction(getattr(content, "read", None))


def _as_bytes(chunk: Any) -> bytes:
    if isinstance(chunk, str):
        return chunk.encode()
    return bytes(chunk) if not isinstance(chunk, bytes) else chunk


def _nothing() -> None:
    return None
