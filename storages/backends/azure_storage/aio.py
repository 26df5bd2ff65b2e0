"""Native async I/O for ``AzureStorage``, on ``azure.storage.blob.aio`` (aiohttp).

:class:`AzureAsyncMixin` overrides the async hooks of
:class:`storages.aio.AsyncStorageMixin` with calls of the SDK's async client:
``_asave`` (``Put Blob`` or staged blocks, create-only with ``If-None-Match: *``
and the next candidate name when taken), ``_aopen`` for reading (ranged
downloads pinned to the ETag), ``_adelete``, ``_aexists``, ``_alistdir``,
``_asize`` and the ``_aget_*_time`` hooks. Opening for writing stays the
threaded default (writes go to a local spool anyway; the upload on ``close()``
runs in the pool).

The async client is configured from the same settings as the sync one
(connection string, account key, SAS token or token credential, endpoint,
``AZURE_CLIENT_OPTIONS`` such as proxies and ``connection_verify``), one per
event loop per storage, and closed when that loop shuts down. A sync token
credential (``DefaultAzureCredential`` from ``azure.identity``) is asked for
tokens in the thread pool, never on the loop.
"""

from __future__ import annotations

import inspect
from typing import Any, ClassVar

from django.core.exceptions import ImproperlyConfigured

from storages.aio import AsyncFile, run_sync
from storages.aio.loops import PerLoop
from storages.aio.native import NativeAsyncMixin
from storages.aio.replay import Replay
from storages.backends.azure_storage.aio_files import AzureAsyncReadFile, aupload
from storages.backends.azure_storage.errors import AzureNameTaken, AzureStorageError
from storages.files import is_write_mode, refuse_partial_update
from storages.utils import clean_name, is_root


class ThreadedTokenCredential:
    """A sync token credential for the async client: tokens fetched in the thread pool."""

    def __init__(self, credential: Any) -> None:
        self.credential = credential

    async def get_token(self, *scopes: str, **kwargs: Any) -> Any:
        return await run_sync(self.credential.get_token, *scopes, **kwargs)

    async def close(self) -> None:
        return None  # the sync credential belongs to the settings, not to this client

    async def __aenter__(self) -> ThreadedTokenCredential:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        return None


def async_credential(credential: Any) -> Any:
    """``credential`` as the async client needs it (async ones pass through)."""
    if inspect.iscoroutinefunction(getattr(credential, "get_token", None)):
        return credential
    return ThreadedTokenCredential(credential)


def _aio_module() -> Any:
    try:
        import aiohttp  # noqa: F401 - the async client's transport
        from azure.storage.blob import aio
    except ImportError as exc:
        raise ImproperlyConfigured(
            "Native async I/O on Azure needs aiohttp: pip install 'storages[azure,async]'"
        ) from exc
    return aio


