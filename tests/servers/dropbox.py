"""Pytest plugin: our test Dropbox (tests/dropbox_api) over HTTPS on 127.0.0.1.

The dropbox SDK always speaks https and reads its hosts from
``DROPBOX_API_HOST`` / ``DROPBOX_API_CONTENT_HOST`` / ``DROPBOX_API_NOTIFY_HOST``
once, when it is imported. So this plugin, loaded before any test module,
reserves a loopback port (bound with ``SO_REUSEPORT`` and never listening, so
only our server can take it) and points all three there: no test can reach the
real Dropbox, whatever it forgets.

The server's certificate comes from a CA made for this session. The backend
keeps TLS verification on; requests trusts ``REQUESTS_CA_BUNDLE`` (which this
machine sets, and which wins over a session's ``verify``), so the Dropbox
tests point it at a bundle of the machine's CAs plus ours
(:func:`dropbox_trust`), for their own duration only.
"""

from __future__ import annotations

import atexit
import json
import os
import secrets
import shutil
import socket
import ssl
import sys
import tempfile
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.dropbox_api.tls import PKI, bundle_with, make_pki
from tests.servers.process import LOOPBACK, ServerProcess, port_answers

ROOT = Path(__file__).resolve().parents[2]
HOST_VARIABLES = ("DROPBOX_API_HOST", "DROPBOX_API_CONTENT_HOST", "DROPBOX_API_NOTIFY_HOST")


def reserve_port() -> socket.socket:
    """A loopback port held for the session: bound with SO_REUSEPORT, never listening."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((LOOPBACK, 0))
    return sock


def point_sdk_at(port: int) -> None:
    """Send the SDK's API, content and notify hosts to ``127.0.0.1:port``."""
    for variable in HOST_VARIABLES:
        os.environ[variable] = f"{LOOPBACK}:{port}"


_reservation = reserve_port()
atexit.register(_reservation.close)
PORT = _reservation.getsockname()[1]
_sdk_imported_first = "dropbox" in sys.modules
if not _sdk_imported_first:
    point_sdk_at(PORT)


@dataclass
class DropboxTestServer:
    process: ServerProcess
    port: int
    pki: PKI
    #: The machine's CA bundle plus the session's test CA.
    bundle: Path
    #: A long-lived access token (DROPBOX_OAUTH2_TOKEN).
    token: str
    #: An app and its refresh token (DROPBOX_APP_KEY / _SECRET / _OAUTH2_REFRESH_TOKEN).
    app_key: str
    app_secret: str
    refresh_token: str

    @property
    def origin(self) -> str:
        return f"https://{LOOPBACK}:{self.port}"

    def control(self, what: str, data: dict[str, Any] | None = None) -> Any:
        """A ``/_fake/`` control route (GET without data, POST with)."""
        body = None if data is None else json.dumps(data).encode()
        request = urllib.request.Request(f"{self.origin}/_fake/{what}", data=body)
        context = ssl.create_default_context(cafile=str(self.pki.ca_cert))
        with urllib.request.urlopen(request, timeout=10, context=context) as answer:
            return json.loads(answer.read())

    def tree(self, prefix: str) -> dict[str, Any]:
        return self.control(f"tree?prefix={urllib.request.quote(prefix)}")

    def stats(self) -> dict[str, Any]:
        return self.control("stats")

    def fault(self, route: str, after_bytes: int, times: int = 1) -> None:
        """Drop the connection of the next ``times`` calls of ``route`` after that many
        bytes of their bodies."""
        self.control("faults", {"route": route, "after_bytes": after_bytes, "times": times})

    def new_app(self, lifetime: int | None = None) -> dict[str, str]:
        """A fresh app (its own counters); the options that configure a storage with it."""
        app = {
            "key": "app" + secrets.token_hex(6),
            "secret": secrets.token_urlsafe(16),
            "refresh_token": "refresh-" + secrets.token_urlsafe(24),
        }
        self.control("apps", {**app, "lifetime": lifetime})
        return {
            "app_key": app["key"],
            "app_secret": app["secret"],
            "oauth2_refresh_token": app["refresh_token"],
        }

    def new_root(self) -> str:
        """A folder no test used yet: a fresh, empty store."""
        return "/storages-" + secrets.token_hex(6)

    def stop(self) -> None:
        self.process.stop()


def start_test_dropbox(directory: Path, page_size: int = 25) -> DropboxTestServer:
    if _sdk_imported_first:
        raise RuntimeError(
            "the dropbox SDK was imported before tests/servers/dropbox.py could point it at "
            "the test server (it reads DROPBOX_API_HOST at import time)"
        )
    pki = make_pki(directory / "pki")
    bundle = bundle_with(
        pki.ca_cert,
        directory / "bundle.pem",
        os.environ.get("REQUESTS_CA_BUNDLE") or ssl.get_default_verify_paths().cafile,
    )
    token = "sl.long-lived-" + secrets.token_urlsafe(24)
    app_key, app_secret = "app" + secrets.token_hex(6), secrets.token_urlsafe(16)
    refresh = "refresh-" + secrets.token_urlsafe(24)
    command = [
        sys.executable, "-m", "tests.dropbox_api",
        "--port", str(PORT),
        "--cert", str(pki.server_cert),
        "--key", str(pki.server_key),
        "--root", str(directory / "data"),
        "--token", token,
        "--app", f"{app_key}:{app_secret}:{refresh}",
        "--page-size", str(page_size),
    ]  # fmt: skip
    process = ServerProcess(
        "dropbox-api", command, ready=lambda: port_answers(PORT), cwd=ROOT, timeout=30
    ).start()
    return DropboxTestServer(process, PORT, pki, bundle, token, app_key, app_secret, refresh)


@pytest.fixture(scope="session")
def dropbox_server():
    directory = Path(tempfile.mkdtemp(prefix="storages-dropbox-"))
    server = start_test_dropbox(directory)
    try:
        yield server
    finally:
        server.stop()
        shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture
def dropbox_trust(dropbox_server, monkeypatch):
    """requests trusts the test CA (and the machine's CAs) while this test runs."""
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(dropbox_server.bundle))
    return dropbox_server
