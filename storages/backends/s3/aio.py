"""Native, non-blocking S3 for the async API (``asave``, ``aopen``, ``aexists``, ...).

:class:`S3AsyncMixin` is a base of ``S3Storage`` (so of its static variants and
the ``s3boto`` / ``s3boto3`` aliases). Its hooks send their requests
themselves, signed with SigV4, on one aiohttp session per event loop
(``aio_http``), to exactly where the storage's boto3 client sends them, with
its credentials, proxies, TLS settings, timeouts and retry budget. They keep
the sync rules: the same key and name checks (``_key``, ``clean_name``), the
same object parameters, the same conditional create with the retry on the
next candidate name, the same errors.

What cannot be sent signed here goes to the threaded default for that call
(the sync code in the bounded pool), as ``direct.py`` hands such uploads to
botocore: object parameters botocore transforms (customer-provided keys,
``Expires``, checksums), gzip-compressed saves, read parameters (SSE-C keys,
versions), text and write modes, a signature version other than SigV4,
anonymous access, proxies with TLS settings of their own, and any client whose
requests a registered handler watches (moto's ``mock_aws``, recorders), which
would not see these requests.
"""

from __future__ import annotations

import contextvars
import datetime
import email.utils
import inspect
from typing import Any
from urllib.parse import unquote_plus

from django.conf import settings
from django.utils import timezone

from storages.aio import AsyncFile, content_chunks, run_sync
from storages.backends.s3.aio_files import S3AsyncReader, head_fields
from storages.backends.s3.aio_http import Elsewhere, S3Transport, parse_xml, xml_text
from storages.backends.s3.aio_upload import ChunkReader, Spool, upload
from storages.backends.s3.errors import S3PreconditionFailed
from storages.utils import clean_name, rewindable, safe_join

#: ``max_length`` from ``aget_available_name`` for a save that must pick the next name.
_max_length: contextvars.ContextVar[int | None] = contextvars.ContextVar(
    "storages_s3_max_length", default=None
)
#: Stored in the storage's ``__dict__`` (dropped on pickling and on settings changes).
STATE = "_aio"
#: No native path for this storage: the threaded defaults serve every call.
THREADED = False


