"""Apache Libcloud backend: the contract and shared scenarios through Libcloud's S3
driver on SeaweedFS and through its LOCAL driver, configured as django-storages'
docs configure it (``LIBCLOUD_PROVIDERS``, ``DEFAULT_LIBCLOUD_PROVIDER``, the
``provider_name`` option), plus refused credentials, hostile names, a big file in
bounded memory, nested listings and the two SeaweedFS workarounds.

Every driver here gets explicit credentials and a loopback endpoint.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import os
import pickle
import subprocess
import sys
import threading
import tracemalloc
import urllib.error
import urllib.request
import uuid
from urllib.parse import quote, urlsplit

import pytest
from django.core.exceptions import ImproperlyConfigured, SuspiciousFileOperation
from django.core.files.base import ContentFile, File
from django.test import override_settings

from storages.backends.apache_libcloud import LibCloudStorage, LibCloudStorageError, s3
from tests.concurrency import run_in_threads
from tests.contract import UNSAFE_NAMES, StorageContract
from tests.scenarios import CommonScenarios, SecretsScenario
from tests.servers.s3 import command_port, create_bucket

BACKEND = "storages.backends.apache_libcloud.LibCloudStorage"
S3_TYPE = "libcloud.storage.types.Provider.S3"
LOCAL_TYPE = "libcloud.storage.types.Provider.LOCAL"
MIB = 1024 * 1024

# Libcloud 3.9's own signer still calls datetime.utcnow() (deprecated on Python 3.12+).
pytestmark = pytest.mark.filterwarnings(
    "ignore:datetime.datetime.utcnow:DeprecationWarning:libcloud"
)


def s3_entry(server, bucket: str, **extra) -> dict:
    """A LIBCLOUD_PROVIDERS entry for Libcloud's S3 driver on the SeaweedFS server."""
    endpoint = urlsplit(server.endpoint_url)
    return {
        "type": S3_TYPE,
        "user": server.access_key,
        "key": server.secret_key,
        "bucket": bucket,
        "region": "us-east-1",
        "host": endpoint.hostname,
        "port": endpoint.port,
        "secure": False,
        **extra,
    }


class BucketPool:
    """Empty buckets, emptied again after each test and reused.

    Each SeaweedFS bucket is a collection with volumes of its own: a bucket per
    test exhausts the server's volume slots (it then answers 500 to writes),
    and the session's server is shared with the other S3 tests. Emptied
    through SeaweedFS's filer, which also drops the directories it keeps (and
    lists) after their last object is deleted, and unfinished uploads.
    """

    def __init__(self, server):
        self.server = server
        self.filer = f"http://127.0.0.1:{command_port(server.process.command, 'filer.port')}"
        self.free: list[str] = []

    def take(self) -> str:
        if self.free:
            return self.free.pop()
        name = f"libcloud-{uuid.uuid4().hex[:12]}"
        create_bucket(self.server, name)
        return name

    def give_back(self, name: str) -> None:
        listing = urllib.request.Request(
            f"{self.filer}/buckets/{name}/?limit=100000", headers={"Accept": "application/json"}
        )
        with urllib.request.urlopen(listing, timeout=30) as answer:
            entries = json.load(answer).get("Entries") or []
        for entry in entries:
            path = quote(entry["FullPath"])
            delete = urllib.request.Request(
                f"{self.filer}{path}?recursive=true&ignoreRecursiveError=true", method="DELETE"
            )
            urllib.request.urlopen(delete, timeout=30).close()
        self.free.append(name)


@pytest.fixture(scope="session")
def bucket_pool(seaweedfs_server):
    return BucketPool(seaweedfs_server)


@pytest.fixture
def s3_bucket(bucket_pool):
    """An empty bucket, for this test alone."""
    name = bucket_pool.take()
    yield name
    bucket_pool.give_back(name)


@pytest.fixture
def s3_provider(seaweedfs_server, s3_bucket):
    return s3_entry(seaweedfs_server, s3_bucket)


@pytest.fixture
def local_provider(tmp_path):
    (tmp_path / "media").mkdir()
    return {"type": LOCAL_TYPE, "user": str(tmp_path), "key": None, "bucket": "media"}


