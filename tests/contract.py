"""The behaviour every backend must show: the original "Tests" section plus Django's Storage API.

A backend's test class inherits :class:`StorageContract` and provides:

* ``backend``: the dotted path users put in settings;
* a ``backend_options`` fixture: the ``STORAGES[...]["OPTIONS"]`` for a fresh, empty store;
* a ``backend_settings`` fixture: the same configuration as global settings, for
  the legacy ``DEFAULT_FILE_STORAGE`` style;
* ``overwrites = True`` if saving an existing name replaces it by design;
* ``url_shows_name = False`` if ``url()`` is an opaque link without the name
  in it (Dropbox's temporary links);
* ``sample()``/``stored_name()`` when the backend only accepts some content.

Every test runs twice: configured through ``STORAGES`` and through
``DEFAULT_FILE_STORAGE``. Tests reach the storage as users do, via
``default_storage`` and model fields.

:class:`AsyncContract` (a base of :class:`StorageContract`, so every backend
class has it) checks the same behaviour through the async API, once per
backend class: configured through ``STORAGES`` only, the configuration style
changes nothing on that path.
"""

from __future__ import annotations

import asyncio
import copy
import datetime
import gc
import os
import pickle
import sys
import threading

import django
import pytest
from asgiref.sync import async_to_sync
from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import SuspiciousFileOperation
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage, storages
from django.test import override_settings
from django.utils.module_loading import import_string

from storages.aio import AsyncStorageMixin
from tests.testapp.models import MyStorage

UNSAFE_NAMES = [
    "../escape.txt",
    "a/../../escape.txt",
    "/etc/passwd",
    "..\\..\\escape.txt",
    "a\\..\\..\\escape.txt",
    "nul\x00byte.txt",
]

#: Names save() refuses that a URL would otherwise carry to another host or out of the base.
URL_ATTACKS = [
    "//evil.example/x.exe",
    "\\\\evil.example\\x.exe",
    "../../etc/passwd",
    "a/\x00b",
    "/abs/x",
]

#: Names that clean to nothing: the root (bucket, database, container, directory) itself.
ROOT_NAMES = ["", ".", "a/..", "./", "a/b/../.."]

STATICFILES = {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}


def legacy_overrides(**overrides):
    """``override_settings`` arguments for the legacy storage settings.

    Django 4.2 applies an overridden ``DEFAULT_FILE_STORAGE`` by editing the
    global ``STORAGES`` dict in place, which outlives the override; giving it a
    copy of ``STORAGES`` to edit first keeps one test from leaking into the next.
    """
    if django.VERSION < (5, 1):
        return {"STORAGES": copy.deepcopy(settings.STORAGES), **overrides}
    return overrides


def tiny_png() -> bytes:
    from io import BytesIO

    from PIL import Image

    out = BytesIO()
    Image.new("RGB", (3, 2), (200, 30, 30)).save(out, "PNG")
    return out.getvalue()


def run_async(coroutine_function, *args):
    """Run a coroutine to its end from a sync test, as a sync Django caller does.

    asgiref's ``async_to_sync`` runs it on an event loop of its own and runs
    thread-sensitive sync code (Django's database connections) in this thread,
    the one whose connections the test's fixtures close.
    """
    return async_to_sync(coroutine_function)(*args)


class GatedContent(ContentFile):
    """Content whose first read, in the save's thread, signals and waits to be let go."""

    def __init__(self, data: bytes, loop, started: asyncio.Event, proceed: threading.Event):
        super().__init__(data, name="gated.bin")
        self._signal = (loop, started, proceed)

    def _gate(self) -> None:
        if self._signal is not None:
            loop, started, proceed = self._signal
            self._signal = None
            loop.call_soon_threadsafe(started.set)
            assert proceed.wait(timeout=30), "the test never let the save go on"

    def read(self, *args):
        self._gate()
        return super().read(*args)

    def chunks(self, chunk_size=None):
        self._gate()
        yield from super().chunks(chunk_size)


async def read_back(storage, name: str) -> bytes:
    async with await storage.aopen(name, "rb") as handle:
        return await handle.read()


