"""CouchDBStorage against a real CouchDB-compatible server (npm pouchdb-server)."""

from __future__ import annotations

import io
import logging
import uuid

import pytest
import requests
from django.core.exceptions import ImproperlyConfigured, SuspiciousFileOperation
from django.core.files import File
from django.core.files.base import ContentFile
from django.test import override_settings

from storages.backends.couchdb import CouchDBError, CouchDBStorage
from tests.scenarios import (
    CommonScenarios,
    NamedSettingsContract,
    OwnServer,
    ServerLossScenario,
    maker,
)
from tests.servers.couchdb import pouchdb_server, pouchdb_url
from tests.servers.process import free_port


@pytest.fixture
def database_name(couchdb_url):
    name = f"t{uuid.uuid4().hex[:12]}"
    yield name
    requests.delete(f"{couchdb_url}/{name}", timeout=30)


@pytest.fixture
def options(couchdb_url, database_name):
    return {
        "server": couchdb_url,
        "database": database_name,
        "base_url": "/files/",
        "create_database": True,
    }


@pytest.fixture
def couch(options):
    return maker(CouchDBStorage, options)


def raw_doc(storage: CouchDBStorage, name: str) -> dict:
    response = requests.get(storage._doc_url(name), timeout=30)
    response.raise_for_status()
    return response.json()


class TestCouchDBContract(NamedSettingsContract):
    backend = "storages.backends.couchdb.CouchDBStorage"

    @pytest.fixture
    def backend_settings(self, backend_options):
        # As the original: COUCHDB_DEFAULT_SERVER and COUCHDB_STORAGE_OPTIONS.
        return {
            "COUCHDB_DEFAULT_SERVER": backend_options["server"],
            "COUCHDB_STORAGE_OPTIONS": {"database": backend_options["database"]},
            "COUCHDB_BASE_URL": "/files/",
            "COUCHDB_CREATE_DATABASE": True,
        }


class TestConfiguration:
    def test_storage_options_setting_as_in_the_original(self):
        with override_settings(
            COUCHDB_DEFAULT_SERVER="http://a.example:5984",
            COUCHDB_STORAGE_OPTIONS={"server": "http://b.example:5984", "database": "media"},
        ):
            storage = CouchDBStorage()
            assert (storage.server, storage.database) == ("http://b.example:5984", "media")
            assert CouchDBStorage(database="other").database == "other"
        with override_settings(COUCHDB_STORAGE_OPTIONS={"database": "media"}):
            assert CouchDBStorage().server == "http://couchdb.local:5984"

    def test_unknown_options(self):
        with pytest.raises(ImproperlyConfigured, match="no option 'bucket'"):
            CouchDBStorage(bucket="x")
        with (
            override_settings(COUCHDB_STORAGE_OPTIONS={"db": "x"}),
            pytest.raises(ImproperlyConfigured, match="has no option 'db'"),
        ):
            CouchDBStorage().exists("x")

    def test_missing_database(self):
        with pytest.raises(ImproperlyConfigured, match="needs 'server' and 'database'"):
            CouchDBStorage(server="http://127.0.0.1:1").exists("x")
        assert CouchDBStorage.missing_options({}) == ["database"]

    def test_credentials_in_url_are_taken_out(self):
        storage = CouchDBStorage(server="https://u:pw-in-url@couch.example/", database="m")
        url, auth, where = storage._resolve()
        assert url == "https://couch.example/m"
        assert auth == ("u", "pw-in-url")
        assert "pw-in-url" not in repr(storage) + where + storage.url("a/b.txt")

    def test_url_to_attachment_or_view(self, couch):
        direct = couch(base_url=None)
        url = direct.url("some dir/file.txt")
        assert url.endswith("/some%20dir%2Ffile.txt/content")
        direct.save("some dir/file.txt", ContentFile(b"served"))
        assert requests.get(url, timeout=30).content == b"served"
        assert couch().url("a b/c.txt") == "/files/a%20b/c.txt"


