"""Native async S3 (storages.backends.s3.aio): signed requests on aiohttp, on real servers.

SeaweedFS checks every signature (so a wrongly signed request fails here) and
supports conditional creates and multipart uploads; moto applies object ACLs
and encryption settings. ``recorded_requests`` sees every request botocore
sends: the native hooks must send none through it.
"""

from __future__ import annotations

import asyncio
import datetime
import gc
import hashlib
import os
import sys
import threading
import time
import warnings

import boto3
import botocore.session
import pytest
from botocore.config import Config
from botocore.credentials import RefreshableCredentials
from django.core.exceptions import SuspiciousFileOperation
from django.core.files import File
from django.core.files.base import ContentFile

from storages.backends.s3 import S3StaticStorage, S3Storage
from storages.backends.s3.errors import S3StorageError
from storages.backends.s3.files import UNCOMPRESSED_SIZE
from tests.native_async import cancel_saves_once_landed
from tests.servers.ftp import make_certificates
from tests.servers.s3 import recorded_requests, start_seaweedfs

MIB = 1024 * 1024

# Unclosed sessions, connections and files are errors here, as every other warning.
pytestmark = pytest.mark.filterwarnings("error")


@pytest.fixture(scope="module", autouse=True)
def earlier_garbage_collected():
    """Finalize what earlier test modules left to the GC now, not inside a test below.

    A socket another module's client left open would otherwise be reported
    (as an error here) by whichever test below happens to trigger a collection.
    """
    hook, sys.unraisablehook = sys.unraisablehook, lambda unraisable: None
    try:
        gc.collect()
    finally:
        sys.unraisablehook = hook


def run(coroutine):
    """Run on a fresh loop, as asyncio.run does (which also ends the loop's aiohttp session)."""
    return asyncio.run(coroutine)


@pytest.fixture
def storage(seaweed_options):
    return S3Storage(**seaweed_options)


def boto(storage):
    return storage.connection


def head(storage, name):
    return boto(storage).head_object(Bucket=storage.bucket_name, Key=storage._key(name))


def pending_uploads(storage):
    answer = boto(storage).list_multipart_uploads(
        Bucket=storage.bucket_name, Prefix=storage.location + "/"
    )
    return answer.get("Uploads", [])


# --- every hook, natively -------------------------------------------------------------


def test_every_hook_natively_no_request_through_botocore(storage):
    storage.save("seed.txt", ContentFile(b"seeded by the sync path"))

    async def scenario():
        name = await storage.asave("docs/report.txt", ContentFile(b"quarterly figures"))
        again = await storage.asave("docs/report.txt", b"second")
        async with await storage.aopen(name) as f:
            whole = await f.read()
            size = await f.size()
        f = await storage.aopen("seed.txt")
        first = await f.read(6)
        await f.seek(10)
        rest = await f.read()
        chunks = [chunk async for chunk in f.chunks(4)]
        await f.close()
        found = (await storage.aexists(name), await storage.aexists("docs"))
        missing = (await storage.aexists("docs/none.txt"), await storage.aexists("nodir"))
        listing = (await storage.alistdir(""), await storage.alistdir("docs"))
        sizes = (await storage.asize(name), await storage.asize(again))
        modified = await storage.aget_modified_time(name)
        await storage.adelete(again)
        await storage.adelete("docs/never-there.txt")  # no error, as delete()
        gone = await storage.aexists(again)
        return (
            name,
            again,
            whole,
            size,
            first,
            rest,
            chunks,
            found,
            missing,
            listing,
            sizes,
            (
                modified,
                gone,
            ),
        )

    with recorded_requests(storage) as operations:
        result = run(scenario())
    name, again, whole, size, first, rest, chunks, found, missing, listing, sizes, tail = result
    assert operations == []  # all of it went out on aiohttp
    assert name == "docs/report.txt" and again.startswith("docs/report_") and again != name
    assert whole == b"quarterly figures" and size == 17
    assert first == b"seeded" and rest == b"the sync path"
    assert b"".join(chunks) == b"seeded by the sync path"
    assert found == (True, True) and missing == (False, False)
    assert listing[0] == (["docs"], ["seed.txt"])
    assert listing[1] == ([], ["report.txt", again.removeprefix("docs/")])
    assert sizes == (17, 6)
    modified, gone = tail
    assert modified == storage.get_modified_time(name) and modified.tzinfo is not None
    assert gone is False and not storage.exists(again)
    # What the sync path sees is what was stored, with the sync path's parameters.
    assert head(storage, name)["ContentType"] == "text/plain"
    assert storage.open(name).read() == b"quarterly figures"


