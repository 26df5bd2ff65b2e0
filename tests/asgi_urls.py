"""URLs of the tiny ASGI app tests/test_views_async.py runs under uvicorn.

Each store of the test (a ``STORAGES`` alias set by its fixture) is served by
``aserve`` three ways: plainly (``/<alias>/``), with signed links
(``/<alias>-signed/``) and handed off to nginx (``/<alias>-accel/``); the
local disk also to Apache (``/local-sendfile/``).
``broken`` is a store that fails whatever it is asked, to show which requests
never reach a store.
"""

from __future__ import annotations

from storages.views import aserve_url

SERVED = ("disk", "local", "db", "s3", "azure", "gcs", "broken")

urlpatterns = [
    pattern
    for alias in SERVED
    for pattern in (
        aserve_url(f"{alias}/", storage=alias, chunk_size=64 * 1024),
        aserve_url(
            f"{alias}-signed/", storage=alias, signed=True, content_disposition="attachment"
        ),
        aserve_url(f"{alias}-accel/", storage=alias, handoff="x-accel-redirect"),
    )
]
urlpatterns.append(aserve_url("local-sendfile/", storage="local", handoff="x-sendfile"))
