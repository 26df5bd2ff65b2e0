"""One view that serves files from any Django storage, for stores with no HTTP of their own.

DatabaseStorage, GridFSStorage, CouchDBStorage and MogileFSStorage keep files
where a browser cannot fetch them; their ``url()`` points at this view.

Wiring (one line in ``urls.py``)::

    from storages.views import serve_url

    urlpatterns = [
        serve_url("dbfiles/", storage="default"),              # STORAGES alias
        serve_url("private/", storage="private", signed=True,  # signed, expiring links
                  content_disposition="attachment"),
    ]

and point the storage's base URL at the same prefix (``DB_FILES_URL =
"/dbfiles/"``). ``serve_url(prefix, **options)`` returns a ``path()`` to
``<prefix><path:name>``; the view itself is :func:`serve` and takes the same
options as keyword arguments, so ``path("files/<path:name>", serve,
{"storage": "default"})`` works too.

Options of :func:`serve` (all keyword-only):

``storage``
    A ``STORAGES`` alias (default ``"default"``) or a Storage instance. Any
    storage works: the view uses only ``open``, ``size`` and, when the
    storage has them, ``get_modified_time`` and an ``etag(name)`` method.
``signed`` / ``salt``
    With ``signed=True`` a request must carry the ``expires`` and
    ``signature`` query parameters made by :func:`signed_url` (Django's
    ``signing`` with ``SECRET_KEY`` and ``salt``); missing, tampered or
    expired links get 403, before the store is asked anything.
``content_disposition``
    ``None`` (no header, the default), ``"inline"`` or ``"attachment"``;
    the file name sent is the last part of the stored name.
``cache_control``
    A ``Cache-Control`` value to send (default: none; ``"private"`` for
    signed links).
``handoff`` / ``handoff_prefix``
    Let a front server send the bytes: ``"x-accel-redirect"`` (nginx:
    ``X-Accel-Redirect: <handoff_prefix><name>``), ``"x-sendfile"``
    (Apache/lighttpd: ``storage.path(name)`` when the storage has local
    paths, else ``<handoff_prefix><name>``) or ``"x-reproxy-url"`` (perlbal:
    the space-separated URLs of ``storage.reproxy_urls(name)`` if the storage
    has that method, else ``storage.url(name)``). The view still checks the
    signature and that the file exists, and sends the headers below.
``chunk_size``
    Bytes read from the store per step of the streamed body (default 256 KiB,
    ``storages.utils.DEFAULT_CHUNK_SIZE``).

What it answers: ``GET`` and ``HEAD`` only (others 405); the body is streamed
(``StreamingHttpResponse`` over ``storage.open``; the file is never whole in
memory); ``Content-Type`` (from the name), ``Content-Length``,
``Last-Modified`` (when the storage knows it), ``ETag`` (from the storage's
``etag()`` or from size and modification time), ``Accept-Ranges: bytes`` and
``X-Content-Type-Options: nosniff``; ``304`` for a matching
``If-None-Match``/``If-Modified-Since`` and ``412`` for a failed
``If-Match``/``If-Unmodified-Since``; ``206`` with ``Content-Range`` for one
byte range (``If-Range`` honoured), ``416`` for an unsatisfiable one; ``404``
for unknown names and for unsafe ones (``..``, absolute, NUL), never a
traceback.
"""

from __future__ import annotations

import datetime
import hashlib
import mimetypes
import posixpath
import re
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote, urlencode

from django.core.exceptions import SuspiciousFileOperation
from django.core.files.storage import Storage, storages
from django.core.signing import Signer
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseForbidden,
    HttpResponseNotAllowed,
    StreamingHttpResponse,
)
from django.urls import URLPattern, path
from django.utils import timezone
from django.utils.cache import get_conditional_response
from django.utils.crypto import constant_time_compare
from django.utils.http import http_date, parse_http_date_safe

from storages.utils import DEFAULT_CHUNK_SIZE, safe_join