class AzureAsyncMixin(NativeAsyncMixin):
    """The async hooks of ``AzureStorage`` on the SDK's async client (see the module doc)."""

    names_module: ClassVar[str] = "storages.backends.azure_storage.storage"
    per_loop_key: ClassVar[str] = "_aio_clients"

    # --- the async client --------------------------------------------------------------

    def _new_per_loop(self) -> PerLoop[Any]:
        async def make() -> Any:
            service = self._build_service_client(_aio_module(), token=async_credential)
            return service, service.get_container_client(self.azure_container)

        async def close(pair: Any) -> None:
            await pair[0].close()

        return PerLoop(make, close)

    def _aio_native(self) -> bool:
        """False when AZURE_CLIENT_OPTIONS gives a sync ``transport``: then the
        threaded defaults run, so requests still go the way that transport sends them."""
        transport = (self.client_options or {}).get("transport")
        if transport is None:
            return True
        from azure.core.pipeline.transport import AsyncHttpTransport

        return isinstance(transport, AsyncHttpTransport)

    async def _acontainer(self) -> Any:
        """The async ``ContainerClient`` of this storage for the running event loop."""
        return (await self._per_loop().get())[1]

    # --- saving ------------------------------------------------------------------------

    async def _asave(self, name: str, content: Any) -> str:
        if not self._aio_native():
            return await super()._asave(name, content)  # type: ignore[misc]
        overwrite = bool(self.overwrite_files)

        async def upload(name: str, replay: Replay) -> None:
            await self._aupload(name, replay, overwrite=overwrite, content=content)

        return await self._asave_first_free(clean_name(name), content, upload, AzureNameTaken)

    async def _aupload(self, name: str, replay: Replay, *, overwrite: bool, content: Any) -> None:
        import asyncio

        from storages.backends.azure_storage.storage import BLOCK_LIST_ATTEMPTS

        blob = self._blob(name)
        container = await self._acontainer()
        for attempt in range(BLOCK_LIST_ATTEMPTS):
            try:
                with self._errors(blob, "save"):
                    await aupload(
                        container.get_blob_client(blob),
                        replay,
                        **self._upload_options(name, content, overwrite),
                    )
                return
            except AzureStorageError as exc:
                delay = self._restage_delay(exc, blob, overwrite=overwrite, attempt=attempt)
                if delay is None:
                    raise
                await asyncio.sleep(delay)

    # --- reading and the rest ----------------------------------------------------------

    async def _aopen(self, name: str, mode: str) -> AsyncFile:
        blob = self._blob(name)  # refuse unsafe names before any request
        refuse_partial_update(name, mode)
        if is_write_mode(mode) or not self._aio_native():
            return await super()._aopen(name, mode)  # type: ignore[misc]
        client = (await self._acontainer()).get_blob_client(blob)
        with self._errors(blob, "open"):
            # The first download's answer gives the size and the ETag reads pin.
            first = await client.download_blob(timeout=self.timeout)
        return AzureAsyncReadFile(
            name, mode, client, first, lambda action: self._errors(blob, action), self.timeout
        )

    async def _aproperties(self, name: str, action: str) -> Any:
        blob = self._blob(name)
        container = await self._acontainer()
        with self._errors(blob, action):
            return await container.get_blob_client(blob).get_blob_properties(timeout=self.timeout)

    async def _adelete(self, name: str) -> None:
        if not self._aio_native():
            return await super()._adelete(name)  # type: ignore[misc]
        blob = self._blob(name)
        container = await self._acontainer()
        try:
            with self._errors(blob, "delete"):
                await container.delete_blob(blob, timeout=self.timeout)
        except FileNotFoundError:
            pass

    async def _aexists(self, name: str) -> bool:
        if not self._aio_native():
            return await super()._aexists(name)  # type: ignore[misc]
        if is_root(name):
            return True  # the location's root, as exists() says
        try:
            await self._aproperties(name, "look up")
            return True
        except FileNotFoundError:
            pass
        prefix = self._prefix(name)  # a "directory": any blob under it
        container = await self._acontainer()
        try:
            with self._errors(prefix, "list"):
                pages = container.list_blobs(
                    name_starts_with=prefix, results_per_page=1, timeout=self.timeout
                ).by_page()
                async for page in pages:
                    async for _item in page:
                        return True
                    return False
                return False
        except FileNotFoundError:  # no container: nothing exists
            return False

    async def _alistdir(self, path: str) -> tuple[list[str], list[str]]:
        if not self._aio_native():
            return await super()._alistdir(path)  # type: ignore[misc]
        prefix = self._prefix(path)
        container = await self._acontainer()
        directories: list[str] = []
        files: list[str] = []
        with self._errors(prefix, "list"):
            async for item in container.walk_blobs(
                name_starts_with=prefix or None, delimiter="/", timeout=self.timeout
            ):
                rest = item.name[len(prefix) :]
                if rest.endswith("/"):
                    directories.append(rest.rstrip("/"))
                elif rest:
                    files.append(rest)
        return directories, files

    async def _asize(self, name: str) -> int:
        if not self._aio_native():
            return await super()._asize(name)  # type: ignore[misc]
        return (await self._aproperties(name, "read the size of")).size

    async def _aget_modified_time(self, name: str) -> Any:
        if not self._aio_native():
            return await super()._aget_modified_time(name)  # type: ignore[misc]
        return self._moment((await self._aproperties(name, "read the time of")).last_modified)

    async def _aget_created_time(self, name: str) -> Any:
        if not self._aio_native():
            return await super()._aget_created_time(name)  # type: ignore[misc]
        return self._moment((await self._aproperties(name, "read the time of")).creation_time)

    async def _aurl(self, name: str, *args: Any, **kwargs: Any) -> str:
        if self.token_credential and not self.account_key:
            # A user-delegation SAS may need a key from the service first (a request).
            return await run_sync(self.url, name, *args, **kwargs)
        return self.url(name, *args, **kwargs)


__all__ = ["AzureAsyncMixin", "ThreadedTokenCredential", "async_credential"]