class LibcloudContract(StorageContract):
    """The contract, configured the django-storages way: the entries in
    ``LIBCLOUD_PROVIDERS``, then ``OPTIONS={"provider_name": ...}`` or
    ``DEFAULT_LIBCLOUD_PROVIDER``."""

    backend = BACKEND
    provider_name = ""

    @pytest.fixture
    def providers(self, entry):
        # A "default" entry that is not the one in use: the name must pick the entry.
        decoy = {**entry, "bucket": "not-this-bucket"}
        return {"default": decoy, self.provider_name: entry}

    @pytest.fixture(autouse=True)
    def providers_setting(self, providers):
        with override_settings(LIBCLOUD_PROVIDERS=providers):
            yield

    @pytest.fixture
    def backend_options(self):
        return {"provider_name": self.provider_name}

    @pytest.fixture
    def backend_settings(self, providers):
        return {"LIBCLOUD_PROVIDERS": providers, "DEFAULT_LIBCLOUD_PROVIDER": self.provider_name}


class TestS3DriverContract(LibcloudContract):
    provider_name = "seaweedfs"
    # Above Libcloud's 5 MiB part: the multipart path.
    large_size = 11 * MIB + 3

    @pytest.fixture
    def entry(self, s3_provider):
        return s3_provider


class TestLocalDriverContract(LibcloudContract):
    provider_name = "local"

    @pytest.fixture
    def entry(self, local_provider):
        return local_provider


class TestS3DriverScenarios(CommonScenarios, SecretsScenario):
    storage_path = BACKEND
    url_option = "base_url"
    auth_failure_text = "refused the credentials"

    @pytest.fixture
    def options(self, s3_provider):
        return {"providers": {"s3": s3_provider}, "provider_name": "s3"}

    def badly_authenticated(self, make_storage):
        entry = {**make_storage().provider, "key": "wrong-secret-do-not-show"}
        return make_storage(providers={"s3": entry}), ["wrong-secret-do-not-show"]


class TestLocalDriverScenarios(CommonScenarios):
    storage_path = BACKEND
    url_option = "base_url"

    @pytest.fixture
    def options(self, local_provider):
        return {"providers": {"local": local_provider}, "provider_name": "local"}


def make_s3(server, bucket, **options):
    return LibCloudStorage(
        providers={"s3": s3_entry(server, bucket)}, provider_name="s3", **options
    )


# --- configuration -----------------------------------------------------------------


class TestConfiguration:
    def test_positional_provider_name_and_default_entry(self, s3_provider, local_provider):
        providers = {"default": local_provider, "other": s3_provider}
        with override_settings(LIBCLOUD_PROVIDERS=providers):
            assert LibCloudStorage().bucket == "media"  # "default" when nothing names one
            named = LibCloudStorage("other")  # django-storages' first argument
            assert named.bucket == s3_provider["bucket"]
            assert named.deconstruct() == (BACKEND, ("other",), {})
            with override_settings(DEFAULT_LIBCLOUD_PROVIDER="other"):
                assert LibCloudStorage().bucket == s3_provider["bucket"]

    def test_missing_or_invalid_entries_are_refused(self, local_provider):
        refused = pytest.raises(ImproperlyConfigured, match="LIBCLOUD_PROVIDERS nope not defined")
        with override_settings(LIBCLOUD_PROVIDERS={}), refused:
            LibCloudStorage("nope")
        for bad, message in [
            ({**local_provider, "regoin": "x"}, "has no key 'regoin'"),
            ({**local_provider, "type": "os.system"}, "Invalid module path"),
            ({**local_provider, "type": "libcloud.storage.types.Provider.NOPE"}, "no storage"),
            ({**local_provider, "bucket": ""}, "needs a 'bucket'"),
        ]:
            with pytest.raises(ImproperlyConfigured, match=message):
                LibCloudStorage(providers={"p": bad}, provider_name="p").driver  # noqa: B018

    def test_type_as_provider_value_or_name(self, local_provider):
        from libcloud.storage.types import Provider

        for kind in (Provider.LOCAL, "LOCAL"):
            storage = LibCloudStorage(
                providers={"p": {**local_provider, "type": kind}}, provider_name="p"
            )
            assert storage.save("x.txt", ContentFile(b"x")) == "x.txt"
            storage.delete("x.txt")

    def test_repr_and_driver_errors_mask_the_secret(self, seaweedfs_server, s3_bucket):
        storage = make_s3(seaweedfs_server, s3_bucket)
        assert seaweedfs_server.secret_key not in repr(storage)
        assert "********" in repr(storage)
        entry = {**s3_entry(seaweedfs_server, s3_bucket), "region": "mars-1"}
        with pytest.raises(ImproperlyConfigured, match="mars-1") as info:
            LibCloudStorage(providers={"p": entry}, provider_name="p").driver  # noqa: B018
        assert seaweedfs_server.secret_key not in str(info.value)

    def test_missing_container_is_a_clear_error(self, local_provider):
        # (SeaweedFS makes a bucket on the first PUT into it; the LOCAL driver does not.)
        entry = {**local_provider, "bucket": "no-such-container"}
        storage = LibCloudStorage(providers={"l": entry}, provider_name="l")
        with pytest.raises(LibCloudStorageError, match=r"'no-such-container'.*does not exist"):
            storage.save("x.txt", ContentFile(b"x"))
        with pytest.raises(LibCloudStorageError, match="does not exist"):
            storage.listdir("")

    def test_storage_pickles_without_its_drivers(self, seaweedfs_server, s3_bucket):
        storage = make_s3(seaweedfs_server, s3_bucket)
        storage.save("p.txt", ContentFile(b"p"))
        revived = pickle.loads(pickle.dumps(storage))
        assert "_local" not in revived.__dict__
        assert revived.open("p.txt").read() == b"p"


