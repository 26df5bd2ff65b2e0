"""Access tokens as Dropbox hands them out and checks them.

Long-lived tokens are given on the command line. Apps (key, secret, refresh
token) get short-lived ``sl.`` tokens from ``POST /oauth2/token`` with
``grant_type=refresh_token``; the API refuses them with a 401
``expired_access_token`` once their ``expires_in`` has passed (or when a test
expires every token at once).
"""

from __future__ import annotations

import secrets
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any


class Unauthorized(Exception):
    """A 401: ``{"error_summary": "<reason>/..", "error": {".tag": "<reason>"}}``."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason

    def body(self) -> dict[str, Any]:
        return {"error_summary": f"{self.reason}/..", "error": {".tag": self.reason}}


class GrantRefused(Exception):
    """A 400 from the token endpoint: ``{"error": ..., "error_description": ...}``."""

    def __init__(self, error: str, description: str) -> None:
        super().__init__(error)
        self.error = error
        self.description = description


@dataclass
class App:
    key: str
    secret: str
    refresh_token: str
    #: Seconds this app's tokens live (None: the server's lifetime).
    lifetime: int | None = None


@dataclass
class Tokens:
    #: Seconds a refreshed token lives (Dropbox: 14400).
    lifetime: int = 14400
    apps: dict[str, App] = field(default_factory=dict)
    #: token -> time.time() it expires at (inf: a long-lived token)
    valid: dict[str, float] = field(default_factory=dict)
    #: token -> the key of the app it was issued to
    issued_to: dict[str, str] = field(default_factory=dict)
    stats: Counter = field(default_factory=Counter)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add_long_lived(self, token: str) -> None:
        self.valid[token] = float("inf")

    def check(self, authorization: str | None) -> str:
        """The token of a request's ``Authorization`` header, if it may call the API."""
        if not authorization or not authorization.startswith("Bearer "):
            raise MissingAuth()
        token = authorization[len("Bearer ") :].strip()
        with self.lock:
            expires = self.valid.get(token)
            if expires is None:
                self.stats["refused_invalid"] += 1
                raise Unauthorized("invalid_access_token")
            if time.time() >= expires:
                self.stats["refused_expired"] += 1
                self.stats[f"refused_expired:{self.issued_to.get(token, '')}"] += 1
                raise Unauthorized("expired_access_token")
            self.stats["accepted"] += 1
        return token

    def grant(self, form: dict[str, str]) -> dict[str, Any]:
        """``POST /oauth2/token``: a new short-lived token for a refresh token."""
        if form.get("grant_type") != "refresh_token":
            raise GrantRefused("unsupported_grant_type", "grant_type must be refresh_token")
        app = self.apps.get(form.get("client_id", ""))
        if app is None or (form.get("client_secret") or "") != app.secret:
            self.stats["grants_refused"] += 1
            raise GrantRefused("invalid_client", "Invalid client_id or client_secret")
        if form.get("refresh_token") != app.refresh_token:
            self.stats["grants_refused"] += 1
            raise GrantRefused("invalid_grant", "refresh token is invalid or revoked")
        token = "sl." + secrets.token_urlsafe(32)
        lifetime = app.lifetime or self.lifetime
        with self.lock:
            self.valid[token] = time.time() + lifetime
            self.issued_to[token] = app.key
            self.stats["grants"] += 1
            self.stats[f"grants:{app.key}"] += 1
        return {"access_token": token, "token_type": "bearer", "expires_in": lifetime}

    def expire(self, *, app: str = "", token: str = "") -> int:
        """Refuse from now on every token issued to ``app``, or ``token``; how many."""
        with self.lock:
            doomed = [t for t, key in self.issued_to.items() if app and key == app]
            if token in self.valid:
                doomed.append(token)
            for name in doomed:
                self.valid[name] = 0.0
            return len(doomed)


class MissingAuth(Exception):
    """No bearer token: Dropbox answers 400 with a plain-text message."""
