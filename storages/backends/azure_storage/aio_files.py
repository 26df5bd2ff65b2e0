"""Azure blobs over ``azure.storage.blob.aio``: ranged async reads, staged async uploads.

Reading: :class:`AzureAsyncReadFile` downloads from the position it reads at
(one ``download_blob`` per start or seek, its chunks ``max_chunk_get_size``
each), pinned to the ETag the file found when opened, so a blob replaced while
it is read is an error, never a mix of two versions.

Writing: :func:`aupload` sends content up to ``single_put_size`` in one
``Put Blob``, larger content as staged blocks (``concurrency`` in flight)
committed by one ``Put Block List``, as the sync path does: until that commit
nothing is under the name, so a failed or cancelled upload leaves nothing.
The MD5 (for ``Content-MD5``, up to ``md5_max_size`` bytes) is computed in the
thread pool, block by block, never on the loop.

The content comes from :class:`storages.aio.replay.Replay` (again from its
start for a retry under the next name), cut by :func:`storages.aio.replay.blocks`.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from storages.aio import run_sync
from storages.aio.cancellation import undo_on_cancel
from storages.aio.ranged import RangedReadFile
from storages.aio.replay import Replay, blocks, first_blocks


def _block_id(prefix: str, index: int) -> str:
    return base64.b64encode(f"{prefix}-{index:06d}".encode()).decode()


async def aupload(
    blob_client: Any,
    replay: Replay,
    *,
    content_settings: Any,
    overwrite: bool,
    concurrency: int,
    timeout: Any,
    single_put_size: int,
    block_size: int,
    md5_max_size: int | None,
) -> dict[str, Any]:
    """Store the content of ``replay`` as the blob; return the service's answer (its ETag).

    A cancelled or failed upload commits nothing; if the cancellation comes
    while the final request is on its way, that request is awaited and what it
    created (create-only uploads) is deleted before the cancellation goes on.
    """
    from azure.core import MatchConditions

    stream = blocks(replay.chunks(block_size), block_size)
    first, whole = await first_blocks(stream, single_put_size)
    if whole:
        data = b"".join(first)
        return await _final(
            blob_client,
            overwrite,
            blob_client.upload_blob(
                data,
                length=len(data),
                overwrite=overwrite,
                content_settings=content_settings,
                timeout=timeout,
            ),
        )
    digest = hashlib.md5(usedforsecurity=False)
    hashed = 0
    prefix = uuid.uuid4().hex  # blocks of concurrent uploads to one name never mix
    ids: list[str] = []
    running: set[asyncio.Task[Any]] = set()

    async def queued() -> AsyncIterator[bytes]:
        for block in first:
            yield block
        first.clear()
        async for block in stream:
            yield block

    try:
        async for block in queued():
            if digest is not None:
                hashed += len(block)
                if md5_max_size is not None and hashed > md5_max_size:
                    digest = None  # too big to hash: no Content-MD5, as the sync path
                else:
                    await run_sync(digest.update, block)
            block_id = _block_id(prefix, len(ids))
            ids.append(block_id)
            while len(running) >= max(1, concurrency):
                done, running = await asyncio.wait(running, return_when=asyncio.FIRST_COMPLETED)
                for task in done:
                    task.result()
            running.add(
                asyncio.ensure_future(
                    blob_client.stage_block(block_id, block, length=len(block), timeout=timeout)
                )
            )
        for task in asyncio.as_completed(list(running)):
            await task
    except BaseException:
        for task in running:
            task.cancel()
        await asyncio.gather(*running, return_exceptions=True)
        raise
    if digest is not None and content_settings is not None and not content_settings.content_md5:
        content_settings.content_md5 = bytearray(digest.digest())
    conditions = {} if overwrite else {"match_condition": MatchConditions.IfMissing}
    return await _final(
        blob_client,
        overwrite,
        blob_client.commit_block_list(
            ids, content_settings=content_settings, timeout=timeout, **conditions
        ),
    )


async def _final(blob_client: Any, overwrite: bool, request: Awaitable[Any]) -> Any:
    """Await the request that makes the blob; if cancelled meanwhile, undo a create."""

    async def undo(answer: Any) -> None:
        if overwrite:
            return  # it replaced a blob: that content cannot come back
        from azure.core import MatchConditions

        # The cancellation is what the caller hears about, not a failed clean-up.
        with contextlib.suppress(Exception):
            await asyncio.shield(
                blob_client.delete_blob(
                    etag=answer.get("etag"), match_condition=MatchConditions.IfNotModified
                )
            )

    return await undo_on_cancel(request, undo)


class AzureAsyncReadFile(RangedReadFile):
    """A blob open for reading: ranged downloads pinned to its ETag, one chunk in memory.

    ``first`` is the download that opened it (from offset 0).
    """

    def __init__(
        self,
        name: str,
        mode: str,
        blob_client: Any,
        first: Any,
        errors: Callable[[str], Any],
        timeout: Any,
    ) -> None:
        super().__init__(name, mode, int(first.size or 0))
        self._client = blob_client
        self._etag = first.properties.etag
        self._errors = errors
        self._timeout = timeout
        self._buffer = b""
        # The download that opened the file reads from 0 (its first chunk is here).
        self._chunks: AsyncIterator[bytes] | None = first.chunks()

    async def _moving(self) -> None:
        self._buffer = b""
        chunks, self._chunks = self._chunks, None
        if chunks is not None and hasattr(chunks, "aclose"):
            await chunks.aclose()

    async def _next_chunk(self) -> bytes:
        from azure.core import MatchConditions

        if self._chunks is None:
            with self._errors("read"):
                downloader = await self._client.download_blob(
                    offset=self._pos,
                    etag=self._etag,
                    match_condition=MatchConditions.IfNotModified,
                    timeout=self._timeout,
                )
            self._chunks = downloader.chunks()
        with self._errors("read"):
            try:
                return await self._chunks.__anext__()
            except StopAsyncIteration:
                return b""

    async def _piece(self, at: int, most: int) -> bytes:
        # The download stream is at ``at`` already: reads go on where the last one ended.
        if not self._buffer:
            self._buffer = await self._next_chunk()
        piece = self._buffer[:most]
        self._buffer = self._buffer[len(piece) :]
        return piece

    async def close(self) -> None:
        await self._moving()
        self.closed = True


__all__ = ["AzureAsyncReadFile", "aupload"]
