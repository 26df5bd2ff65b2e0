"""The async core (storages.aio): the bounded pool, content of every kind, threaded files,
cancellation, and where the sync code of a storage on Django's database connections runs."""

from __future__ import annotations

import asyncio
import contextvars
import gc
import inspect
import io
import os
import threading
import time

import pytest
from asgiref.sync import ThreadSensitiveContext, sync_to_async
from django.core.exceptions import ImproperlyConfigured, SuspiciousFileOperation
from django.core.files import File
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import InMemoryUploadedFile, TemporaryUploadedFile
from django.core.signals import request_finished
from django.test import override_settings

from storages.aio import AsyncFile, AsyncStorageMixin, ThreadedAsyncFile, content_chunks, run_sync
from storages.aio.files import in_memory
from storages.backends.database import DatabaseStorage
from storages.backends.overwrite import OverwriteStorage
from storages.base import BaseStorage
from storages.filesystem import SafeFileSystemStorage
from tests.servers.databases import add_django_database, unique_name

TIMEOUT = 30


def collect(content, chunk_size=64 * 1024) -> list[bytes]:
    async def gather():
        return [chunk async for chunk in content_chunks(content, chunk_size)]

    return asyncio.run(gather())


def pool_threads() -> set[str]:
    return {t.name for t in threading.enumerate() if t.name.startswith("storages-async")}


# The pool ---------------------------------------------------------------------------------


