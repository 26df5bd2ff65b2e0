"""Dropbox backend on our Dropbox API test server (tests/dropbox_api, over HTTPS): the
contract, the shared scenarios, token refresh, refused tokens, hostile names, upload
sessions in bounded memory, dropped connections, concurrent saves and ranged reads.

The contract is configured as django-storages' docs configure Dropbox today (app key,
app secret and refresh token; short-lived tokens), the scenarios with a long-lived
token. The SDK's hosts point at the test server for the whole session (see
tests/servers/dropbox.py); TLS is verified against the session's test CA.
"""

from __future__ import annotations

import io
import logging
import os
import pickle
import tempfile
import time
import tracemalloc
import warnings

import certifi
import pytest
import requests
from django.core.exceptions import ImproperlyConfigured, SuspiciousFileOperation
from django.core.files.base import ContentFile, File
from django.core.files.storage import default_storage
from django.test import override_settings

from storages.backends.dropbox import (
    DropboxAuthError,
    DropboxFile,
    DropBoxStorage,
    DropboxStorage,
    DropBoxStorageException,
    DropboxStorageException,
)
from tests.concurrency import run_in_threads
from tests.scenarios import (
    ConcurrentOverwriteScenario,
    FailedUploadScenario,
    NamedSettingsContract,
    PicklingScenario,
    SecretsScenario,
    SeekScenario,
    SharedByThreadsScenario,
    WriteModeScenario,
    maker,
)

# The SDK's own token-expiry check calls datetime.utcnow(), deprecated on Python 3.12+.
pytestmark = pytest.mark.filterwarnings(
    "ignore:datetime.datetime.utcnow:DeprecationWarning:dropbox.dropbox_client"
)

MIB = 1024 * 1024
#: Upload blocks for tests of upload sessions (the default is 4 MiB).
SMALL_CHUNK = 256 * 1024

SETTING_NAMES = {
    "oauth2_access_token": "DROPBOX_OAUTH2_TOKEN",
    "app_key": "DROPBOX_APP_KEY",
    "app_secret": "DROPBOX_APP_SECRET",
    "oauth2_refresh_token": "DROPBOX_OAUTH2_REFRESH_TOKEN",
    "root_path": "DROPBOX_ROOT_PATH",
    "timeout": "DROPBOX_TIMEOUT",
    "write_mode": "DROPBOX_WRITE_MODE",
}


@pytest.fixture
def options(dropbox_trust):
    """A long-lived token and a folder of its own."""
    return {
        "oauth2_access_token": dropbox_trust.token,
        "root_path": dropbox_trust.new_root(),
        "timeout": 30,
    }


@pytest.fixture
def server(dropbox_trust):
    return dropbox_trust


def files_in(server, storage) -> list[str]:
    """The files under the storage's root, as the server holds them (relative names)."""
    root = storage._root
    return sorted(path[len(root) + 1 :] for path in server.tree(root)["files"])


class TestDropboxContract(NamedSettingsContract):
    backend = "storages.backends.dropbox.DropboxStorage"
    setting_names = SETTING_NAMES
    # Above CHUNK_SIZE (4 MiB): an upload session of three blocks.
    large_size = 9 * MIB + 17

    @pytest.fixture
    def options(self, dropbox_trust):
        # As django-storages' docs set Dropbox up now: an app and its refresh token.
        return {
            "app_key": dropbox_trust.app_key,
            "app_secret": dropbox_trust.app_secret,
            "oauth2_refresh_token": dropbox_trust.refresh_token,
            "root_path": dropbox_trust.new_root(),
            "timeout": 30,
        }

    url_shows_name = False  # temporary links are opaque

    def test_url(self, storage):
        # Dropbox's temporary links are opaque (no name in them): the link must give the
        # file, under its name.
        name = self.save(storage, "some dir/file name.txt", b"x")
        url = storage.url(name)
        assert url.startswith("https://")
        answer = requests.get(url, timeout=10)
        assert answer.status_code == 200 and answer.content == b"x"
        assert "file%20name.txt" in answer.headers["Content-Disposition"]


