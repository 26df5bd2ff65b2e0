"""Test scenarios several remote backends share, beyond tests/contract.py.

A backend's test class inherits the mixins that apply to it and gives a
``make_storage`` fixture: a callable that builds the backend's storage on a
fresh, empty store, with keyword options on top of the test defaults. Hooks
(plain methods) add the checks only one store can make, on its raw data.
"""

from __future__ import annotations

import logging
import pickle
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import pytest
from django.core.exceptions import SuspiciousFileOperation
from django.core.files.base import ContentFile
from django.core.files.storage import Storage
from django.utils.module_loading import import_string

from tests.concurrency import run_in_threads
from tests.contract import ROOT_NAMES, UNSAFE_NAMES, URL_ATTACKS, StorageContract
from tests.servers.process import ServerProcess


class NamedSettingsContract(StorageContract):
    """The contract, with the options from an ``options`` fixture and, for the
    global-settings style, each option under the setting name ``setting_names`` gives."""

    setting_names: dict[str, str] = {}

    @pytest.fixture
    def backend_options(self, options):
        return options

    @pytest.fixture
    def backend_settings(self, backend_options):
        return {self.setting_names[option]: value for option, value in backend_options.items()}


class StoreHooks:
    """Checks on the store's own records; by default there is nothing more to see."""

    def version(self, storage: Storage, name: str) -> Any:
        """Something that tells one stored version of ``name`` from the next."""
        return None

    def check_newer(self, storage: Storage, name: str, before: Any, writes: int) -> None:
        """``name`` was written ``writes`` times since ``version`` gave ``before``."""

    def check_backing_store(self, storage: Storage, names: list[str]) -> None:
        """The store keeps exactly ``names``, one version each, and nothing stray."""


class PicklingScenario:
    #: The dotted path deconstruct() must give.
    storage_path: str = ""

    def test_deconstructs_and_pickles_without_connections(self, make_storage):
        storage = make_storage()
        storage.save("p.txt", ContentFile(b"p"))
        assert storage.exists("p.txt")  # a live connection now, which must not be pickled
        path, args, kwargs = storage.deconstruct()
        assert path == self.storage_path
        assert import_string(path)(*args, **kwargs).open("p.txt").read() == b"p"
        revived = pickle.loads(pickle.dumps(storage))
        for attribute in storage.transient_attributes:
            assert attribute not in revived.__dict__
        assert revived.open("p.txt").read() == b"p"


class WriteModeScenario:
    def test_open_for_writing_creates_and_replaces(self, make_storage):
        storage = make_storage()
        with storage.open("w/new.txt", "w") as handle:
            handle.write("héllo")
        assert storage.open("w/new.txt").read() == b"h\xc3\xa9llo"
        storage.save("w.txt", ContentFile(b"old"))
        with storage.open("w.txt", "w") as handle:
            handle.write("névé")
        assert storage.open("w.txt", "rb").read() == "névé".encode()
        with storage.open("w.txt", "wb") as handle:
            handle.write(b"new")
        assert storage.open("w.txt").read() == b"new"
        assert storage.listdir("") == (["w"], ["w.txt"])


class OverwriteScenario(StoreHooks):
    #: The option that turns overwriting on.
    overwrite_option: str = "file_overwrite"

    def overwriting(self, make_storage) -> Storage:
        return make_storage(**{self.overwrite_option: True})

    def test_overwrite_option_replaces(self, make_storage):
        storage = self.overwriting(make_storage)
        assert storage.save("o.txt", ContentFile(b"one")) == "o.txt"
        before = self.version(storage, "o.txt")
        assert storage.save("o.txt", ContentFile(b"two")) == "o.txt"
        assert storage.open("o.txt").read() == b"two"
        assert storage.listdir("") == ([], ["o.txt"])
        self.check_newer(storage, "o.txt", before, writes=1)
        self.check_backing_store(storage, ["o.txt"])

    def test_overwriting_save_returns_the_name_stored(self, make_storage):
        storage = self.overwriting(make_storage)
        assert storage.save("n/a//b.txt", ContentFile(b"one")) == "n/a/b.txt"
        assert storage.save("n/a/./b.txt", ContentFile(b"two")) == "n/a/b.txt"
        assert storage.listdir("n/a") == ([], ["b.txt"])
        assert storage.open("n/a/b.txt").read() == b"two"


