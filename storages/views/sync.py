"""The serving view for WSGI (and any sync caller): :func:`serve` and :func:`serve_url`."""

from __future__ import annotations

import datetime
from collections.abc import Iterator
from typing import Any

from django.core.files.storage import Storage
from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.urls import URLPattern

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


def _modified_time(store: Storage, name: str) -> datetime.datetime | None:
    try:
        return store.get_modified_time(name)
    except (NotImplementedError, AttributeError):
        return None


def _own_etag(store: Storage, name: str) -> str | None:
    custom = getattr(store, "etag", None)
    return custom(name) if callable(custom) else None


def _stream(store: Storage, name: str, start: int, length: int, chunk_size: int) -> Iterator[bytes]:
    handle = store.open(name, "rb")
    try:
        if start:
            handle.seek(start)
        remaining = length
        while remaining > 0:
            chunk = handle.read(min(chunk_size, remaining))
            if not chunk:
                raise OSError(f"{name!r} ended {remaining} bytes early while being served")
            remaining -= len(chunk)
            yield chunk
    finally:
        handle.close()


def _prepend(first: bytes, rest: Iterator[bytes]) -> Iterator[bytes]:
    try:
        yield first
        yield from rest
    finally:
        rest.close()  # closes the stored file even if the client went away


def serve(
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
    """Serve the file ``name`` of ``storage`` (see the :mod:`storages.views` documentation)."""
    checked = requested_name(request, name, signed=signed, salt=salt)
    if isinstance(checked, HttpResponse):
        return checked
    name, store = checked, get_storage(storage)
    try:
        size = store.size(name)
        moment = _modified_time(store, name)
    except NOT_FOUND:
        raise Http404("No such file.") from None
    described = describe(
        name,
        size,
        moment,
        _own_etag(store, name),
        signed=signed,
        cache_control=cache_control,
        content_disposition=content_disposition,
    )
    answer = not_modified(request, described)
    if answer is not None:
        return answer
    if handoff:
        kind = handoff_kind(handoff)
        return handed_off(described, kind, handoff_location(store, name, kind, handoff_prefix))

    chosen = chosen_range(request, described)
    if isinstance(chosen, HttpResponse):
        return chosen
    start, length, status = chosen
    if request.method == "HEAD" or length == 0:
        return finish(HttpResponse(status=status), described, start, length)
    try:
        body = _stream(store, name, start, length, chunk_size)
        first = next(body)  # open now, so a vanished file is still a 404
    except NOT_FOUND:
        raise Http404("No such file.") from None
    response = StreamingHttpResponse(_prepend(first, body), status=status)
    return finish(response, described, start, length)


def serve_url(prefix: str, *, url_name: str | None = None, **options: Any) -> URLPattern:
    """A URL pattern serving ``<prefix><path:name>`` with :func:`serve` and ``options``."""
    return view_pattern(serve, prefix, url_name, options)