class S3AsyncMixin:
    """Native async hooks for ``S3Storage``; see the module documentation."""

    # --- the transport ----------------------------------------------------------------

    async def _s3_transport(self) -> S3Transport | None:
        """The signed-request transport (built once, in a thread), or None for threaded calls."""
        transport = self.__dict__.get(STATE)
        if transport is None:
            transport = await run_sync(self._build_s3_transport)
        if transport is THREADED or transport.watched():
            return None
        return transport

    def _build_s3_transport(self) -> Any:
        from storages.backends.s3.storage import _client_lock

        self.connection  # noqa: B018 - makes the client (and its session)
        # Built outside the lock (it may need the client's own lock); the first one kept.
        built = S3Transport.build(self) or THREADED
        with _client_lock:
            return self.__dict__.setdefault(STATE, built)

    async def aclose(self) -> None:
        """Close this event loop's HTTP session (``asyncio.run()`` and ASGI servers do it too)."""
        transport = self.__dict__.get(STATE)
        if transport:
            await transport.aclose()

    # --- names ------------------------------------------------------------------------

    async def aget_available_name(self, name: str, max_length: int | None = None) -> str:
        _max_length.set(max_length)
        if self.file_overwrite or self.conditional_writes:
            # No request on these paths: the conditional create is the existence check.
            return self.get_available_name(name, max_length)
        self._key(name)  # refuse unsafe names before any request
        return await super().aget_available_name(name, max_length)

    # --- saving -----------------------------------------------------------------------

    async def _asave(self, name: str, content: Any) -> str:
        transport = await self._s3_transport()
        name = clean_name(name)
        params = self._upload_parameters(name, content)
        headers = None if transport is None else self._signable_headers(transport, params)
        if headers is None or self._should_gzip(params):
            return await super()._asave(name, content)
        conditional = not self.file_overwrite and self.conditional_writes
        replay = _Replay(content, spool=conditional)
        taken = name
        try:
            while True:
                key = self._key(name)
                reader = ChunkReader(await replay.chunks())
                try:
                    await upload(
                        transport,
                        key,
                        reader,
                        headers,
                        conditional=conditional,
                        transfer=self.transfer,
                        spool=replay.recording(),
                    )
                except S3PreconditionFailed:
                    # Taken: keep that file, try the next candidate at once.
                    taken, name = self._next_candidate(taken, _max_length.get())
                    replay.passed()
                    headers = self._signable_headers(
                        transport, self._upload_parameters(name, content)
                    )
                    if headers is None:  # a get_object_parameters() that varies by name
                        return await super()._asave(name, await replay.as_content())
                    continue
                except Elsewhere as exc:
                    # Another region: botocore follows it, if the content can be sent again.
                    if not (replay.again or (replay.spool is not None and reader.exhausted)):
                        raise exc.error from None
                    replay.passed()
                    return await super()._asave(name, await replay.as_content())
                return name
        finally:
            await replay.close()

    def _signable_headers(self, transport: S3Transport, params: dict[str, Any]) -> Any:
        """The object's headers if every parameter can be signed here (and sent on a multipart)."""
        if any(name not in transport.multipart_headers for name in params):
            return None
        return transport.direct.request_headers(params)

    # --- reading ----------------------------------------------------------------------

    async def _aopen(self, name: str, mode: str = "rb") -> AsyncFile:
        key = self._key(name)
        transport = await self._s3_transport()
        if transport is None or mode != "rb" or self._read_parameters(name):
            return await super()._aopen(name, mode)
        try:
            return await S3AsyncReader(transport, key, name).start()
        except Elsewhere:
            return await super()._aopen(name, mode)

    async def _ahead(self, transport: S3Transport, key: str, action: str) -> dict[str, Any]:
        answer = await transport.fetch("HEAD", key, operation="HeadObject", action=action)
        return head_fields(answer.headers)

    async def _asize(self, name: str) -> int:
        from storages.backends.s3.files import stored_size

        key = self._key(name)
        transport = await self._s3_transport()
        if transport is None or self._read_parameters(name):
            return await super()._asize(name)
        try:
            return stored_size(await self._ahead(transport, key, "read the size of"))
        except Elsewhere:
            return await super()._asize(name)

    async def _aget_modified_time(self, name: str) -> datetime.datetime:
        key = self._key(name)
        transport = await self._s3_transport()
        if transport is None or self._read_parameters(name):
            return await super()._aget_modified_time(name)
        try:
            fields = await self._ahead(transport, key, "read the time of")
        except Elsewhere:
            return await super()._aget_modified_time(name)
        moment = email.utils.parsedate_to_datetime(fields["LastModified"])
        moment = moment.astimezone(datetime.UTC)
        return moment if settings.USE_TZ else timezone.make_naive(moment)

    async def _aexists(self, name: str) -> bool:
        if not clean_name(str(name)).strip("/"):
            return True  # the location's root, as the sync exists()
        key = self._key(name)
        transport = await self._s3_transport()
        if transport is None or self._read_parameters(name):
            return await super()._aexists(name)
        try:
            if key and not key.endswith("/"):
                try:
                    await self._ahead(transport, key, "look up")
                    return True
                except FileNotFoundError:
                    pass
            prefix = key.rstrip("/") + "/" if key else ""
            page = await self._alist_page(transport, prefix, {"max-keys": "1"})
        except Elsewhere:
            return await super()._aexists(name)
        return bool(page.findall("./{*}Contents") or page.findall("./{*}CommonPrefixes"))

    # --- deleting and listing -------------------------------------------------------------

    async def _adelete(self, name: str) -> None:
        key = self._key(name)
        transport = await self._s3_transport()
        if transport is None:
            return await super()._adelete(name)
        try:
            await transport.fetch(
                "DELETE", key, operation="DeleteObject", action="delete", ok=(200, 204)
            )
        except Elsewhere:
            await super()._adelete(name)

    async def _alistdir(self, path: str) -> tuple[list[str], list[str]]:
        prefix = safe_join(self.location, path)
        if prefix and not prefix.endswith("/"):
            prefix += "/"
        transport = await self._s3_transport()
        if transport is None:
            return await super()._alistdir(path)
        try:
            return await self._alist_all(transport, prefix)
        except Elsewhere:
            return await super()._alistdir(path)

    async def _alist_all(self, transport: S3Transport, prefix: str) -> tuple[list[str], list[str]]:
        directories: list[str] = []
        files: list[str] = []
        token = None
        while True:
            query = {"delimiter": "/"}
            if token:
                query["continuation-token"] = token
            page = await self._alist_page(transport, prefix, query)
            for common in page.findall("./{*}CommonPrefixes/{*}Prefix"):
                directories.append(_listed(common)[len(prefix) :].rstrip("/"))
            for entry in page.findall("./{*}Contents/{*}Key"):
                listed = _listed(entry)
                if listed != prefix:  # a "directory marker" object
                    files.append(listed[len(prefix) :])
            token = xml_text(page, "NextContinuationToken")
            if xml_text(page, "IsTruncated") != "true" or not token:
                return directories, files

    async def _alist_page(self, transport: S3Transport, prefix: str, query: dict[str, str]) -> Any:
        """One ListObjectsV2 page (keys URL-encoded in the answer, as botocore asks)."""
        query = {"list-type": "2", "prefix": prefix, "encoding-type": "url", **query}
        answer = await transport.fetch(
            "GET", "", operation="ListObjectsV2", action="list", query=query, error_key=prefix
        )
        return parse_xml(answer.body)