def test_listdir_matches_the_sync_one(storage):
    for name in ("a/1.txt", "a/b/2.txt", "a/b/c/3.txt", "top.txt", "a/ü 4.txt"):
        storage.save(name, ContentFile(b"x"))

    async def scenario():
        return [await storage.alistdir(path) for path in ("", "a", "a/b", "a/b/c", "missing")]

    listed = run(scenario())
    expected = [storage.listdir(path) for path in ("", "a", "a/b", "a/b/c", "missing")]
    assert [(sorted(d), sorted(f)) for d, f in listed] == [
        (sorted(d), sorted(f)) for d, f in expected
    ]


@pytest.mark.parametrize(
    "name",
    [
        "with space/and+plus.txt",
        "ünïcödé/日本語.txt",
        "reserved !$&'()*,;=@:[]{}.txt",
        "percent%20not-a-space%2F.txt",
        "tilde~under_score-dash.dots..txt",
        "quote'\"<xml>&amp;.txt",
    ],
)
def test_names_that_need_encoding(storage, name):
    async def scenario():
        stored = await storage.asave(name, name.encode())
        async with await storage.aopen(stored) as f:
            data = await f.read()
        listed = await storage.alistdir(os.path.dirname(name))
        return stored, data, listed, await storage.asize(stored), await storage.aexists(stored)

    stored, data, listed, size, exists = run(scenario())
    assert stored == name and data == name.encode() and size == len(data) and exists
    assert os.path.basename(name) in listed[1]
    assert storage.open(name).read() == name.encode()


HOSTILE = ["../escape.txt", "a/../../escape.txt", "/", "", ".", "a/..", "/etc/passwd"]


@pytest.mark.parametrize("name", HOSTILE)
def test_hostile_names_refused_as_by_the_sync_path(storage, name):
    def sync_refuses(call):
        try:
            call()
        except (SuspiciousFileOperation, ValueError):
            return True
        return False

    async def async_refuses(call):
        try:
            await call()
        except (SuspiciousFileOperation, ValueError):
            return True
        return False

    pairs = [
        (lambda: storage.save(name, ContentFile(b"x")), lambda: storage.asave(name, b"x")),
        (lambda: storage.open(name), lambda: storage.aopen(name)),
        (lambda: storage.size(name), lambda: storage.asize(name)),
        (lambda: storage.delete(name), lambda: storage.adelete(name)),
        (lambda: storage.get_modified_time(name), lambda: storage.aget_modified_time(name)),
    ]

    async def scenario():
        return [await async_refuses(make) for _sync, make in pairs]

    with recorded_requests(storage) as operations:
        refused = run(scenario())
    assert refused == [sync_refuses(call) for call, _async in pairs]
    if name not in ("/", "", "."):  # the root is the location itself for exists()/listdir()
        assert all(refused)
    assert operations == []


def test_missing_files_raise_file_not_found(storage):
    async def scenario():
        errors = []
        for call in (storage.aopen, storage.asize, storage.aget_modified_time):
            try:
                await call("nothing/here.txt")
            except FileNotFoundError as exc:
                errors.append(exc)
        return errors

    errors = run(scenario())
    assert len(errors) == 3
    assert all("nothing/here.txt" in str(error) for error in errors)


# --- same-name saves, big saves, cancellation -----------------------------------------


def test_concurrent_same_name_saves_keep_every_file(storage):
    async def scenario():
        return await asyncio.gather(
            *(storage.asave("race.txt", f"writer {i}".encode()) for i in range(5))
        )

    names = run(scenario())
    assert len(set(names)) == 5 and "race.txt" in names
    assert sorted(storage.open(name).read() for name in names) == sorted(
        f"writer {i}".encode() for i in range(5)
    )


def test_overwrite_on_replaces(seaweed_options):
    storage = S3StaticStorage(**seaweed_options)  # file_overwrite on by default

    async def scenario():
        first = await storage.asave("app.css", b"one")
        second = await storage.asave("app.css", b"two")
        return first, second

    assert run(scenario()) == ("app.css", "app.css")
    assert storage.open("app.css").read() == b"two"


