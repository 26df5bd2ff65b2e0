"""Views that serve files from any Django storage, for stores with no HTTP of their own.

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
{"storage": "default"})`` works too. Under ASGI use the async twins,
:func:`aserve_url` and :func:`aserve`: the same options and answers, every
store call awaited (the storage's async API, or its sync method in the
bounded thread pool of ``storages.aio``), the event loop never blocked.

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

from .asynchronous import aserve, aserve_url
from .common import (
    DEFAULT_SALT,
    ENCODED_TYPES,
    HANDOFF_HEADERS,
    NOT_FOUND,
    RANGE,
    get_storage,
    signed_url,
)
from .sync import serve, serve_url

__all__ = [
    "DEFAULT_SALT",
    "ENCODED_TYPES",
    "HANDOFF_HEADERS",
    "NOT_FOUND",
    "RANGE",
    "aserve",
    "aserve_url",
    "get_storage",
    "serve",
    "serve_url",
    "signed_url",
]