class ConcurrentOverwriteScenario(OverwriteScenario):
    writers = 6

    def test_concurrent_overwrites_keep_one_file(self, make_storage):
        storage = self.overwriting(make_storage)
        storage.save("race.txt", ContentFile(b"start"))
        before = self.version(storage, "race.txt")

        def save(index: int) -> str:
            return storage.save("race.txt", ContentFile(f"writer {index}".encode()))

        assert run_in_threads(save, self.writers) == ["race.txt"] * self.writers
        written = {f"writer {i}".encode() for i in range(self.writers)}
        assert storage.open("race.txt").read() in written
        assert storage.listdir("") == ([], ["race.txt"])
        # No write was lost on the way, and no version is left over.
        self.check_newer(storage, "race.txt", before, writes=self.writers)
        self.check_backing_store(storage, ["race.txt"])


class SharedByThreadsScenario:
    threads = 6
    steps = 5

    def test_threads_share_the_storage(self, make_storage):
        storage = make_storage()

        def work(index: int) -> None:
            for step in range(self.steps):
                name = storage.save(f"t{index}/{step}.txt", ContentFile(b"x" * step))
                assert storage.size(name) == step
                assert storage.open(name).read() == b"x" * step

        run_in_threads(work, self.threads)


class FailedUploadScenario(StoreHooks):
    def test_failed_upload_leaves_nothing(self, make_storage):
        storage = make_storage()
        storage.save("other.txt", ContentFile(b"o"))

        class Broken(ContentFile):
            def chunks(self, chunk_size=None):
                yield b"x" * 1000
                raise OSError("client went away")

        with pytest.raises(OSError, match="client went away"):
            storage.save("broken.bin", Broken(b""))
        assert not storage.exists("broken.bin")
        assert storage.listdir("") == ([], ["other.txt"])
        self.check_backing_store(storage, ["other.txt"])


class SecretsScenario:
    #: What a refused login raises, and words its message must hold.
    auth_error: type[BaseException] = OSError
    auth_failure_text = ""

    def badly_authenticated(self, make_storage) -> tuple[Storage, list[str]]:
        """A storage whose login fails, and the secrets no message may show."""
        raise NotImplementedError

    def test_secrets_never_shown(self, make_storage, caplog):
        caplog.set_level(logging.DEBUG)
        storage, secrets = self.badly_authenticated(make_storage)
        with pytest.raises(self.auth_error) as info:
            storage.save("s.txt", ContentFile(b"s"))
        good = make_storage()
        with pytest.raises(FileNotFoundError) as missing:
            good.open("nothing-here.txt")
        for text in (str(info.value), repr(storage), repr(good), str(missing.value), caplog.text):
            for secret in secrets:
                assert secret not in text
        assert self.auth_failure_text in str(info.value)


