"""Native async I/O for ``GoogleCloudStorage``: the JSON API over aiohttp.

:class:`GoogleCloudAsyncMixin` overrides the async hooks of
:class:`storages.aio.AsyncStorageMixin`: ``_asave`` (one multipart request up
to 8 MiB, else a resumable upload in ``blob_chunk_size`` chunks; with
overwrite off a conditional create, ``ifGenerationMatch=0``, and the next
candidate name when taken), ``_aopen`` for reading (ranged GETs of one
generation), ``_adelete``, ``_aexists``, ``_alistdir``, ``_asize`` and the
``_aget_*_time`` hooks. Threaded (the sync code in the pool), where a native
path is not worth it: opening for writing (a local spool, uploaded on
``close()``), and saving or reading objects this backend gzips
(``GS_IS_GZIPPED``), which need the sync path's gzip and inflate.

The endpoint and the credentials are the sync client's (see
:mod:`storages.backends.gcloud.aio_http`); the sync client itself is made in
the pool the first time (it may look for default credentials), then one
aiohttp session per event loop per storage, closed with the loop.
"""

from __future__ import annotations

import contextlib
import datetime
import threading
from typing import Any, ClassVar

from django.core.exceptions import ImproperlyConfigured

from storages.aio import AsyncFile, run_sync
from storages.aio.loops import PerLoop
from storages.aio.native import NativeAsyncMixin
from storages.aio.replay import Replay
from storages.backends.gcloud.aio_files import GCSAsyncReadFile, aupload
from storages.backends.gcloud.aio_http import GCSSession, object_path, ssl_context_like_requests
from storages.backends.gcloud.errors import GCSNotFound, GCSPreconditionFailed
from storages.backends.gcloud.files import READ_CHUNK_SIZE, UNCOMPRESSED_SIZE
from storages.files import refuse_partial_update
from storages.utils import clean_name, is_root


def _require_aiohttp() -> None:
    try:
        import aiohttp  # noqa: F401
    except ImportError as exc:
        raise ImproperlyConfigured(
            "Native async I/O on GCS needs aiohttp: pip install 'storages[google,async]'"
        ) from exc


def _parse_time(text: str | None) -> datetime.datetime | None:
    if not text:
        return None
    return datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))


def _our_gzip(resource: dict[str, Any]) -> bool:
    metadata = resource.get("metadata") or {}
    return resource.get("contentEncoding") == "gzip" and UNCOMPRESSED_SIZE in metadata


