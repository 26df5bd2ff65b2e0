"""GCS objects over the async JSON API: ranged reads, multipart and resumable uploads.

Reading: :class:`GCSAsyncReadFile` fetches ``chunk_size`` bytes per ranged GET
of the generation found when the file was opened (``generation=`` pins it, so
a replaced object is an error, never a mix of two versions), as the sync
reader does; one chunk is in memory.

Writing: :func:`aupload` sends content up to 8 MiB in one multipart request,
larger content as a resumable upload in ``chunk_size`` chunks (two in memory:
the one on its way and the next, which says whether it was the last; up to
8 MiB more while it is not yet known whether the content is small); the
object exists only once the last chunk lands, so a failed or cancelled upload
leaves nothing, and its session is cancelled (``DELETE`` of the session URI).

:class:`storages.aio.replay.Replay` gives the content again from its start for
a retry under the next name; :func:`storages.aio.replay.blocks` cuts it in chunks.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

from storages.aio.cancellation import undo_on_cancel
from storages.aio.ranged import RangedReadFile
from storages.aio.replay import Replay, blocks, first_blocks
from storages.backends.gcloud.aio_http import GCSSession, object_path

#: What one read of the content asks for while cutting it into chunks.
PIECE = 256 * 1024


def _upload_params(kind: str, conditional: bool, acl: str | None) -> dict[str, str]:
    params = {"uploadType": kind}
    if conditional:
        params["ifGenerationMatch"] = "0"
    if acl:
        params["predefinedAcl"] = str(acl)
    return params


async def aupload(
    session: GCSSession,
    bucket: str,
    resource: dict[str, Any],
    replay: Replay,
    *,
    conditional: bool,
    acl: str | None,
    multipart_limit: int,
    chunk_size: int,
) -> dict[str, Any]:
    """Store the content of ``replay`` as the object ``resource`` describes; its resource."""
    upload_path = f"/upload/storage/v1/b/{bucket}/o"
    pieces = blocks(replay.chunks(PIECE), chunk_size)
    queued, whole = await first_blocks(pieces, multipart_limit)
    if whole:  # all of it is here, and small: one multipart request, as the sync path
        boundary = f"==storages-{uuid.uuid4().hex}=="
        request = session.request(
            "POST",
            upload_path,
            params=_upload_params("multipart", conditional, acl),
            headers={"Content-Type": f'multipart/related; boundary="{boundary}"'},
            data=_multipart(resource, b"".join(queued), boundary),
            retry=conditional,  # a conditional create is safe to send again
        )
        answer = await _final(session, bucket, resource["name"], conditional, request)
        return answer.json()
    return await _resumable(
        session, upload_path, bucket, resource, queued, pieces, conditional=conditional, acl=acl
    )


def _multipart(resource: dict[str, Any], data: bytes, boundary: str) -> bytes:
    content_type = resource.get("contentType") or "application/octet-stream"
    head = (
        f"--{boundary}\r\nContent-Type: application/json; charset=UTF-8\r\n\r\n"
        f"{json.dumps(resource)}\r\n--{boundary}\r\nContent-Type: {content_type}\r\n\r\n"
    )
    return head.encode() + data + f"\r\n--{boundary}--\r\n".encode()


async def _resumable(
    session: GCSSession,
    upload_path: str,
    bucket: str,
    resource: dict[str, Any],
    queued: list[bytes],
    pieces: AsyncIterator[bytes],
    *,
    conditional: bool,
    acl: str | None,
) -> dict[str, Any]:
    content_type = resource.get("contentType") or "application/octet-stream"
    started = await session.request(
        "POST",
        upload_path,
        params=_upload_params("resumable", conditional, acl),
        headers={
            "Content-Type": "application/json; charset=UTF-8",
            "X-Upload-Content-Type": content_type,
        },
        data=json.dumps(resource).encode(),
        retry=True,  # starting a session creates nothing
    )
    session_url = started.headers["Location"]
    try:
        offset = 0
        current = queued.pop(0)
        while True:
            if queued:
                following: bytes | None = queued.pop(0)
            else:
                following = None
                async for piece in pieces:
                    following = piece
                    break
            end = offset + len(current)
            if following is None:  # the last chunk: the object is made when it lands
                request = session.request(
                    "PUT",
                    "",
                    url=session_url,
                    headers={"Content-Range": _content_range(offset, end, end)},
                    data=current,
                    expect=(200, 201),
                )
                answer = await _final(session, bucket, resource["name"], conditional, request)
                session_url = ""
                return answer.json()
            await _send_chunk(session, session_url, current, offset)
            offset, current = end, following
    except BaseException:
        if session_url:
            with contextlib.suppress(Exception):  # the service expires it anyway (a week)
                await asyncio.shield(
                    session.request("DELETE", "", url=session_url, expect=(204, 499, 200, 404))
                )
        raise


async def _send_chunk(session: GCSSession, session_url: str, data: bytes, offset: int) -> None:
    """One chunk that is not the last; what the service did not keep is sent again."""
    sent = 0
    while sent < len(data):
        answer = await session.request(
            "PUT",
            "",
            url=session_url,
            headers={"Content-Range": _content_range(offset + sent, offset + len(data), None)},
            data=data[sent:],
            expect=(308,),
        )
        kept = answer.headers.get("Range")  # "bytes=0-N": what the session holds
        persisted = int(kept.rsplit("-", 1)[1]) + 1 if kept else offset
        if persisted <= offset + sent:
            raise ConnectionError("the upload session kept none of a chunk")
        sent = persisted - offset


def _content_range(start: int, end: int, total: int | None) -> str:
    size = "*" if total is None else str(total)
    if end <= start:
        return f"bytes */{size}"
    return f"bytes {start}-{end - 1}/{size}"


async def _final(
    session: GCSSession, bucket: str, key: str, conditional: bool, request: Any
) -> Any:
    """Await the request that makes the object; if cancelled meanwhile, undo a create."""

    async def undo(answer: Any) -> None:
        if not conditional:
            return  # it replaced an object: that content cannot come back
        generation = answer.json().get("generation")
        with contextlib.suppress(Exception):  # the cancellation is what the caller hears
            await asyncio.shield(
                session.request(
                    "DELETE",
                    f"/storage/v1{object_path(bucket, key)}",
                    params={"ifGenerationMatch": str(generation)} if generation else None,
                    expect=(204, 200),
                )
            )

    return await undo_on_cancel(request, undo)


class GCSAsyncReadFile(RangedReadFile):
    """An object open for reading: ranged GETs of one generation, one chunk in memory."""

    def __init__(
        self,
        name: str,
        mode: str,
        session: GCSSession,
        bucket: str,
        resource: dict[str, Any],
        *,
        chunk_size: int,
        errors: Callable[[str], Any],
    ) -> None:
        super().__init__(name, mode, int(resource.get("size") or 0))
        self._session = session
        self._path = f"/download/storage/v1{object_path(bucket, resource['name'])}"
        self._generation = str(resource.get("generation") or "")
        self._chunk_size = chunk_size
        self._errors = errors
        self._buffer = b""
        self._buffer_at = 0

    async def _fetch(self, start: int) -> bytes:
        end = min(start + self._chunk_size, self._size) - 1
        params = {"alt": "media"}
        if self._generation:
            params["generation"] = self._generation
        with self._errors("read"):
            answer = await self._session.request(
                "GET",
                self._path,
                params=params,
                # The stored bytes (no decompressive transcoding), as the sync reader's.
                headers={"Range": f"bytes={start}-{end}", "Accept-Encoding": "gzip"},
                expect=(200, 206),
                retry=True,
            )
        return answer.content

    async def _piece(self, at: int, most: int) -> bytes:
        # The chunk held serves reads inside it (a seek back into it, say).
        if not self._buffer_at <= at < self._buffer_at + len(self._buffer):
            self._buffer, self._buffer_at = await self._fetch(at), at
        return self._buffer[at - self._buffer_at : at - self._buffer_at + most]

    async def close(self) -> None:
        self._buffer = b""
        self.closed = True


__all__ = ["GCSAsyncReadFile", "aupload"]