class TestDropboxBehaviour(
    SeekScenario,
    PicklingScenario,
    WriteModeScenario,
    ConcurrentOverwriteScenario,
    SharedByThreadsScenario,
    FailedUploadScenario,
    SecretsScenario,
):
    storage_path = "storages.backends.dropbox.DropboxStorage"
    overwrite_option = "write_mode"
    auth_error = DropboxAuthError
    auth_failure_text = "invalid_access_token"

    @pytest.fixture
    def make_storage(self, options, server):
        self.server = server
        return maker(DropboxStorage, options)

    def overwriting(self, make_storage):
        return make_storage(write_mode="overwrite")

    def badly_authenticated(self, make_storage):
        wrong = "sl.wrong-token-" + "Zq9" * 20
        return make_storage(oauth2_access_token=wrong), [wrong, self.server.token]

    def version(self, storage, name):
        return storage.client.files_get_metadata(storage._path(name)).rev

    def check_newer(self, storage, name, before, writes):
        stored = self.server.tree(storage._root)["files"][storage._path(name)]
        assert stored["rev"] != before
        assert stored["revisions"] == 1 + writes  # every write landed, none was lost

    def check_backing_store(self, storage, names):
        assert files_in(self.server, storage) == sorted(names)


# --- configuration, as django-storages reads it ---------------------------------------------


class TestConfiguration:
    def test_positional_token_settings_and_aliases(self, options, settings):
        storage = DropboxStorage(options["oauth2_access_token"], root_path=options["root_path"])
        assert storage.oauth2_access_token == options["oauth2_access_token"]
        assert DropBoxStorage is DropboxStorage
        assert DropBoxStorageException is DropboxStorageException
        assert issubclass(DropboxStorageException, OSError)
        settings.DROPBOX_OAUTH2_TOKEN = "abc"
        settings.DROPBOX_ROOT_PATH = "/site/media/"
        settings.DROPBOX_WRITE_MODE = "overwrite"
        configured = DropboxStorage()
        assert (configured.oauth2_access_token, configured._root) == ("abc", "/site/media")
        assert configured.write_mode == "overwrite" and configured.timeout == 100
        assert "abc" not in repr(configured)

    @pytest.mark.parametrize(
        "given",
        [
            {},
            {"oauth2_refresh_token": "r", "app_key": "k"},
            {"oauth2_refresh_token": "r", "app_secret": "s"},
            {"app_key": "k", "app_secret": "s"},
        ],
    )
    def test_incomplete_credentials_are_refused(self, given):
        with pytest.raises(ImproperlyConfigured, match="DROPBOX_OAUTH2_TOKEN"):
            DropboxStorage(**given)

    def test_unknown_write_mode_and_option_are_refused(self):
        with pytest.raises(ImproperlyConfigured, match="DROPBOX_WRITE_MODE"):
            DropboxStorage("t", write_mode="update")
        with pytest.raises(ImproperlyConfigured, match="bucket_name"):
            DropboxStorage("t", bucket_name="x")

    @pytest.mark.parametrize(
        ("root_path", "expected"),
        [("/", ""), ("", ""), ("/a/b/", "/a/b"), ("a//b", "/a/b"), ("/a/./b", "/a/b")],
    )
    def test_root_path_forms(self, root_path, expected):
        storage = DropboxStorage("t", root_path=root_path)
        assert storage._root == expected
        assert storage._path("x/y.txt") == f"{expected}/x/y.txt"

    @pytest.mark.parametrize("root_path", ["/../x", "../x", "/a/../../x", "\\..\\x"])
    def test_root_path_that_escapes_is_refused(self, root_path):
        with pytest.raises(SuspiciousFileOperation):
            DropboxStorage("t", root_path=root_path)

    def test_location_class_attribute_is_the_deprecated_root_path(self, server):
        class Legacy(DropboxStorage):
            location = "/legacy"

        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            storage = Legacy(server.token)
        assert storage._root == "/legacy"
        assert any(issubclass(w.category, DeprecationWarning) for w in caught)

    def test_the_sdk_only_reaches_the_test_server(self, server):
        import dropbox.dropbox_client as sdk

        here = f"127.0.0.1:{server.port}"
        hosts = (sdk.API_HOST, sdk.API_CONTENT_HOST, sdk.API_NOTIFICATION_HOST)
        assert hosts == (here, here, here)
        # OAuth2 refreshes go to the host the SDK bound when it was imported.
        assert sdk.Dropbox.refresh_access_token.__defaults__[0] == here
        client = DropboxStorage(server.token).client
        assert set(client._host_map.values()) == {here}

    def test_picklable_without_the_client(self, options):
        storage = DropboxStorage(**options)
        storage.save("a.txt", ContentFile(b"a"))
        revived = pickle.loads(pickle.dumps(storage))
        assert "_client" not in revived.__dict__
        assert revived.open("a.txt").read() == b"a"