def _listed(element: Any) -> str:
    """A key or prefix from a listing asked with ``encoding-type=url`` (botocore decodes so)."""
    return unquote_plus(element.text or "")


class _Replay:
    """The content of one save, readable again from its start for the next candidate name.

    Bytes, seekable Django files and seekable async files are re-read; other
    async sources (iterators, ``async read`` objects) are copied to a spool
    while the first attempt sends them, when a conditional create may need a
    second one.
    """

    def __init__(self, content: Any, *, spool: bool) -> None:
        self.content = content
        self.again = _replayable(content)
        self.spool = Spool() if spool and not self.again else None
        self._from_spool = False

    async def chunks(self) -> Any:
        if self._from_spool:
            return self.spool.chunks(1024 * 1024)
        if self.again:
            await _rewind(self.content)
        return content_chunks(self.content)

    def recording(self) -> Spool | None:
        """Where this attempt copies what it sends (nothing once the copy is complete)."""
        return None if self._from_spool else self.spool

    def passed(self) -> None:
        """One attempt sent everything: later ones read the spool."""
        if self.spool is not None:
            self._from_spool = True

    async def as_content(self) -> Any:
        if not self._from_spool:
            if self.again:
                await _rewind(self.content)
            return self.content
        return self.spool.chunks(1024 * 1024)

    async def close(self) -> None:
        if self.spool is not None:
            await self.spool.close()


def _replayable(content: Any) -> bool:
    if isinstance(content, (bytes, bytearray, memoryview)):
        return True
    if isinstance(content, AsyncFile):
        return inspect.iscoroutinefunction(getattr(type(content), "seek", None)) and (
            type(content).seek is not AsyncFile.seek
        )
    return hasattr(content, "chunks") and rewindable(content)


async def _rewind(content: Any) -> None:
    if isinstance(content, AsyncFile):
        await content.seek(0)
    elif hasattr(content, "seek") and rewindable(content):
        content.seek(0)
