"""AzureStorage's native async hooks (azure.storage.blob.aio) against Azurite on 127.0.0.1.

The async contract (tests/contract.py, run by test_azure.py) covers the API's
rules; these tests check what is particular to the native path: requests the
async client sends, streaming in bounded memory, ETag-pinned ranged reads,
cancellation, errors without secrets, one client per loop closed cleanly.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import threading

import pytest
from django.core.files.base import ContentFile

from storages.backends.azure_storage import AzureStorageError
from storages.backends.azure_storage.aio import AzureAsyncMixin, async_credential
from tests.native_async import (
    cancel_saves_once_landed,
    check_subclass_name_rule_runs_in_the_pool,
    refuse_unsafe_names,
)
from tests.servers.azure import ACCOUNT_KEY
from tests.test_azure import (
    SMALL_BLOCKS,
    Requests,
    blob_names,
    loopback_only,  # noqa: F401 - an autouse fixture here too
    make,
)

BLOCK = 64 * 1024


@pytest.fixture
def options(azurite_server, azure_container):
    return {
        "connection_string": azurite_server.connection_string(),
        "azure_container": azure_container,
    }


def native(options, **extra):
    requests = Requests()
    client_options = {**SMALL_BLOCKS, "raw_request_hook": requests}
    storage = make(options, client_options=client_options, **extra)
    assert isinstance(storage, AzureAsyncMixin)
    return storage, requests


def blocks_staged(requests):
    return sum("comp=block&" in url for method, url, _h in requests if method == "PUT")


def test_every_hook_is_native(options):
    storage, requests = native(options)
    payload = os.urandom(5 * BLOCK + 77)

    async def scenario():
        threads = set()

        async def source():
            for start in range(0, len(payload), 50_000):
                threads.add(threading.current_thread().name)
                yield payload[start : start + 50_000]

        name = await storage.asave("dir/big file.bin", source())
        assert name == "dir/big file.bin"
        assert blocks_staged(requests) == 6
        small = await storage.asave("dir/small.txt", b"small")
        assert await storage.aexists(name) and await storage.aexists("dir")
        assert not await storage.aexists("dir/none") and not await storage.aexists("none/")
        assert await storage.asize(name) == len(payload)
        assert await storage.alistdir("") == (["dir"], [])
        assert sorted((await storage.alistdir("dir"))[1]) == ["big file.bin", "small.txt"]
        modified = await storage.aget_modified_time(name)
        created = await storage.aget_created_time(name)
        assert modified == storage.get_modified_time(name)
        assert created == storage.get_created_time(name)
        assert await storage.aurl(name) == storage.url(name)
        async with await storage.aopen(name) as handle:
            assert await handle.read() == payload
        await storage.adelete(small)
        await storage.adelete(small)  # a no-op
        assert not await storage.aexists(small)
        return threads

    threads = asyncio.run(scenario())
    # All of it went through the async client (its requests reach the hook too) and
    # the caller's generator was read on the loop's thread.
    assert len(requests) >= 12 and threads == {threading.current_thread().name}
    entry = {n: (size, md5) for n, size, _m, md5 in storage.list_stored()}
    assert entry["dir/big file.bin"] == (len(payload), hashlib.md5(payload).hexdigest())


def test_big_upload_streams_in_bounded_memory(options):
    produced = []
    read_when_staged = []

    class Hook(Requests):
        def __call__(self, request):
            super().__call__(request)
            if "comp=block&" in request.http_request.url:
                read_when_staged.append(len(produced))

    requests = Hook()
    storage = make(
        options, client_options={**SMALL_BLOCKS, "raw_request_hook": requests}, upload_max_conn=2
    )

    async def source():
        for index in range(12):
            produced.append(index)
            yield bytes([index]) * BLOCK

    async def scenario():
        return await storage.asave("stream.bin", source())

    name = asyncio.run(scenario())
    assert blocks_staged(requests) == 12
    # Each block went up while the source was still being read, never more than
    # upload_max_conn (2) blocks in flight plus the one being cut ahead of them.
    assert read_when_staged[0] <= 3
    assert all(read - staged <= 4 for staged, read in enumerate(read_when_staged))
    assert storage.open(name).read() == b"".join(bytes([i]) * BLOCK for i in range(12))


def test_ranged_reads_pinned_to_the_etag(options):
    storage, requests = native(options, overwrite_files=True)
    payload = os.urandom(4 * BLOCK)
    storage.save("read.bin", ContentFile(payload))

    async def scenario():
        handle = await storage.aopen("read.bin")
        assert await handle.size() == len(payload)
        assert await handle.read(10) == payload[:10]
        await handle.seek(3 * BLOCK + 5)
        del requests[:]
        assert await handle.read(100) == payload[3 * BLOCK + 5 : 3 * BLOCK + 105]
        ranges = [h.get("x-ms-range") or h.get("Range") for _m, _u, h in requests]
        assert ranges and ranges[0].startswith(f"bytes={3 * BLOCK + 5}-")
        await storage.asave("read.bin", b"replaced")
        await handle.seek(0)
        with pytest.raises(OSError, match=r"read\.bin"):
            await handle.read()
        await handle.close()
        text = await storage.aopen("read.bin", "r")
        assert await text.read() == "replaced"
        await text.close()

    asyncio.run(scenario())


def test_hostile_names_are_refused_before_any_request(options):
    storage, requests = native(options)

    asyncio.run(refuse_unsafe_names(storage))
    assert requests == []


def test_wrong_key_is_a_clear_error_without_the_secret(options, azurite_server):
    wrong = "QmFkS2V5QmFkS2V5QmFkS2V5QmFkS2V5QmFkS2V5QmFkS2V5QmFkS2V5QmFkS2V5QQ=="
    storage = make(options, connection_string=azurite_server.connection_string(wrong))

    async def scenario():
        for call, args in ((storage.asave, ("f.txt", b"x")), (storage.aexists, ("f.txt",))):
            with pytest.raises(AzureStorageError) as caught:
                await call(*args)
            text = f"{caught.value} {caught.value!r}"
            assert "403" in text and "f.txt" in text
            assert wrong not in text and ACCOUNT_KEY not in text

    asyncio.run(scenario())


def test_concurrent_staged_saves_of_one_name_keep_every_file(options):
    storage, _requests = native(options, upload_max_conn=2)
    payloads = [bytes([index]) * (3 * BLOCK + index) for index in range(3)]

    async def scenario():
        return await asyncio.gather(*(storage.asave("same.bin", p) for p in payloads))

    names = asyncio.run(scenario())
    assert len(set(names)) == 3 and "same.bin" in names
    assert sorted(storage.open(n).read() for n in names) == sorted(payloads)
    assert blob_names(storage) == sorted(names)


class StagedSignal(Requests):
    """Records requests; sets ``event`` (on ``loop``) when the first block is staged."""

    loop = event = None

    def __call__(self, request):
        super().__call__(request)
        if self.event is not None and "comp=block&" in request.http_request.url:
            self.loop.call_soon_threadsafe(self.event.set)


def test_cancelled_staged_save_leaves_nothing(options):
    requests = StagedSignal()
    storage = make(options, client_options={**SMALL_BLOCKS, "raw_request_hook": requests})

    async def endless():
        while True:
            yield b"z" * BLOCK
            await asyncio.sleep(0)

    async def scenario():
        requests.loop, requests.event = asyncio.get_running_loop(), asyncio.Event()
        saving = asyncio.ensure_future(storage.asave("cancelled.bin", endless()))
        await asyncio.wait_for(requests.event.wait(), timeout=30)
        saving.cancel()
        with pytest.raises(asyncio.CancelledError):
            await saving
        assert not await storage.aexists("cancelled.bin")

    asyncio.run(scenario())
    assert blocks_staged(requests) >= 1
    assert not any("comp=blocklist" in url for _m, url, _h in requests)
    assert blob_names(storage) == []


def test_one_client_per_loop_closed_with_the_loop(options):
    storage, _requests = native(options)
    seen = []

    async def scenario():
        service, container = await storage._per_loop().get()
        assert await storage._acontainer() is container
        await storage.asave("x.txt", b"x")
        transport = service._pipeline._transport
        assert transport.session is not None and not transport.session.closed
        seen.append((container, transport))

    asyncio.run(scenario())
    asyncio.run(scenario())
    assert seen[0][0] is not seen[1][0]
    # asyncio.run closed each loop's aiohttp session on its way out.
    assert [transport.session for _container, transport in seen] == [None, None]

    async def closed_early():
        await storage.asave("y.txt", b"y")
        transport = (await storage._per_loop().get())[0]._pipeline._transport
        await storage.aclose()
        assert transport.session is None
        assert await storage.aexists("y.txt")  # a new client for the rest

    asyncio.run(closed_early())


def test_sync_token_credential_is_asked_in_the_pool():
    calls = []

    class SyncCredential:
        def get_token(self, *scopes, **kwargs):
            calls.append((threading.current_thread().name, scopes))
            return "token"

    async def scenario():
        adapted = async_credential(SyncCredential())
        assert async_credential(adapted) is adapted  # an async credential as is
        return await adapted.get_token("https://storage.azure.com/.default")

    assert asyncio.run(scenario()) == "token"
    assert calls[0][0].startswith("storages-async")
    assert calls[0][1] == ("https://storage.azure.com/.default",)


def test_a_sync_transport_keeps_the_threaded_defaults(options):
    from azure.core.pipeline.transport import RequestsTransport

    storage = make(options, client_options={"transport": RequestsTransport()})

    async def scenario():
        name = await storage.asave("t.txt", b"through the sync transport")
        async with await storage.aopen(name) as handle:
            assert await handle.read() == b"through the sync transport"
        assert await storage.aexists(name) and await storage.asize(name) == 26

    asyncio.run(scenario())
    assert "_aio_clients" not in storage.__dict__  # no async client was made


def test_a_subclass_name_rule_runs_in_the_pool(options):
    from storages.backends.azure_storage import AzureStorage

    check_subclass_name_rule_runs_in_the_pool(AzureStorage, options)


def test_object_parameters_as_the_sync_path(options):
    params = {"cache_control": "max-age=60", "content_disposition": "attachment"}
    storage, _requests = native(options, object_parameters=params)

    async def scenario():
        small = await storage.asave("p/small.css", b"body {}")
        big = await storage.asave("p/big.bin", os.urandom(3 * BLOCK))  # staged blocks
        return small, big

    for name in asyncio.run(scenario()):
        settings = storage.client.get_blob_client(name).get_blob_properties().content_settings
        assert (settings.cache_control, settings.content_disposition) == (
            "max-age=60",
            "attachment",
        )
    small = storage.client.get_blob_client("p/small.css").get_blob_properties()
    assert small.content_settings.content_type == "text/css"


def test_save_cancelled_once_its_final_request_landed_leaves_nothing(options):
    saving = []

    def landed(response):  # the service has made the blob; the caller goes away now
        request = response.http_request
        staged_block = "comp=block&" in request.url
        if request.method == "PUT" and not staged_block and saving:
            saving[0].cancel()

    storage = make(options, client_options={"raw_response_hook": landed})

    contents = (b"f" * 1000, os.urandom(9 * 1024 * 1024))  # Put Blob; block list
    asyncio.run(cancel_saves_once_landed(storage, saving, contents))
    assert blob_names(storage) == []  # made, then deleted before the cancellation went on