# --- tokens ----------------------------------------------------------------------------------


class TestTokens:
    def test_refresh_token_gets_a_token_and_renews_it_before_expiry(self, server, options):
        app = server.new_app(lifetime=301)  # the SDK renews within 300 s of expiry
        storage = DropboxStorage(root_path=options["root_path"], **app)
        key = app["app_key"]
        assert storage.save("t.txt", ContentFile(b"t")) == "t.txt"
        assert server.stats()["tokens"].get(f"grants:{key}") == 1
        assert storage.exists("t.txt")
        assert server.stats()["tokens"].get(f"grants:{key}") == 1  # reused while fresh
        time.sleep(1.1)  # the token is now within 300 s of its expiry, for the client
        assert storage.open("t.txt").read() == b"t"
        stats = server.stats()["tokens"]
        assert stats.get(f"grants:{key}") == 2
        assert stats.get(f"refused_expired:{key}", 0) == 0  # renewed before, never refused

    def test_token_expired_early_is_refreshed_and_the_call_retried(self, server, options):
        app = server.new_app()
        storage = DropboxStorage(root_path=options["root_path"], **app)
        storage.save("e.txt", ContentFile(b"e"))
        assert server.control("expire", {"app": app["app_key"]})["expired"] == 1
        assert storage.open("e.txt").read() == b"e"
        stats = server.stats()["tokens"]
        assert stats.get(f"refused_expired:{app['app_key']}") == 1
        assert stats.get(f"grants:{app['app_key']}") == 2

    def test_threads_share_one_refresh(self, server, options):
        app = server.new_app()
        storage = DropboxStorage(root_path=options["root_path"], **app)
        run_in_threads(lambda i: storage.save(f"r{i}.txt", ContentFile(b"r")), 6)
        assert server.stats()["tokens"].get(f"grants:{app['app_key']}") == 1

    def test_expired_long_lived_token_is_a_clear_error(self, server, options):
        token = "sl.short-" + os.urandom(12).hex()
        server.control("tokens", {"token": token})
        storage = DropboxStorage(token, root_path=options["root_path"])
        storage.save("x.txt", ContentFile(b"x"))
        server.control("expire", {"token": token})
        with pytest.raises(DropboxAuthError, match="expired_access_token") as info:
            storage.open("x.txt")
        assert token not in str(info.value) and "x.txt" in str(info.value)

    @pytest.mark.parametrize("wrong", ["app_secret", "oauth2_refresh_token", "app_key"])
    def test_refused_refresh_shows_no_secret(self, server, options, wrong, caplog):
        caplog.set_level(logging.DEBUG)
        app = server.new_app()
        app[wrong] = "not-the-" + os.urandom(8).hex()
        storage = DropboxStorage(root_path=options["root_path"], **app)
        with pytest.raises(OSError) as info:
            storage.save("s.txt", ContentFile(b"s"))
        assert "s.txt" in str(info.value)
        for secret in (app["app_secret"], app["oauth2_refresh_token"]):
            assert secret not in str(info.value) and secret not in caplog.text
            assert secret not in repr(storage)

    def test_wrong_token_on_every_public_method(self, server, options, caplog):
        caplog.set_level(logging.DEBUG)
        good = DropboxStorage(**options)
        good.save("here.txt", ContentFile(b"here"))
        wrong = "sl.not-a-token-" + os.urandom(16).hex()
        storage = DropboxStorage(**{**options, "oauth2_access_token": wrong})
        calls = {
            "save": lambda: storage.save("new.txt", ContentFile(b"n")),
            "open": lambda: storage.open("here.txt"),
            "exists": lambda: storage.exists("here.txt"),
            "listdir": lambda: storage.listdir(""),
            "size": lambda: storage.size("here.txt"),
            "url": lambda: storage.url("here.txt"),
            "delete": lambda: storage.delete("here.txt"),
            "modified": lambda: storage.get_modified_time("here.txt"),
            "write": lambda: storage.open("w.txt", "wb").close(),
        }
        for method, call in calls.items():
            with pytest.raises(DropboxAuthError, match="invalid_access_token") as info:
                call()
            assert wrong not in str(info.value), method
            assert "dropbox:" + options["root_path"] in str(info.value), method
        assert wrong not in repr(storage) and wrong not in caplog.text
        assert files_in(server, good) == ["here.txt"]