class GatedStorage(SafeFileSystemStorage):
    """A local storage whose saves count how many run at once and wait on a gate."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.lock = threading.Lock()
        self.running = self.most = self.started = 0
        self.threads: set[int] = set()
        self.gate = threading.Event()
        self.full = threading.Event()
        self.limit = 0

    def _save(self, name, content):
        with self.lock:
            self.running += 1
            self.started += 1
            self.most = max(self.most, self.running)
            self.threads.add(threading.get_ident())
            if self.running >= self.limit:
                self.full.set()
        try:
            assert self.gate.wait(TIMEOUT), "the test never opened the gate"
            return super()._save(name, content)
        finally:
            with self.lock:
                self.running -= 1


@override_settings(STORAGES_ASYNC_THREADS=4)
def test_200_saves_never_run_more_threads_than_the_setting_and_leave_the_loop_free(tmp_path):
    storage = GatedStorage(location=tmp_path)
    storage.limit = 4

    async def scenario():
        saves = [
            asyncio.ensure_future(storage.asave(f"many/{i}.txt", b"%d" % i)) for i in range(200)
        ]
        # Four saves hold every pool thread; the loop still runs everything else.
        assert await asyncio.to_thread(storage.full.wait, TIMEOUT)
        ticks = 0
        for _ in range(50):
            await asyncio.sleep(0)
            ticks += 1
        assert ticks == 50
        assert (storage.started, storage.running) == (4, 4)  # the other 196 wait in the queue
        storage.gate.set()
        return await asyncio.gather(*saves)

    names = asyncio.run(scenario())
    assert storage.most == 4
    assert len(storage.threads) <= 4
    assert sorted(names) == sorted(f"many/{i}.txt" for i in range(200))
    assert len(os.listdir(tmp_path / "many")) == 200


def test_a_forked_child_gets_a_pool_of_its_own():
    asyncio.run(run_sync(int))  # the parent's pool has threads now
    pid = os.fork()
    if pid == 0:  # the child: exit 0 only if its call ran
        try:
            code = 0 if asyncio.run(asyncio.wait_for(run_sync(int, "7"), TIMEOUT)) == 7 else 1
        except BaseException:
            code = 2
        os._exit(code)
    deadline = time.monotonic() + TIMEOUT
    while (waited := os.waitpid(pid, os.WNOHANG)) == (0, 0) and time.monotonic() < deadline:
        time.sleep(0.01)  # no event tells a parent its child ended; bounded
    assert waited[0] == pid and os.waitstatus_to_exitcode(waited[1]) == 0


def test_run_sync_copies_the_context_and_passes_results_and_errors():
    variable = contextvars.ContextVar("variable", default="unset")

    def read_and_set():
        seen = variable.get()
        variable.set("set in the thread")
        return seen, threading.current_thread().name

    async def scenario():
        variable.set("caller's")
        seen, thread = await run_sync(read_and_set)
        assert variable.get() == "caller's"  # the thread had a copy
        with pytest.raises(FileNotFoundError):
            await run_sync(os.stat, "/nonexistent/file")
        return seen, thread, await run_sync(int, "12", base=8)

    seen, thread, value = asyncio.run(scenario())
    assert seen == "caller's"
    assert thread.startswith("storages-async")
    assert value == 10


@pytest.mark.parametrize("value", [0, -1, "4", 2.5, True])
def test_a_bad_thread_count_is_refused(value):
    with (
        override_settings(STORAGES_ASYNC_THREADS=value),
        pytest.raises(ImproperlyConfigured, match="STORAGES_ASYNC_THREADS"),
    ):
        asyncio.run(run_sync(int))


def test_every_storage_class_has_the_async_api():
    import importlib
    import pkgutil

    import storages.backends

    classes = []
    for module in pkgutil.walk_packages(storages.backends.__path__, "storages.backends."):
        try:
            loaded = importlib.import_module(module.name)
        except ImportError:  # an optional client library is missing (reported by its tests)
            continue
        classes += [
            value
            for value in vars(loaded).values()
            if isinstance(value, type)
            and value.__module__.startswith("storages.backends")
            and hasattr(value, "_save")
        ]
    assert len(classes) >= 15
    for storage_class in classes:
        assert issubclass(storage_class, AsyncStorageMixin), storage_class
    assert issubclass(BaseStorage, AsyncStorageMixin)

    class UserStorage(OverwriteStorage):
        pass

    assert inspect.iscoroutinefunction(UserStorage().asave)


# Content of every kind asave() accepts -----------------------------------------------------

PAYLOAD = os.urandom(150_000)


class AsyncReader:
    def __init__(self, data: bytes):
        self.stream = io.BytesIO(data)

    async def read(self, n=-1):
        return self.stream.read(n)


async def async_pieces(data: bytes):
    for start in range(0, len(data), 40_000):
        yield data[start : start + 40_000]


class ThreadRecordingFile(io.FileIO):
    """A file on disk that records which threads read it."""

    threads: set[str] = set()

    def read(self, size=-1):
        ThreadRecordingFile.threads.add(threading.current_thread().name)
        return super().read(size)

    def readinto(self, buffer):
        ThreadRecordingFile.threads.add(threading.current_thread().name)
        return super().readinto(buffer)


def uploaded_on_disk(data: bytes) -> TemporaryUploadedFile:
    upload = TemporaryUploadedFile("up.bin", "application/octet-stream", len(data), None)
    upload.write(data)
    upload.seek(0)
    return upload


CONTENTS = {
    "bytes": lambda: PAYLOAD,
    "bytearray": lambda: bytearray(PAYLOAD),
    "memoryview": lambda: memoryview(PAYLOAD),
    "ContentFile": lambda: ContentFile(PAYLOAD),
    "ContentFile read half-way": lambda: _half_read(ContentFile(PAYLOAD)),
    "InMemoryUploadedFile": lambda: InMemoryUploadedFile(
        io.BytesIO(PAYLOAD), "f", "u.bin", "application/octet-stream", len(PAYLOAD), None
    ),
    "TemporaryUploadedFile": lambda: uploaded_on_disk(PAYLOAD),
    "BytesIO": lambda: io.BytesIO(PAYLOAD),
    "async read(n)": lambda: AsyncReader(PAYLOAD),
    "async iterable": lambda: async_pieces(PAYLOAD),
}


def _half_read(content):
    content.read(1000)
    return content


@pytest.mark.parametrize("kind", sorted(CONTENTS))
def test_content_chunks_gives_every_accepted_content_from_its_start(kind):
    chunks = collect(CONTENTS[kind](), chunk_size=64 * 1024)
    assert b"".join(chunks) == PAYLOAD
    assert all(isinstance(chunk, bytes) for chunk in chunks)
    if kind != "async iterable":  # an async iterable's pieces come as they are
        assert max(map(len, chunks)) <= 64 * 1024


def test_content_chunks_of_text_and_of_an_async_file(tmp_path):
    assert b"".join(collect(ContentFile("héllo ✓"))) == "héllo ✓".encode()
    path = tmp_path / "f.bin"
    path.write_bytes(PAYLOAD)

    async def from_async_file():
        async_file = ThreadedAsyncFile(File(open(path, "rb")))  # noqa: SIM115 - closed below
        await async_file.read(10)  # chunks start from the beginning all the same
        chunks = [chunk async for chunk in content_chunks(async_file, 50_000)]
        await async_file.close()
        return chunks

    chunks = asyncio.run(from_async_file())
    assert b"".join(chunks) == PAYLOAD
    assert max(map(len, chunks)) <= 50_000


def test_content_on_disk_is_read_in_the_pool_and_content_in_memory_directly(tmp_path):
    path = tmp_path / "on-disk.bin"
    path.write_bytes(PAYLOAD)
    ThreadRecordingFile.threads = set()
    with File(ThreadRecordingFile(path)) as on_disk:
        assert not in_memory(on_disk)
        assert b"".join(collect(on_disk)) == PAYLOAD
    assert ThreadRecordingFile.threads and all(
        name.startswith("storages-async") for name in ThreadRecordingFile.threads
    )
    assert in_memory(ContentFile(b"x")) and in_memory(io.BytesIO(b"x"))
    assert not in_memory(uploaded_on_disk(b"x"))


@pytest.mark.parametrize("content", ["a string", 42, None])
def test_content_asave_cannot_store_is_refused(content):
    with pytest.raises(TypeError, match="cannot store"):
        collect(content)


@pytest.mark.parametrize("kind", sorted(CONTENTS))
def test_asave_stores_every_accepted_content(tmp_path, kind):
    storage = SafeFileSystemStorage(location=tmp_path)
    name = asyncio.run(storage.asave("kinds/stored.bin", CONTENTS[kind]()))
    assert name == "kinds/stored.bin"
    assert (tmp_path / name).read_bytes() == PAYLOAD


def test_asave_takes_the_name_of_the_content(tmp_path):
    storage = SafeFileSystemStorage(location=tmp_path)
    assert asyncio.run(storage.asave(None, ContentFile(b"x", name="named.txt"))) == "named.txt"
    with pytest.raises(ValueError, match="needs a name"):
        asyncio.run(storage.asave(None, b"no name"))


# ThreadedAsyncFile ----------------------------------------------------------------------


def test_threaded_file_reads_iterates_seeks_and_writes(tmp_path):
    storage = SafeFileSystemStorage(location=tmp_path)
    data = os.urandom(200_000)
    storage.save("r.bin", ContentFile(data))

    async def scenario():
        handle = await storage.aopen("r.bin")
        assert isinstance(handle, ThreadedAsyncFile) and isinstance(handle, AsyncFile)
        assert (handle.name.endswith("r.bin"), handle.mode) == (True, "rb")
        assert await handle.size() == len(data)
        assert await handle.read(5) == data[:5]
        assert handle.tell() == 5
        buffer = bytearray(10)
        assert await handle.readinto(buffer) == 10 and bytes(buffer) == data[5:15]
        assert await handle.seek(-4, io.SEEK_END) == len(data) - 4
        assert await handle.read() == data[-4:]
        assert await handle.read(10) == b""
        chunks = [chunk async for chunk in handle.chunks(30_000)]  # from the start
        assert b"".join(chunks) == data and max(map(len, chunks)) == 30_000
        await handle.seek(100)
        assert b"".join([chunk async for chunk in handle]) == data[100:]  # from where it is
        await handle.close()
        assert handle.closed

        async with await storage.aopen("w.txt", "w") as text:
            assert await text.write("héllo") == 5
        async with await storage.aopen("w.txt", "r") as text:
            assert await text.read() == "héllo"
        with pytest.raises(ValueError, match="no"):
            async with await storage.aopen("never.bin", "wb") as handle:
                await handle.write(b"partial")
                raise ValueError("no")
        assert not await storage.aexists("never.bin")
        return await storage.alistdir("")

    assert asyncio.run(scenario()) == ([], ["r.bin", "w.txt"])


def test_async_file_base_refuses_what_it_cannot_do():
    async def scenario():
        async with AsyncFile("base.bin") as handle:
            with pytest.raises(io.UnsupportedOperation):
                await handle.read()
            with pytest.raises(io.UnsupportedOperation):
                await handle.write(b"x")
            assert "base.bin" in repr(handle)
        return handle.closed

    assert asyncio.run(scenario())


def test_names_refused_as_save_refuses_them(tmp_path):
    storage = SafeFileSystemStorage(location=tmp_path)

    async def scenario():
        for name in ("../x.txt", "/etc/passwd", "a/../../x", "nul\x00.txt", ""):
            with pytest.raises(SuspiciousFileOperation):
                await storage.asave(name, b"x")
        with pytest.raises(SuspiciousFileOperation):
            await storage.aget_available_name("x" * 20 + ".txt", max_length=3)

    asyncio.run(scenario())
    assert os.listdir(tmp_path) == []


def test_available_name_follows_the_sync_rules(tmp_path):
    storage = SafeFileSystemStorage(location=tmp_path)
    storage.save("d/taken.tar.gz", ContentFile(b"x"))

    async def scenario():
        free = await storage.aget_available_name("d/free.txt")
        other = await storage.aget_available_name("d/taken.tar.gz")
        cut = await storage.aget_available_name("d/taken.tar.gz", max_length=20)
        return free, other, cut

    free, other, cut = asyncio.run(scenario())
    assert free == "d/free.txt"
    assert other.startswith("d/taken_") and other.endswith(".tar.gz")
    assert len(cut) <= 20 and cut.endswith(".tar.gz")
    replacing = OverwriteStorage(location=tmp_path)
    assert asyncio.run(replacing.aget_available_name("d/taken.tar.gz")) == "d/taken.tar.gz"


def test_a_sync_name_rule_of_a_subclass_holds_and_a_native_one_gets_the_async_loop(tmp_path):
    class Dated(SafeFileSystemStorage):
        def get_available_name(self, name, max_length=None):
            return super().get_available_name("dated-" + name, max_length)

    class Native(Dated):
        asked: list[str] = []

        async def _aexists(self, name):
            self.asked.append(name)
            return await super()._aexists(name)

        async def aget_available_name(self, name, max_length=None):
            return await super().aget_available_name(name.upper(), max_length)

    assert asyncio.run(Dated(location=tmp_path).asave("a.txt", b"x")) == "dated-a.txt"
    native = Native(location=tmp_path)
    assert asyncio.run(native.asave("a.txt", b"y")) == "A.TXT"  # not the sync rule's name
    assert Native.asked == ["A.TXT"]  # the loop awaited the native existence check


def test_aurl_calls_url_directly_unless_it_needs_io(tmp_path):
    class Recording(SafeFileSystemStorage):
        def url(self, name):
            self.thread = threading.current_thread().name
            return super().url(name)

    class Remote(Recording):
        url_needs_io = True

    plain = Recording(location=tmp_path, base_url="/m/")
    assert asyncio.run(plain.aurl("a b.txt")) == "/m/a%20b.txt"
    assert plain.thread == threading.current_thread().name  # no thread for a computed URL
    remote = Remote(location=tmp_path, base_url="/m/")
    assert asyncio.run(remote.aurl("a b.txt")) == "/m/a%20b.txt"
    assert remote.thread.startswith("storages-async")
    with pytest.raises(SuspiciousFileOperation):
        asyncio.run(plain.aurl("../x"))


# Cancellation -----------------------------------------------------------------------------


class SlowSaveStorage(SafeFileSystemStorage):
    """A local storage whose save signals once started and waits to be let go."""

    loop = None

    def _save(self, name, content):
        if self.loop is None:  # a sync save before the test
            return super()._save(name, content)
        self.loop.call_soon_threadsafe(self.started.set)
        assert self.proceed.wait(TIMEOUT)
        name = super()._save(name, content)
        self.finished_with = name
        return name


def cancelled_save(storage, name, *, cancels=1, content=b"cancelled"):
    async def scenario():
        storage.loop = asyncio.get_running_loop()
        storage.started, storage.proceed = asyncio.Event(), threading.Event()
        storage.finished_with = None
        saving = asyncio.ensure_future(storage.asave(name, content))
        try:
            await asyncio.wait_for(storage.started.wait(), TIMEOUT)
            for _ in range(cancels):
                saving.cancel()
                await asyncio.sleep(0)
        finally:
            storage.proceed.set()
        with pytest.raises(asyncio.CancelledError):
            await saving
        return storage.finished_with

    return asyncio.run(scenario())


@pytest.mark.parametrize("cancels", [1, 3])
def test_a_cancelled_save_waits_for_its_thread_and_leaves_nothing(tmp_path, cancels):
    storage = SlowSaveStorage(location=tmp_path)
    storage.save("kept.txt", ContentFile(b"kept"))
    stored = cancelled_save(storage, "kept.txt", cancels=cancels)
    assert stored is not None and stored.startswith("kept_")  # the thread finished first
    assert os.listdir(tmp_path) == ["kept.txt"]  # its file was deleted, the other kept
    assert (tmp_path / "kept.txt").read_bytes() == b"kept"


def test_a_cancelled_replacing_save_keeps_its_file(tmp_path):
    # The documented limit: the replaced content cannot come back, and the name is
    # the caller's (another writer may have stored it since), so nothing is deleted.
    class SlowOverwrite(SlowSaveStorage):
        def __init__(self, **options):
            super().__init__(allow_overwrite=True, **options)

    storage = SlowOverwrite(location=tmp_path)
    storage.save("doc.txt", ContentFile(b"old"))
    assert cancelled_save(storage, "doc.txt", content=b"new") == "doc.txt"
    assert (tmp_path / "doc.txt").read_bytes() == b"new"


def test_a_save_cancelled_while_its_content_arrives_stores_nothing(tmp_path):
    storage = SafeFileSystemStorage(location=tmp_path)
    arrived = asyncio.Event()

    async def stalled_upload():
        yield b"first part"
        arrived.set()
        await asyncio.Event().wait()  # the client went away: no more parts
        yield b"never"

    async def scenario():
        saving = asyncio.ensure_future(storage.asave("upload.bin", stalled_upload()))
        await asyncio.wait_for(arrived.wait(), TIMEOUT)
        saving.cancel()
        with pytest.raises(asyncio.CancelledError):
            await saving

    asyncio.run(scenario())
    assert os.listdir(tmp_path) == []


# Django database connections ------------------------------------------------------------

ALIAS = "aiofiles"
#: The request a piece of sync code runs for (sync_to_async and run_sync copy it).
current_request: contextvars.ContextVar[int] = contextvars.ContextVar("current_request")


class RecordingDatabaseStorage(DatabaseStorage):
    """DatabaseStorage noting, per request, the threads its sync code ran in."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.threads: dict[int, set[str]] = {}

    def _note(self):
        name = threading.current_thread().name
        self.threads.setdefault(current_request.get(-1), set()).add(name)

    def _save(self, name, content):
        self._note()
        return super()._save(name, content)

    def _open(self, name, mode="rb"):
        self._note()
        return super()._open(name, mode)

    def exists(self, name):
        self._note()
        return super().exists(name)