def test_thirty_megabyte_multipart_from_disk_and_from_a_stream(storage, tmp_path):
    data = os.urandom(30 * MIB)
    path = tmp_path / "big.bin"
    path.write_bytes(data)

    async def stream():  # 12 MiB: two parts, re-sent from the spool under the next name
        for start in range(0, 12 * MIB, 3 * MIB):
            yield data[start : start + 3 * MIB]

    async def scenario():
        with path.open("rb") as handle:
            from_disk = await storage.asave("big.bin", File(handle))
        from_stream = await storage.asave("big.bin", stream())  # taken: retried from the spool
        digests = []
        for name in (from_disk, from_stream):
            digest = hashlib.sha256()
            async with await storage.aopen(name) as f:
                async for chunk in f:
                    digest.update(chunk)
            digests.append(digest.hexdigest())
        return from_disk, from_stream, digests

    with recorded_requests(storage) as operations:
        from_disk, from_stream, digests = run(scenario())
    assert operations == []
    assert from_disk == "big.bin" and from_stream != from_disk
    assert digests == [
        hashlib.sha256(data).hexdigest(),
        hashlib.sha256(data[: 12 * MIB]).hexdigest(),
    ]
    assert head(storage, from_disk)["ETag"].endswith('-4"')  # 8 MiB parts: 4 of them
    assert pending_uploads(storage) == []


def test_cancelled_multipart_save_leaves_nothing(storage):
    reached = asyncio.Event
    state: dict = {}

    async def stalling():
        for _ in range(3):
            yield os.urandom(4 * MIB)  # 12 MiB: the first part goes out
        state["reached"].set()
        await asyncio.Event().wait()  # the client went away mid-upload
        yield b"never"

    async def scenario():
        state["reached"] = reached()
        task = asyncio.ensure_future(storage.asave("cancelled.bin", stalling()))
        await state["reached"].wait()
        for _ in range(200):  # the upload exists on the server before the cancel
            if await asyncio.to_thread(pending_uploads, storage):
                break
            await asyncio.sleep(0.01)
        state["pending"] = await asyncio.to_thread(pending_uploads, storage)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        return await storage.aexists("cancelled.bin")

    assert run(scenario()) is False
    assert len(state["pending"]) == 1
    assert pending_uploads(storage) == []
    assert storage.listdir("") == ([], [])


def test_a_small_save_cancelled_at_any_point_leaves_nothing(storage):
    async def scenario():
        outcomes = []
        for steps in range(0, 60, 3):  # cancel after more and more turns of the loop
            task = asyncio.ensure_future(storage.asave(f"small-{steps}.txt", b"x" * 100))
            for _ in range(steps):
                await asyncio.sleep(0)
            task.cancel()
            try:
                outcomes.append(await task)
            except asyncio.CancelledError:
                outcomes.append(None)
        return outcomes

    outcomes = run(scenario())
    assert None in outcomes  # some were cancelled before they finished
    stored = sorted(name for name in outcomes if name is not None)
    assert sorted(storage.listdir("")[1]) == stored  # exactly the saves that returned


def test_a_small_save_cancelled_once_its_put_landed_leaves_nothing(storage):
    saving = []

    async def scenario():
        transport = await storage._s3_transport()
        fetch = transport.fetch

        async def landed(method, key, **kwargs):  # the object exists; the caller goes away
            answer = await fetch(method, key, **kwargs)
            if method == "PUT" and not kwargs.get("query") and saving:
                saving[0].cancel()
            return answer

        transport.fetch = landed
        await cancel_saves_once_landed(storage, saving, (b"f" * 1000,))

    run(scenario())
    assert storage.listdir("") == ([], [])  # made, then deleted before the cancel went on


def test_failed_multipart_save_leaves_nothing(storage):
    async def failing():
        yield os.urandom(9 * MIB)
        raise ConnectionResetError("the upload's source broke")

    async def scenario():
        with pytest.raises(ConnectionResetError):
            await storage.asave("failed.bin", failing())

    run(scenario())
    assert pending_uploads(storage) == []
    assert storage.listdir("") == ([], [])


# --- errors and credentials -----------------------------------------------------------


def test_wrong_secret_is_a_clear_error_without_the_secret(seaweed_options):
    secret = "wrong-secret-never-shown"
    storage = S3Storage(**{**seaweed_options, "secret_key": secret})

    async def scenario():
        try:
            await storage.asave("x.txt", b"x")
        except S3StorageError as exc:
            return exc
        return None

    error = run(scenario())
    assert error is not None and error.code == "SignatureDoesNotMatch"
    assert "Could not save s3://" in str(error) and "x.txt" in str(error)
    assert secret not in repr(error) and secret not in str(error.__dict__)
    assert error.__cause__ is None and error.__context__ is None