# --- names ----------------------------------------------------------------------------------


class TestNames:
    def test_case_insensitive_names_keep_both_files(self, server, options):
        storage = DropboxStorage(**options)
        assert storage.save("Dir/Report.txt", ContentFile(b"one")) == "Dir/Report.txt"
        second = storage.save("dir/REPORT.TXT", ContentFile(b"two"))
        assert second.lower() != "dir/report.txt" and second.startswith("dir/REPORT_")
        assert storage.open("dir/report.txt").read() == b"one"
        assert storage.open(second).read() == b"two"
        assert storage.listdir("DIR")[1] == sorted(["Report.txt", second.split("/")[1]])

    def test_same_content_under_a_taken_name_is_a_second_file(self, server, options):
        storage = DropboxStorage(**options)
        first = storage.save("same.txt", ContentFile(b"same"))
        second = storage.save("same.txt", ContentFile(b"same"))  # Dropbox would merge them
        assert first != second
        storage.delete(first)
        assert storage.open(second).read() == b"same"

    def test_taken_name_is_retried_without_sending_the_data_again(self, server, options):
        storage = DropboxStorage(**options)
        storage.CHUNK_SIZE = SMALL_CHUNK
        storage.save("big.bin", ContentFile(b"a" * (2 * SMALL_CHUNK + 5)))
        storage.save("small.txt", ContentFile(b"a"))
        before = server.stats()["routes"]
        big = storage.save("big.bin", ContentFile(b"b" * (2 * SMALL_CHUNK + 5)))
        small = storage.save("small.txt", ContentFile(b"b"))
        after = server.stats()["routes"]
        sent = {route: after.get(route, 0) - before.get(route, 0) for route in after}
        # One upload each; the refused commit is finished again, empty, under the new name.
        assert sent["files/upload"] == 1
        assert sent["files/upload_session/start"] == 1
        assert sent["files/upload_session/append_v2"] == 1
        assert sent["files/upload_session/finish"] == 2 + 1
        assert storage.open(big).read() == b"b" * (2 * SMALL_CHUNK + 5)
        assert storage.open(small).read() == b"b"

    def test_names_dropbox_refuses_store_nothing(self, server, options):
        storage = DropboxStorage(**options)
        with pytest.raises(DropboxStorageException, match="disallowed_name") as info:
            storage.save("sub/desktop.ini", ContentFile(b"x"))
        assert "desktop.ini" in str(info.value)
        assert files_in(server, storage) == []

    def test_a_file_in_the_way_of_a_folder_is_an_error(self, server, options):
        storage = DropboxStorage(**options)
        storage.save("plain", ContentFile(b"file"))
        with pytest.raises(FileExistsError, match=r"plain/inner\.txt"):
            storage.save("plain/inner.txt", ContentFile(b"x"))
        # A folder in the way of a file: the file gets the next name.
        storage.save("folder/x.txt", ContentFile(b"x"))
        name = storage.save("folder", ContentFile(b"f"))
        assert name.startswith("folder_") and storage.open(name).read() == b"f"

    @pytest.mark.parametrize(
        "name", ["a:b?c*d|e.txt", 'q"<>.txt', "trailing space .txt", "%2e%2e/x"]
    )
    def test_unusual_names_round_trip(self, options, name):
        storage = DropboxStorage(**options)
        stored = storage.save(name, ContentFile(b"u"))
        assert stored == name and storage.open(stored).read() == b"u"

    def test_names_stay_under_the_root_path(self, server, options):
        outside = DropboxStorage(**{**options, "root_path": options["root_path"] + "-sibling"})
        outside.save("secret.txt", ContentFile(b"s"))
        storage = DropboxStorage(**{**options, "root_path": options["root_path"] + "/media"})
        for name in ["../../" + options["root_path"][1:] + "-sibling/secret.txt", "../x", "/x"]:
            for call in (storage.open, storage.exists, storage.delete, storage.size, storage.url):
                with pytest.raises(SuspiciousFileOperation):
                    call(name)
            with pytest.raises(SuspiciousFileOperation):
                storage.listdir(name.rsplit("/", 1)[0] or "/x")
        assert outside.exists("secret.txt")


