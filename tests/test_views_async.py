"""storages.views.aserve under a real ASGI server (uvicorn on 127.0.0.1), on six stores.

The stores: local disk through Django's own FileSystemStorage (no async API:
the view runs its sync methods in the thread pool), local disk through our
OverwriteStorage (the async API's threaded defaults), DatabaseStorage on
SQLite through a Django alias, S3 on SeaweedFS, Azure on Azurite and GCS on
fake-gcs-server (native async I/O).
Requests are sent with http.client, so hostile paths reach the server as
written.
"""

from __future__ import annotations

import asyncio
import hashlib
import http.client
import socket
import threading
import time
import tracemalloc
from dataclasses import dataclass
from urllib.parse import parse_qs, quote, urlsplit

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import FileSystemStorage, storages
from django.test import override_settings

from storages.views import signed_url
from tests.asgi_urls import SERVED
from tests.servers.databases import add_django_database, unique_name

STORES = ["disk", "local", "db", "s3", "azure", "gcs"]
PAYLOAD = bytes(range(256)) * 1200  # 300 KiB: several 64 KiB chunks of the body
BIG = 64 * 1024 * 1024
DB_ALIAS = "asgi_files"
FILES = {"dir/data.bin": PAYLOAD, "dir/a b.txt": b"hello text", "empty.txt": b""}


class RecordingFileSystemStorage(FileSystemStorage):
    """Django's FileSystemStorage, noting the thread each call to it runs in."""

    threads: list[threading.Thread] = []
    closed = threading.Event()  # set when a file it opened is closed

    def _note(self) -> None:
        self.threads.append(threading.current_thread())

    def open(self, name, mode="rb"):
        self._note()
        opened = super().open(name, mode)
        close = opened.close

        def close_and_tell():
            close()
            self.closed.set()

        opened.close = close_and_tell
        return opened

    def size(self, name):
        self._note()
        return super().size(name)

    def get_modified_time(self, name):
        self._note()
        return super().get_modified_time(name)


