"""What the sync and the async serving views share: names, signatures, headers, ranges.

Every function here is pure (no store is asked anything): the views ask the
store for a size, a modification time and maybe an ETag, in their own way
(blocking or awaited), and hand the answers to these functions, which decide
the status and headers of the response.
"""

from __future__ import annotations

import datetime
import hashlib
import mimetypes
import posixpath
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlencode

from django.core.exceptions import SuspiciousFileOperation
from django.core.files.storage import Storage, storages
from django.core.signing import Signer
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseBase,
    HttpResponseForbidden,
    HttpResponseNotAllowed,
)
from django.urls import URLPattern, path
from django.utils import timezone
from django.utils.cache import get_conditional_response
from django.utils.crypto import constant_time_compare
from django.utils.http import (
    content_disposition_header,
    http_date,
    parse_http_date_safe,
)

from storages.utils import safe_join

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
NOT_FOUND = (
    FileNotFoundError,
    IsADirectoryError,
    NotADirectoryError,
    SuspiciousFileOperation,
)


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
    ``signed=True`` and the same ``salt`` (:func:`serve` or :func:`aserve`).
    """
    store = get_storage(storage)
    expires = int(time.time()) + int(expires_in)
    query = urlencode({"expires": expires, "signature": _signature(name, expires, salt)})
    url = store.url(name)
    return f"{url}{'&' if '?' in url else '?'}{query}"


def _signature_is_valid(request: HttpRequest, name: str, salt: str) -> bool:
    expires, signature = (
        request.GET.get("expires", ""),
        request.GET.get("signature", ""),
    )
    if not expires.isdigit() or not signature or int(expires) < time.time():
        return False
    return constant_time_compare(signature, _signature(name, int(expires), salt))


def requested_name(
    request: HttpRequest, name: str, *, signed: bool, salt: str
) -> str | HttpResponse:
    """The clean stored name a request may read, or the answer refusing it (405, 403).

    Unsafe and empty names raise Http404. Nothing here asks the store, so a
    forged or hostile request costs the store nothing.
    """
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
    return name


def content_type(name: str) -> str:
    guessed, encoding = mimetypes.guess_type(name)
    if encoding:
        return ENCODED_TYPES.get(encoding, "application/octet-stream")
    return guessed or "application/octet-stream"


def aware(moment: datetime.datetime) -> datetime.datetime:
    if timezone.is_naive(moment):  # USE_TZ = False: local time
        return timezone.make_aware(moment, timezone.get_default_timezone())
    return moment


def quoted_etag(value: str | None) -> str | None:
    """A storage's own ``etag(name)`` answer as a header value (None if it has none)."""
    if not value:
        return None
    return value if value.startswith(('"', 'W/"')) else f'"{value}"'


@dataclass(frozen=True)
class Described:
    """The headers of one stored file, and the validators conditional requests compare."""

    headers: HttpResponse
    size: int
    etag: str | None
    modified: int | None  # whole seconds, as HTTP dates have them


def describe(
    name: str,
    size: int,
    moment: datetime.datetime | None,
    own_etag: str | None,
    *,
    signed: bool,
    cache_control: str | None,
    content_disposition: str | None,
) -> Described:
    """The headers every answer about ``name`` carries, from what the store said about it."""
    moment = aware(moment) if moment is not None else None
    modified = int(moment.timestamp()) if moment is not None else None
    etag = quoted_etag(own_etag)
    if etag is None and moment is not None:  # size alone does not identify content
        digest = f"{name}\n{size}\n{moment.timestamp()}".encode()
        etag = f'"{hashlib.sha256(digest).hexdigest()[:32]}"'

    headers = HttpResponse()
    headers["Content-Type"] = content_type(name)
    headers["Accept-Ranges"] = "bytes"
    headers["X-Content-Type-Options"] = "nosniff"
    if etag:
        headers["ETag"] = etag
    if modified is not None:
        headers["Last-Modified"] = http_date(modified)
    if cache_control or signed:
        headers["Cache-Control"] = cache_control or "private"
    if content_disposition:
        header = content_disposition_header(
            content_disposition == "attachment", posixpath.basename(name)
        )
        if header:
            headers["Content-Disposition"] = header
    return Described(headers, size, etag, modified)


def not_modified(request: HttpRequest, described: Described) -> HttpResponse | None:
    """The 304 or 412 answer the request's conditional headers call for, else None."""
    answer = get_conditional_response(
        request,
        etag=described.etag,
        last_modified=described.modified,
        response=described.headers,
    )
    return None if answer is described.headers else answer


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


def _if_range_matches(request: HttpRequest, etag: str | None, modified: int | None) -> bool:
    condition = request.headers.get("If-Range")
    if not condition:
        return True
    if condition.startswith(('"', "W/")):
        return etag is not None and not condition.startswith("W/") and condition == etag
    moment = parse_http_date_safe(condition)
    return moment is not None and modified is not None and moment == modified


def chosen_range(request: HttpRequest, described: Described) -> tuple[int, int, int] | HttpResponse:
    """``(start, length, status)`` of the body to send, or the 416 answer."""
    size = described.size
    requested = request.headers.get("Range")
    if requested and _if_range_matches(request, described.etag, described.modified):
        chosen = _parse_range(requested, size)
        if chosen is False:
            response = HttpResponse(status=416)
            response["Content-Range"] = f"bytes */{size}"
            return response
        if chosen:
            start, last = chosen
            return start, last - start + 1, 206
    return 0, size, 200


def finish(
    response: HttpResponseBase, described: Described, start: int, length: int
) -> HttpResponseBase:
    """Copy the file's headers onto the response that carries (part of) its bytes."""
    for header, value in described.headers.items():
        response[header] = value
    response["Content-Length"] = str(length)
    if response.status_code == 206:
        response["Content-Range"] = f"bytes {start}-{start + length - 1}/{described.size}"
    return response


def handoff_kind(how: str) -> str:
    kind = how.lower()
    if kind not in HANDOFF_HEADERS:
        raise ValueError(f"handoff must be one of {', '.join(HANDOFF_HEADERS)}, not {how!r}.")
    return kind


def handoff_location(store: Storage, name: str, kind: str, prefix: str) -> str:
    """Where the front server finds the bytes (may ask the store: run it off the loop)."""
    if kind == "x-accel-redirect":
        return f"{prefix}{quote(name)}"
    if kind == "x-sendfile":
        try:
            return store.path(name)
        except NotImplementedError:
            return f"{prefix}{name}"
    reproxy = getattr(store, "reproxy_urls", None)
    return " ".join(reproxy(name)) if callable(reproxy) else store.url(name)


def handed_off(described: Described, kind: str, location: str) -> HttpResponse:
    described.headers[HANDOFF_HEADERS[kind]] = location
    return described.headers


def view_pattern(
    view: Callable[..., Any], prefix: str, url_name: str | None, options: dict[str, Any]
) -> URLPattern:
    """``path("<prefix><path:name>", view, kwargs=options)`` after checking the options."""
    unknown = sorted(set(options) - set(view.__kwdefaults__ or {}))
    if unknown:
        raise TypeError(f"{view.__name__}() has no option {', '.join(map(repr, unknown))}.")
    if options.get("handoff") is not None:
        handoff_kind(options["handoff"])
    route = prefix.strip("/")
    route = f"{route}/<path:name>" if route else "<path:name>"
    return path(route, view, kwargs=options, name=url_name)