# --- uploads ---------------------------------------------------------------------------------


class TestUploads:
    def test_chunked_upload_from_disk_in_bounded_memory(self, server, options):
        storage = DropboxStorage(**options)
        storage.CHUNK_SIZE = MIB
        size = 12 * MIB + 3
        with tempfile.TemporaryFile() as disk:
            for _ in range(12):
                disk.write(os.urandom(MIB))
            disk.write(b"end")
            disk.flush()
            before = server.stats()["routes"]
            tracemalloc.start()
            try:
                name = storage.save("big/disk.bin", File(disk, name="disk.bin"))
                peak = tracemalloc.get_traced_memory()[1]
            finally:
                tracemalloc.stop()
            after = server.stats()["routes"]
            assert name == "big/disk.bin" and storage.size(name) == size
            assert peak < 2.5 * MIB, f"peak {peak / MIB:.1f} MiB for a {size / MIB:.0f} MiB file"
            sent = {route: after.get(route, 0) - before.get(route, 0) for route in after}
            assert sent.get("files/upload", 0) == 0
            assert sent["files/upload_session/start"] == 1
            assert sent["files/upload_session/append_v2"] == 11
            assert sent["files/upload_session/finish"] == 1
            disk.seek(0)
            with storage.open(name) as handle:
                while chunk := handle.read(MIB):
                    assert chunk == disk.read(len(chunk))

    def test_one_pass_stream_is_uploaded(self, options):
        storage = DropboxStorage(**options)
        storage.CHUNK_SIZE = SMALL_CHUNK

        class OnePass(io.RawIOBase):
            def __init__(self):
                self.left = 3 * SMALL_CHUNK + 1

            def readable(self):
                return True

            def readinto(self, buffer):
                count = min(len(buffer), self.left)
                buffer[:count] = b"s" * count
                self.left -= count
                return count

        name = storage.save("stream.bin", File(io.BufferedReader(OnePass()), name="stream.bin"))
        assert storage.size(name) == 3 * SMALL_CHUNK + 1

    @pytest.mark.parametrize(
        ("route", "size"),
        [
            ("files/upload", 200_000),
            ("files/upload_session/append_v2", 2 * SMALL_CHUNK + 7),
            ("files/upload_session/finish", 2 * SMALL_CHUNK + 7),
        ],
    )
    def test_connection_dropped_mid_upload_leaves_nothing(self, server, options, route, size):
        storage = DropboxStorage(**options)
        storage.CHUNK_SIZE = SMALL_CHUNK
        storage.save("kept.txt", ContentFile(b"kept"))
        server.fault(route, after_bytes=100_000)
        with pytest.raises(DropboxStorageException) as info:
            storage.save("cut.bin", ContentFile(os.urandom(size)))
        assert "cut.bin" in str(info.value)
        assert not storage.exists("cut.bin")
        assert files_in(server, storage) == ["kept.txt"]
        # The dropped connection is replaced: the next save works.
        assert storage.save("cut.bin", ContentFile(b"whole")) == "cut.bin"
        assert storage.open("cut.bin").read() == b"whole"

    def test_concurrent_chunked_saves_of_one_name_keep_every_file(self, server, options):
        storage = DropboxStorage(**options)
        storage.CHUNK_SIZE = SMALL_CHUNK
        payloads = [bytes([65 + i]) * (2 * SMALL_CHUNK + i) for i in range(4)]
        names = run_in_threads(lambda i: storage.save("race.bin", ContentFile(payloads[i])), 4)
        assert len(set(names)) == 4 and "race.bin" in names
        assert sorted(storage.open(n).read() for n in names) == sorted(payloads)
        assert files_in(server, storage) == sorted(names)

    def test_overwrite_mode_replaces_chunked_uploads(self, server, options):
        storage = DropboxStorage(**options, write_mode="overwrite")
        storage.CHUNK_SIZE = SMALL_CHUNK
        storage.save("o.bin", ContentFile(b"1" * (2 * SMALL_CHUNK)))
        assert storage.save("o.bin", ContentFile(b"2" * (2 * SMALL_CHUNK + 1))) == "o.bin"
        assert storage.open("o.bin").read() == b"2" * (2 * SMALL_CHUNK + 1)
        assert files_in(server, storage) == ["o.bin"]

    def test_exclusive_open_refuses_a_taken_name(self, options):
        storage = DropboxStorage(**options)
        storage.save("x.txt", ContentFile(b"x"))
        handle = storage.open("x.txt", "xb")
        handle.write(b"y")
        with pytest.raises(FileExistsError):
            handle.close()
        assert storage.open("x.txt").read() == b"x"


