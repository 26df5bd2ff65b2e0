"""GoogleCloudStorage's native async hooks (aiohttp, JSON API) against fake-gcs-server.

The async contract (tests/contract.py, run by test_gcloud.py) covers the API's
rules; these tests check the native path itself: that no request goes through
the sync client, resumable uploads in bounded memory, generation-pinned ranged
reads, cancellation, credentials refreshed off the loop, one session per loop
closed with it, and that nothing connects anywhere but 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import os
import socket
import threading

import pytest
from django.core.files.base import ContentFile

from storages.backends.gcloud import GoogleCloudStorageError
from storages.backends.gcloud.aio import GoogleCloudAsyncMixin
from storages.backends.gcloud.aio_http import GCSSession
from tests.native_async import (
    cancel_saves_once_landed,
    check_subclass_name_rule_runs_in_the_pool,
    refuse_unsafe_names,
)
from tests.test_gcloud import (
    blobs,
    key_info,
    make,
    service_account_info,  # noqa: F401 - a fixture used by name
)

MIB = 1024 * 1024


@pytest.fixture(autouse=True)
def loopback_only(monkeypatch):
    """Every connection a test here opens goes to 127.0.0.1 (never a cloud)."""
    connect = socket.socket.connect

    def guarded(sock, address):
        if sock.family in (socket.AF_INET, socket.AF_INET6) and address[0] != "127.0.0.1":
            raise AssertionError(f"a test tried to reach {address!r}")
        return connect(sock, address)

    monkeypatch.setattr(socket.socket, "connect", guarded)


@pytest.fixture
def options(gcs_server, gcs_bucket):
    return gcs_server.storage_options(gcs_bucket)


@pytest.fixture
def sent(monkeypatch):
    """(method, path or URL, params, headers, body size) of every async request."""
    seen = []
    real = GCSSession.request

    async def request(self, method, path, **kwargs):
        data = kwargs.get("data")
        size = len(data) if isinstance(data, bytes) else 0
        where = kwargs.get("url") or path
        seen.append((method, where, kwargs.get("params") or {}, kwargs.get("headers"), size))
        return await real(self, method, path, **kwargs)

    monkeypatch.setattr(GCSSession, "request", request)
    return seen


def sync_requests(storage):
    """Requests sent through the sync client's session (the native path sends none)."""
    count = []
    storage.client._http.hooks.setdefault("response", []).append(
        lambda response, *a, **k: count.append(response.request.method)
    )
    return count


def test_every_hook_is_native(options, sent):
    storage = make(options)
    assert isinstance(storage, GoogleCloudAsyncMixin)
    through_sync = sync_requests(storage)
    payload = os.urandom(300_000)

    async def scenario():
        name = await storage.asave("dir/a file.bin", payload)
        assert name == "dir/a file.bin"
        second = await storage.asave("dir/a file.bin", b"other")  # taken: the next name
        assert second != name and second.startswith("dir/a file_") and second.endswith(".bin")
        assert sorted((await storage.alistdir("dir"))[1]) == sorted([name[4:], second[4:]])
        assert await storage.aexists(name) and await storage.aexists("dir")
        assert not await storage.aexists("dir/none") and not await storage.aexists("none/")
        assert await storage.asize(name) == len(payload)
        assert await storage.alistdir("") == (["dir"], [])
        assert await storage.aget_modified_time(name) == storage.get_modified_time(name)
        assert await storage.aget_created_time(name) == storage.get_created_time(name)
        assert await storage.aurl(name) == storage.url(name)
        async with await storage.aopen(name) as handle:
            assert await handle.read() == payload
        await storage.adelete(name)
        await storage.adelete(name)  # a no-op
        assert not await storage.aexists(name)

    asyncio.run(scenario())
    methods = [method for method, *_rest in sent]
    # Three creates: the first, the refused one (412: taken), the next name.
    assert methods.count("POST") == 3 and "DELETE" in methods and "GET" in methods
    first = sent[0]
    assert first[2] == {"uploadType": "multipart", "ifGenerationMatch": "0"}
    # The sync client only answered the comparisons made above, outside the hooks.
    assert through_sync.count("POST") == 0 and through_sync.count("DELETE") == 0


def test_big_resumable_upload_in_bounded_memory(options, sent):
    storage = make(options, blob_chunk_size=MIB)
    produced = []
    total = 9 * MIB + 12345  # over the 8 MiB multipart limit: a resumable upload

    async def source():
        for start in range(0, total, 100_000):
            produced.append(start)
            yield bytes([start % 251]) * min(100_000, total - start)

    async def scenario():
        return await storage.asave("big.bin", source())

    name = asyncio.run(scenario())
    puts = [entry for entry in sent if entry[0] == "PUT"]
    assert len(puts) == 10  # nine 1 MiB chunks and the short last one
    assert [entry[4] for entry in puts] == [MIB] * 9 + [12345]
    assert sent[0][2]["uploadType"] == "resumable" and sent[0][2]["ifGenerationMatch"] == "0"
    assert puts[-1][3]["Content-Range"] == f"bytes {9 * MIB}-{total - 1}/{total}"
    assert puts[0][3]["Content-Range"] == f"bytes 0-{MIB - 1}/*"
    expected = b"".join(
        bytes([start % 251]) * min(100_000, total - start) for start in range(0, total, 100_000)
    )
    assert storage.size(name) == total
    with storage.open(name) as handle:
        assert handle.read() == expected