class SeekScenario(StoreHooks):
    #: Options for the storage, e.g. a small chunk size so the seek crosses chunks.
    seek_options: dict[str, Any] = {}
    seek_payload_size = 1_024_000

    def test_seek_reads_from_the_middle(self, make_storage):
        storage = make_storage(**self.seek_options)
        payload = bytes(range(256)) * (self.seek_payload_size // 256)
        name = storage.save("seek.bin", ContentFile(payload))
        middle = len(payload) * 7 // 10
        with storage.open(name) as handle:
            handle.seek(middle)
            assert handle.read(10) == payload[middle : middle + 10]
            handle.seek(3)
            assert handle.read(4) == payload[3:7]
        self.check_backing_store(storage, ["seek.bin"])


class UrlScenario:
    """``url()`` refuses what ``save()`` refuses and never leaves its base."""

    #: The option that gives the URLs' base.
    url_option: str = "base_url"

    def test_url_stays_under_its_base(self, make_storage):
        base = "https://cdn.example.com/media/"
        storage = make_storage(**{self.url_option: base})
        for name in URL_ATTACKS + UNSAFE_NAMES + ROOT_NAMES + ["a/../b.txt", "a/"]:
            with pytest.raises(SuspiciousFileOperation):
                storage.url(name)
        for name in ["a b/c.txt", "a//c.txt", "x:y.txt", "?q#f.txt", "%2e%2e/x", "a\\c.txt"]:
            url = storage.url(name)
            parts = urlsplit(url)
            assert url.startswith(base), url
            assert (parts.scheme, parts.netloc) == ("https", "cdn.example.com"), url
            assert not parts.query and not parts.fragment, url
            assert ".." not in parts.path.split("/"), url
        # A base given without its trailing slash is still a directory, never a host prefix.
        bare = make_storage(**{self.url_option: "https://cdn.example.com"})
        assert urlsplit(bare.url("evil.example/x.exe")).netloc == "cdn.example.com"
        assert bare.url("evil.example/x.exe").endswith("/evil.example/x.exe")


class CommonScenarios(
    UrlScenario,
    SeekScenario,
    PicklingScenario,
    WriteModeScenario,
    ConcurrentOverwriteScenario,
    SharedByThreadsScenario,
    FailedUploadScenario,
):
    """Every scenario above; ``make_storage`` defaults to ``storage_path`` built from
    the module's ``options`` fixture."""

    @pytest.fixture
    def make_storage(self, options):
        return maker(import_string(self.storage_path), options)


def maker(storage_class: type[Storage], options: dict) -> Callable[..., Storage]:
    """A callable building ``storage_class`` from ``options``, keywords on top."""
    return lambda **extra: storage_class(**{**options, **extra})


@dataclass
class OwnServer:
    """A server started for one test, so the test may crash and restart it."""

    process: ServerProcess
    make_storage: Callable[[], Storage]
    #: Stops the server as a crash would; process.kill() unless the server needs more.
    crash: Callable[[], None] | None = None

    def crash_now(self) -> None:
        (self.crash or self.process.kill)()


class ServerLossScenario:
    """Needs an ``own_server`` fixture giving an :class:`OwnServer`."""

    #: The upload's blocks: their size, how many go before the crash, how many after.
    block_size = 64 * 1024
    blocks_before_crash = 1
    blocks_after_crash = 200
    #: The error a save cut short by the crash raises (its message names the file).
    upload_error: type[BaseException] = OSError

    def crashing_content(self, own_server: OwnServer) -> ContentFile:
        scenario = self

        class Crashing(ContentFile):
            def chunks(self, chunk_size=None) -> Iterator[bytes]:
                total = scenario.blocks_before_crash + scenario.blocks_after_crash
                for index in range(total):
                    if index == scenario.blocks_before_crash:
                        own_server.crash_now()  # some of the body is on the wire
                    yield b"c" * scenario.block_size

        return Crashing(b"")

    def test_killed_mid_upload_leaves_nothing_and_reconnects(self, own_server):
        storage = own_server.make_storage()
        # Also leaves an idle connection, which dies with the server.
        assert storage.save("before.txt", ContentFile(b"kept")) == "before.txt"
        with pytest.raises(self.upload_error) as info:
            storage.save("big.bin", self.crashing_content(own_server))
        assert "big.bin" in str(info.value)
        own_server.process.start()
        assert not storage.exists("big.bin")
        assert storage.listdir("") == ([], ["before.txt"])
        assert storage.open("before.txt").read() == b"kept"
        assert storage.save("big.bin", ContentFile(b"works")) == "big.bin"
        assert storage.open("big.bin").read() == b"works"

    def test_dropped_idle_connection_is_replaced(self, own_server):
        storage = own_server.make_storage()
        storage.save("a.txt", ContentFile(b"a"))
        own_server.process.stop()
        own_server.process.start()
        assert storage.exists("a.txt")  # the idle connection died with the server
        assert storage.open("a.txt").read() == b"a"