def big_content() -> bytes:
    """64 MiB that differ everywhere (a repeated block would hide misplaced chunks)."""
    block = hashlib.sha256(b"big").digest() * (1024 * 1024 // 32)
    return b"".join(i.to_bytes(4, "big") + block[4:] for i in range(BIG // len(block)))


@dataclass
class Server:
    address: str
    loop: asyncio.AbstractEventLoop
    thread: threading.Thread


@pytest.fixture(scope="module")
def loopback_only():
    """Every connection this module opens goes to 127.0.0.1 (never a cloud)."""
    connect = socket.socket.connect

    def guarded(sock, address):
        if sock.family in (socket.AF_INET, socket.AF_INET6) and address[0] != "127.0.0.1":
            raise AssertionError(f"a test tried to reach {address!r}")
        return connect(sock, address)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(socket.socket, "connect", guarded)
        yield


@pytest.fixture(scope="module")
def stores(
    loopback_only,
    tmp_path_factory,
    django_db_blocker,
    seaweedfs_server,
    seaweedfs_bucket,
    azurite_server,
    gcs_server,
):
    """The STORAGES of the served app, each holding FILES (and S3 and the disk a 64 MiB file)."""
    root = tmp_path_factory.mktemp("asgi")
    s3_options = seaweedfs_server.storage_options(seaweedfs_bucket)
    table = unique_name()
    db_options = {"database": DB_ALIAS, "db_table": table, "base_url": "/db/"}
    config = {
        "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
        "disk": {
            "BACKEND": f"{__name__}.RecordingFileSystemStorage",
            "OPTIONS": {"location": str(root / "disk"), "base_url": "/disk/"},
        },
        "local": {
            "BACKEND": "storages.backends.overwrite.OverwriteStorage",
            "OPTIONS": {"location": str(root / "local"), "base_url": "/local/"},
        },
        "db": {"BACKEND": "storages.backends.database.DatabaseStorage", "OPTIONS": db_options},
        "s3": {"BACKEND": "storages.backends.s3.S3Storage", "OPTIONS": s3_options},
        "azure": {
            "BACKEND": "storages.backends.azure_storage.AzureStorage",
            "OPTIONS": {
                "connection_string": azurite_server.connection_string(),
                "azure_container": azurite_server.create_container(),
            },
        },
        "gcs": {
            "BACKEND": "storages.backends.gcloud.GoogleCloudStorage",
            "OPTIONS": gcs_server.storage_options(gcs_server.create_bucket()),
        },
        # Fails whatever it is asked (its table does not exist).
        "broken": {
            "BACKEND": "storages.backends.database.DatabaseStorage",
            "OPTIONS": {**db_options, "db_table": f"{table}_missing"},
        },
    }
    database = {"ENGINE": "django.db.backends.sqlite3", "NAME": str(root / "files.sqlite3")}
    with (
        django_db_blocker.unblock(),
        add_django_database(DB_ALIAS, {**database, "OPTIONS": {"timeout": 30}}),
        override_settings(STORAGES=config, ROOT_URLCONF="tests.asgi_urls"),
    ):
        storages["db"].create_table()
        for alias in STORES:
            for name, content in FILES.items():
                assert storages[alias].save(name, ContentFile(content)) == name
        big = ContentFile(big_content())
        storages["s3"].save("big.bin", big)
        storages["disk"].save("big.bin", big)
        try:
            yield storages
        finally:
            storages["db"].drop_table()
            storages["s3"].delete("big.bin")
            storages["s3"].connection.close()  # its pooled connections, not left to the GC


@pytest.fixture(scope="module")
def server(stores):
    """uvicorn serving Django's ASGI app on a free port, in a thread with its own loop."""
    import uvicorn
    from django.core.asgi import get_asgi_application

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)  # requests wait in the backlog until uvicorn accepts them
    config = uvicorn.Config(
        get_asgi_application(),
        lifespan="off",
        log_level="warning",
        access_log=False,
        timeout_graceful_shutdown=5,
    )
    app_server = uvicorn.Server(config)
    loop = asyncio.new_event_loop()
    thread = threading.Thread(
        target=loop.run_until_complete,
        args=(app_server.serve(sockets=[sock]),),
        name="asgi-loop",
        daemon=True,
    )
    thread.start()
    try:
        yield Server(f"127.0.0.1:{sock.getsockname()[1]}", loop, thread)
    finally:
        app_server.should_exit = True
        thread.join(timeout=15)
        for alias in SERVED:  # the native clients' sessions belong to this loop
            aclose = getattr(storages[alias], "aclose", None)
            if aclose is not None:
                loop.run_until_complete(aclose())
        loop.run_until_complete(loop.shutdown_asyncgens())
        loop.close()
        sock.close()


def fetch(server: Server, path: str, method: str = "GET", **headers) -> tuple[int, dict, bytes]:
    connection = http.client.HTTPConnection(server.address, timeout=20)
    try:
        connection.request(method, path, headers=headers)  # the path is sent as written
        response = connection.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        connection.close()


def link(alias: str, name: str, **options) -> str:
    """A signed link to ``name`` on the signed view of ``alias``."""
    query = parse_qs(urlsplit(signed_url(name, storage=alias, **options)).query)
    expires, signature = query["expires"][0], query["signature"][0]
    return f"/{alias}-signed/{quote(name)}?expires={expires}&signature={signature}"


@pytest.mark.parametrize("alias", STORES)
def test_get_streams_the_file_with_its_headers(server, alias):
    status, headers, data = fetch(server, f"/{alias}/dir/data.bin")
    assert (status, data) == (200, PAYLOAD)
    assert headers["Content-Length"] == str(len(PAYLOAD))
    assert headers["Content-Type"] == "application/octet-stream"
    assert headers["Accept-Ranges"] == "bytes"
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["ETag"].startswith('"')
    assert headers["Last-Modified"].endswith(" GMT")
    status, headers, data = fetch(server, f"/{alias}/dir/a%20b.txt")
    assert (status, data) == (200, b"hello text")
    assert headers["Content-Type"].startswith("text/plain")
    assert fetch(server, f"/{alias}/empty.txt")[::2] == (200, b"")


@pytest.mark.parametrize("alias", STORES)
def test_single_ranges_206_and_416(server, alias):
    size = len(PAYLOAD)
    for header, first, last in [
        ("bytes=2-5", 2, 5),
        ("bytes=-3", size - 3, size - 1),
        ("bytes=70000-", 70000, size - 1),  # starts inside the second chunk
        ("bytes=65530-65541", 65530, 65541),  # across a chunk boundary
        ("bytes=300000-999999", 300000, size - 1),
    ]:
        status, headers, data = fetch(server, f"/{alias}/dir/data.bin", Range=header)
        assert (status, data) == (206, PAYLOAD[first : last + 1]), header
        assert headers["Content-Range"] == f"bytes {first}-{last}/{size}"
        assert headers["Content-Length"] == str(last - first + 1)
    status, headers, data = fetch(server, f"/{alias}/dir/data.bin", Range=f"bytes={size}-")
    assert status == 416
    assert headers["Content-Range"] == f"bytes */{size}"
    # Several ranges: the whole file (RFC 9110 allows it).
    status, _headers, data = fetch(server, f"/{alias}/dir/data.bin", Range="bytes=0-1,5-6")
    assert (status, data) == (200, PAYLOAD)


@pytest.mark.parametrize("alias", STORES)
def test_head_and_conditional_get(server, alias):
    status, headers, data = fetch(server, f"/{alias}/dir/data.bin", "HEAD")
    assert (status, data) == (200, b"")
    assert headers["Content-Length"] == str(len(PAYLOAD))
    etag, modified = headers["ETag"], headers["Last-Modified"]
    path = f"/{alias}/dir/data.bin"
    status, headers, data = fetch(server, path, **{"If-None-Match": etag})
    assert (status, data, headers["ETag"]) == (304, b"", etag)
    assert fetch(server, path, **{"If-Modified-Since": modified})[::2] == (304, b"")
    assert fetch(server, path, **{"If-Match": '"another"'})[0] == 412
    status, _h, data = fetch(server, path, Range="bytes=0-0", **{"If-Range": etag})
    assert (status, data) == (206, PAYLOAD[:1])
    status, _h, data = fetch(server, path, Range="bytes=0-0", **{"If-Range": '"old"'})
    assert (status, data) == (200, PAYLOAD)


@pytest.mark.parametrize("alias", STORES)
def test_signed_links(server, alias):
    url = link(alias, "dir/a b.txt")
    status, headers, data = fetch(server, url)
    assert (status, data) == (200, b"hello text")
    assert headers["Content-Disposition"] == 'attachment; filename="a b.txt"'
    assert headers["Cache-Control"] == "private"
    assert fetch(server, f"/{alias}-signed/dir/a%20b.txt")[0] == 403
    tampered = url[:-2] + ("AA" if not url.endswith("AA") else "BB")
    assert fetch(server, tampered)[0] == 403
    assert fetch(server, url.replace("a%20b.txt", "data.bin"))[0] == 403
    assert fetch(server, url.replace("expires=", "expires=9"))[0] == 403
    assert fetch(server, link(alias, "dir/a b.txt", expires_in=-1))[0] == 403
    assert fetch(server, link(alias, "dir/a b.txt", salt="elsewhere"))[0] == 403
    # A signature says nothing about existence: a missing file is still 404.
    assert fetch(server, link(alias, "gone.txt"))[0] == 404


HOSTILE = [
    "../secret",
    "dir/../../secret",
    "%2e%2e/secret",
    "%2e%2e/%2e%2e/etc/passwd",
    "..%5c..%5csecret",
    "a%00b",
    "%2Fetc%2Fpasswd",
    "dir/",
]


@pytest.mark.parametrize("alias", STORES)
def test_missing_and_hostile_names(server, alias):
    assert fetch(server, f"/{alias}/missing.txt")[0] == 404
    assert fetch(server, f"/{alias}/dir")[0] == 404  # a directory is no file
    for name in HOSTILE:
        assert fetch(server, f"/{alias}/{name}")[0] == 404, name


def test_refused_requests_never_reach_the_store(server):
    # The broken store fails whatever it is asked...
    assert fetch(server, "/broken/dir/data.bin")[0] == 500
    assert fetch(server, "/broken-accel/dir/data.bin")[0] == 500
    # ...so these answers were given without asking it.
    assert fetch(server, "/broken-signed/dir/data.bin")[0] == 403
    assert fetch(server, link("broken", "dir/data.bin", expires_in=-1))[0] == 403
    assert fetch(server, link("broken", "dir/data.bin")[:-1] + "x")[0] == 403
    assert fetch(server, "/broken/dir/data.bin", "POST")[0] == 405
    assert fetch(server, "/broken/dir/data.bin", "DELETE")[0] == 405
    for name in HOSTILE:
        assert fetch(server, f"/broken/{name}")[0] == 404, name
        assert fetch(server, f"/broken-signed/{name}")[0] == 404, name


def test_handoff_sends_no_body(server, stores):
    status, headers, data = fetch(server, "/db-accel/dir/a%20b.txt")
    assert (status, data) == (200, b"")
    assert headers["X-Accel-Redirect"] == "dir/a%20b.txt"
    assert headers["Content-Type"].startswith("text/plain")
    assert fetch(server, "/db-accel/missing")[0] == 404
    status, headers, data = fetch(server, "/local-sendfile/dir/data.bin")
    assert (status, data) == (200, b"")
    assert headers["X-Sendfile"] == storages["local"].path("dir/data.bin")


def test_sync_only_storage_runs_off_the_loop(server):
    RecordingFileSystemStorage.threads.clear()
    assert fetch(server, "/disk/dir/data.bin", Range="bytes=70000-")[0] == 206
    assert fetch(server, "/disk/dir/data.bin", "HEAD")[0] == 200
    called = RecordingFileSystemStorage.threads
    assert len(called) >= 5  # size and time twice, open once
    assert server.thread not in called


async def _probe_lag(stop: threading.Event, lags: list[float], step: float = 0.005) -> None:
    loop = asyncio.get_running_loop()
    while not stop.is_set():
        before = loop.time()
        await asyncio.sleep(step)
        lags.append(loop.time() - before - step)


def test_loop_keeps_serving_while_a_big_file_streams(server):
    """A 64 MiB download from S3 streams while small requests are answered at once."""
    started, done, stop = threading.Event(), threading.Event(), threading.Event()
    outcome: dict[str, object] = {}

    def download() -> None:
        connection = http.client.HTTPConnection(server.address, timeout=60)
        try:
            connection.request("GET", "/s3/big.bin")
            response = connection.getresponse()
            digest, received = hashlib.sha256(), 0
            while chunk := response.read(256 * 1024):
                digest.update(chunk)
                received += len(chunk)
                started.set()
            outcome.update(status=response.status, received=received, sha=digest.hexdigest())
        finally:
            connection.close()
            started.set()
            done.set()

    lags: list[float] = []
    probe = asyncio.run_coroutine_threadsafe(_probe_lag(stop, lags), server.loop)
    downloader = threading.Thread(target=download)
    downloader.start()
    try:
        assert started.wait(30)
        answered = []
        while not done.is_set() and len(answered) < 50:
            before = time.monotonic()
            status, _headers, data = fetch(server, "/local/dir/a%20b.txt")
            after = time.monotonic()
            assert (status, data) == (200, b"hello text")
            if not done.is_set():  # answered while the big body was still streaming
                answered.append(after - before)
    finally:
        downloader.join(timeout=60)
        stop.set()
        probe.result(timeout=10)
    assert outcome["status"] == 200
    assert outcome["received"] == BIG
    assert outcome["sha"] == hashlib.sha256(big_content()).hexdigest()
    assert len(answered) >= 3, "small requests waited for the big body instead of being answered"
    assert max(answered) < 0.5, answered
    assert max(lags) < 0.2, sorted(lags)[-5:]


def test_big_download_holds_one_chunk_not_the_file(server):
    """Serving 64 MiB from S3 allocates a few chunks at a time (server and client share this
    process, so tracemalloc sees both)."""
    tracemalloc.start()
    try:
        connection = http.client.HTTPConnection(server.address, timeout=60)
        connection.request("GET", "/s3/big.bin")
        response = connection.getresponse()
        received = 0
        while chunk := response.read(256 * 1024):
            received += len(chunk)
        connection.close()
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert (response.status, received) == (200, BIG)
    assert peak < 16 * 1024 * 1024, f"{peak / 2**20:.1f} MiB at the peak"


def test_client_gone_mid_body_closes_the_stored_file(server, stores):
    """A client that goes away mid-body: the stream stops and the stored file is closed."""
    RecordingFileSystemStorage.closed.clear()
    host, port = server.address.split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(b"GET /disk/big.bin HTTP/1.1\r\nHost: test\r\n\r\n")
        assert sock.recv(65536).startswith(b"HTTP/1.1 200")
    assert RecordingFileSystemStorage.closed.wait(10)
    assert fetch(server, "/disk/dir/data.bin")[::2] == (200, PAYLOAD)


def test_url_helper_checks_its_options():
    from storages.views import aserve, aserve_url

    pattern = aserve_url("media/", storage="db", url_name="media")
    assert (pattern.callback, pattern.default_args, pattern.name) == (
        aserve,
        {"storage": "db"},
        "media",
    )
    with pytest.raises(TypeError, match="aserve\\(\\) has no option 'stroage'"):
        aserve_url("x/", stroage="default")
    with pytest.raises(ValueError, match="handoff"):
        aserve_url("x/", handoff="x-magic")