def test_unreachable_endpoint_is_a_storage_error(seaweed_options):
    from tests.servers.process import free_port

    storage = S3Storage(
        **{**seaweed_options, "endpoint_url": f"http://127.0.0.1:{free_port()}"},
        client_config=Config(retries={"total_max_attempts": 1}),
    )
    with pytest.raises(S3StorageError, match="EndpointConnectionError"):
        run(storage.aexists("x.txt"))


class ShortLivedCredentials(RefreshableCredentials):
    # Due for a refresh 1 s before expiry (botocore's default is 15 minutes).
    _advisory_refresh_timeout = 1.0
    _mandatory_refresh_timeout = 0.5


def test_refreshable_credentials_are_refreshed_off_the_loop(seaweedfs_server, seaweed_options):
    refreshed: list[int] = []
    good = (seaweedfs_server.access_key, seaweedfs_server.secret_key)

    def refresh():
        refreshed.append(threading.get_ident())
        now = datetime.datetime.now(datetime.UTC)
        if len(refreshed) == 1:  # valid keys (the test expires them once they are used)
            secret, expiry = good[1], now + datetime.timedelta(hours=1)
        else:  # wrong keys: a request signed with them proves they were used
            secret, expiry = "rotated-but-wrong", now + datetime.timedelta(hours=1)
        return {
            "access_key": good[0],
            "secret_key": secret,
            "token": None,
            "expiry_time": expiry.isoformat(),
        }

    # Expired before the first use: the first request needs a refresh already.
    expired = datetime.datetime.now(datetime.UTC) - datetime.timedelta(seconds=1)
    credentials = ShortLivedCredentials(good[0], "stale", None, expired, refresh, "test")

    class RefreshingStorage(S3Storage):
        def _make_session(self):
            session = botocore.session.Session()
            session._credentials = credentials
            return boto3.session.Session(botocore_session=session)

    storage = RefreshingStorage(**seaweed_options)

    async def scenario():
        loop_thread = threading.get_ident()
        before = await storage.asave("before.txt", b"valid keys")
        # The refreshed keys expire now (not after a wait a loaded machine could outrun).
        credentials._expiry_time = datetime.datetime.now(datetime.UTC) - datetime.timedelta(
            seconds=1
        )
        assert credentials.refresh_needed()
        with pytest.raises(S3StorageError) as caught:
            await storage.asave("after.txt", b"rotated keys")
        return loop_thread, before, caught.value

    loop_thread, before, error = run(scenario())
    plain = S3Storage(**seaweed_options)  # same place, fixed keys (the others now are wrong)
    assert before == "before.txt" and plain.open(before).read() == b"valid keys"
    assert not plain.exists("after.txt")
    assert len(refreshed) == 2 and loop_thread not in refreshed
    assert error.code == "SignatureDoesNotMatch" and "rotated-but-wrong" not in str(error)


# --- object parameters, fall-backs ----------------------------------------------------


def test_object_parameters_and_acl_on_moto(moto_options):
    storage = S3Storage(
        **moto_options,
        default_acl="public-read",
        object_parameters={
            "CacheControl": "max-age=60",
            "ServerSideEncryption": "AES256",
            "Metadata": {"owner": "alice"},
        },
    )

    async def scenario():
        small = await storage.asave("pic.png", b"\x89PNG small")
        big = await storage.asave("big.csv", os.urandom(9 * MIB))
        return small, big

    with recorded_requests(storage) as operations:
        names = run(scenario())
    assert operations == []
    for name, content_type in zip(names, ("image/png", "text/csv"), strict=True):
        answer = head(storage, name)
        assert answer["ContentType"] == content_type
        assert answer["CacheControl"] == "max-age=60"
        assert answer["ServerSideEncryption"] == "AES256"
        assert answer["Metadata"] == {"owner": "alice"}
        grants = boto(storage).get_object_acl(Bucket=storage.bucket_name, Key=storage._key(name))
        assert any(
            grant["Permission"] == "READ" and "AllUsers" in grant["Grantee"].get("URI", "")
            for grant in grants["Grants"]
        )


def test_parameters_botocore_must_send_fall_back_to_the_threaded_path(moto_options):
    expires = datetime.datetime(2030, 1, 1, tzinfo=datetime.UTC)
    storage = S3Storage(**moto_options, object_parameters={"Expires": expires})

    with recorded_requests(storage) as operations:
        name = run(storage.asave("dated.txt", b"x"))
    assert name == "dated.txt" and list(operations) == ["PutObject"]
    assert operations.via == ["botocore"]
    assert head(storage, name)["Expires"] == expires