# --- reads and links --------------------------------------------------------------------------


class TestReads:
    def test_seeks_read_ranges_of_the_revision_opened(self, server, options):
        storage = DropboxStorage(**options, write_mode="overwrite")
        payload = bytes(range(256)) * 8192  # 2 MiB
        storage.save("r.bin", ContentFile(payload))
        before = server.stats()["routes"].get("files/download", 0)
        with storage.open("r.bin") as handle:
            assert handle.read(5) == payload[:5]
            storage.save("r.bin", ContentFile(b"replaced"))  # a new revision meanwhile
            handle.seek(1_500_000)
            assert handle.read(7) == payload[1_500_000:1_500_007]
            handle.seek(10)
            assert handle.read(3) == payload[10:13]
        # The opening download, then one ranged download per seek.
        assert server.stats()["routes"]["files/download"] - before == 3
        assert storage.open("r.bin").read() == b"replaced"

    def test_download_cut_short_resumes_with_a_range(self, server, options):
        storage = DropboxStorage(**options)
        payload = os.urandom(MIB)
        storage.save("cut.bin", ContentFile(payload))
        before = server.stats()["routes"].get("files/download", 0)
        server.fault("files/download", after_bytes=300_000)
        with storage.open("cut.bin") as handle:
            assert handle.read() == payload
        # The download that dropped, then one range of the same revision from the break.
        assert server.stats()["routes"]["files/download"] - before == 2
        server.fault("files/download", after_bytes=1000, times=3)
        with pytest.raises(OSError, match=r"cut\.bin"), storage.open("cut.bin") as handle:
            handle.read()  # the first download and both retries drop: an error, named

    def test_text_modes_and_reopen(self, options):
        storage = DropboxStorage(**options)
        storage.save("t.txt", ContentFile("héllo\nwörld\n".encode()))
        handle = storage.open("t.txt", "r")
        assert isinstance(handle, DropboxFile) and handle.readline() == "héllo\n"
        handle.close()
        handle.open("rb")
        assert handle.read() == "héllo\nwörld\n".encode()
        assert handle.metadata.size == len("héllo\nwörld\n".encode())

    def test_folders_and_missing_files(self, options):
        storage = DropboxStorage(**options)
        storage.save("d/f.txt", ContentFile(b"f"))
        assert storage.exists("d") and not storage.exists("e")
        with pytest.raises(DropboxStorageException, match="folder"):
            storage.size("d")
        with pytest.raises(FileNotFoundError):
            storage.url("missing.txt")
        with pytest.raises(FileNotFoundError):
            storage.listdir("missing")
        with pytest.raises(FileNotFoundError):
            storage.get_modified_time("missing.txt")

    def test_listing_over_several_pages(self, server, options):
        storage = DropboxStorage(**options)  # the test server pages every 25 entries
        run_in_threads(lambda i: storage.save(f"many/{i:02}.txt", ContentFile(b"m")), 8)
        for i in range(8, 30):
            storage.save(f"many/{i:02}.txt", ContentFile(b"m"))
        assert storage.listdir("many") == ([], [f"{i:02}.txt" for i in range(30)])

    def test_list_stored_is_one_paged_listing(self, server, options):
        storage = DropboxStorage(**options)
        names = [f"static/{d}/f{i}.css" for d in ("a", "B") for i in range(12)]

        def save_some(thread: int) -> None:
            for name in names[thread::4]:
                storage.save(name, ContentFile(b"x" * names.index(name)))

        run_in_threads(save_some, 4)
        before = server.stats()["routes"]
        stored = {name: (size, moment) for name, size, moment, _hash in storage.list_stored()}
        after = server.stats()["routes"]
        assert sorted(stored) == sorted(names)
        assert all(stored[n][0] == names.index(n) for n in names)
        assert all(moment.tzinfo is not None for _size, moment in stored.values())
        # 24 files and 3 folders, 25 entries a page: one listing and one continuation.
        assert after["files/list_folder"] - before.get("files/list_folder", 0) == 1
        assert (
            after["files/list_folder/continue"] - before.get("files/list_folder/continue", 0) == 1
        )
        empty = DropboxStorage(**{**options, "root_path": server.new_root()})
        assert list(empty.list_stored()) == []

    def test_temporary_link_gives_the_file(self, options):
        storage = DropboxStorage(**options)
        name = storage.save("ünï/link me.txt", ContentFile(b"linked"))
        answer = requests.get(storage.url(name), headers={"Range": "bytes=2-"}, timeout=10)
        assert answer.status_code == 206 and answer.content == b"nked"

    def test_trust_is_the_ca_bundle_only(self, server, options, monkeypatch):
        # Without the test CA the server's certificate is refused (verification is on).
        monkeypatch.setenv("REQUESTS_CA_BUNDLE", certifi.where())
        with pytest.raises(DropboxStorageException, match=r"SSLError.*certificate verify failed"):
            DropboxStorage(**options).exists("x.txt")
        # DROPBOX_CA_CERTS is trusted even with REQUESTS_CA_BUNDLE set to another bundle.
        pinned = DropboxStorage(**options, ca_certs=str(server.pki.ca_cert))
        assert pinned.save("pinned.txt", ContentFile(b"p")) == "pinned.txt"
        with override_settings(DROPBOX_CA_CERTS=str(server.pki.ca_cert)):
            assert DropboxStorage(**options).exists("pinned.txt")

    def test_default_storage_through_global_settings(self, server, options):
        with override_settings(
            STORAGES={
                "default": {"BACKEND": "storages.backends.dropbox.DropboxStorage"},
                "staticfiles": {"BACKEND": "storages.backends.dropbox.DropboxStorage"},
            },
            DROPBOX_OAUTH2_TOKEN=server.token,
            DROPBOX_ROOT_PATH=options["root_path"],
        ):
            assert default_storage.save("g.txt", ContentFile(b"g")) == "g.txt"
            assert default_storage.open("g.txt").read() == b"g"


