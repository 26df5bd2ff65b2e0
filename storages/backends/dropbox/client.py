"""The dropbox SDK client a storage uses: its HTTP session, and one token refresh at a time.

TLS verification is always on. By default the session trusts what requests
trusts (certifi, or ``REQUESTS_CA_BUNDLE`` / ``CURL_CA_BUNDLE`` when set). With
``ca_certs`` (``DROPBOX_CA_CERTS``) that bundle is the only one trusted, even
when ``REQUESTS_CA_BUNDLE`` is set: requests lets those variables replace a
session's ``verify``, which is why the SDK's own ``ca_certs`` argument can be
silently ignored.
"""

from __future__ import annotations

import functools
import threading
from typing import Any

from storages.utils import require

#: Connections kept per host: collectstatic uploads in 16 threads, reads go beside.
POOL_SIZE = 32
USER_AGENT = "storages"


def make_session(ca_certs: str | None = None) -> Any:
    """A requests session for the SDK (verifying TLS; ``ca_certs`` pinned if given)."""
    requests = require("requests", "dropbox")
    adapters = require("requests.adapters", "dropbox")
    session = _pinned_session_class()() if ca_certs else requests.Session()
    if ca_certs:
        session.verify = str(ca_certs)
    adapter = adapters.HTTPAdapter(pool_connections=4, pool_maxsize=POOL_SIZE)
    session.mount("https://", adapter)
    return session


@functools.cache
def _pinned_session_class() -> type:
    requests = require("requests", "dropbox")

    class PinnedCASession(requests.Session):
        """A session whose ``verify`` bundle wins over the environment's."""

        def merge_environment_settings(self, *args: Any, **kwargs: Any) -> dict[str, Any]:
            merged = super().merge_environment_settings(*args, **kwargs)
            merged["verify"] = self.verify
            return merged

    return PinnedCASession


@functools.cache
def _client_class() -> type:
    dropbox = require("dropbox", "dropbox")

    class StorageDropbox(dropbox.Dropbox):
        """The SDK client, refreshing its token in one thread at a time (threads share it)."""

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self._refresh_lock = threading.Lock()

        def check_and_refresh_access_token(self) -> None:
            with self._refresh_lock:
                super().check_and_refresh_access_token()

    return StorageDropbox


def make_client(
    *,
    oauth2_access_token: str | None,
    app_key: str | None,
    app_secret: str | None,
    oauth2_refresh_token: str | None,
    timeout: float | None,
    ca_certs: str | None,
) -> Any:
    """A ``dropbox.Dropbox`` client; a refresh token gets a fresh access token before expiry."""
    return _client_class()(
        oauth2_access_token=oauth2_access_token,
        app_key=app_key,
        app_secret=app_secret,
        oauth2_refresh_token=oauth2_refresh_token,
        timeout=timeout,
        session=make_session(ca_certs),
        user_agent=USER_AGENT,
    )