def test_gzip_saves_fall_back_and_native_reads_decompress(seaweed_options):
    storage = S3Storage(**seaweed_options, gzip=True)
    css = b"body { color: red; }\n" * 5000

    async def scenario():
        name = await storage.asave("site.css", css)
        async with await storage.aopen(name) as f:
            first = await f.read(100)
            await f.seek(50_000)
            middle = await f.read(21)
            await f.seek(0)
            whole = await f.read()
        return name, first, middle, whole, await storage.asize(name)

    name, first, middle, whole, size = run(scenario())
    assert head(storage, name)["ContentEncoding"] == "gzip"
    assert head(storage, name)["Metadata"][UNCOMPRESSED_SIZE] == str(len(css))
    assert first == css[:100] and middle == css[50_000:50_021] and whole == css
    assert size == len(css)


def test_a_watching_handler_turns_the_native_path_off(storage):
    seen = []
    storage.connection.meta.events.register("before-send.s3", lambda **kw: seen.append(1))
    with recorded_requests(storage) as operations:
        name = run(storage.asave("watched.txt", b"x"))
    assert name == "watched.txt" and list(operations) == ["PutObject"] and seen


def test_write_mode_runs_threaded(storage):
    async def scenario():
        f = await storage.aopen("written.txt", "wb")
        await f.write(b"through the sync writer")
        await f.close()
        async with await storage.aopen("written.txt") as f:
            return await f.read()

    assert run(scenario()) == b"through the sync writer"


# --- sessions, TLS --------------------------------------------------------------------


def test_one_session_per_loop_closed_when_the_loop_ends(storage):
    sessions = []

    async def scenario():
        await storage.aexists("a.txt")
        transport = storage.__dict__["_aio"]
        first = await transport.session()
        await asyncio.gather(*(storage.aexists(f"{i}.txt") for i in range(20)))
        sessions.append(first)
        assert await transport.session() is first

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        run(scenario())
        run(scenario())
        gc.collect()
    assert sessions[0] is not sessions[1]
    assert all(session.closed for session in sessions)
    assert not [w for w in caught if "nclosed" in str(w.message)]


def test_aclose_closes_this_loops_session(storage):
    async def scenario():
        await storage.aexists("a.txt")
        session = await storage.__dict__["_aio"].session()
        await storage.aclose()
        closed = session.closed
        await storage.aexists("a.txt")  # a new one is made on next use
        return closed

    assert run(scenario()) is True


@pytest.fixture(scope="module")
def tls_server(tmp_path_factory):
    certs = make_certificates(tmp_path_factory.mktemp("s3-aio-certs"))
    server = start_seaweedfs(tmp_path_factory.mktemp("seaweedfs-aio-tls"), certs=certs)
    boto3.client("s3", verify=certs["ca"], **server.boto3_kwargs()).create_bucket(Bucket="tls")
    yield server, certs
    server.kill()  # throwaway data: no need for its slow graceful stop


def test_tls_verified_with_the_storages_ca_bundle(tls_server):
    server, certs = tls_server
    storage = S3Storage(**server.client_options(), bucket_name="tls", verify=certs["ca"])
    untrusting = S3Storage(
        **server.client_options(),
        bucket_name="tls",
        verify=certs["other_ca"],
        client_config=Config(retries={"total_max_attempts": 1}),
    )

    async def scenario():
        name = await storage.asave("secure.txt", b"over TLS")
        async with await storage.aopen(name) as f:
            data = await f.read()
        try:
            await untrusting.asave("refused.txt", b"x")
        except S3StorageError as exc:
            return data, exc
        return data, None

    data, refused = run(scenario())
    assert data == b"over TLS"
    assert refused is not None and not storage.exists("refused.txt")


# --- the event loop is never blocked -----------------------------------------------------


