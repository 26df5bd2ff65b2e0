"""Pytest plugin: Azurite (the Azure Storage emulator, from npm) on 127.0.0.1.

``azurite-blob`` comes from ``node_modules/.bin`` at the repository root
(``npm install`` of deps/npm/azure.txt). It runs in memory on a free port and
stops with the session. Only Azurite's published development account is used.

    server = start_azurite()
    server.connection_string   # for AzureStorage(connection_string=...)
    server.stop()
"""

from __future__ import annotations

import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.servers.process import LOOPBACK, ServerProcess, free_port

ROOT = Path(__file__).resolve().parent.parent.parent
AZURITE = ROOT / "node_modules" / ".bin" / "azurite-blob"
#: Azurite's well-known development account (published in Microsoft's docs).
ACCOUNT_NAME = "devstoreaccount1"
ACCOUNT_KEY = (
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
)


def azurite_program() -> str:
    if not AZURITE.exists():
        raise FileNotFoundError(
            f"Azurite is not installed ({AZURITE} is missing): run "
            "`npm install $(grep -v '^#' deps/npm/azure.txt)` at the repository root "
            "(the test command does)"
        )
    return str(AZURITE)


def _http_answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1):
            return True
    except urllib.error.HTTPError:
        return True  # any HTTP answer (400 for a bare GET) means it serves
    except OSError:
        return False


@dataclass
class AzuriteServer:
    process: ServerProcess
    port: int

    @property
    def blob_endpoint(self) -> str:
        return f"http://{LOOPBACK}:{self.port}/{ACCOUNT_NAME}"

    def connection_string(self, account_key: str = ACCOUNT_KEY) -> str:
        return (
            f"DefaultEndpointsProtocol=http;AccountName={ACCOUNT_NAME};"
            f"AccountKey={account_key};BlobEndpoint={self.blob_endpoint};"
        )

    def service_client(self):
        from azure.storage.blob import BlobServiceClient

        return BlobServiceClient.from_connection_string(self.connection_string())

    def create_container(self, name: str | None = None, *, public: bool = False) -> str:
        """A new container (a fresh random name unless given); returns its name."""
        name = name or f"t{uuid.uuid4().hex}"
        self.service_client().create_container(name, public_access="blob" if public else None)
        return name

    def stop(self) -> None:
        self.process.stop()


def start_azurite(*, location: str | None = None, timeout: float = 60.0) -> AzuriteServer:
    """Azurite on a free port: in memory, or on disk under ``location`` (kept over restarts)."""
    port = free_port()
    command = [
        azurite_program(),
        *("--blobHost", LOOPBACK, "--blobPort", str(port)),
        *(("--location", str(location)) if location else ("--inMemoryPersistence",)),
        "--disableTelemetry",
        "--skipApiVersionCheck",
        "--loose",
    ]
    url = f"http://{LOOPBACK}:{port}/{ACCOUNT_NAME}?comp=list"
    process = ServerProcess("azurite", command, ready=lambda: _http_answers(url), timeout=timeout)
    process.start()
    return AzuriteServer(process, port)


@pytest.fixture(scope="session")
def azurite_server():
    server = start_azurite()
    yield server
    server.stop()


@pytest.fixture
def azure_container(azurite_server):
    """A fresh, empty container on the session's Azurite."""
    return azurite_server.create_container()