class GoogleCloudAsyncMixin(NativeAsyncMixin):
    """The async hooks of ``GoogleCloudStorage`` (see the module doc)."""

    names_module: ClassVar[str] = "storages.backends.gcloud.storage"
    per_loop_key: ClassVar[str] = "_aio_sessions"

    # --- the session -------------------------------------------------------------------

    def _new_per_loop(self) -> PerLoop[GCSSession]:
        refresh_lock = threading.Lock()

        async def make() -> GCSSession:
            _require_aiohttp()
            # The sync client may look for default credentials: not on the loop.
            client = await run_sync(getattr, self, "client")
            context = await run_sync(ssl_context_like_requests)
            base = client._connection.API_BASE_URL
            return GCSSession(base, client._credentials, refresh_lock, context)

        return PerLoop(make, GCSSession.close)

    async def _asession(self) -> GCSSession:
        return await self._per_loop().get()

    # --- saving ------------------------------------------------------------------------

    async def _asave(self, name: str, content: Any) -> str:
        from storages.backends.gcloud.storage import DEFAULT_UPLOAD_CHUNK, MULTIPART_LIMIT

        name = clean_name(name)
        session = await self._asession()  # the sync client exists from here on
        probe, _acl = self._new_blob(self._key(name), name, content)
        if self._should_gzip(probe):
            return await super()._asave(name, content)  # type: ignore[misc]
        conditional = not self.file_overwrite
        chunk_size = int(self.blob_chunk_size or 0) or DEFAULT_UPLOAD_CHUNK

        async def upload(name: str, replay: Replay) -> None:
            key = self._key(name)
            blob, acl = self._new_blob(key, name, content)
            with self._errors(key, "save"):
                await aupload(
                    session,
                    self.bucket_name,
                    blob._get_writable_metadata(),
                    replay,
                    conditional=conditional,
                    acl=acl,
                    multipart_limit=MULTIPART_LIMIT,
                    chunk_size=chunk_size,
                )

        return await self._asave_first_free(name, content, upload, GCSPreconditionFailed)

    # --- reading and the rest ----------------------------------------------------------

    async def _aresource(self, key: str, action: str) -> dict[str, Any]:
        """The object's JSON resource; GCSNotFound if there is none."""
        from google.api_core import exceptions as api

        session = await self._asession()
        with self._errors(key, action):
            try:
                answer = await session.request(
                    "GET", f"/storage/v1{object_path(self.bucket_name, key)}", retry=True
                )
            except api.NotFound:
                raise GCSNotFound(
                    f"Could not {action} gs://{self.bucket_name}/{key}: it does not exist"
                ) from None
        return answer.json()

    async def _aopen(self, name: str, mode: str) -> AsyncFile:
        key = self._key(name)
        refuse_partial_update(name, mode)
        if "w" in mode or "x" in mode:
            return await super()._aopen(name, mode)  # type: ignore[misc]
        resource = await self._aresource(key, "open")
        if _our_gzip(resource):
            return await super()._aopen(name, mode)  # type: ignore[misc]
        return GCSAsyncReadFile(
            name,
            mode,
            await self._asession(),
            self.bucket_name,
            resource,
            chunk_size=int(self.blob_chunk_size or 0) or READ_CHUNK_SIZE,
            errors=lambda action: self._errors(key, action),
        )

    async def _adelete(self, name: str) -> None:
        from google.api_core import exceptions as api

        key = self._key(name)
        session = await self._asession()
        # Deleting a missing file is a no-op.
        with self._errors(key, "delete"), contextlib.suppress(api.NotFound):
            await session.request(
                "DELETE",
                f"/storage/v1{object_path(self.bucket_name, key)}",
                expect=(204, 200),
                retry=True,
            )

    async def _alist(self, prefix: str, fields: str, **params: str) -> Any:
        """Pages of a listing under ``prefix`` (the JSON of each)."""
        session = await self._asession()
        token = None
        while True:
            query = {"prefix": prefix, "fields": fields, **params}
            if token:
                query["pageToken"] = token
            page = (
                await session.request(
                    "GET", f"/storage/v1/b/{self.bucket_name}/o", params=query, retry=True
                )
            ).json()
            yield page
            token = page.get("nextPageToken")
            if not token:
                return

    async def _aexists(self, name: str) -> bool:
        if is_root(name):
            return True  # the location's root, as exists() says
        key = self._key(name)
        if not key.endswith("/"):
            try:
                await self._aresource(key, "look up")
                return True
            except GCSNotFound:
                pass
        prefix = key.rstrip("/") + "/"  # a "directory": any object under it
        with self._errors(key, "look up"):
            async for page in self._alist(prefix, "items(name),nextPageToken", maxResults="1"):
                return bool(page.get("items"))
        return False

    async def _alistdir(self, path: str) -> tuple[list[str], list[str]]:
        prefix = self._listing_prefix(path)
        directories: list[str] = []
        files: list[str] = []
        with self._errors(prefix, "list"):
            pages = self._alist(prefix, "items(name),prefixes,nextPageToken", delimiter="/")
            async for page in pages:
                names = (item["name"] for item in page.get("items", ()))
                files.extend(n[len(prefix) :] for n in names if n != prefix)
                directories.extend(p[len(prefix) :].rstrip("/") for p in page.get("prefixes", ()))
        return sorted(set(directories)), files

    async def _asize(self, name: str) -> int:
        resource = await self._aresource(self._key(name), "read the size of")
        if _our_gzip(resource):
            return int(resource["metadata"][UNCOMPRESSED_SIZE])
        return int(resource.get("size") or 0)

    async def _aget_modified_time(self, name: str) -> datetime.datetime:
        resource = await self._aresource(self._key(name), "read the time of")
        return self._moment(_parse_time(resource.get("updated")))

    async def _aget_created_time(self, name: str) -> datetime.datetime:
        resource = await self._aresource(self._key(name), "read the time of")
        return self._moment(_parse_time(resource.get("timeCreated")))

    async def _aurl(self, name: str, *args: Any, **kwargs: Any) -> str:
        if self.querystring_auth and self.iam_sign_blob:
            # IAM SignBlob is a request (and may refresh a token): in the pool.
            return await run_sync(self.url, name, *args, **kwargs)
        return self.url(name, *args, **kwargs)


__all__ = ["GoogleCloudAsyncMixin"]