DEFAULT_SALT = "storages.views.serve"
HANDOFF_HEADERS = {
    "x-accel-redirect": "X-Accel-Redirect",
    "x-sendfile": "X-Sendfile",
    "x-reproxy-url": "X-Reproxy-URL",
}
ENCODED_TYPES = {
    "gzip": "application/gzip",
    "bzip2": "application/x-bzip2",
    "xz": "application/x-xz",
    "br": "application/x-brotli",
    "compress": "application/x-compress",
}
RANGE = re.compile(r"bytes=\s*(\d*)\s*-\s*(\d*)\s*")
# Errors that mean "there is no file by that name here" on some store.
NOT_FOUND = (FileNotFoundError, IsADirectoryError, NotADirectoryError, SuspiciousFileOperation)


def get_storage(storage: str | Storage) -> Storage:
    """A storage instance from an alias of ``STORAGES`` (or the instance itself)."""
    return storages[storage] if isinstance(storage, str) else storage


def _signature(name: str, expires: int, salt: str) -> str:
    return Signer(salt=salt).signature(f"{name}\n{expires}")


def signed_url(
    name: str,
    *,
    storage: str | Storage = "default",
    expires_in: int = 3600,
    salt: str = DEFAULT_SALT,
) -> str:
    """``storage.url(name)`` with ``expires`` and ``signature`` query parameters.

    The link works for ``expires_in`` seconds with a view configured with
    ``signed=True`` and the same ``salt``.
    """
    store = get_storage(storage)
    expires = int(time.time()) + int(expires_in)
    query = urlencode({"expires": expires, "signature": _signature(name, expires, salt)})
    url = store.url(name)
    return f"{url}{'&' if '?' in url else '?'}{query}"


def _signature_is_valid(request: HttpRequest, name: str, salt: str) -> bool:
    expires, signature = request.GET.get("expires", ""), request.GET.get("signature", "")
    if not expires.isdigit() or not signature or int(expires) < time.time():
        return False
    return constant_time_compare(signature, _signature(name, int(expires), salt))


def _content_type(name: str) -> str:
    content_type, encoding = mimetypes.guess_type(name)
    if encoding:
        return ENCODED_TYPES.get(encoding, "application/octet-stream")
    return content_type or "application/octet-stream"


def _modified_time(store: Storage, name: str) -> datetime.datetime | None:
    try:
        moment = store.get_modified_time(name)
    except (NotImplementedError, AttributeError):
        return None
    if timezone.is_naive(moment):  # USE_TZ = False: local time
        moment = timezone.make_aware(moment, timezone.get_default_timezone())
    return moment


def _etag(store: Storage, name: str, size: int, exact: float | None) -> str | None:
    custom = getattr(store, "etag", None)
    if callable(custom):
        value = custom(name)
        if value:
            return value if value.startswith(('"', 'W/"')) else f'"{value}"'
    if exact is None:
        return None  # size alone does not identify content
    digest = hashlib.sha256(f"{name}\n{size}\n{exact}".encode()).hexdigest()[:32]
    return f'"{digest}"'