class AsyncContract:
    """The contract's behaviour again through ``asave``, ``aopen``, ``aexists`` and the rest.

    Lean on purpose: each test covers several methods on one fresh store, and the
    slow scenarios (large files, models, pickling) stay with the sync tests.
    """

    #: Whether ``url()`` holds the file's name (not an opaque link).
    url_shows_name = True

    @pytest.fixture
    def async_storage(self, backend_options):
        storages_setting = {
            "default": {"BACKEND": self.backend, "OPTIONS": backend_options},
            "staticfiles": STATICFILES,
        }
        with override_settings(STORAGES=storages_setting):
            storage = storages["default"]
            assert isinstance(storage, AsyncStorageMixin)
            yield storage

    def test_async_round_trip(self, async_storage):
        storage = async_storage
        data = self.sample(os.urandom(200_000))

        async def source():
            for start in range(0, len(data), 70_000):
                yield data[start : start + 70_000]

        async def scenario():
            name = await storage.asave("async dir/file name.txt", data)
            assert name == self.stored_name("async dir/file name.txt")
            assert await storage.aexists(name)
            assert not await storage.aexists("async dir/other.txt")
            assert await storage.asize(name) == len(data)
            async with await storage.aopen(name, "rb") as handle:
                assert await handle.size() == len(data)
                assert await handle.read(3) == data[:3]
                assert await handle.read() == data[3:]
                await handle.seek(0)
                assert b"".join([chunk async for chunk in handle]) == data
                chunks = [chunk async for chunk in handle.chunks(64 * 1024)]
                assert b"".join(chunks) == data
                assert max(map(len, chunks)) <= 64 * 1024
            streamed = await storage.asave("async dir/streamed.bin", source())
            assert await read_back(storage, streamed) == data
            assert sorted((await storage.alistdir("async dir"))[1]) == sorted(
                [self.stored_name("file name.txt"), self.stored_name("streamed.bin")]
            )
            assert "async dir" in (await storage.alistdir(""))[0]
            url = await storage.aurl(name)
            assert url == storage.url(name)
            if self.url_shows_name:
                assert "async%20dir/file%20name" in url
            getters = (storage.aget_modified_time, storage.aget_created_time)
            for getter in getters:
                try:
                    moment = await getter(name)
                except NotImplementedError:
                    continue
                assert moment.tzinfo is not None
            await storage.adelete(name)
            assert not await storage.aexists(name)
            await storage.adelete(name)  # a no-op, not an error
            with pytest.raises(FileNotFoundError):
                await storage.aopen("missing/nothing.txt")
            with pytest.raises(FileNotFoundError):
                await storage.asize("missing/nothing.txt")

        run_async(scenario)

    def test_async_names_as_save(self, async_storage):
        storage = async_storage

        async def refused(call, *args):
            with pytest.raises(SuspiciousFileOperation):
                await call(*args)

        async def scenario():
            sample = self.sample(b"x")
            for name in UNSAFE_NAMES + URL_ATTACKS:
                await refused(storage.asave, name, sample)
                await refused(storage.aurl, name)
            for name in UNSAFE_NAMES:
                for call in (storage.aexists, storage.aopen, storage.adelete, storage.asize):
                    await refused(call, name)
            for index, given in enumerate(["a//b.txt", "a/./b.txt", "/a/b.txt"[1:]]):
                stored = await storage.asave(f"norm{index}/{given}", self.sample(b"n"))
                assert stored == self.stored_name(f"norm{index}/a/b.txt")
                assert (await storage.alistdir(f"norm{index}/a"))[1] == [self.stored_name("b.txt")]
            name = await storage.asave("ünïcödé/файл 名前.txt", ContentFile(self.sample(b"u")))
            assert name == self.stored_name("ünïcödé/файл 名前.txt")
            assert (await storage.alistdir("ünïcödé"))[1] == [self.stored_name("файл 名前.txt")]
            assert await storage.agenerate_filename("d/x y.txt") == storage.generate_filename(
                "d/x y.txt"
            )
            assert await read_back(storage, name) == self.sample(b"u")
            for name in ROOT_NAMES:
                await refused(storage.asave, name, sample)
                for call in (storage.aopen, storage.adelete, storage.asize, storage.aurl):
                    await refused(call, name)
                assert await storage.aexists(name) is True  # the root (collectstatic asks)

        run_async(scenario)

    def test_async_same_name_and_concurrent_saves(self, async_storage):
        storage = async_storage
        count = 4

        async def scenario():
            first = await storage.asave("same/one.txt", self.sample(b"content"))
            second = await storage.asave("same/one.txt", ContentFile(self.sample(b"more")))
            if self.overwrites:
                assert second == first
                assert await read_back(storage, first) == self.sample(b"more")
            else:
                root, ext = os.path.splitext(self.stored_name("same/one.txt"))
                assert second != first
                assert second.startswith(root + "_") and second.endswith(ext)
                assert await read_back(storage, first) == self.sample(b"content")
                assert await storage.asize(second) == len(self.sample(b"more"))
            payloads = [self.sample(f"writer {index}".encode()) for index in range(count)]
            names = await asyncio.gather(*(storage.asave("race/r.txt", p) for p in payloads))
            if self.overwrites:
                assert set(names) == {self.stored_name("race/r.txt")}
                assert await read_back(storage, names[0]) in payloads
            else:
                assert len(set(names)) == count
                assert {await read_back(storage, name) for name in names} == set(payloads)
            stored = sorted(os.path.basename(name) for name in set(names))
            assert sorted((await storage.alistdir("race"))[1]) == stored  # nothing else left

        run_async(scenario)

    def test_async_write_and_cancelled_save(self, async_storage):
        storage = async_storage

        async def scenario():
            if self.accepts_any_content:
                async with await storage.aopen("written.txt", "wb") as handle:
                    await handle.write(b"storage contents")
                assert await read_back(storage, "written.txt") == b"storage contents"
            with pytest.raises(RuntimeError, match="changed my mind"):
                async with await storage.aopen("abandoned.txt", "wb") as handle:
                    await handle.write(b"partial content")
                    raise RuntimeError("changed my mind")
            assert not await storage.aexists("abandoned.txt")

            # The threaded default deletes a cancelled save's file only when it does not replace.
            assert storage._save_replaces() is self.overwrites
            started, proceed = asyncio.Event(), threading.Event()
            content = GatedContent(
                self.sample(b"cancelled"), asyncio.get_running_loop(), started, proceed
            )
            saving = asyncio.ensure_future(storage.asave("cancel/gone.txt", content))
            try:
                await asyncio.wait_for(started.wait(), timeout=30)
                saving.cancel()
            finally:
                proceed.set()
            with pytest.raises(asyncio.CancelledError):
                await saving
            left = (await storage.alistdir("cancel"))[1] if await storage.aexists("cancel") else []
            if self.overwrites:
                # The documented limit: a replacing save that ran keeps its file.
                assert left in ([], [self.stored_name("gone.txt")])
            else:
                assert left == []
                assert not await storage.aexists(self.stored_name("cancel/gone.txt"))

        run_async(scenario)


