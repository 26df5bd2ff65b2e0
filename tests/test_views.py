"""storages.views.serve through Django's test client and through a real HTTP server."""

from __future__ import annotations

import http.client
import threading
import time
import urllib.error
import urllib.request
from email.utils import formatdate
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import storages
from django.core.handlers.wsgi import WSGIHandler

from storages.views import serve_url, signed_url
from tests.servers.databases import unique_name

DATABASE = "storages.backends.database.DatabaseStorage"
PAYLOAD = bytes(range(256)) * 40  # 10240 bytes

urlpatterns = [
    serve_url("files/", storage="dbfiles", chunk_size=1000),
    serve_url("private/", storage="dbfiles", signed=True, content_disposition="attachment"),
    serve_url("inline/", storage="dbfiles", content_disposition="inline", cache_control="no-cache"),
    serve_url("accel/", storage="dbfiles", handoff="x-accel-redirect", handoff_prefix="/internal/"),
    serve_url("reproxy/", storage="dbfiles", handoff="x-reproxy-url"),
    serve_url("local/", storage="local"),
    serve_url("sendfile/", storage="local", handoff="x-sendfile"),
]


@pytest.fixture
def store(settings, tmp_path, django_db_blocker):
    options = {
        "connection_string": f"DRIVER={{SQLite3}};Database={tmp_path / 'f.sqlite3'};Timeout=30000",
        "db_table": unique_name(),
        "base_url": "/private/",
        "chunk_size": 4096,
    }
    settings.STORAGES = {
        "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
        "dbfiles": {"BACKEND": DATABASE, "OPTIONS": options},
        "local": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(tmp_path / "local")},
        },
    }
    settings.ROOT_URLCONF = "tests.test_views"
    storage = storages["dbfiles"]
    storage.create_table()
    storage.save("dir/data.bin", ContentFile(PAYLOAD))
    storage.save("dir/a b.txt", ContentFile(b"hello text"))
    storage.save("empty.txt", ContentFile(b""))
    storages["local"].save("disk/page.html", ContentFile(b"<p>on disk</p>"))
    yield storage
    storage.drop_table()
    storage.connector.close()


def body(response) -> bytes:
    return b"".join(response.streaming_content) if response.streaming else response.content