def _parse_range(header: str, size: int) -> tuple[int, int] | bool | None:
    """(first, last) for one satisfiable range; None to ignore it; False if unsatisfiable."""
    match = RANGE.fullmatch(header)
    if not match or match.group(1) == match.group(2) == "":
        return None  # several ranges or nonsense: send the whole file (allowed by RFC 9110)
    first, last = match.groups()
    if first == "":
        length = int(last)
        if length == 0:
            return False
        return max(size - length, 0), size - 1
    start = int(first)
    end = int(last) if last else size - 1
    if start >= size or end < start:
        return False
    return start, min(end, size - 1)


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
    """Serve the file ``name`` of ``storage`` (see the module documentation)."""
    if request.method not in ("GET", "HEAD"):
        return HttpResponseNotAllowed(["GET", "HEAD"])
    try:
        name = safe_join("", name)
    except SuspiciousFileOperation:
        raise Http404("No such file.") from None
    if not name or name.endswith("/"):
        raise Http404("No such file.")
    if signed and not _signature_is_valid(request, name, salt):
        return HttpResponseForbidden("This link is not valid or has expired.")
    store = get_storage(storage)
    try:
        size = store.size(name)
        moment = _modified_time(store, name)
    except NOT_FOUND:
        raise Http404("No such file.") from None
    modified = int(moment.timestamp()) if moment is not None else None
    exact = moment.timestamp() if moment is not None else None
    etag = _etag(store, name, size, exact)

    headers = HttpResponse()
    headers["Content-Type"] = _content_type(name)
    headers["Accept-Ranges"] = "bytes"
    headers["X-Content-Type-Options"] = "nosniff"
    if etag:
        headers["ETag"] = etag
    if modified is not None:
        headers["Last-Modified"] = http_date(modified)
    if cache_control or signed:
        headers["Cache-Control"] = cache_control or "private"
    if content_disposition:
        from django.utils.http import content_disposition_header

        header = content_disposition_header(
            content_disposition == "attachment", posixpath.basename(name)
        )
        if header:
            headers["Content-Disposition"] = header

    conditional = get_conditional_response(
        request, etag=etag, last_modified=modified, response=headers
    )
    if conditional is not headers:
        return conditional

    if handoff:
        return _handoff(headers, store, name, handoff, handoff_prefix)

    start, length, status = 0, size, 200
    requested = request.headers.get("Range")
    if requested and _if_range_matches(request, etag, modified):
        chosen = _parse_range(requested, size)
        if chosen is False:
            response = HttpResponse(status=416)
            response["Content-Range"] = f"bytes */{size}"
            return response
        if chosen:
            start, last = chosen
            length, status = last - start + 1, 206

    if request.method == "HEAD" or length == 0:
        response: HttpResponse | StreamingHttpResponse = HttpResponse(status=status)
    else:
        try:
            body = _stream(store, name, start, length, chunk_size)
            first = next(body)  # open now, so a vanished file is still a 404
        except NOT_FOUND:
            raise Http404("No such file.") from None
        response = StreamingHttpResponse(_prepend(first, body), status=status)
    for header, value in headers.items():
        response[header] = value
    response["Content-Length"] = str(length)
    if status == 206:
        response["Content-Range"] = f"bytes {start}-{start + length - 1}/{size}"
    return response


def _prepend(first: bytes, rest: Iterator[bytes]) -> Iterator[bytes]:
    try:
        yield first
        yield from rest
    finally:
        rest.close()  # closes the stored file even if the client went away


def _if_range_matches(request: HttpRequest, etag: str | None, modified: int | None) -> bool:
    condition = request.headers.get("If-Range")
    if not condition:
        return True
    if condition.startswith(('"', "W/")):
        return etag is not None and not condition.startswith("W/") and condition == etag
    moment = parse_http_date_safe(condition)
    return moment is not None and modified is not None and moment == modified


def _handoff(headers: HttpResponse, store: Storage, name: str, how: str, prefix: str):
    kind = how.lower()
    if kind not in HANDOFF_HEADERS:
        raise ValueError(f"handoff must be one of {', '.join(HANDOFF_HEADERS)}, not {how!r}.")
    if kind == "x-accel-redirect":
        value = f"{prefix}{quote(name)}"
    elif kind == "x-sendfile":
        try:
            value = store.path(name)
        except NotImplementedError:
            value = f"{prefix}{name}"
    else:
        reproxy = getattr(store, "reproxy_urls", None)
        value = " ".join(reproxy(name)) if callable(reproxy) else store.url(name)
    headers[HANDOFF_HEADERS[kind]] = value
    return headers


def serve_url(prefix: str, *, url_name: str | None = None, **options: Any) -> URLPattern:
    """A URL pattern serving ``<prefix><path:name>`` with :func:`serve` and ``options``."""
    serve_options = set(serve.__kwdefaults__ or {})
    unknown = sorted(set(options) - serve_options)
    if unknown:
        raise TypeError(f"serve() has no option {', '.join(map(repr, unknown))}.")
    handoff = options.get("handoff")
    if handoff is not None and handoff.lower() not in HANDOFF_HEADERS:
        raise ValueError(f"handoff must be one of {', '.join(HANDOFF_HEADERS)}, not {handoff!r}.")
    route = prefix.strip("/")
    route = f"{route}/<path:name>" if route else "<path:name>"
    return path(route, serve, kwargs=options, name=url_name)
