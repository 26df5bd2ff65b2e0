"""Async uploads: one PUT for small content, else a multipart upload with concurrent parts.

The same shape as the sync ``transfer.upload``: content below the multipart
threshold is one ``PutObject`` (with ``If-None-Match: *`` for a conditional
create); bigger content goes out in parts, at most ``concurrency`` of them in
memory and in flight at once, and the completion carries the condition. Any
failure or cancellation aborts the multipart upload before it is re-raised, so
nothing appears under the key.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import tempfile
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any
from xml.sax.saxutils import escape

from storages.aio import run_sync
from storages.aio.cancellation import undo_on_cancel, uninterrupted
from storages.backends.s3.aio_http import Body, body_length, error_in_body, parse_xml, xml_text
from storages.backends.s3.transfer import MAX_PARTS

if TYPE_CHECKING:
    from storages.backends.s3.aio_http import S3Transport
    from storages.backends.s3.transfer import TransferSettings

logger = logging.getLogger("storages.s3")


#: How much content is read between two turns given to the rest of the loop.
YIELD_EVERY = 512 * 1024


class ChunkReader:
    """Reads exact amounts from an async iterator of byte chunks, as lists of pieces.

    Parts are never joined into one buffer: copying megabytes at once would hold the loop.
    """

    def __init__(self, chunks: AsyncIterator[bytes]) -> None:
        self._chunks = chunks.__aiter__()
        self._pending: collections.deque[bytes] = collections.deque()
        self._done = False

    @property
    def exhausted(self) -> bool:
        """Whether everything has been read."""
        return self._done and not self._pending

    def push_back(self, pieces: list[bytes]) -> None:
        """Read ``pieces`` again, before what is still to come."""
        self._pending.extendleft(reversed(pieces))

    async def read(self, size: int) -> list[bytes]:
        """``size`` bytes in pieces; fewer only at the end."""
        pieces: list[bytes] = []
        got = since_yield = 0
        while got < size:
            if self._pending:
                piece = self._pending.popleft()
            elif self._done:
                break
            else:
                try:
                    piece = await self._chunks.__anext__()
                except StopAsyncIteration:
                    self._done = True
                    break
                if isinstance(piece, str):
                    piece = piece.encode()
            if got + len(piece) > size:
                cut = size - got
                self._pending.appendleft(piece[cut:])
                piece = piece[:cut]
            if piece:
                pieces.append(piece)
                got += len(piece)
                since_yield += len(piece)
                if since_yield >= YIELD_EVERY:
                    # Content in memory never makes the loop wait: let the others run.
                    await asyncio.sleep(0)
                    since_yield = 0
        return pieces


class Spool:
    """A copy of one-pass content so a retry under another name can send it again.

    In memory while small, then in a temporary file written through the pool.
    """

    def __init__(self, max_memory: int = 8 * 1024 * 1024) -> None:
        self._file: Any = None
        self._memory = bytearray()
        self._max_memory = max_memory

    async def write(self, pieces: list[bytes]) -> None:
        size = body_length(pieces)
        if self._file is None and len(self._memory) + size <= self._max_memory:
            for piece in pieces:
                self._memory += piece
            return
        if self._file is None:
            self._file = await run_sync(tempfile.TemporaryFile)
            await run_sync(self._file.write, self._memory)
            self._memory = bytearray()
        await run_sync(self._file.writelines, pieces)

    async def chunks(self, size: int) -> AsyncIterator[bytes]:
        if self._file is None:
            for start in range(0, len(self._memory), size):
                yield bytes(self._memory[start : start + size])
            return
        await run_sync(self._file.seek, 0)
        while True:
            data = await run_sync(self._file.read, size)
            if not data:
                return
            yield data

    async def close(self) -> None:
        self._memory = bytearray()
        if self._file is not None:
            await run_sync(self._file.close)


async def upload(
    transport: S3Transport,
    key: str,
    reader: ChunkReader,
    headers: dict[str, str],
    *,
    conditional: bool,
    transfer: TransferSettings,
    spool: Spool | None = None,
) -> None:
    """Store everything ``reader`` yields under ``key``; S3PreconditionFailed if it is taken.

    ``headers`` are the object's (already checked signable); ``spool``, when
    given, gets a copy of every part sent.
    """
    threshold = max(transfer.threshold, 1)
    first = await reader.read(threshold)
    if body_length(first) < threshold:
        if spool is not None:
            await spool.write(first)
        await put_object(transport, key, first, headers, conditional=conditional)
        return
    reader.push_back(first)  # parts are cut from the start again, ``part_size`` each
    del first
    await multipart(
        transport, key, reader, headers, conditional=conditional, transfer=transfer, spool=spool
    )


async def put_object(
    transport: S3Transport, key: str, body: Body, headers: dict[str, str], *, conditional: bool
) -> None:
    if isinstance(body, list) and body_length(body) <= 1024 * 1024:
        body = b"".join(body)  # small: one piece is cheaper to hash and send
    sha, md5 = await transport.hashes(body, md5=True)
    # Content-MD5 as the sync path sends it: Object Lock buckets require it.
    signed = {**headers, "Content-MD5": md5}
    if conditional:
        signed["If-None-Match"] = "*"
    request = transport.fetch(
        "PUT",
        key,
        operation="PutObject",
        action="save",
        headers=signed,
        body=body,
        payload_hash=sha,
    )

    async def undo(_answer: Any) -> None:
        # Cancelled while on its way, and stored: a create-only upload made a name of
        # its own, so it goes; an overwriting one replaced a file that cannot come
        # back, so the new one stays.
        if conditional:
            await uninterrupted(_delete(transport, key))

    await undo_on_cancel(request, undo)


async def _delete(transport: S3Transport, key: str) -> None:
    await transport.fetch("DELETE", key, operation="DeleteObject", action="delete", ok=(200, 204))


async def multipart(
    transport: S3Transport,
    key: str,
    reader: ChunkReader,
    headers: dict[str, str],
    *,
    conditional: bool,
    transfer: TransferSettings,
    spool: Spool | None = None,
) -> None:
    # The parameters every part and the completion repeat (requester pays, owner check).
    part_headers = {
        name: value
        for name, value in headers.items()
        if name.lower() in ("x-amz-request-payer", "x-amz-expected-bucket-owner")
    }
    created = await transport.fetch(
        "POST",
        key,
        operation="CreateMultipartUpload",
        action="save",
        headers=headers,
        query={"uploads": ""},
    )
    upload_id = xml_text(parse_xml(created.body), "UploadId")
    concurrency = max(1, transfer.concurrency)
    slots = asyncio.Semaphore(concurrency)
    tasks: list[asyncio.Task] = []
    try:
        number = 0
        while True:
            # A free slot before the next part is read: bounded memory.
            await slots.acquire()
            body = await reader.read(transfer.part_size)
            if not body:
                slots.release()
                break
            number += 1
            if number > MAX_PARTS:
                raise ValueError(f"more than {MAX_PARTS} parts: raise the part size")
            if spool is not None:
                await spool.write(body)
            tasks.append(
                asyncio.ensure_future(
                    _part(transport, key, upload_id, number, body, part_headers, slots)
                )
            )
            for task in tasks:  # a failed part stops the upload at once
                if task.done() and not task.cancelled() and task.exception() is not None:
                    raise task.exception()
            if body_length(body) < transfer.part_size:
                break
            del body
        etags = await asyncio.gather(*tasks)
        await _complete(transport, key, upload_id, etags, part_headers, conditional)
    except BaseException:
        for task in tasks:
            task.cancel()
        await _abort_shielded(transport, key, upload_id, tasks)
        raise


async def _part(
    transport: S3Transport,
    key: str,
    upload_id: str,
    number: int,
    body: Body,
    headers: dict[str, str],
    slots: asyncio.Semaphore,
) -> str:
    try:
        # The signed SHA-256 is the part's integrity check (botocore sends no MD5 on parts).
        sha, _md5 = await transport.hashes(body)
        answer = await transport.fetch(
            "PUT",
            key,
            operation="UploadPart",
            action="upload a part of",
            headers=headers,
            query={"partNumber": str(number), "uploadId": upload_id},
            body=body,
            payload_hash=sha,
        )
        return answer.headers["ETag"]
    finally:
        slots.release()


async def _complete(
    transport: S3Transport,
    key: str,
    upload_id: str,
    etags: list[str],
    headers: dict[str, str],
    conditional: bool,
) -> None:
    parts = "".join(
        f"<Part><PartNumber>{number}</PartNumber><ETag>{escape(etag)}</ETag></Part>"
        for number, etag in enumerate(etags, 1)
    )
    body = f"<CompleteMultipartUpload>{parts}</CompleteMultipartUpload>".encode()
    signed = dict(headers)
    if conditional:
        signed["If-None-Match"] = "*"
    for attempt in range(transport.attempts):
        answer = await transport.fetch(
            "POST",
            key,
            operation="CompleteMultipartUpload",
            action="save",
            headers=signed,
            query={"uploadId": upload_id},
            body=body,
        )
        if not error_in_body(answer.body):
            return
        # S3 may answer 200 and an error document; botocore retries those.
        if attempt + 1 == transport.attempts:
            from botocore.exceptions import ClientError

            from storages.backends.s3.errors import translate

            root = parse_xml(answer.body)
            error = {"Code": xml_text(root, "Code"), "Message": xml_text(root, "Message")}
            raise translate(
                ClientError({"Error": error}, "CompleteMultipartUpload"),
                transport.bucket,
                key,
                "save",
            )


async def abort(transport: S3Transport, key: str, upload_id: str) -> None:
    """Abort an unfinished multipart upload; a failure is logged, not raised (as the sync path)."""
    try:
        await transport.fetch(
            "DELETE",
            key,
            operation="AbortMultipartUpload",
            action="abort the upload of",
            query={"uploadId": upload_id},
            ok=(200, 204),
        )
    except Exception as exc:
        logger.warning(
            "Could not abort the multipart upload of s3://%s/%s (%s); "
            "a bucket lifecycle rule for incomplete uploads removes such leftovers.",
            transport.bucket,
            key,
            type(exc).__name__,
        )


async def _abort_shielded(
    transport: S3Transport, key: str, upload_id: str, tasks: list[asyncio.Task]
) -> None:
    """Abort even when the caller is being cancelled; parts still in flight end first."""

    async def settle_then_abort() -> None:
        await asyncio.gather(*tasks, return_exceptions=True)
        await abort(transport, key, upload_id)

    await uninterrupted(settle_then_abort())  # cancelled again: still waits for the abort
