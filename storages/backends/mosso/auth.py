"""Authentication for Swift and Rackspace Cloud Files: v1 (tempauth, swauth), Keystone v2 and v3.

Written here rather than delegated to python-swiftclient so that the key never
reaches a library that logs part of it, so that Rackspace's API-key credential
works without extra packages, and so that one token is shared by every thread
and renewed once when it expires (see :meth:`Authenticator.get`).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import requests

RACKSPACE_AUTH_URL = "https://identity.api.rackspacecloud.com/v2.0/"
#: Renew this long before the identity service says a token expires.
EXPIRY_MARGIN = 60.0


class SwiftAuthError(PermissionError):
    """Authentication failed (bad credentials, no Swift endpoint, identity down)."""


@dataclass(frozen=True)
class Auth:
    storage_url: str
    token: str = ""
    #: Rackspace's CDN management endpoint, when the identity service names one.
    cdn_management_url: str | None = None
    #: ``time.monotonic()`` after which the token should not be used.
    expires_at: float | None = None

    def __repr__(self) -> str:  # the token is a credential too
        return f"Auth(storage_url={self.storage_url!r})"


class Authenticator:
    """Obtains and caches one token; thread-safe; renews on expiry or on a 401."""

    def __init__(
        self,
        *,
        auth_url: str,
        username: str,
        key: str,
        version: str = "2",
        credential_type: str = "auto",
        tenant_name: str | None = None,
        tenant_id: str | None = None,
        user_domain: str = "Default",
        project_domain: str = "Default",
        region: str | None = None,
        endpoint_type: str = "public",
        storage_url: str | None = None,
        timeout: float = 30.0,
    ) -> None:
        self.auth_url = auth_url
        self.username = username
        self._key = key
        self.version = str(version).lower().lstrip("v").split(".")[0]
        if self.version not in ("1", "2", "3"):
            raise ValueError(f"unknown Swift auth version {version!r}; use 1, 2 or 3")
        if credential_type == "auto":
            credential_type = "apikey" if "rackspacecloud.com" in auth_url else "password"
        self.credential_type = credential_type
        self.tenant_name = tenant_name
        self.tenant_id = tenant_id
        self.user_domain = user_domain
        self.project_domain = project_domain
        self.region = region
        self.endpoint_type = endpoint_type
        self.storage_url_override = storage_url
        self.timeout = timeout
        self._lock = threading.Lock()
        self._auth: Auth | None = None

    def __repr__(self) -> str:
        return f"<Authenticator v{self.version} {self.username!r} at {self.auth_url!r}>"

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_lock"] = None
        state["_auth"] = None
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._lock = threading.Lock()

    def get(self, stale_token: str | None = None) -> Auth:
        """The current token; a new one if none, if expired, or if ``stale_token`` was refused."""
        with self._lock:
            auth = self._auth
            if (
                auth is None
                or (stale_token is not None and auth.token == stale_token)
                or (auth.expires_at is not None and time.monotonic() >= auth.expires_at)
            ):
                auth = self._auth = self._authenticate()
            return auth

    def invalidate(self) -> None:
        with self._lock:
            self._auth = None

    # One method per protocol version.
    def _authenticate(self) -> Auth:
        try:
            auth = getattr(self, f"_v{self.version}")()
        except requests.RequestException as exc:
            raise SwiftAuthError(
                f"Cannot reach the identity service at {self.auth_url} ({type(exc).__name__})"
            ) from None
        if self.storage_url_override:
            auth = Auth(
                self.storage_url_override, auth.token, auth.cdn_management_url, auth.expires_at
            )
        return auth

    def _refused(self, response: requests.Response) -> SwiftAuthError:
        return SwiftAuthError(
            f"Authentication as {self.username!r} at {self.auth_url} failed: "
            f"HTTP {response.status_code} {response.reason}"
        )

    def _v1(self) -> Auth:
        response = requests.get(
            self.auth_url,
            headers={"X-Auth-User": self.username, "X-Auth-Key": self._key},
            timeout=self.timeout,
        )
        if response.status_code >= 300:
            raise self._refused(response)
        headers = response.headers
        storage_url = headers.get("X-Storage-Url")
        token = headers.get("X-Auth-Token") or headers.get("X-Storage-Token")
        if not storage_url or not token:
            raise SwiftAuthError(f"{self.auth_url} gave no storage URL or token")
        expires = headers.get("X-Auth-Token-Expires")
        return Auth(
            storage_url,
            token,
            headers.get("X-CDN-Management-Url"),
            _expires_in(float(expires)) if expires else None,
        )

    def _v2(self) -> Auth:
        if self.credential_type == "apikey":
            credentials = {
                "RAX-KSKEY:apiKeyCredentials": {"username": self.username, "apiKey": self._key}
            }
        else:
            credentials = {
                "passwordCredentials": {"username": self.username, "password": self._key}
            }
        if self.tenant_name:
            credentials["tenantName"] = self.tenant_name
        if self.tenant_id:
            credentials["tenantId"] = self.tenant_id
        response = requests.post(
            self.auth_url.rstrip("/") + "/tokens",
            json={"auth": credentials},
            timeout=self.timeout,
        )
        if response.status_code >= 300:
            raise self._refused(response)
        access = response.json()["access"]
        catalog = access.get("serviceCatalog", [])
        key = f"{self.endpoint_type}URL"

        def endpoint(service_type: str) -> str | None:
            for service in catalog:
                if service.get("type") != service_type:
                    continue
                for point in service.get("endpoints", []):
                    if self.region is None or point.get("region") == self.region:
                        return point.get(key)
            return None

        return Auth(
            self._storage_url(endpoint("object-store")),
            access["token"]["id"],
            endpoint("rax:object-cdn"),
            _expires_at(access["token"].get("expires")),
        )

    def _v3(self) -> Auth:
        identity = {
            "methods": ["password"],
            "password": {
                "user": {
                    "name": self.username,
                    "domain": {"name": self.user_domain},
                    "password": self._key,
                }
            },
        }
        body: dict[str, Any] = {"identity": identity}
        if self.tenant_id:
            body["scope"] = {"project": {"id": self.tenant_id}}
        elif self.tenant_name:
            body["scope"] = {
                "project": {"name": self.tenant_name, "domain": {"name": self.project_domain}}
            }
        response = requests.post(
            self.auth_url.rstrip("/") + "/auth/tokens",
            json={"auth": body},
            timeout=self.timeout,
        )
        if response.status_code >= 300:
            raise self._refused(response)
        token = response.json()["token"]

        def endpoint(service_type: str) -> str | None:
            for service in token.get("catalog", []):
                if service.get("type") != service_type:
                    continue
                for point in service.get("endpoints", []):
                    region = point.get("region_id") or point.get("region")
                    if point.get("interface") == self.endpoint_type and (
                        self.region is None or region == self.region
                    ):
                        return point.get("url")
            return None

        return Auth(
            self._storage_url(endpoint("object-store")),
            response.headers.get("X-Subject-Token", ""),
            endpoint("rax:object-cdn"),
            _expires_at(token.get("expires_at")),
        )

    def _storage_url(self, found: str | None) -> str:
        if found:
            return found
        if self.storage_url_override:
            return self.storage_url_override
        where = f" in region {self.region!r}" if self.region else ""
        raise SwiftAuthError(
            f"The identity service at {self.auth_url} lists no {self.endpoint_type} "
            f"object-store endpoint{where} for {self.username!r}"
        )


def _expires_in(seconds: float) -> float:
    # A tenth of a short life, at most a minute of a long one.
    return time.monotonic() + max(0.0, seconds - min(EXPIRY_MARGIN, seconds / 10))


def _expires_at(stamp: str | None) -> float | None:
    if not stamp:
        return None
    try:
        moment = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    except ValueError:
        return None
    return _expires_in(moment.timestamp() - time.time())
