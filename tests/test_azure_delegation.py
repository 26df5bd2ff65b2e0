"""User-delegation SAS URLs of AzureStorage against a real Azurite 3.37.

The storage has a token credential and no account key, so ``url()`` signs
with a user delegation key that it asks Azurite for. Azurite runs with OAuth
over TLS (tests/servers/azure_oauth.py); the storage's client trusts the
session's test CA through ``AZURE_CLIENT_OPTIONS['connection_verify']``.
"""

from __future__ import annotations

import time
import traceback
import urllib.error
import urllib.request
import uuid
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import pytest
from azure.core.credentials import AccessToken
from django.core.exceptions import SuspiciousFileOperation
from django.core.files.base import ContentFile

from storages.backends.azure_storage import AzureStorage
from storages.backends.azure_storage import urls as azure_urls
from tests.servers.azure_oauth import make_token


class StaticTokenCredential:
    """A TokenCredential handing out one JWT of the shape Azurite checks."""

    def __init__(self, token: str) -> None:
        self._token = token

    def get_token(self, *scopes, **kwargs) -> AccessToken:
        return AccessToken(self._token, int(time.time()) + 3600)

    def __repr__(self) -> str:
        return "StaticTokenCredential()"


class RequestLog:
    """Records the query of every request the storage's client sends (a raw_request_hook)."""

    def __init__(self) -> None:
        self.queries: list[str] = []

    def __call__(self, request) -> None:
        self.queries.append(urlsplit(request.http_request.url).query)

    def delegation_key_requests(self) -> int:
        return sum("comp=userdelegationkey" in query for query in self.queries)


def make_storage(server, token: str, log: RequestLog | None = None, **options) -> AzureStorage:
    credential = StaticTokenCredential(token)
    client_options = {"credential": credential, "connection_verify": server.ca_file}
    if log is not None:
        client_options["raw_request_hook"] = log
    return AzureStorage(
        connection_string=server.connection_string,
        token_credential=credential,
        client_options=client_options,
        expiration_secs=300,
        **options,
    )


@pytest.fixture
def log():
    return RequestLog()


@pytest.fixture
def token():
    return make_token()


@pytest.fixture
def storage(azurite_oauth_server, token, log):
    container = f"t{uuid.uuid4().hex}"
    storage = make_storage(azurite_oauth_server, token, log, azure_container=container)
    storage.service_client.create_container(container)  # private: no public access
    log.queries.clear()
    return storage


def fetch(server, url: str, *, method: str = "GET", data: bytes | None = None, headers=None):
    """(status, body) of a request to Azurite, trusting only the session's CA."""
    request = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=10, context=server.ssl_context()) as answer:
            return answer.status, answer.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def with_query(url: str, **changes: str) -> str:
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query))
    query.update(changes)
    return urlunsplit(parts._replace(query=urlencode(query)))


def test_url_is_a_delegation_sas_azurite_serves(azurite_oauth_server, storage):
    name = storage.save("docs/report.txt", ContentFile(b"quarterly numbers"))
    url = storage.url(name)
    query = dict(parse_qsl(urlsplit(url).query))
    assert {"skoid", "sktid", "skt", "ske", "sig"} <= query.keys()  # signed with a delegation key
    assert fetch(azurite_oauth_server, url) == (200, b"quarterly numbers")
    # The blob is private: without the SAS it is not served.
    status, _ = fetch(azurite_oauth_server, url.split("?")[0])
    assert status in (401, 403, 404)


def test_tampered_or_expired_signature_is_refused(azurite_oauth_server, storage):
    name = storage.save("secret.bin", ContentFile(b"\x00\x01\x02"))
    url = storage.url(name)
    signature = dict(parse_qsl(urlsplit(url).query))["sig"]
    tampered = ("A" if signature[0] != "A" else "B") + signature[1:]
    assert fetch(azurite_oauth_server, with_query(url, sig=tampered))[0] == 403
    # Another blob's signature does not open this one.
    other = storage.save("other.bin", ContentFile(b"x"))
    other_signature = dict(parse_qsl(urlsplit(storage.url(other)).query))["sig"]
    assert fetch(azurite_oauth_server, with_query(url, sig=other_signature))[0] == 403
    # A SAS that ended a minute ago, signed as the storage signs.
    assert fetch(azurite_oauth_server, storage.url(name, expire=-60))[0] == 403