def test_loop_never_blocked_during_a_64_mib_save_and_read(storage):
    """A task sleeping 5 ms in a loop records its longest gap while 64 MiB go up and down.

    Each gap counts the time the loop's thread ran in it (``thread_time``): on a
    busy shared machine the kernel may hold back an idle loop for 20 ms too, and
    that is no storage call blocking it. Nor is a garbage collection of the whole
    test process's heap, which may run in a pool thread while the loop waits for
    the GIL. The wall-clock gap and the collections are printed (``-s``).
    """
    data = os.urandom(64 * MIB)

    async def scenario():
        gaps = []  # (wall gap, loop thread's CPU time in it)
        done = asyncio.Event()

        async def probe():
            last, cpu = time.perf_counter(), time.thread_time()
            while not done.is_set():
                await asyncio.sleep(0.005)
                now, now_cpu = time.perf_counter(), time.thread_time()
                gaps.append((now - last - 0.005, now_cpu - cpu))
                last, cpu = now, now_cpu

        watcher = asyncio.ensure_future(probe())
        await asyncio.sleep(0.02)
        name = await storage.asave("lag.bin", data)  # a fresh storage: its first call too
        digest = hashlib.sha256()
        async with await storage.aopen(name) as f:
            async for chunk in f:
                digest.update(chunk)
        done.set()
        await watcher
        return gaps, digest.hexdigest()

    pauses = []

    def timed_collections(phase, info):
        if phase == "start":
            pauses.append(-time.perf_counter())
        else:
            pauses[-1] += time.perf_counter()

    gc.collect()
    gc.callbacks.append(timed_collections)
    try:
        gaps, digest = run(scenario())
    finally:
        gc.callbacks.remove(timed_collections)
    longest_pause = max(pauses, default=0)
    print(f"garbage collections: {len(pauses)}, the longest {longest_pause * 1000:.1f} ms")
    assert digest == hashlib.sha256(data).hexdigest()
    blocked = max(min(wall, running) for wall, running in gaps)
    longest_wall = max(wall for wall, _running in gaps)
    print(f"loop blocked at most {blocked * 1000:.1f} ms (wall gap {longest_wall * 1000:.1f} ms)")
    assert len(gaps) > 20
    assert blocked < 0.020, (
        f"the loop was blocked for {blocked * 1000:.1f} ms "
        f"(longest wall-clock gap {longest_wall * 1000:.1f} ms)"
    )


# --- a bucket in another region ------------------------------------------------------


async def _regional_server(region: str):
    """A minimal S3 endpoint whose bucket lives in ``region``, as AWS answers for it.

    Requests signed for another region get AWS's 301 ``PermanentRedirect`` with
    the bucket's region in ``x-amz-bucket-region``; requests signed for ``region``
    are served (HEAD and GET of one object, 404 for any other key, empty listings).
    """
    from aiohttp import web

    seen = []

    async def handle(request):
        scope = request.headers.get("Authorization", "").split("Credential=")[-1].split("/")
        seen.append((request.method, scope[2] if len(scope) > 2 else ""))
        if len(scope) < 3 or scope[2] != region:
            body = (
                "<Error><Code>PermanentRedirect</Code><Message>The bucket you are attempting"
                " to access must be addressed using the specified endpoint.</Message></Error>"
            )
            return web.Response(status=301, text=body, headers={"x-amz-bucket-region": region})
        if "list-type" in request.query:  # nothing under any other prefix
            empty = "<ListBucketResult><KeyCount>0</KeyCount><IsTruncated>false</IsTruncated>"
            return web.Response(text=empty + "</ListBucketResult>")
        if request.path.endswith("/there.txt"):
            return web.Response(
                body=b"far away", headers={"Last-Modified": "Mon, 01 Jan 2024 00:00:00 GMT"}
            )
        return web.Response(status=404)

    from tests.servers.process import free_port

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handle)
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    return runner, f"http://127.0.0.1:{port}", seen


def test_a_bucket_in_another_region_is_reached_through_botocore():
    async def scenario():
        runner, endpoint, seen = await _regional_server("eu-west-1")
        storage = S3Storage(
            endpoint_url=endpoint,
            access_key="key",
            secret_key="secret-of-the-test",
            bucket_name="far",
            region_name="us-east-1",
        )
        try:
            found = (await storage.aexists("there.txt"), await storage.aexists("gone.txt"))
            size = await storage.asize("there.txt")
            async with await storage.aopen("there.txt") as f:
                data = await f.read()
            native_after = storage.__dict__["_aio"].watched()
            return found, size, data, native_after, seen
        finally:
            await storage.aclose()
            await runner.cleanup()

    found, size, data, all_through_botocore, seen = run(scenario())
    assert found == (True, False) and size == 8 and data == b"far away"
    # Ours went to us-east-1 and were sent elsewhere; botocore followed to eu-west-1.
    assert ("HEAD", "us-east-1") in seen and ("HEAD", "eu-west-1") in seen
    assert all_through_botocore  # after answers like these, the storage stops trying
