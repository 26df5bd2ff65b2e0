"""A request log with body sizes: one line per request, ``METHOD PATH CONTENT_LENGTH``.

On when ``EXAMPLE_REQUEST_LOG`` names a file (the end-to-end test reads it to
show that uploaded files never pass through Django).
"""

from __future__ import annotations

import os
import threading

_lock = threading.Lock()


class RequestSizeLog:
    def __init__(self, get_response):
        self.get_response = get_response
        self.path = os.environ.get("EXAMPLE_REQUEST_LOG")

    def __call__(self, request):
        if self.path:
            size = int(request.META.get("CONTENT_LENGTH") or 0)
            with _lock, open(self.path, "a", encoding="utf-8") as log:
                log.write(f"{request.method} {request.path} {size}\n")
        return self.get_response(request)
