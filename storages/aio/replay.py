"""Content from its start as often as a native save needs it, and cut into blocks.

Exists for the native uploads (Azure's, GCS's): a create-only save that finds
its name taken uploads again under the next name, so the content must be read
again from its start. :class:`Replay` reads seekable content again and keeps
one-pass content (async iterables, async streams) in a spool (memory up to
``SPOOL_MAX_MEMORY``, then a temporary file written through the pool) as it is
read the first time. :func:`blocks` cuts chunks into the blocks or chunks a
service takes; :func:`first_blocks` reads enough of them to tell whether the
content fits one request.
"""

from __future__ import annotations

import tempfile
from collections.abc import AsyncIterator
from typing import Any

from storages.aio.files import BYTES_TYPES, content_chunks
from storages.aio.threads import run_sync
from storages.files import SPOOL_MAX_MEMORY
from storages.utils import rewindable


class Replay:
    """``content`` from its start, as many times as a save needs (see the module doc)."""

    def __init__(self, content: Any) -> None:
        self.content = content
        self._rewindable = isinstance(content, BYTES_TYPES) or (
            hasattr(content, "chunks") and rewindable(content)
        )
        self._spool: Any = None
        self._passes = 0

    async def chunks(self, chunk_size: int) -> AsyncIterator[bytes]:
        self._passes += 1
        if self._rewindable:
            async for chunk in content_chunks(self.content, chunk_size):
                yield chunk
            return
        if self._passes > 1:
            if self._spool is None:
                raise OSError("the content could not be kept for a retry")
            await run_sync(self._spool.seek, 0)
            while chunk := await run_sync(self._spool.read, chunk_size):
                yield chunk
            return
        spool = tempfile.SpooledTemporaryFile(max_size=SPOOL_MAX_MEMORY)  # noqa: SIM115
        self._spool = spool
        async for chunk in content_chunks(self.content, chunk_size):
            if spool._rolled or spool.tell() + len(chunk) > SPOOL_MAX_MEMORY:
                await run_sync(spool.write, chunk)
            else:
                spool.write(chunk)
            yield chunk

    async def close(self) -> None:
        if self._spool is not None:
            spool, self._spool = self._spool, None
            await run_sync(spool.close)


async def blocks(chunks: AsyncIterator[bytes], block_size: int) -> AsyncIterator[bytes]:
    """The bytes of ``chunks`` cut into blocks of ``block_size`` (the last one shorter)."""
    pending = bytearray()
    async for chunk in chunks:
        pending += chunk
        while len(pending) >= block_size:
            yield bytes(pending[:block_size])
            del pending[:block_size]
    if pending:
        yield bytes(pending)


async def first_blocks(stream: AsyncIterator[bytes], limit: int) -> tuple[list[bytes], bool]:
    """The first blocks of ``stream``, until they hold more than ``limit`` bytes or it
    ends; and whether they are all of it (then it fits a request of ``limit`` bytes)."""
    head: list[bytes] = []
    held = 0
    async for block in stream:
        head.append(block)
        held += len(block)
        if held > limit:
            return head, False
    return head, True


__all__ = ["Replay", "blocks", "first_blocks"]