def test_ranged_reads_pinned_to_the_generation(options, sent):
    storage = make(options, file_overwrite=True, blob_chunk_size=256 * 1024)
    payload = os.urandom(3 * 256 * 1024)
    storage.save("g.bin", ContentFile(payload))

    async def scenario():
        handle = await storage.aopen("g.bin")
        assert await handle.size() == len(payload)
        assert await handle.read(10) == payload[:10]
        await handle.seek(2 * 256 * 1024 + 7)
        del sent[:]
        assert await handle.read(100) == payload[2 * 256 * 1024 + 7 : 2 * 256 * 1024 + 107]
        assert sent[0][3]["Range"] == f"bytes={2 * 256 * 1024 + 7}-{len(payload) - 1}"
        assert sent[0][2]["generation"]
        await storage.asave("g.bin", b"replaced")
        await handle.seek(0)
        with pytest.raises(OSError):
            await handle.read()
        await handle.close()
        text = await storage.aopen("g.bin", "r")
        assert await text.read() == "replaced"
        await text.close()
        with pytest.raises(FileNotFoundError):
            await storage.aopen("missing.bin")

    asyncio.run(scenario())


def test_hostile_names_are_refused_before_any_request(options, sent):
    storage = make(options)

    asyncio.run(refuse_unsafe_names(storage))
    assert sent == []


def test_credentials_refreshed_off_the_loop_and_never_shown(options, service_account_info):  # noqa: F811
    info = key_info(service_account_info)
    storage = make(options, credentials=info)
    loop_threads = []
    real_refresh = type(storage.client._credentials).refresh
    refreshed_in = []

    def refresh(self, request):
        refreshed_in.append(threading.current_thread().name)
        return real_refresh(self, request)

    async def scenario():
        loop_threads.append(threading.current_thread().name)
        with pytest.raises(GoogleCloudStorageError) as failed:
            await storage.asave("s.txt", b"s")
        return failed.value

    credentials_type = type(storage.client._credentials)
    credentials_type.refresh = refresh
    try:
        error = asyncio.run(scenario())
    finally:
        credentials_type.refresh = real_refresh
    assert refreshed_in and all(name.startswith("storages-async") for name in refreshed_in)
    assert loop_threads[0] not in refreshed_in
    text = f"{error} {error!r} {error.__cause__}"
    assert "s.txt" in text and "credentials" in str(error)
    assert info["private_key_id"] not in text
    assert info["private_key"].splitlines()[1] not in text


def test_cancelled_resumable_upload_leaves_nothing(options, sent):
    storage = make(options, blob_chunk_size=MIB)

    async def scenario():
        chunk_sent = asyncio.Event()

        async def endless():
            while True:
                if any(entry[0] == "PUT" for entry in sent):
                    chunk_sent.set()
                yield b"c" * 100_000
                await asyncio.sleep(0)

        saving = asyncio.ensure_future(storage.asave("cancelled.bin", endless()))
        await asyncio.wait_for(chunk_sent.wait(), timeout=30)
        saving.cancel()
        with pytest.raises(asyncio.CancelledError):
            await saving
        assert not await storage.aexists("cancelled.bin")

    asyncio.run(scenario())
    session_url = next(url for method, url, *_ in sent if method == "PUT")
    # The session was cancelled, and no chunk ever said it was the last.
    assert ("DELETE", session_url) in [(method, url) for method, url, *_ in sent]
    assert all(h["Content-Range"].endswith("/*") for m, _u, _p, h, _s in sent if m == "PUT")
    assert blobs(storage) == []


def test_one_session_per_loop_closed_with_the_loop(options):
    storage = make(options)
    seen = []

    async def scenario():
        session = await storage._asession()
        assert await storage._asession() is session
        await storage.asave("x.txt", b"x")
        seen.append(session)

    asyncio.run(scenario())
    asyncio.run(scenario())
    assert seen[0] is not seen[1]
    assert all(session.http.closed for session in seen)

    async def closed_early():
        session = await storage._asession()
        await storage.aclose()
        assert session.http.closed
        assert await storage.aexists("x.txt")  # a new session for the rest

    asyncio.run(closed_early())


def test_a_subclass_name_rule_runs_in_the_pool(options):
    from storages.backends.gcloud import GoogleCloudStorage

    check_subclass_name_rule_runs_in_the_pool(GoogleCloudStorage, options)


def test_object_parameters_as_the_sync_path(options, sent):
    params = {"cache_control": "max-age=60", "metadata": {"k": "v"}, "content_disposition": "a"}
    storage = make(options, object_parameters=params, default_acl="publicRead")

    async def scenario():
        small = await storage.asave("p/small.css", b"body {}")
        big = await storage.asave("p/big.bin", os.urandom(9 * MIB))
        return small, big

    for name in asyncio.run(scenario()):
        blob = storage.bucket.get_blob(name)
        assert (blob.cache_control, blob.metadata, blob.content_disposition) == (
            "max-age=60",
            {"k": "v"},
            "a",
        )
    assert storage.bucket.get_blob("p/small.css").content_type == "text/css"
    creates = [entry[2] for entry in sent if entry[0] == "POST"]
    assert [c["predefinedAcl"] for c in creates] == ["publicRead", "publicRead"]


def test_save_cancelled_once_its_final_request_landed_leaves_nothing(options, monkeypatch):
    storage = make(options, blob_chunk_size=4 * MIB)
    real = GCSSession.request
    saving = []

    async def request(self, method, path, **kwargs):
        answer = await real(self, method, path, **kwargs)
        kind = (kwargs.get("params") or {}).get("uploadType")
        final = method == "PUT" or (method == "POST" and kind == "multipart")
        if final and answer.status in (200, 201) and saving:
            saving[0].cancel()  # the object is made; the caller goes away now
            await asyncio.sleep(0)
        return answer

    monkeypatch.setattr(GCSSession, "request", request)

    contents = (b"f" * 1000, os.urandom(9 * MIB))  # multipart; resumable
    asyncio.run(cancel_saves_once_landed(storage, saving, contents))
    assert blobs(storage) == []  # made, then deleted before the cancellation went on