# --- collectstatic ---------------------------------------------------------------------------


class TestCollectstatic:
    def collect(self, options, static_dir):
        from django.core.management import call_command

        overrides = override_settings(
            STORAGES={
                "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
                "staticfiles": {
                    "BACKEND": "storages.backends.dropbox.DropboxStorage",
                    "OPTIONS": {**options, "write_mode": "overwrite"},
                },
            },
            STATICFILES_DIRS=[str(static_dir)],
            STATICFILES_FINDERS=["django.contrib.staticfiles.finders.FileSystemFinder"],
        )
        with overrides:
            out = io.StringIO()
            call_command("collectstatic", interactive=False, verbosity=1, stdout=out)
            return out.getvalue()

    def test_unchanged_rerun_is_one_listing(self, server, options, tmp_path):
        for name in ("css/site.css", "img/logo.png", "app.js"):
            (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
            (tmp_path / name).write_text(f"/* {name} */\n")
        assert "3 static files copied." in self.collect(options, tmp_path)
        before = server.stats()["routes"]
        assert "0 static files copied, 3 unmodified." in self.collect(options, tmp_path)
        after = server.stats()["routes"]
        sent = {route: n - before.get(route, 0) for route, n in after.items()}
        assert {route: n for route, n in sent.items() if n} == {"files/list_folder": 1}
        later = time.time() + 60
        (tmp_path / "app.js").write_text("/* changed */\n")
        os.utime(tmp_path / "app.js", (later, later))
        assert "1 static file copied, 2 unmodified." in self.collect(options, tmp_path)
        storage = DropboxStorage(**options)
        assert storage.open("app.js").read() == b"/* changed */\n"
        assert files_in(server, storage) == ["app.js", "css/site.css", "img/logo.png"]