# --- refused credentials on every public method ----------------------------------------


SECRET = "wrong-secret-Zq8u3-never-shown"


class TestWrongSecret:
    @pytest.fixture
    def bad(self, seaweedfs_server, s3_bucket):
        good = make_s3(seaweedfs_server, s3_bucket)
        good.save("there.txt", ContentFile(b"there"))
        entry = {**s3_entry(seaweedfs_server, s3_bucket), "key": SECRET}
        return LibCloudStorage(providers={"bad": entry}, provider_name="bad")

    @pytest.mark.parametrize(
        "call",
        [
            lambda s: s.save("new.txt", ContentFile(b"n")),
            lambda s: s.save("big.bin", ContentFile(b"b" * (6 * MIB))),
            lambda s: s.open("there.txt"),
            lambda s: s.exists("there.txt"),
            lambda s: s.delete("there.txt"),
            lambda s: s.size("there.txt"),
            lambda s: s.listdir(""),
            lambda s: s.get_modified_time("there.txt"),
            lambda s: s.open("w.txt", "wb").close(),
        ],
        ids=[
            "save",
            "save-multipart",
            "open",
            "exists",
            "delete",
            "size",
            "listdir",
            "mtime",
            "write",
        ],
    )
    def test_clear_error_without_the_secret(self, bad, call, caplog):
        caplog.set_level(logging.DEBUG)
        with pytest.raises(LibCloudStorageError) as info:
            call(bad)
        message = str(info.value)
        assert "refused the credentials" in message
        assert "'bad'" in message and "Amazon S3" in message  # the provider entry and driver
        for text in (message, repr(info.value), repr(bad), caplog.text):
            assert SECRET not in text

    def test_url_is_made_without_a_request_and_refused_by_the_server(self, bad):
        url = bad.url("there.txt")
        assert SECRET not in url
        with pytest.raises(urllib.error.HTTPError) as info:
            urllib.request.urlopen(url, timeout=10)
        assert info.value.code == 403


# --- the two SeaweedFS workarounds -----------------------------------------------------


