"""The serving view for ASGI: :func:`aserve` and :func:`aserve_url`.

The same answers as :func:`storages.views.serve`, but every question to the
store is awaited: through the storage's async API (``aopen``, ``asize``,
``aget_modified_time``, ``aetag``) when it has one (every storage of this
package has it, native on S3, Azure and GCS), else its sync method in the
bounded thread pool of :func:`storages.aio.run_sync` (any other Django
storage). The body is an async iterator of ``chunk_size`` pieces, so a big
file is never whole in memory and the event loop keeps serving other
requests while it streams.
"""

from __future__ import annotations

import asyncio
import datetime
from collections.abc import AsyncIterator, Callable
from typing import Any

from django.core.files.storage import Storage
from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.urls import URLPattern

from storages.aio import AsyncFile, ThreadedAsyncFile, run_sync
from storages.utils import DEFAULT_CHUNK_SIZE

from .common import (
    DEFAULT_SALT,
    NOT_FOUND,
    chosen_range,
    describe,
    finish,
    get_storage,
    handed_off,
    handoff_kind,
    handoff_location,
    not_modified,
    requested_name,
    view_pattern,
)


async def _off_the_loop(store: Storage, func: Callable[..., Any], *args: Any) -> Any:
    """``func(*args)`` where the storage runs its sync calls (the bounded pool by default)."""
    runner = getattr(store, "_run_sync", None)  # Django-connection storages have their own
    return await (runner or run_sync)(func, *args)


async def _ask(store: Storage, async_name: str, sync_name: str, *args: Any) -> Any:
    """``await store.<async_name>(*args)``, or its sync twin off the loop if it has none."""
    method = getattr(store, async_name, None)
    if callable(method):
        return await method(*args)
    return await _off_the_loop(store, getattr(store, sync_name), *args)


async def _modified_time(store: Storage, name: str) -> datetime.datetime | None:
    try:
        return await _ask(store, "aget_modified_time", "get_modified_time", name)
    except (NotImplementedError, AttributeError):
        return None


async def _own_etag(store: Storage, name: str) -> str | None:
    if callable(getattr(store, "aetag", None)) or callable(getattr(store, "etag", None)):
        return await _ask(store, "aetag", "etag", name)
    return None


async def _stat(store: Storage, name: str) -> tuple[int, datetime.datetime | None, str | None]:
    """Size, modification time and own ETag of ``name``, asked at the same time."""
    answers = await asyncio.gather(
        _ask(store, "asize", "size", name),
        _modified_time(store, name),
        _own_etag(store, name),
        return_exceptions=True,
    )
    failures = [answer for answer in answers if isinstance(answer, BaseException)]
    if any(isinstance(failure, NOT_FOUND) for failure in failures):
        raise Http404("No such file.")
    if failures:
        raise failures[0]
    size, moment, etag = answers
    return size, moment, etag


async def _aopen(store: Storage, name: str) -> AsyncFile:
    if callable(getattr(store, "aopen", None)):
        return await store.aopen(name, "rb")
    return ThreadedAsyncFile(await _off_the_loop(store, store.open, name, "rb"), storage=store)


async def _chunks(
    store: Storage, name: str, start: int, length: int, chunk_size: int
) -> AsyncIterator[bytes]:
    handle = await _aopen(store, name)
    try:
        if start:
            await handle.seek(start)
        remaining = length
        while remaining > 0:
            chunk = await handle.read(min(chunk_size, remaining))
            if not chunk:
                raise OSError(f"{name!r} ended {remaining} bytes early while being served")
            remaining -= len(chunk)
            yield chunk
    finally:
        await _close(handle)


async def _close(handle: AsyncFile) -> None:
    """Close ``handle`` even if the request is cancelled meanwhile (the client went away).

    A cancelled wait for a pooled call that has not started yet would skip it,
    leaving the stored file open.
    """
    closing = asyncio.ensure_future(handle.close())
    try:
        await asyncio.shield(closing)
    except asyncio.CancelledError:
        await closing
        raise


async def _prepend(first: bytes, rest: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    try:
        yield first
        async for chunk in rest:
            yield chunk
    finally:
        await rest.aclose()  # closes the stored file even if the client went away


async def aserve(
    request: HttpRequest,
    name: str,
    *,
    storage: str | Storage = "default",
    signed: bool = False,
    salt: str = DEFAULT_SALT,
    content_disposition: str | None = None,
    cache_control: str | None = None,
    handoff: str | None = None,
    handoff_prefix: str = "",
    chunk_size: int = DEFAULT_CHUNK_SIZE,
) -> HttpResponse:
    """Serve the file ``name`` of ``storage`` without blocking the event loop.

    The async twin of :func:`storages.views.serve`, with the same options and
    answers; run it under ASGI (under WSGI Django would collect the whole
    async body in memory before sending it: use :func:`serve` there).
    """
    checked = requested_name(request, name, signed=signed, salt=salt)
    if isinstance(checked, HttpResponse):
        return checked
    name, store = checked, get_storage(storage)
    size, moment, etag = await _stat(store, name)
    described = describe(
        name,
        size,
        moment,
        etag,
        signed=signed,
        cache_control=cache_control,
        content_disposition=content_disposition,
    )
    answer = not_modified(request, described)
    if answer is not None:
        return answer
    if handoff:
        kind = handoff_kind(handoff)
        if kind == "x-accel-redirect":  # asks the store nothing
            location = handoff_location(store, name, kind, handoff_prefix)
        else:
            location = await _off_the_loop(
                store, handoff_location, store, name, kind, handoff_prefix
            )
        return handed_off(described, kind, location)

    chosen = chosen_range(request, described)
    if isinstance(chosen, HttpResponse):
        return chosen
    start, length, status = chosen
    if request.method == "HEAD" or length == 0:
        return finish(HttpResponse(status=status), described, start, length)
    body = _chunks(store, name, start, length, chunk_size)
    try:
        first = await anext(body)  # open now, so a vanished file is still a 404
    except NOT_FOUND:
        raise Http404("No such file.") from None
    response = StreamingHttpResponse(_prepend(first, body), status=status)
    return finish(response, described, start, length)


def aserve_url(prefix: str, *, url_name: str | None = None, **options: Any) -> URLPattern:
    """A URL pattern serving ``<prefix><path:name>`` with :func:`aserve` and ``options``."""
    return view_pattern(aserve, prefix, url_name, options)
