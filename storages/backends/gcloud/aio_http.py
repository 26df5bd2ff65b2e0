"""The GCS JSON API over aiohttp, with the sync client's endpoint and credentials.

:class:`GCSSession` sends requests to the endpoint the sync
``google.cloud.storage.Client`` uses (``GS_API_ENDPOINT``, or
``STORAGE_EMULATOR_HOST``, or ``https://storage.googleapis.com``) with its
google-auth credentials: a token that is missing or due is refreshed in the
thread pool (google-auth's refresh is blocking I/O), one refresh at a time,
never on the loop; anonymous credentials add nothing. Like the sync client's
``requests`` session, it honours ``HTTP(S)_PROXY``/``NO_PROXY`` and
``REQUESTS_CA_BUNDLE``/``CURL_CA_BUNDLE`` (else certifi's CA bundle). Idempotent
requests (reads, deletes, conditional creates) are retried on 429, 5xx and
connection errors, with jittered exponential backoff, as google-cloud-storage
retries them. A failure is raised as google-api-core's exception for the HTTP
status, so :func:`~storages.backends.gcloud.errors.gcs_errors` maps it as it
maps the sync client's.

A storage keeps one :class:`GCSSession` per event loop in a
:class:`storages.aio.loops.PerLoop`.
"""

from __future__ import annotations

import asyncio
import os
import random
import ssl
import threading
from typing import Any
from urllib.parse import quote

from storages.aio import run_sync

#: Statuses worth another try for an idempotent request (google-cloud-storage's set).
RETRY_STATUSES = frozenset({408, 429, 500, 502, 503, 504})
ATTEMPTS = 4
#: Seconds of one request before it counts as failed (connect and read).
TIMEOUT = 60.0


def object_path(bucket: str, key: str) -> str:
    return f"/b/{quote(bucket, safe='')}/o/{quote(key, safe='')}"


def ssl_context_like_requests() -> ssl.SSLContext:
    """The CA bundle requests would use (reads a file: make it off the loop)."""
    cafile = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE")
    if not cafile:
        try:
            import certifi

            cafile = certifi.where()
        except ImportError:  # pragma: no cover - requests depends on certifi
            cafile = None
    return ssl.create_default_context(cafile=cafile)


class GCSSession:
    """One aiohttp session on one loop, with the storage's endpoint and credentials."""

    def __init__(
        self,
        base_url: str,
        credentials: Any,
        refresh_lock: threading.Lock,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        import aiohttp

        self.base_url = base_url.rstrip("/")
        self.credentials = credentials
        self._refresh_lock = refresh_lock
        self.http = aiohttp.ClientSession(
            trust_env=True,  # proxies from the environment, as requests does
            auto_decompress=False,  # bytes as stored, as the sync reads' raw_download
            connector=aiohttp.TCPConnector(
                ssl=ssl_context or ssl_context_like_requests(), limit=64
            ),
            timeout=aiohttp.ClientTimeout(total=None, sock_connect=TIMEOUT, sock_read=TIMEOUT),
        )

    async def close(self) -> None:
        await self.http.close()

    async def auth_headers(self) -> dict[str, str]:
        credentials = self.credentials
        headers: dict[str, str] = {}
        if credentials is None:
            return headers
        if not getattr(credentials, "valid", True):
            await run_sync(self._refresh)
        credentials.apply(headers)
        return headers

    def _refresh(self) -> None:
        from google.auth.transport.requests import Request

        with self._refresh_lock:
            if not self.credentials.valid:  # another caller may have refreshed it
                self.credentials.refresh(Request())

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
        data: Any = None,
        retry: bool = False,
        expect: tuple[int, ...] = (200,),
        url: str | None = None,
    ) -> Any:
        """The response (read) of one request; google-api-core's error for other statuses.

        ``data`` may be a callable giving a fresh body for each attempt.
        """
        from google.api_core import exceptions as api

        target = url or f"{self.base_url}{path}"
        attempts = ATTEMPTS if retry else 1
        for attempt in range(attempts):
            sent = {**(await self.auth_headers()), **(headers or {})}
            body = data() if callable(data) else data
            try:
                response = await self.http.request(
                    method, target, params=params, headers=sent, data=body
                )
            except (TimeoutError, OSError) as exc:
                if attempt + 1 < attempts:
                    await _backoff(attempt)
                    continue
                raise ConnectionError(f"{type(exc).__name__}: {exc}") from exc
            except Exception as exc:
                import aiohttp

                if not isinstance(exc, aiohttp.ClientError):
                    raise
                if attempt + 1 < attempts:
                    await _backoff(attempt)
                    continue
                raise ConnectionError(f"{type(exc).__name__}: {exc}") from exc
            async with response:
                content = await response.read()
                if response.status in expect:
                    return _Answer(response.status, response.headers, content)
                if response.status in RETRY_STATUSES and attempt + 1 < attempts:
                    await _backoff(attempt)
                    continue
                raise api.from_http_status(
                    response.status, _error_message(content, response.reason), response=None
                )
        raise AssertionError("unreachable")  # pragma: no cover


class _Answer:
    def __init__(self, status: int, headers: Any, content: bytes) -> None:
        self.status = status
        self.headers = headers
        self.content = content

    def json(self) -> Any:
        import json

        return json.loads(self.content) if self.content else {}


def _error_message(content: bytes, reason: Any) -> str:
    import json

    try:
        error = json.loads(content).get("error", {})
        message = error.get("message") if isinstance(error, dict) else str(error)
    except (ValueError, AttributeError):
        message = content.decode("utf-8", "replace").strip().splitlines()[0] if content else ""
    return str(message or reason or "")


async def _backoff(attempt: int) -> None:
    await asyncio.sleep(random.uniform(0, min(8.0, 0.25 * 2**attempt)))  # noqa: S311 - jitter


__all__ = ["GCSSession", "object_path", "ssl_context_like_requests"]