class TestWorkarounds:
    def test_listing_without_the_version_parameter(self, seaweedfs_server, s3_bucket):
        storage = make_s3(seaweedfs_server, s3_bucket)
        storage.save("d/a.txt", ContentFile(b"a"))
        # Libcloud's own driver, as it signs listings: SeaweedFS refuses them.
        from libcloud.common.types import LibcloudError
        from libcloud.storage.providers import get_driver

        entry = s3_entry(seaweedfs_server, s3_bucket)
        raw = get_driver(entry["type"].rpartition(".")[2].lower())(
            entry["user"], entry["key"], host=entry["host"], port=entry["port"], secure=False
        )
        with pytest.raises(LibcloudError, match="501"):
            list(raw.iterate_container_objects(raw.get_container(s3_bucket)))
        # Ours, on the same driver class: the listing works, object GETs are untouched.
        assert storage.listdir("") == (["d"], [])
        assert storage.listdir("d") == ([], ["a.txt"])
        assert storage.exists("d")
        signer = storage.driver.connection.signer
        assert signer.get_request_params({}, method="GET", path=f"/{s3_bucket}") == {}
        assert "Version" in signer.get_request_params({}, method="GET", path=f"/{s3_bucket}/k")

    def test_presigned_url_signs_the_port(self, seaweedfs_server, s3_bucket):
        storage = make_s3(seaweedfs_server, s3_bucket)
        name = storage.save("dir/file name.txt", ContentFile(b"signed"))
        url = storage.url(name)
        assert url.startswith(seaweedfs_server.endpoint_url + f"/{s3_bucket}/dir/file%20name.txt?")
        assert urllib.request.urlopen(url, timeout=10).read() == b"signed"
        # Libcloud's own URL for the same object signs the host without the port.
        raw = storage.driver.get_object_cdn_url(storage._object("dir/file name.txt"))
        with pytest.raises(urllib.error.HTTPError) as info:
            urllib.request.urlopen(raw, timeout=10)
        assert info.value.code == 403

    def test_presigned_url_on_a_default_port_is_libclouds(self, seaweedfs_server, s3_bucket):
        entry = {**s3_entry(seaweedfs_server, s3_bucket), "port": 443, "secure": True}
        storage = LibCloudStorage(providers={"p": entry}, provider_name="p")
        url = storage.url("a.txt")
        assert url.startswith(f"https://127.0.0.1:443/{s3_bucket}/a.txt?X-Amz-Algorithm=")


# --- names, listings, same-name saves, big files ------------------------------------------

HOSTILE = [
    "a b/c+d.txt",
    "q?x#y.txt",
    "%2e%2e/x.txt",
    "semi;colon&amp=1.txt",
    "ünï/名前 ✓.txt",
    "tilde~/star*.txt",
    "quote'\"s.txt",
]


@pytest.fixture(params=["s3", "local"])
def any_storage(request, seaweedfs_server, local_provider):
    if request.param == "s3":
        return make_s3(seaweedfs_server, request.getfixturevalue("s3_bucket"))
    return LibCloudStorage(providers={"l": local_provider}, provider_name="l")