class TestThroughTheTestClient:
    def test_full_get_streams_with_headers(self, client, store):
        response = client.get("/files/dir/data.bin")
        assert response.status_code == 200
        assert response.streaming
        chunks = list(response.streaming_content)
        assert len(chunks) == 11  # chunk_size=1000
        assert b"".join(chunks) == PAYLOAD
        assert response["Content-Type"] == "application/octet-stream"
        assert response["Content-Length"] == str(len(PAYLOAD))
        assert response["Accept-Ranges"] == "bytes"
        assert response["ETag"].startswith('"')
        modified = store.get_modified_time("dir/data.bin").timestamp()
        assert response["Last-Modified"] == formatdate(int(modified), usegmt=True)
        assert "Content-Disposition" not in response

    def test_content_type_quoted_names_and_disposition(self, client, store):
        response = client.get("/inline/dir/a%20b.txt")
        assert response.status_code == 200
        assert body(response) == b"hello text"
        assert response["Content-Type"].startswith("text/plain")
        assert response["Content-Disposition"] == 'inline; filename="a b.txt"'
        assert response["Cache-Control"] == "no-cache"

    def test_head_and_empty_file(self, client, store):
        response = client.head("/files/dir/data.bin")
        assert response.status_code == 200
        assert response["Content-Length"] == str(len(PAYLOAD))
        assert body(response) == b""
        response = client.get("/files/empty.txt")
        assert (response.status_code, response["Content-Length"], body(response)) == (200, "0", b"")

    @pytest.mark.parametrize(
        ("header", "first", "last"),
        [("bytes=2-5", 2, 5), ("bytes=-3", 10237, 10239), ("bytes=10000-", 10000, 10239),
         ("bytes=4090-99999", 4090, 10239)],
    )  # fmt: skip
    def test_range_gives_206(self, client, store, header, first, last):
        response = client.get("/files/dir/data.bin", HTTP_RANGE=header)
        assert response.status_code == 206
        assert body(response) == PAYLOAD[first : last + 1]
        assert response["Content-Range"] == f"bytes {first}-{last}/{len(PAYLOAD)}"
        assert response["Content-Length"] == str(last - first + 1)

    def test_unsatisfiable_and_multiple_ranges(self, client, store):
        response = client.get("/files/dir/data.bin", HTTP_RANGE="bytes=20000-")
        assert response.status_code == 416
        assert response["Content-Range"] == f"bytes */{len(PAYLOAD)}"
        response = client.get("/files/dir/data.bin", HTTP_RANGE="bytes=0-1,5-6")
        assert response.status_code == 200
        assert body(response) == PAYLOAD

    def test_if_range(self, client, store):
        etag = client.head("/files/dir/data.bin")["ETag"]
        response = client.get("/files/dir/data.bin", HTTP_RANGE="bytes=0-0", HTTP_IF_RANGE=etag)
        assert response.status_code == 206
        response = client.get("/files/dir/data.bin", HTTP_RANGE="bytes=0-0", HTTP_IF_RANGE='"old"')
        assert response.status_code == 200
        assert body(response) == PAYLOAD

    def test_conditional_get(self, client, store):
        first = client.get("/files/dir/data.bin")
        etag, modified = first["ETag"], first["Last-Modified"]
        response = client.get("/files/dir/data.bin", HTTP_IF_NONE_MATCH=etag)
        assert response.status_code == 304
        assert response["ETag"] == etag
        assert body(response) == b""
        response = client.get("/files/dir/data.bin", HTTP_IF_MODIFIED_SINCE=modified)
        assert response.status_code == 304
        response = client.get("/files/dir/data.bin", HTTP_IF_MATCH='"something-else"')
        assert response.status_code == 412
        # A new version has a new ETag.
        time.sleep(0.002)
        store.save("dir/data.bin", ContentFile(PAYLOAD[::-1]))
        response = client.get("/files/dir/data.bin", HTTP_IF_NONE_MATCH=etag)
        assert response.status_code == 200
        assert body(response) == PAYLOAD[::-1]

    @pytest.mark.parametrize(
        "path",
        ["/files/missing.txt", "/files/dir/", "/files/dir", "/files/../secret",
         "/files/dir/../../secret", "/files/%2e%2e/secret", "/files/a%00b",
         "/files/..%5c..%5csecret", "/local/../f.sqlite3", "/local/disk"],
    )  # fmt: skip
    def test_unknown_and_unsafe_names_are_404(self, client, store, path):
        assert client.get(path).status_code == 404

    def test_only_get_and_head(self, client, store):
        assert client.post("/files/dir/data.bin").status_code == 405
        assert client.delete("/files/dir/data.bin").status_code == 405
        assert store.exists("dir/data.bin")

    def test_any_storage_works(self, client, store):
        response = client.get("/local/disk/page.html")
        assert response.status_code == 200
        assert response["Content-Type"].startswith("text/html")
        assert body(response) == b"<p>on disk</p>"
        assert body(client.get("/local/disk/page.html", HTTP_RANGE="bytes=3-4")) == b"on"

    def test_signed_urls(self, client, store):
        url = signed_url("dir/a b.txt", storage="dbfiles")
        assert url.startswith("/private/dir/a%20b.txt?expires=")
        response = client.get(url)
        assert response.status_code == 200
        assert body(response) == b"hello text"
        assert response["Content-Disposition"] == 'attachment; filename="a b.txt"'
        assert response["Cache-Control"] == "private"
        assert client.get("/private/dir/a%20b.txt").status_code == 403
        tampered = url[:-2] + ("AA" if not url.endswith("AA") else "BB")
        assert client.get(tampered).status_code == 403
        other = url.replace("a%20b.txt", "data.bin")
        assert client.get(other).status_code == 403
        expired = signed_url("dir/a b.txt", storage="dbfiles", expires_in=-1)
        assert client.get(expired).status_code == 403
        later = url.replace("expires=", "expires=9")
        assert client.get(later).status_code == 403
        salted = signed_url("dir/a b.txt", storage="dbfiles", salt="elsewhere")
        assert client.get(salted).status_code == 403
        # A signature says nothing about existence: a missing file is still 404.
        assert client.get(signed_url("gone.txt", storage="dbfiles")).status_code == 404

    def test_handoff_headers(self, client, store):
        response = client.get("/accel/dir/a%20b.txt")
        assert response.status_code == 200
        assert response["X-Accel-Redirect"] == "/internal/dir/a%20b.txt"
        assert response.content == b""
        assert response["Content-Type"].startswith("text/plain")
        assert client.get("/accel/missing").status_code == 404
        response = client.get("/reproxy/dir/data.bin")
        assert response["X-Reproxy-URL"] == "/private/dir/data.bin"
        response = client.get("/sendfile/disk/page.html")
        assert response["X-Sendfile"] == storages["local"].path("disk/page.html")

    def test_url_helper_checks_its_options(self):
        with pytest.raises(TypeError, match="no option 'stroage'"):
            serve_url("x/", stroage="default")
        with pytest.raises(ValueError, match="handoff"):
            serve_url("x/", handoff="x-magic")