@pytest.fixture(params=["sqlite", "postgresql", "mariadb"])
def database(request, tmp_path, django_db_blocker):
    """A Django alias on a fresh database of each kind, and the server (None for SQLite)."""
    server = None
    if request.param == "sqlite":
        settings_dict = {"ENGINE": "django.db.backends.sqlite3", "NAME": str(tmp_path / "f.db")}
    else:
        server = request.getfixturevalue(
            f"{request.param.replace('postgresql', 'postgres')}_server"
        )
        settings_dict = server.django_settings()
    with django_db_blocker.unblock(), add_django_database(ALIAS, settings_dict):
        yield server


def server_connections() -> int:
    """Connections the database server holds to this database, besides the asking one."""
    from django.db import connections

    connection = connections[ALIAS]
    if connection.vendor == "postgresql":
        sql = (
            "SELECT count(*) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
    else:
        sql = (
            "SELECT count(*) FROM information_schema.processlist "
            "WHERE db = DATABASE() AND id <> CONNECTION_ID()"
        )
    with connection.cursor() as cursor:
        cursor.execute(sql)
        return cursor.fetchone()[0]


def settled_connections(expected: int, timeout: float = 10) -> int:
    """``server_connections()`` once it is ``expected`` or ``timeout`` passed.

    A closed connection's server process ends a moment after the client has
    gone, and the server sends no event for it: poll, bounded.
    """
    deadline = time.monotonic() + timeout
    while (count := server_connections()) != expected and time.monotonic() < deadline:
        time.sleep(0.02)
    return count


def test_django_database_code_runs_where_the_async_orm_runs_and_closes_at_request_end(database):
    from django.db import connections

    storage = RecordingDatabaseStorage(database=ALIAS, db_table=unique_name())
    storage.create_table()
    assert storage._thread_sensitive()
    before = server_connections() if database else 0

    def orm_side():
        connection = connections[ALIAS]
        return threading.current_thread().name, connection.connection is not None

    async def one_request(index: int):
        # What Django's ASGI handler does around every request.
        async with ThreadSensitiveContext():
            current_request.set(index)
            name = await storage.asave(f"requests/{index}.txt", b"body %d" % index)
            async with await storage.aopen(name) as handle:
                assert await handle.read() == b"body %d" % index
            orm_thread, connected = await sync_to_async(orm_side)()
            await request_finished.asend(sender=None)  # close_old_connections runs here
            _, still_connected = await sync_to_async(orm_side)()
            return orm_thread, connected, still_connected

    async def requests():
        return await asyncio.gather(*(one_request(index) for index in range(6)))

    results = asyncio.run(requests())
    for index, (orm_thread, connected, still_connected) in enumerate(results):
        # Every sync call of the request ran in the request's ORM thread, on its connection.
        assert storage.threads[index] == {orm_thread}
        assert not orm_thread.startswith("storages-async")
        assert connected and not still_connected  # open during the request, closed at its end
    if database:
        assert settled_connections(before) == before  # no connection left behind by any thread
    storage.drop_table()


@override_settings(STORAGES_ASYNC_THREADS=3)
def test_odbc_code_runs_in_the_pool_with_a_connection_per_pool_thread_at_most(
    postgres_server, django_db_blocker
):
    odbc = postgres_server.odbc()
    storages = [RecordingDatabaseStorage(connection_string=odbc, db_table=unique_name())]
    storages[0].create_table()
    storages[0].connector.close()
    assert not storages[0]._thread_sensitive()

    async def saves(storage):
        return await asyncio.gather(
            *(storage.asave(f"pooled/{index}.txt", b"x") for index in range(30))
        )

    with django_db_blocker.unblock(), add_django_database(ALIAS, postgres_server.django_settings()):
        before = server_connections()
        assert len(set(asyncio.run(saves(storages[0])))) == 30
        threads = set().union(*storages[0].threads.values())
        assert threads and all(name.startswith("storages-async") for name in threads)
        assert 1 <= server_connections() - before <= 3  # one per pool thread, however many saves
        storages[0].drop_table()
        storages[0].connector.close()
        storages.clear()
        gc.collect()  # the connector's per-thread connections go with it
        assert settled_connections(before) == before


@override_settings(STORAGES_ASYNC_THREADS=1)
def test_a_pool_thread_gives_back_the_django_connections_it_opened(database, tmp_path):
    from django.db import connections

    class QueryingStorage(SafeFileSystemStorage):
        """A user's storage whose exists() asks the database (no connector: the pool)."""

        def exists(self, name):
            with connections[ALIAS].cursor() as cursor:
                cursor.execute("SELECT 1")
            return super().exists(name)

    storage = QueryingStorage(location=tmp_path)
    assert not storage._thread_sensitive()

    async def scenario():
        assert not await storage.aexists("nothing.txt")
        return await run_sync(lambda: connections[ALIAS].connection is None)

    assert asyncio.run(scenario())  # closed after the call, as a request's end closes it


# --- the ground floor of the native backends (storages.aio.loops, cancellation, replay) ---


def test_per_loop_makes_one_per_loop_and_closes_it_with_the_loop():
    from storages.aio.loops import PerLoop

    made, closed = [], []

    async def make():
        await asyncio.sleep(0)  # callers arriving meanwhile wait for this one
        made.append(object())
        return made[-1]

    async def close(item):
        closed.append(item)

    held = PerLoop(make, close)

    async def scenario():
        first, second = await asyncio.gather(held.get(), held.get())
        assert first is second is made[-1] and first not in closed
        return first

    one, other = asyncio.run(scenario()), asyncio.run(scenario())
    assert one is not other and closed == [one, other]  # each loop closed its own

    async def closed_early():
        item = await held.get()
        await held.aclose()
        assert closed[-1] is item
        assert await held.get() is not item  # a new one for the rest

    asyncio.run(closed_early())


def test_undo_on_cancel_lets_the_request_land_then_undoes_it():
    from storages.aio.cancellation import undo_on_cancel, uninterrupted

    undone = []

    async def undo(result):
        undone.append(result)

    async def scenario(fails):
        started, release = asyncio.Event(), asyncio.Event()

        async def request():
            started.set()
            await release.wait()
            if fails:
                raise OSError("refused")
            return "made"

        waiting = asyncio.ensure_future(undo_on_cancel(request(), undo))
        await started.wait()
        for _ in range(3):  # cancelled again and again: it still waits for the request
            waiting.cancel()
            await asyncio.sleep(0)
        assert not waiting.done()
        release.set()
        with pytest.raises(asyncio.CancelledError):
            await waiting

    asyncio.run(scenario(fails=False))
    asyncio.run(scenario(fails=True))
    assert undone == ["made"]  # a request that failed made nothing to undo

    async def failed():
        raise OSError("no")

    assert asyncio.run(uninterrupted(failed())) is None


def test_replay_gives_one_pass_content_again_in_blocks():
    from storages.aio.replay import Replay, blocks, first_blocks

    async def once():
        for piece in (b"ab", b"cde", b"f"):
            yield piece

    async def scenario():
        replay = Replay(once())
        try:
            passes = []
            for _ in range(2):  # the second pass reads the spool, not the spent iterator
                passes.append([block async for block in blocks(replay.chunks(2), 4)])
            head, whole = await first_blocks(blocks(replay.chunks(2), 2), 3)
            return passes, head, whole
        finally:
            await replay.close()

    passes, head, whole = asyncio.run(scenario())
    assert passes == [[b"abcd", b"ef"], [b"abcd", b"ef"]]
    assert (head, whole) == ([b"ab", b"cd"], False)


def test_a_per_loop_item_outlives_its_dropped_holder_until_the_loop_closes_it():
    from storages.aio import loops

    closed = []

    async def make():
        return object()

    async def close(item):
        closed.append(item)

    async def drop_the_holder_while_the_loop_runs():
        holder = loops.PerLoop(make, close)
        await holder.get()
        del holder
        gc.collect()
        for _ in range(3):  # a collected closer would have its close scheduled and run here
            await asyncio.sleep(0)
        assert not closed  # it is kept for the loop's shutdown instead

    asyncio.run(drop_the_holder_while_the_loop_runs())
    assert len(closed) == 1
    assert not loops._pending_closers
