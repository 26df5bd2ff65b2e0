"""AzureStorage against Azurite on 127.0.0.1: the contract, the shared scenarios and more."""

from __future__ import annotations

import socket
from urllib.parse import urlsplit

import pytest
from django.core.exceptions import SuspiciousFileOperation

from storages.backends.azure_storage import (
    AzureStorage,
    AzureStorageError,
)
from tests.contract import ROOT_NAMES, UNSAFE_NAMES, URL_ATTACKS
from tests.scenarios import CommonScenarios, NamedSettingsContract, SecretsScenario
from tests.servers.azure import ACCOUNT_KEY

#: Small blocks, so a few hundred KiB go up as staged blocks and come down in chunks.
SMALL_BLOCKS = {
    "max_single_put_size": 64 * 1024,
    "max_block_size": 64 * 1024,
    "max_single_get_size": 64 * 1024,
    "max_chunk_get_size": 64 * 1024,
}

_connected: list[tuple] = []


@pytest.fixture(autouse=True)
def loopback_only(monkeypatch):
    """Every connection any test here opens goes to 127.0.0.1 (never a cloud)."""
    connect = socket.socket.connect

    def guarded(sock, address):
        _connected.append(address)
        if sock.family in (socket.AF_INET, socket.AF_INET6) and address[0] != "127.0.0.1":
            raise AssertionError(f"a test tried to reach {address!r}")
        return connect(sock, address)

    monkeypatch.setattr(socket.socket, "connect", guarded)


@pytest.fixture
def options(azurite_server, azure_container):
    return {
        "connection_string": azurite_server.connection_string(),
        "azure_container": azure_container,
    }


def make(options, **extra):
    return AzureStorage(**{**options, **extra})


def blob_names(storage, *, uncommitted=False):
    include = ["uncommittedblobs"] if uncommitted else None
    return sorted(blob.name for blob in storage.client.list_blobs(include=include))


class Requests(list):
    """(method, path, headers) of every request a storage's client sends."""

    def __call__(self, request):
        http = request.http_request
        self.append((http.method, urlsplit(http.url).path, dict(http.headers)))


def recording(options, **extra):
    requests = Requests()
    storage = make(options, client_options={"raw_request_hook": requests}, **extra)
    return storage, requests


class TestAzureContract(NamedSettingsContract):
    backend = "storages.backends.azure_storage.AzureStorage"
    setting_names = {
        "connection_string": "AZURE_CONNECTION_STRING",
        "azure_container": "AZURE_CONTAINER",
    }


class TestAzureLocationContract(TestAzureContract):
    setting_names = {**TestAzureContract.setting_names, "location": "AZURE_LOCATION"}

    @pytest.fixture
    def options(self, azurite_server, azure_container):
        return {
            "connection_string": azurite_server.connection_string(),
            "azure_container": azure_container,
            "location": "media/files",
        }


class TestAzureBehaviour(CommonScenarios, SecretsScenario):
    storage_path = "storages.backends.azure_storage.AzureStorage"
    overwrite_option = "overwrite_files"
    seek_options = {"client_options": SMALL_BLOCKS}
    auth_error = AzureStorageError
    auth_failure_text = "403"

    def badly_authenticated(self, make_storage):
        wrong = "V3JvbmdLZXlXcm9uZ0tleVdyb25nS2V5V3JvbmdLZXlXcm9uZ0tleVdyb25nS2V5WA=="
        storage = make_storage(
            connection_string=make_storage().connection_string.replace(ACCOUNT_KEY, wrong)
        )
        return storage, [wrong, ACCOUNT_KEY]

    def check_backing_store(self, storage, names):
        assert blob_names(storage, uncommitted=True) == sorted(names)

    def test_url_stays_under_its_base(self, make_storage):
        # Azure's URL base is the custom domain (a host) and the container.
        storage = make_storage(custom_domain="cdn.example.com", azure_container="media")
        for name in URL_ATTACKS + UNSAFE_NAMES + ROOT_NAMES + ["a/../b.txt", "a/"]:
            with pytest.raises(SuspiciousFileOperation):
                storage.url(name)
        for name in ["a b/c.txt", "a//c.txt", "x:y.txt", "?q#f.txt", "%2e%2e/x", "a\\c.txt"]:
            url = storage.url(name)
            parts = urlsplit(url)
            assert url.startswith("http://cdn.example.com/devstoreaccount1/media/"), url
            assert parts.netloc == "cdn.example.com", url
            assert not parts.query and not parts.fragment, url
            assert ".." not in parts.path.split("/"), url