class QuietHandler(WSGIRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture
def http_server(store):
    server = make_server("127.0.0.1", 0, WSGIHandler(), WSGIServer, QuietHandler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield f"127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()


def fetch(address: str, path: str, **headers) -> tuple[int, dict, bytes]:
    connection = http.client.HTTPConnection(address, timeout=10)
    try:
        connection.request("GET", path, headers=headers)  # the path is sent as written
        response = connection.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        connection.close()


class TestThroughARealServer:
    def test_get_range_and_304(self, http_server):
        status, headers, data = fetch(http_server, "/files/dir/data.bin")
        assert (status, data) == (200, PAYLOAD)
        assert headers["Content-Length"] == str(len(PAYLOAD))
        status, headers2, data = fetch(http_server, "/files/dir/data.bin", Range="bytes=100-199")
        assert (status, data) == (206, PAYLOAD[100:200])
        assert headers2["Content-Range"] == f"bytes 100-199/{len(PAYLOAD)}"
        status, _h, data = fetch(
            http_server, "/files/dir/data.bin", **{"If-None-Match": headers["ETag"]}
        )
        assert (status, data) == (304, b"")

    def test_signed_expiry_tampering_and_unsafe_names(self, http_server):
        url = signed_url("dir/data.bin", storage="dbfiles", expires_in=60)
        with urllib.request.urlopen(f"http://{http_server}{url}", timeout=10) as response:
            assert response.read() == PAYLOAD
            assert response.headers["Content-Disposition"] == 'attachment; filename="data.bin"'
        expired = signed_url("dir/data.bin", storage="dbfiles", expires_in=-5)
        with pytest.raises(urllib.error.HTTPError) as caught:
            urllib.request.urlopen(f"http://{http_server}{expired}", timeout=10)
        assert caught.value.code == 403
        assert fetch(http_server, url.replace("signature=", "signature=x"))[0] == 403
        for path in ("/files/../../etc/passwd", "/files/%2e%2e/%2e%2e/etc/passwd", "/files/a%00"):
            assert fetch(http_server, path)[0] == 404

    def test_handoff_header_over_http(self, http_server):
        status, headers, data = fetch(http_server, "/accel/dir/data.bin")
        assert (status, data) == (200, b"")
        assert headers["X-Accel-Redirect"] == "/internal/dir/data.bin"
