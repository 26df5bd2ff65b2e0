"""CloudFilesStorage against a real OpenStack Swift (tempauth) started by tests/servers/swift.py."""

from __future__ import annotations

import io
import json
import logging
import pickle
import threading
import time
import tracemalloc
import urllib.error
import urllib.request
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests
from django.core.exceptions import ImproperlyConfigured
from django.core.files.base import ContentFile, File
from django.db import models
from swiftclient import client as swift_client

from storages.backends.mosso import CloudFilesStorage, SwiftError, cloudfiles_upload_to
from storages.backends.mosso.auth import RACKSPACE_AUTH_URL, SwiftAuthError
from tests.concurrency import run_in_threads
from tests.scenarios import CommonScenarios, NamedSettingsContract, maker
from tests.servers.process import LOOPBACK, free_port
from tests.servers.swift import KEY, USER

SECRET = "s3cr3t-api-key-never-shown"


def admin(server) -> swift_client.Connection:
    url, token = swift_client.get_auth(server.auth_url, USER, KEY)
    return swift_client.Connection(preauthurl=url, preauthtoken=token, retries=0)


def fetch(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, b""


@pytest.fixture
def container():
    return f"t-{uuid.uuid4().hex[:12]}"


@pytest.fixture
def options(swift_server, container):
    return {
        "username": USER,
        "api_key": KEY,
        "container": container,
        "auth_url": swift_server.auth_url,
        "auth_version": "1",
        "auto_create_container": True,
        # Small enough that the contract's large file goes up as segments.
        "segment_size": 4 * 1024 * 1024,
    }


def make(options, **extra) -> CloudFilesStorage:
    return maker(CloudFilesStorage, options)(**extra)


class TestCloudFilesContract(NamedSettingsContract):
    backend = "storages.backends.mosso.CloudFilesStorage"
    setting_names = {
        "username": "CLOUDFILES_USERNAME",
        "api_key": "CLOUDFILES_API_KEY",
        "container": "CLOUDFILES_CONTAINER",
        "auth_url": "CLOUDFILES_AUTH_URL",
        "auth_version": "CLOUDFILES_AUTH_VERSION",
        "auto_create_container": "CLOUDFILES_AUTO_CREATE_CONTAINER",
        "segment_size": "CLOUDFILES_SEGMENT_SIZE",
    }


class TestSharedScenarios(CommonScenarios):
    storage_path = "storages.backends.mosso.CloudFilesStorage"
    url_option = "cdn_url"


class TestOriginalDocumentation:
    def test_settings_of_the_original(self, settings, options):
        settings.CLOUDFILES_USERNAME = "YourUsername"
        settings.CLOUDFILES_API_KEY = "YourAPIKey"
        settings.CLOUDFILES_CONTAINER = "ContainerName"
        storage = CloudFilesStorage()
        assert (storage.username, storage.container) == ("YourUsername", "ContainerName")
        assert storage.auth_url == RACKSPACE_AUTH_URL
        assert storage._auth().credential_type == "apikey"  # Rackspace's API-key login
        assert "YourAPIKey" not in repr(storage)

    def test_upload_to_keeps_the_file_name_only(self, options):
        storage = make(options)
        assert cloudfiles_upload_to(None, "myfile.jpg") == "myfile.jpg"
        assert cloudfiles_upload_to(None, "a\\b/myfile.jpg") == "myfile.jpg"
        field = models.FileField(upload_to=cloudfiles_upload_to, storage=storage)
        assert field.generate_filename(None, "myfile.jpg") == "myfile.jpg"
        with_path = models.FileField(upload_to="some/path", storage=storage)
        assert with_path.generate_filename(None, "myfile.jpg") == "some/path/myfile.jpg"
        name = storage.save(field.generate_filename(None, "myfile.jpg"), ContentFile(b"jpg"))
        assert name == "myfile.jpg"
        assert storage.listdir("")[1] == ["myfile.jpg"]

    def test_missing_container_is_reported_without_auto_create(self, options):
        storage = make(options, auto_create_container=False)
        with pytest.raises(SwiftError, match="does not exist"):
            storage.exists("x")


class TestSwiftSpecifics:
    def test_segmented_upload_ranged_read_and_delete(self, swift_server, options, container):
        storage = make(options, segment_size=64 * 1024)
        payload = bytes(range(256)) * 1200  # 300 KiB: 5 segments
        name = storage.save("big/data.bin", ContentFile(payload))
        conn = admin(swift_server)
        headers = conn.head_object(container, "big/data.bin")
        assert headers["x-static-large-object"] == "True"
        segments = conn.get_container(f"{container}_segments")[1]
        assert [s["bytes"] for s in segments] == [65536] * 4 + [len(payload) - 4 * 65536]
        with storage.open(name, "rb") as handle:
            handle.seek(100_000)
            assert handle.read(70_000) == payload[100_000:170_000]
            handle.seek(-10, io.SEEK_END)
            assert handle.read() == payload[-10:]
        # A second large save of the same name is refused by If-None-Match and renamed.
        second = storage.save("big/data.bin", ContentFile(payload[::-1]))
        assert second != name
        assert storage.open(second).read() == payload[::-1]
        storage.delete(name)
        storage.delete(second)
        assert conn.get_container(f"{container}_segments")[1] == []
        assert storage.listdir("big") == ([], [])

    def test_reading_memory_stays_bounded(self, options):
        storage = make(options)
        payload = b"x" * (8 * 1024 * 1024)
        name = storage.save("mem.bin", ContentFile(payload))
        del payload
        tracemalloc.start()
        try:
            total = 0
            with storage.open(name, "rb") as handle:
                for chunk in handle.chunks(64 * 1024):
                    total += len(chunk)
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        assert total == 8 * 1024 * 1024
        assert peak < 3 * 1024 * 1024

    def test_file_uploads_from_disk_stream(self, options, tmp_path):
        source = tmp_path / "up.bin"
        source.write_bytes(b"abc" * 100_000)
        storage = make(options, segment_size=128 * 1024)
        with source.open("rb") as handle:
            name = storage.save("disk.bin", File(handle))
        assert storage.open(name).read() == b"abc" * 100_000

    def test_metadata_and_headers(self, swift_server, options, container):
        storage = make(
            options,
            object_headers={"Cache-Control": "max-age=600"},
            metadata={"origin": "tests"},
        )
        storage.save("page.html", ContentFile(b"<p>"))
        headers = admin(swift_server).head_object(container, "page.html")
        assert headers["content-type"].startswith("text/html")
        assert headers["cache-control"] == "max-age=600"
        assert headers["x-object-meta-origin"] == "tests"

    def test_location_prefix(self, swift_server, options, container):
        storage = make(options, location="media/")
        storage.save("a.txt", ContentFile(b"a"))
        assert admin(swift_server).head_object(container, "media/a.txt")
        assert storage.listdir("") == ([], ["a.txt"])


class TestUrls:
    def test_temp_url_fetched_over_http(self, swift_server, options):
        key = "tempurl-key-" + uuid.uuid4().hex
        admin(swift_server).post_account({"X-Account-Meta-Temp-URL-Key": key})
        storage = make(options, temp_url_key=key, temp_url_expires=60)
        name = storage.save("private dir/ünï file.txt", ContentFile(b"signed"))
        url = storage.url(name)
        assert "temp_url_sig=" in url and "private%20dir/" in url
        assert key not in url
        assert fetch(url) == (200, b"signed")
        # Without the signature, or signed with another key, Swift refuses.
        assert fetch(url.split("?")[0])[0] == 401
        forged = make(options, temp_url_key="not-the-key").url(name)
        assert fetch(forged)[0] == 401
        expired = storage.temp_url(name, expires=-5)
        assert fetch(expired)[0] == 401
        assert key not in repr(storage)

    def test_public_container_gives_plain_urls(self, options):
        storage = make(options, auto_create_container_public=True)
        name = storage.save("pub/x y.txt", ContentFile(b"public"))
        url = storage.url(name)
        assert "temp_url_sig" not in url
        assert fetch(url) == (200, b"public")

    def test_cdn_url_setting(self, options):
        storage = make(options, cdn_url="https://cdn.example.com/")
        assert storage.url("a b.txt") == "https://cdn.example.com/a%20b.txt"

    def test_rackspace_cdn_uri_from_the_cdn_endpoint(self, swift_server, options):
        with IdentityServer(swift_server, cdn=True) as identity:
            storage = make(
                options,
                auth_url=identity.url + "/v2.0",
                auth_version="2",
                credential_type="apikey",
                public=True,
            )
            assert storage.url("a b.txt") == "https://cdn-ssl.example.net/a%20b.txt"
            assert identity.cdn_heads == [f"/cdn/{options['container']}"]


class TestAuthentication:
    def test_reauthenticates_when_the_token_is_refused(self, options):
        storage = make(options)
        storage.save("a.txt", ContentFile(b"a"))
        auth = storage._auth()
        real = auth.get()
        # The identity service's token was revoked: Swift answers 401.
        auth._auth = type(real)(real.storage_url, "AUTH_tkrevoked")
        storage.connection.token = "AUTH_tkrevoked"
        storage.connection._last_token = "AUTH_tkrevoked"
        assert storage.open("a.txt").read() == b"a"
        assert auth.get().token not in ("AUTH_tkrevoked", "")

    def test_token_expiry(self, swift_server, options):
        port = free_port()
        proxy = swift_server.start_proxy(port=port, token_life=2)
        try:
            storage = make(
                options,
                auth_url=f"http://{LOOPBACK}:{port}/auth/v1.0",
                username="test:expiring",
                api_key="expiring",
            )
            storage.save("a.txt", ContentFile(b"a"))
            first = storage._auth().get().token
            time.sleep(2.2)
            assert storage.open("a.txt").read() == b"a"
            assert storage._auth().get().token != first
        finally:
            proxy.stop()

    def test_wrong_key_names_no_secret(self, options, caplog):
        caplog.set_level(logging.DEBUG)
        storage = make(options, api_key=SECRET, temp_url_key=SECRET + "-temp")
        with pytest.raises(SwiftAuthError) as info:
            storage.exists("a.txt")
        assert isinstance(info.value, OSError)
        assert "test:tester" in str(info.value)
        for text in (str(info.value), repr(info.value), repr(storage), caplog.text):
            assert SECRET not in text
        revived = pickle.loads(pickle.dumps(storage))
        assert revived.api_key == SECRET and SECRET not in repr(revived)

    def test_unreachable_identity_names_no_secret(self, options):
        storage = make(options, api_key=SECRET, auth_url=f"http://{LOOPBACK}:{free_port()}/")
        with pytest.raises(SwiftAuthError, match="Cannot reach") as info:
            storage.exists("a")
        assert SECRET not in str(info.value)

    @pytest.mark.parametrize("version", ["2", "3"])
    def test_keystone(self, swift_server, options, version):
        with IdentityServer(swift_server) as identity:
            storage = make(
                options,
                auth_url=identity.url + ("/v2.0" if version == "2" else "/v3"),
                auth_version=version,
                tenant_name="demo",
                region="RegionTwo",
            )
            name = storage.save("k.txt", ContentFile(b"keystone"))
            assert storage.open(name).read() == b"keystone"
            body = identity.bodies[-1]["auth"]
            if version == "2":
                assert body["passwordCredentials"] == {"username": USER, "password": KEY}
                assert body["tenantName"] == "demo"
            else:
                assert body["identity"]["password"]["user"]["name"] == USER
                assert body["scope"]["project"]["name"] == "demo"

    def test_keystone_without_endpoint_in_region(self, swift_server, options):
        with IdentityServer(swift_server) as identity:
            storage = make(
                options, auth_url=identity.url + "/v3", auth_version="3", region="Nowhere"
            )
            with pytest.raises(SwiftAuthError, match="no public object-store endpoint"):
                storage.exists("a")

    def test_bad_version(self, options):
        with pytest.raises(ImproperlyConfigured, match="auth version"):
            make(options, auth_version="9").exists("a")


class TestFailures:
    def test_proxy_stopped_mid_upload_leaves_nothing(self, swift_server, options, container):
        port = free_port()
        proxy = swift_server.start_proxy(port=port)
        storage = make(options, auth_url=f"http://{LOOPBACK}:{port}/auth/v1.0", retries=1)
        storage.exists("warm-up")  # authenticated and container created

        class KillingStream(io.RawIOBase):
            """Content that stops the proxy once part of it has gone up."""

            def __init__(self):
                self.sent = 0

            def readable(self):
                return True

            def readinto(self, buffer):
                if self.sent > 512 * 1024 and proxy.running:
                    proxy.kill()
                count = min(len(buffer), 2 * 1024 * 1024 - self.sent)
                buffer[:count] = b"z" * count
                self.sent += count
                return count

        try:
            with pytest.raises(OSError):
                storage.save("cut.bin", File(io.BufferedReader(KillingStream())))
        finally:
            proxy.stop()
        main = admin(swift_server)
        with pytest.raises(swift_client.ClientException):
            main.head_object(container, "cut.bin")
        assert main.get_container(container)[1] == []

    def test_concurrent_threads_share_one_token(self, options):
        storage = make(options)
        storage.exists("x")
        auth = storage._auth()
        calls = []
        original = auth._authenticate
        auth._authenticate = lambda: calls.append(1) or original()
        auth.invalidate()
        run_in_threads(lambda i: storage.save(f"t/{i}.txt", ContentFile(b"x")), 6)
        assert len(calls) == 1
        assert len(storage.listdir("t")[1]) == 6


class IdentityServer:
    """A small Keystone v2/v3 (and Rackspace CDN) stand-in issuing real tempauth tokens.

    It checks the credentials, then hands out a token obtained from the real
    Swift, in a service catalogue that lists the Swift proxy, so the storage
    talks to Swift with what a real identity service would have given it.
    """

    def __init__(self, swift_server, cdn: bool = False):
        self.swift = swift_server
        self.cdn = cdn
        self.bodies: list[dict] = []
        self.cdn_heads: list[str] = []

    def __enter__(self):
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_HEAD(self):
                outer.cdn_heads.append(self.path)
                self.send_response(204)
                self.send_header("X-Cdn-Enabled", "True")
                self.send_header("X-Cdn-Uri", "http://cdn.example.net")
                self.send_header("X-Cdn-Ssl-Uri", "https://cdn-ssl.example.net")
                self.end_headers()

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                outer.bodies.append(body)
                reply, token = outer.answer(self.path, body)
                self.send_response(401 if reply is None else 200)
                payload = json.dumps(reply or {"error": "denied"}).encode()
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                if token and self.path.endswith("/auth/tokens"):
                    self.send_header("X-Subject-Token", token)
                self.end_headers()
                self.wfile.write(payload)

        self.httpd = ThreadingHTTPServer((LOOPBACK, 0), Handler)
        self.url = f"http://{LOOPBACK}:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()

    def answer(self, path, body):
        auth = body["auth"]
        if path.endswith("/v2.0/tokens"):
            creds = auth.get("passwordCredentials") or {}
            rax = auth.get("RAX-KSKEY:apiKeyCredentials") or {}
            secret = creds.get("password") or rax.get("apiKey")
            user = creds.get("username") or rax.get("username")
        else:
            user_info = auth["identity"]["password"]["user"]
            user, secret = user_info["name"], user_info["password"]
        if (user, secret) != (USER, KEY):
            return None, None
        storage_url, token = swift_client.get_auth(self.swift.auth_url, USER, KEY)
        if path.endswith("/v2.0/tokens"):
            catalog = [
                {
                    "type": "object-store",
                    "endpoints": [
                        {"region": "RegionOne", "publicURL": "http://wrong.invalid/v1/x"},
                        {"region": "RegionTwo", "publicURL": storage_url},
                    ],
                }
            ]
            if self.cdn:
                catalog[0]["endpoints"].append({"region": None, "publicURL": storage_url})
                catalog.append(
                    {"type": "rax:object-cdn", "endpoints": [{"publicURL": self.url + "/cdn"}]}
                )
            return {"access": {"token": {"id": token}, "serviceCatalog": catalog}}, token
        catalog = [
            {
                "type": "object-store",
                "endpoints": [
                    {"interface": "internal", "region_id": "RegionTwo", "url": "http://x.invalid"},
                    {"interface": "public", "region_id": "RegionTwo", "url": storage_url},
                ],
            }
        ]
        return {"token": {"catalog": catalog, "expires_at": "2099-01-01T00:00:00Z"}}, token


def test_requests_is_the_http_client():
    # The auth module relies on requests, which python-swiftclient already requires.
    assert requests.__version__