class StorageContract(AsyncContract):
    backend: str = ""
    overwrites: bool = False
    #: False for backends that refuse some content (images only) with ValueError.
    accepts_any_content: bool = True
    #: The model field whose default names an existing file.
    default_field: str = "default"
    #: Large-file size; several MiB by default.
    large_size: int = 6 * 1024 * 1024

    @pytest.fixture
    def backend_settings(self, backend_options):
        raise NotImplementedError("a contract class must give the global-settings form")

    @pytest.fixture(params=["STORAGES", "DEFAULT_FILE_STORAGE"])
    def configured_by(self, request, backend_options, backend_settings):
        if request.param == "STORAGES":
            storages_setting = {
                "default": {"BACKEND": self.backend, "OPTIONS": backend_options},
                "staticfiles": STATICFILES,
            }
            overrides = {"STORAGES": storages_setting}
        else:
            overrides = legacy_overrides(DEFAULT_FILE_STORAGE=self.backend, **backend_settings)
        with override_settings(**overrides):
            yield request.param

    @pytest.fixture
    def storage(self, configured_by):
        return storages["default"]

    # Hooks for backends that only accept some content (the image backend).
    def sample(self, payload: bytes) -> bytes:
        return payload

    def stored_name(self, name: str) -> str:
        return name

    def save(self, storage, name: str, payload: bytes) -> str:
        return storage.save(name, ContentFile(self.sample(payload)))

    # The original documentation, "Storage".
    def test_configured_backend_is_ours(self, storage):
        assert type(storage) is import_string(self.backend)
        assert storage.deconstruct()[0] == self.backend  # migrations keep the public path
        default_storage.exists("anything")  # resolve the lazy default
        assert default_storage._wrapped is storage

    def test_open_write_read_delete(self, storage):
        assert not default_storage.exists("storage_test")
        with default_storage.open("storage_test", "w") as handle:
            handle.write("storage contents")
        assert default_storage.exists("storage_test")
        with default_storage.open("storage_test", "r") as handle:
            assert handle.read() == "storage contents"
        with default_storage.open("storage_test", "rb") as handle:
            assert handle.read() == b"storage contents"
        default_storage.delete("storage_test")
        assert not default_storage.exists("storage_test")

    # The original documentation, "Model".
    @pytest.mark.django_db
    def test_field_without_file(self, storage):
        obj = MyStorage()
        assert not obj.normal
        with pytest.raises(ValueError, match="'normal' attribute has no file"):
            obj.normal.size  # noqa: B018

    @pytest.mark.django_db
    def test_field_save_size_read_and_chunks(self, storage):
        data = self.sample(b"content")
        obj = MyStorage()
        obj.normal.save("django_test.txt", ContentFile(data))
        assert obj.normal.name == self.stored_name("tests/django_test.txt")
        assert obj.normal.size == len(data)
        assert obj.normal.read() == data
        obj.normal.close()
        obj.normal.open()
        assert obj.normal.read(3) == data[:3]
        assert obj.normal.read() == data[3:]
        expected = b"-".join(data[i : i + 2] for i in range(0, len(data), 2))
        assert b"-".join(obj.normal.chunks(chunk_size=2)) == expected
        obj.normal.close()

    @pytest.mark.django_db
    def test_same_name_twice(self, storage):
        first, second = MyStorage(), MyStorage()
        first.normal.save("django_test.txt", ContentFile(self.sample(b"content")))
        second.normal.save("django_test.txt", ContentFile(self.sample(b"more content")))
        if self.overwrites:
            assert second.normal.name == first.normal.name
            assert storage.open(first.normal.name).read() == self.sample(b"more content")
        else:
            assert second.normal.name != first.normal.name
            root, ext = os.path.splitext(self.stored_name("tests/django_test.txt"))
            assert second.normal.name.startswith(root + "_")
            assert second.normal.name.endswith(ext)
            assert storage.open(first.normal.name).read() == self.sample(b"content")
            assert storage.open(second.normal.name).read() == self.sample(b"more content")
            assert second.normal.size == len(self.sample(b"more content"))

    @pytest.mark.django_db
    def test_objects_pickle_through_the_cache(self, storage):
        obj = MyStorage.objects.create()
        obj.normal.save("django_test.txt", ContentFile(self.sample(b"content")))
        cache.set("obj", obj)
        cached = cache.get("obj")
        assert cached.normal.name == obj.normal.name
        assert cached.normal.read() == self.sample(b"content")
        cached.normal.close()
        revived = pickle.loads(pickle.dumps(storage))
        assert revived.exists(obj.normal.name)
        assert revived.open(obj.normal.name).read() == self.sample(b"content")

    def test_file_left_open_is_finalized_quietly(
        self, storage, backend_settings, settings, monkeypatch
    ):
        # A file the code forgot to close is closed by the garbage collector, maybe
        # after the settings it was opened under are gone: that must never raise.
        for setting_name in backend_settings:
            if hasattr(settings, setting_name):
                delattr(settings, setting_name)  # absent below the override that follows
        with override_settings(**backend_settings):
            name = self.save(storage, "left-open.bin", os.urandom(300_000))
            closed_late, dropped = storage.open(name, "rb"), storage.open(name, "rb")
            closed_late.read(10)
            dropped.read(10)
        # Leaving the override took the settings away, as the end of a test session does.
        closed_late.close()  # what the finalizer does (Python < 3.13 hides its errors)
        unraisable: list = []
        monkeypatch.setattr(sys, "unraisablehook", unraisable.append)
        del dropped
        gc.collect()
        assert [str(report.exc_value) for report in unraisable] == []

    @pytest.mark.django_db
    def test_default_file_survives_object_deletion(self, storage):
        field = self.default_field
        default_name = MyStorage._meta.get_field(field).default
        content = self.sample(b"default content")
        assert self.save(storage, default_name, b"default content") == default_name
        obj = MyStorage.objects.create()
        assert getattr(obj, field).name == default_name
        assert getattr(obj, field).read() == content
        getattr(obj, field).close()
        obj.delete()
        assert getattr(MyStorage(), field).read() == content

    @pytest.mark.django_db
    def test_model_deletion_keeps_files_and_field_delete_removes(self, storage):
        obj = MyStorage.objects.create()
        obj.normal.save("django_test.txt", ContentFile(self.sample(b"content")))
        name = obj.normal.name
        obj.delete()
        assert storage.exists(name)
        obj.normal.delete(save=False)
        assert not storage.exists(name)

    @pytest.mark.django_db
    def test_callable_upload_to_decides_directory_once(self, storage):
        obj = MyStorage()
        obj.random.save("random_file", ContentFile(self.sample(b"random content")))
        directory, filename = obj.random.name.rsplit("/", 1)
        assert filename == self.stored_name("random_file")
        assert storage.exists(obj.random.name)
        assert storage.listdir(directory)[1] == [filename]

    @pytest.mark.django_db
    def test_image_field(self, storage):
        png = tiny_png()
        obj = MyStorage()
        obj.photo.save("photo.png", ContentFile(png))
        assert obj.photo.name.startswith("photos/photo")
        assert (obj.photo.width, obj.photo.height) == (3, 2)
        assert storage.open(obj.photo.name).read() == png

    # Django's Storage API.
    def test_exists_size_and_read_back(self, storage):
        name = self.save(storage, "dir/file.txt", b"12345")
        assert storage.exists(name)
        assert not storage.exists("dir/other.txt")
        assert storage.size(name) == len(self.sample(b"12345"))

    def test_listdir(self, storage):
        self.save(storage, "listing/a.txt", b"a")
        self.save(storage, "listing/sub/b.txt", b"b")
        self.save(storage, "listing/sub/deeper/c.txt", b"c")
        directories, files = storage.listdir("listing")
        assert sorted(directories) == ["sub"]
        assert sorted(files) == [self.stored_name("a.txt")]
        directories, files = storage.listdir("listing/sub/")
        assert sorted(directories) == ["deeper"]
        assert sorted(files) == [self.stored_name("b.txt")]
        root_dirs, _root_files = storage.listdir("")
        assert "listing" in root_dirs

    def test_url(self, storage):
        name = self.save(storage, "some dir/file name.txt", b"x")
        url = storage.url(name)
        assert isinstance(url, str)
        if self.url_shows_name:
            assert "some%20dir/file%20name" in url

    def test_times_are_aware_under_use_tz(self, storage):
        name = self.save(storage, "timed.txt", b"x")
        now = datetime.datetime.now(datetime.UTC)
        for getter in (storage.get_modified_time, storage.get_created_time):
            try:
                moment = getter(name)
            except NotImplementedError:
                continue
            assert moment.tzinfo is not None
            assert abs(moment - now) < datetime.timedelta(minutes=5)
        with override_settings(USE_TZ=False):
            moment = storage.get_modified_time(name)
            assert moment.tzinfo is None

    def test_missing_file(self, storage):
        with pytest.raises(FileNotFoundError):
            storage.open("missing/nothing.txt")
        with pytest.raises(FileNotFoundError):
            storage.size("missing/nothing.txt")
        storage.delete("missing/nothing.txt")  # a no-op, not an error

    @pytest.mark.parametrize("name", UNSAFE_NAMES)
    def test_unsafe_names_are_refused(self, storage, name):
        with pytest.raises(SuspiciousFileOperation):
            storage.save(name, ContentFile(self.sample(b"x")))
        for operation in (storage.exists, storage.open, storage.delete, storage.size):
            with pytest.raises(SuspiciousFileOperation):
                operation(name)

    @pytest.mark.parametrize("name", UNSAFE_NAMES + URL_ATTACKS)
    def test_url_refuses_what_save_refuses(self, storage, name):
        with pytest.raises(SuspiciousFileOperation):
            storage.save(name, ContentFile(self.sample(b"x")))
        with pytest.raises(SuspiciousFileOperation):
            storage.url(name)

    @pytest.mark.parametrize("name", ROOT_NAMES)
    def test_name_of_the_root_reaches_no_file(self, storage, name):
        # Such a name would address the bucket, database or root directory itself
        # (CouchDB's delete("") reached the database URL): refused before any request.
        kept = self.save(storage, "kept/file.txt", b"kept")
        before = storage.listdir(""), storage.listdir("kept")
        with pytest.raises(SuspiciousFileOperation):
            storage.save(name, ContentFile(self.sample(b"x")))
        operations = [storage.open, storage.delete, storage.size, storage.url]
        for operation in operations:
            with pytest.raises(SuspiciousFileOperation):
                operation(name)
        for getter in (
            storage.get_modified_time,
            storage.get_accessed_time,
            storage.get_created_time,
        ):
            try:
                getter(name)
            except NotImplementedError:  # the backend has no such time at all
                continue
            except SuspiciousFileOperation:
                continue
            pytest.fail(f"{getter.__name__}({name!r}) was not refused")
        # The root exists (Django's collectstatic --clear asks exists("") before listing it).
        assert storage.exists(name) is True
        assert (storage.listdir(""), storage.listdir("kept")) == before
        assert storage.open(kept).read() == self.sample(b"kept")

    @pytest.mark.parametrize("given", ["norm/a//b.txt", "norm/a/./b.txt", "norm//a/b.txt"])
    def test_save_returns_the_name_stored(self, storage, given):
        name = self.save(storage, given, b"normalised")
        assert name == self.stored_name("norm/a/b.txt")
        assert storage.listdir("norm/a")[1] == [self.stored_name("b.txt")]
        assert storage.exists(name)
        assert storage.open(name).read() == self.sample(b"normalised")

    def test_unicode_names(self, storage):
        name = self.save(storage, "ünïcödé/файл 名前.txt", b"unicode")
        assert name == self.stored_name("ünïcödé/файл 名前.txt")
        assert storage.open(name).read() == self.sample(b"unicode")
        assert storage.listdir("ünïcödé")[1] == [self.stored_name("файл 名前.txt")]

    def test_write_left_by_an_exception_stores_nothing(self, storage):
        refused = pytest.raises(RuntimeError, match="changed my mind")
        with refused, storage.open("abandoned.txt", "wb") as handle:
            handle.write(b"partial content")
            raise RuntimeError("changed my mind")
        assert not storage.exists("abandoned.txt")

    def test_text_content_is_stored_as_utf8(self, storage):
        text = "héllo wörld ✓ 名前\n" * 3
        if not self.accepts_any_content:
            with pytest.raises(ValueError):
                storage.save("text.txt", ContentFile(text))
            return
        name = storage.save("text.txt", ContentFile(text))
        assert storage.size(name) == len(text.encode())
        assert storage.open(name, "rb").read() == text.encode()

    def test_empty_file(self, storage):
        name = self.save(storage, "empty.txt", b"")
        assert storage.exists(name)
        assert storage.size(name) == len(self.sample(b""))
        assert storage.open(name).read() == self.sample(b"")

    def test_large_file_round_trip(self, storage):
        payload = os.urandom(self.large_size)
        name = self.save(storage, "large.bin", payload)
        assert storage.size(name) == len(self.sample(payload))
        with storage.open(name, "rb") as handle:
            received = b"".join(handle.chunks(chunk_size=256 * 1024))
        assert received == self.sample(payload)

    def test_concurrent_saves_of_one_name(self, storage):
        count = 8
        barrier = threading.Barrier(count)
        names: list[str] = []
        errors: list[BaseException] = []

        def save(index: int) -> None:
            try:
                barrier.wait(timeout=30)
                names.append(self.save(storage, "race.txt", f"writer {index}".encode()))
            except BaseException as exc:  # reported below, not swallowed
                errors.append(exc)

        threads = [threading.Thread(target=save, args=(i,)) for i in range(count)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
        assert not errors, errors
        assert len(names) == count
        expected = {self.sample(f"writer {i}".encode()) for i in range(count)}
        if self.overwrites:
            assert set(names) == {self.stored_name("race.txt")}
            assert storage.open(names[0]).read() in expected
        else:
            assert len(set(names)) == count
            assert {storage.open(name).read() for name in names} == expected
        # Nothing else is left behind: no temporary or partial files.
        assert sorted(storage.listdir("")[1]) == sorted(set(names))