def test_delegation_key_is_fetched_once_and_reused(azurite_oauth_server, storage, log):
    names = [storage.save(f"f{i}.txt", ContentFile(f"body {i}".encode())) for i in range(3)]
    urls = [storage.url(name) for name in names for _ in range(2)]
    assert log.delegation_key_requests() == 1
    assert len(set(urls)) == 3  # same blob, same second: the same URL
    for index, name in enumerate(names):
        assert fetch(azurite_oauth_server, storage.url(name)) == (200, f"body {index}".encode())
    assert log.delegation_key_requests() == 1


def test_delegation_key_is_renewed_near_its_expiry(azurite_oauth_server, storage, log, monkeypatch):
    # Keys valid 6 minutes, renewed 5 minutes before their end: a URL valid 30 s
    # fits the key, one valid 2 minutes does not and brings a new key.
    monkeypatch.setattr(azure_urls, "DELEGATION_KEY_LIFE", azure_urls.DELEGATION_KEY_MARGIN * 1.2)
    name = storage.save("renew.txt", ContentFile(b"fresh"))
    first = storage.url(name, expire=30)
    storage.url(name, expire=30)
    assert log.delegation_key_requests() == 1
    renewed = storage.url(name, expire=120)
    assert log.delegation_key_requests() == 2
    for url in (first, renewed):
        assert fetch(azurite_oauth_server, url) == (200, b"fresh")
    storage.url(name, expire=30)  # the new key serves the short URLs too
    assert log.delegation_key_requests() == 2


def test_url_outliving_any_delegation_key_is_refused(azurite_oauth_server, storage, log):
    name = storage.save("long.txt", ContentFile(b"x"))
    week = int(azure_urls.DELEGATION_KEY_LIFE.total_seconds())
    assert fetch(azurite_oauth_server, storage.url(name, expire=week - 600))[0] == 200
    with pytest.raises(ValueError, match="at most 7 days"):
        storage.url(name, expire=week + 3600)  # once asked for a new key on every call
    storage.url(name, expire=week - 600)
    assert log.delegation_key_requests() == 1


def test_upload_url_accepts_a_put(azurite_oauth_server, storage):
    url = storage.url("uploads/photo.jpg", expire=60, mode="w")
    assert dict(parse_qsl(urlsplit(url).query))["sp"] == "w"
    headers = {"x-ms-blob-type": "BlockBlob", "Content-Type": "image/jpeg"}
    status, _ = fetch(azurite_oauth_server, url, method="PUT", data=b"jpeg bytes", headers=headers)
    assert status == 201
    with storage.open("uploads/photo.jpg") as handle:
        assert handle.read() == b"jpeg bytes"
    # A read URL does not allow an upload.
    read_url = storage.url("uploads/other.jpg", expire=60)
    status, _ = fetch(azurite_oauth_server, read_url, method="PUT", data=b"x", headers=headers)
    assert status == 403
    assert not storage.exists("uploads/other.jpg")


def test_url_refuses_unsafe_names_before_any_request(storage, log):
    with pytest.raises(SuspiciousFileOperation):
        storage.url("../escape.txt")
    assert log.queries == []


def test_no_token_in_errors_or_repr(azurite_oauth_server):
    # A token for another audience: Azurite refuses to hand out a delegation key.
    bad_token = make_token(audience="https://example.invalid")
    storage = make_storage(azurite_oauth_server, bad_token, azure_container="nosuch")
    with pytest.raises(OSError) as caught:
        storage.url("a.txt")
    shown = "".join(traceback.format_exception(caught.value)) + repr(storage)
    signature = bad_token.rsplit(".", 1)[1]
    assert bad_token not in shown and signature not in shown
    assert "nosuch" in str(caught.value)


def test_client_trusts_only_the_given_ca(azurite_oauth_server, token):
    storage = make_storage(azurite_oauth_server, token, azure_container="anyname")
    storage.client_options["connection_verify"] = True  # the system's CAs, not the test CA
    storage.client_options["retry_total"] = 0  # a TLS failure is retried, with backoff
    with pytest.raises(OSError):
        storage.url("a.txt")