class TestCouchDBBehaviour(CommonScenarios):
    storage_path = "storages.backends.couchdb.CouchDBStorage"

    def version(self, storage, name):
        # A CouchDB revision is "<generation>-<hash>"; each write adds one generation.
        return int(raw_doc(storage, name)["_rev"].split("-")[0])

    def check_newer(self, storage, name, before, writes):
        assert self.version(storage, name) >= before + writes

    def test_document_id_is_the_name_with_one_attachment(self, couch):
        storage = couch()
        name = storage.save("docs/readme.txt", ContentFile(b"hello"))
        doc = raw_doc(storage, name)
        assert doc["_id"] == "docs/readme.txt"
        assert list(doc["_attachments"]) == ["content"]
        assert doc["_attachments"]["content"]["content_type"] == "text/plain"
        assert doc["_attachments"]["content"]["length"] == 5
        assert "modified" in doc
        assert storage.content_type(name) == "text/plain"

    def test_reserved_ids_are_refused(self, couch):
        storage = couch()
        for name in ("_design/x", "_all_docs", "_local/x"):
            with pytest.raises(SuspiciousFileOperation):
                storage.exists(name)
            with pytest.raises(SuspiciousFileOperation):
                storage.save(name, ContentFile(b"x"))

    @pytest.mark.parametrize("name", ["", ".", "a/..", "./", "a/b/../.."])
    def test_root_names_send_no_request(self, couch, name, monkeypatch):
        # delete("") once sent GET of the database URL (its info) and, but for the
        # missing _rev, a DELETE of the database.
        storage = couch()
        storage.save("kept.txt", ContentFile(b"kept"))
        sent = []
        real_request = storage._request

        def counted(method, url, *args, **kwargs):
            sent.append((method, url))
            return real_request(method, url, *args, **kwargs)

        monkeypatch.setattr(storage, "_request", counted)
        for operation in (
            storage.delete,
            storage.open,
            storage.size,
            storage.url,
            storage.get_modified_time,
            storage.content_type,
        ):
            with pytest.raises(SuspiciousFileOperation):
                operation(name)
        with pytest.raises(SuspiciousFileOperation):
            storage.save(name, ContentFile(b"x"))
        assert storage.exists(name) is True
        assert sent == []
        assert storage.listdir("") == ([], ["kept.txt"])
        database_url = storage._resolve()[0]
        assert requests.get(database_url, timeout=30).json()["doc_count"] == 1

    def test_save_after_delete_recreates(self, couch):
        storage = couch()
        storage.save("again.txt", ContentFile(b"one"))
        storage.delete("again.txt")
        assert not storage.exists("again.txt")
        assert storage.save("again.txt", ContentFile(b"two")) == "again.txt"
        assert storage.open("again.txt").read() == b"two"
        assert storage.get_modified_time("again.txt").tzinfo is not None

    def test_listdir_pages_through_all_docs(self, couch, monkeypatch):
        monkeypatch.setattr("storages.backends.couchdb.PAGE", 3)
        storage = couch()
        for index in range(7):
            storage.save(f"many/f{index}.txt", ContentFile(b"x"))
        storage.save("many/sub/deep.txt", ContentFile(b"x"))
        storage.save("many0.txt", ContentFile(b"x"))
        assert storage.listdir("many") == (["sub"], [f"f{i}.txt" for i in range(7)])

    def test_missing_database_without_create(self, couch):
        storage = couch(create_database=False)
        assert not storage.exists("x")
        assert storage.listdir("") == ([], [])
        with pytest.raises(CouchDBError, match="no_db_file"):
            storage.save("x.txt", ContentFile(b"x"))

    def test_upload_cut_short_leaves_nothing(self, couch):
        # The content claims more bytes than it gives: the server sees a short body.
        storage = couch()

        class Short(io.BytesIO):
            def read(self, size=-1):
                data = super().read(size)
                if self.tell() > 300_000:
                    raise OSError("disk went away")
                return data

        content = File(Short(b"s" * 1_000_000))
        with pytest.raises(OSError):
            storage.save("short.bin", content)
        assert not storage.exists("short.bin")


@pytest.fixture
def secured_couch(tmp_path):
    """A server of its own with an admin (CouchDB 1.x rules: only admins create databases)."""
    port = free_port()
    server = pouchdb_server(port).start()
    url = pouchdb_url(port)
    response = requests.put(f"{url}/_config/admins/admin", data='"right-pw"', timeout=30)
    assert response.status_code == 200, response.text
    yield url
    server.stop()


class TestSecrets:
    def test_password_never_in_errors_repr_or_logs(self, secured_couch, caplog):
        secret = "Wr0ng-Secret-pw"
        host = secured_couch.split("://", 1)[1]
        storage = CouchDBStorage(
            server=f"http://admin:{secret}@{host}", database="media", create_database=True
        )
        caplog.set_level(logging.DEBUG)
        with pytest.raises(CouchDBError) as info:
            storage.save("a.txt", ContentFile(b"a"))
        assert "'a.txt'" in str(info.value) and "media" in str(info.value)
        also_with_option = CouchDBStorage(
            server=secured_couch, database="media", username="admin", password=secret
        )
        for text in (str(info.value), repr(storage), repr(also_with_option), caplog.text):
            assert secret not in text

        unreachable = CouchDBStorage(
            server=f"http://admin:{secret}@127.0.0.1:{free_port()}", database="m", timeout=2
        )
        with pytest.raises(CouchDBError) as info:
            unreachable.exists("a.txt")
        assert secret not in str(info.value) and info.value.__cause__ is None

    def test_right_credentials_work(self, secured_couch):
        storage = CouchDBStorage(
            server=secured_couch,
            database="media",
            username="admin",
            password="right-pw",
            create_database=True,
        )
        assert storage.save("a.txt", ContentFile(b"a")) == "a.txt"
        assert storage.open("a.txt").read() == b"a"


class TestServerLoss(ServerLossScenario):
    blocks_before_crash = 4
    blocks_after_crash = 124  # 8 MiB in all
    upload_error = CouchDBError

    @pytest.fixture
    def own_server(self, tmp_path):
        port = free_port()
        (tmp_path / "pouch").mkdir()
        process = pouchdb_server(port, str(tmp_path / "pouch")).start()
        yield OwnServer(
            process,
            lambda: CouchDBStorage(
                server=pouchdb_url(port), database="media", create_database=True, timeout=10
            ),
        )
        process.stop()