class TestNamesAndListings:
    def test_hostile_names_round_trip(self, any_storage):
        for name in HOSTILE:
            assert any_storage.save(name, ContentFile(name.encode())) == name
            assert any_storage.open(name).read() == name.encode()
            assert any_storage.exists(name)
            directory, _, file_name = name.rpartition("/")
            assert file_name in any_storage.listdir(directory)[1]
        for name in [*UNSAFE_NAMES, "..", "a/../../b"]:
            with pytest.raises(SuspiciousFileOperation):
                any_storage.save(name, ContentFile(b"x"))
            with pytest.raises(SuspiciousFileOperation):
                any_storage.listdir(name)

    def test_listdir_with_nested_prefixes(self, any_storage, monkeypatch):
        monkeypatch.setattr(s3, "PAGE_SIZE", 2)  # several pages with a delimiter
        for name in [
            "a/x.txt",
            "a/b/y.txt",
            "a/b/c/d.txt",
            "a/b2/z.txt",
            "ab.txt",
            "abc/w.txt",
            "top.txt",
        ]:
            any_storage.save(name, ContentFile(b"."))
        assert any_storage.listdir("") == (["a", "abc"], ["ab.txt", "top.txt"])
        assert any_storage.listdir("a") == (["b", "b2"], ["x.txt"])
        assert any_storage.listdir("a/") == (["b", "b2"], ["x.txt"])
        assert any_storage.listdir("a/b") == (["c"], ["y.txt"])
        assert any_storage.listdir("a/b/c") == ([], ["d.txt"])
        assert any_storage.listdir("nothing") == ([], [])
        assert any_storage.exists("a/b") and not any_storage.exists("a/bx")

    def test_same_name_keeps_both_even_when_the_check_races(
        self, seaweedfs_server, s3_bucket, monkeypatch
    ):
        storage = make_s3(seaweedfs_server, s3_bucket)
        assert storage.save("same.txt", ContentFile(b"one")) == "same.txt"
        big = os.urandom(6 * MIB)
        assert storage.save("big.bin", ContentFile(big)) == "big.bin"
        # Another process's write lands between our check and our write: the
        # create-only PUT (small) and CompleteMultipartUpload (big) refuse it.
        monkeypatch.setattr(type(storage), "_is_taken", lambda self, key: False)
        second = storage.save("same.txt", ContentFile(b"two"))
        again = storage.save("big.bin", ContentFile(b"B" * (6 * MIB)))
        assert second.startswith("same_") and again.startswith("big_")
        assert storage.open("same.txt").read() == b"one"
        assert storage.open(second).read() == b"two"
        assert storage.open("big.bin").read() == big
        assert storage.size(again) == 6 * MIB
        assert sorted(storage.listdir("")[1]) == sorted(["same.txt", second, "big.bin", again])

    def test_concurrent_saves_keep_every_file(self, any_storage):
        def save(index):
            return any_storage.save("race/one.txt", ContentFile(f"writer {index}".encode()))

        names = run_in_threads(save, 8)
        assert len(set(names)) == 8
        assert {any_storage.open(n).read() for n in names} == {
            f"writer {i}".encode() for i in range(8)
        }

    def test_local_saves_from_several_processes_keep_every_file(self, local_provider):
        # The LOCAL driver's name lock is also a lock file: processes saving one
        # name at the same moment never both find it free.
        script = (
            "import json, sys\n"
            "import django\n"
            "from django.conf import settings\n"
            "settings.configure(USE_TZ=True, INSTALLED_APPS=[])\n"
            "django.setup()\n"
            "from django.core.files.base import ContentFile\n"
            "from storages.backends.apache_libcloud import LibCloudStorage\n"
            "entry = json.loads(sys.argv[1])\n"
            "storage = LibCloudStorage(providers={'l': entry}, provider_name='l')\n"
            "storage.exists('warm')\n"
            "sys.stdout.write('ready\\n'); sys.stdout.flush()\n"
            "sys.stdin.readline()  # the start signal, sent to every process at once\n"
            "names = [storage.save('shared.txt', ContentFile(f'{sys.argv[2]}-{i}'.encode()))\n"
            "         for i in range(5)]\n"
            "print(json.dumps(names))\n"
        )
        root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
        children = [
            subprocess.Popen(
                [sys.executable, "-c", script, json.dumps(local_provider), str(index)],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
                cwd=root,
            )
            for index in range(2)
        ]
        try:
            for child in children:
                assert child.stdout.readline().strip() == "ready"
            for child in children:
                child.stdin.write("go\n")
                child.stdin.flush()
            outputs = [child.communicate(timeout=60)[0] for child in children]
        finally:
            for child in children:
                if child.poll() is None:
                    child.kill()
        names = [name for output in outputs for name in json.loads(output)]
        assert len(names) == len(set(names)) == 10
        storage = LibCloudStorage(providers={"l": local_provider}, provider_name="l")
        contents = {storage.open(name).read() for name in names}
        assert contents == {f"{p}-{i}".encode() for p in range(2) for i in range(5)}

    def test_failed_multipart_upload_leaves_nothing(self, seaweedfs_server, s3_bucket):
        storage = make_s3(seaweedfs_server, s3_bucket)

        class FailingLater(io.BytesIO):
            def read(self, size=-1):
                if self.tell() > 6 * MIB:
                    raise OSError("disk went away")
                return super().read(size)

        with pytest.raises(OSError, match="disk went away"):
            storage.save("broken.bin", File(FailingLater(os.urandom(12 * MIB)), name="x"))
        assert not storage.exists("broken.bin")
        uploads = list(storage.driver.ex_iterate_multipart_uploads(storage.container))
        assert uploads == []  # aborted, not left to be billed

    def test_big_file_in_bounded_memory(self, any_storage):
        size = 40 * MIB

        class Generated(io.RawIOBase):  # 40 MiB that never exist in memory at once
            def __init__(self):
                self.left = size

            def readable(self):
                return True

            def readinto(self, buffer):
                count = min(len(buffer), self.left)
                buffer[:count] = b"z" * count
                self.left -= count
                return count

        tracemalloc.start()
        try:
            name = any_storage.save(
                "huge.bin", File(io.BufferedReader(Generated()), name="huge.bin")
            )
            with any_storage.open(name) as handle:
                handle.seek(size - 10)
                assert handle.read() == b"z" * 10
                handle.seek(0)
                total = sum(len(chunk) for chunk in handle.chunks(256 * 1024))
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        assert total == size
        # Libcloud holds about three 5 MiB copies of the part it sends (19 MiB
        # measured, whatever the size); reads hold 1 MiB chunks.
        assert peak < 24 * MIB, peak

    def test_local_url_is_under_media_url(self, local_provider):
        storage = LibCloudStorage(providers={"l": local_provider}, provider_name="l")
        assert storage.url("a b/c.txt") == "/media/a%20b/c.txt"
        with pytest.raises(SuspiciousFileOperation):
            storage.url("../x")


# --- the LOCAL driver: a file appears whole or not at all ---------------------------------


class Halting(io.BytesIO):
    """Content whose read stops half-way: it raises, or waits until ``resume`` is set."""

    def __init__(self, data: bytes, *, fail: bool = False):
        super().__init__(data)
        self.fail = fail
        self.halfway = threading.Event()
        self.resume = threading.Event()

    def read(self, size=-1):
        if self.tell() >= len(self.getbuffer()) // 2 and not self.resume.is_set():
            if self.fail:
                raise OSError("the upload broke off")
            self.halfway.set()
            assert self.resume.wait(30), "never resumed"
        return super().read(size)


def summary(data: bytes) -> tuple[int, str]:
    """What an assertion compares instead of a megabyte (pytest would diff it for minutes)."""
    return len(data), hashlib.sha256(data).hexdigest()


def files_on_disk(root) -> list[str]:
    return sorted(
        os.path.relpath(os.path.join(folder, name), root).replace(os.sep, "/")
        for folder, _dirs, names in os.walk(root)
        for name in names
    )


class TestLocalWritesAppearWhole:
    @pytest.fixture
    def make(self, local_provider):
        def make(**options):
            return LibCloudStorage(providers={"l": local_provider}, provider_name="l", **options)

        return make

    @pytest.fixture
    def container_dir(self, local_provider):
        return os.path.join(local_provider["user"], local_provider["bucket"])

    def test_failed_upload_leaves_the_name_as_it_was(self, make, container_dir):
        storage, overwriting = make(), make(file_overwrite=True)
        storage.save("keep.txt", ContentFile(b"old content"))
        for saver, name in [(overwriting, "keep.txt"), (storage, "new/broken.bin")]:
            broken = File(Halting(os.urandom(MIB), fail=True), name=name)
            with pytest.raises(OSError, match="the upload broke off"):
                saver.save(name, broken)
        assert storage.open("keep.txt").read() == b"old content"
        assert not storage.exists("new/broken.bin") and not storage.exists("new")
        assert files_on_disk(container_dir) == ["keep.txt"]  # no partial, no temporary

    def test_readers_see_the_old_file_or_nothing_during_an_upload(self, make, container_dir):
        storage, overwriting = make(), make(file_overwrite=True)
        old, new = b"o" * MIB, os.urandom(MIB)
        storage.save("doc.txt", ContentFile(old))
        uploads = [(overwriting, "doc.txt", Halting(new)), (storage, "sub/fresh.txt", Halting(new))]
        threads = [
            threading.Thread(target=saver.save, args=(name, File(content, name=name)))
            for saver, name, content in uploads
        ]
        for thread in threads:
            thread.start()
        try:
            for _saver, _name, content in uploads:
                assert content.halfway.wait(30)
            # Both uploads are half-way: readers see the old file, or nothing.
            with storage.open("doc.txt") as reader:
                assert summary(reader.read()) == summary(old)
            assert storage.size("doc.txt") == len(old)
            assert not storage.exists("sub/fresh.txt") and not storage.exists("sub")
            with pytest.raises(FileNotFoundError):
                storage.open("sub/fresh.txt")
            # The temporary files are on disk, and nothing shows them.
            temporaries = [n for n in files_on_disk(container_dir) if n != "doc.txt"]
            assert len(temporaries) == 2, temporaries
            assert storage.listdir("") == ([], ["doc.txt"])
            assert storage.listdir("sub") == ([], [])
            for temporary in temporaries:
                for call in (storage.exists, storage.open, storage.url, storage.listdir):
                    with pytest.raises(SuspiciousFileOperation):
                        call(temporary)
                with pytest.raises(SuspiciousFileOperation):
                    storage.save(temporary, ContentFile(b"x"))
        finally:
            for _saver, _name, content in uploads:
                content.resume.set()
            for thread in threads:
                thread.join(30)
        assert summary(storage.open("doc.txt").read()) == summary(new)
        assert summary(storage.open("sub/fresh.txt").read()) == summary(new)
        assert files_on_disk(container_dir) == ["doc.txt", "sub/fresh.txt"]
