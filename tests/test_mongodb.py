"""GridFSStorage against a real MongoDB wire server (SecantusDB, or MONGODB_TEST_URI)."""

from __future__ import annotations

import logging
import uuid

import pymongo
import pytest
from django.core.exceptions import ImproperlyConfigured
from django.core.files.base import ContentFile
from django.test import override_settings

from storages.backends.mongodb import SET_ASIDE_PREFIX, GridFSError, GridFSStorage
from tests.scenarios import (
    CommonScenarios,
    NamedSettingsContract,
    OwnServer,
    ServerLossScenario,
    maker,
)
from tests.servers.mongodb import secantus_server, secantus_uri
from tests.servers.process import free_port

DATABASE = "storages_tests"
QUICK = {"serverSelectionTimeoutMS": 10000}


@pytest.fixture
def bucket_name(mongodb_uri):
    name = f"b{uuid.uuid4().hex[:12]}"
    yield name
    # A real server given by MONGODB_TEST_URI keeps no test litter.
    client = pymongo.MongoClient(mongodb_uri, **QUICK)
    try:
        for suffix in ("files", "chunks"):
            client[DATABASE].drop_collection(f"{name}.{suffix}")
    finally:
        client.close()


@pytest.fixture
def options(mongodb_uri, bucket_name):
    return {
        "uri": mongodb_uri,
        "database": DATABASE,
        "bucket": bucket_name,
        "base_url": "/files/",
        "client_options": QUICK,
    }


@pytest.fixture
def gridfs(options):
    return maker(GridFSStorage, options)


def files_collection(storage: GridFSStorage):
    files, _bucket = storage._bucket()
    return files


class TestGridFSContract(NamedSettingsContract):
    backend = "storages.backends.mongodb.GridFSStorage"
    setting_names = {
        "uri": "GRIDFS_URI",
        "database": "GRIDFS_DATABASE",
        "bucket": "GRIDFS_BUCKET",
        "base_url": "GRIDFS_BASE_URL",
        "client_options": "GRIDFS_CLIENT_OPTIONS",
    }


# The test overrides DATABASES for an alias no test database uses.
@pytest.mark.filterwarnings("ignore:Overriding setting DATABASES")
class TestConfiguration:
    def test_django_alias_as_in_the_original(self, mongodb_uri, bucket_name):
        databases = {
            "default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"},
            "mongo": {"ENGINE": "django_mongodb_backend", "HOST": mongodb_uri, "NAME": DATABASE},
        }
        with override_settings(
            DATABASES=databases, GRIDFS_DATABASE="mongo", GRIDFS_BUCKET=bucket_name
        ):
            storage = GridFSStorage(base_url="/f/")
            name = storage.save("alias.txt", ContentFile(b"via alias"))
            assert storage.open(name).read() == b"via alias"
        client = pymongo.MongoClient(mongodb_uri, **QUICK)
        assert client[DATABASE][f"{bucket_name}.files"].count_documents({}) == 1

    def test_alias_host_and_port_build_the_uri(self):
        databases = {
            "mongo": {
                "ENGINE": "django_mongodb_backend",
                "HOST": "db.example",
                "PORT": 27018,
                "NAME": "media",
                "USER": "u",
                "PASSWORD": "alias-secret",
            }
        }
        with override_settings(DATABASES=databases):
            storage = GridFSStorage(database="mongo")
            uri, client_kwargs, database, where = storage._resolve()
        assert uri == "mongodb://db.example:27018/"
        assert database == "media"
        assert client_kwargs["password"] == "alias-secret"
        assert "alias-secret" not in repr(storage) + where

    def test_uri_in_gridfs_database(self, mongodb_uri, bucket_name):
        base, _, query = mongodb_uri.partition("?")
        uri = base.rstrip("/") + f"/{DATABASE}" + (f"?{query}" if query else "")
        storage = GridFSStorage(database=uri, bucket=bucket_name, client_options=QUICK)
        assert storage._resolve()[2] == DATABASE
        assert storage.open(storage.save("u.txt", ContentFile(b"u"))).read() == b"u"

    def test_non_mongo_alias_is_refused(self):
        with pytest.raises(ImproperlyConfigured, match="not a MongoDB database"):
            GridFSStorage(database="default").exists("x")

    def test_uri_without_database_is_refused(self):
        with pytest.raises(ImproperlyConfigured, match="needs a database name"):
            GridFSStorage(uri="mongodb://127.0.0.1:1/").exists("x")

    def test_unknown_option(self):
        with pytest.raises(ImproperlyConfigured, match="no option 'bucket_name'"):
            GridFSStorage(bucket_name="x")


class TestGridFSBehaviour(CommonScenarios):
    storage_path = "storages.backends.mongodb.GridFSStorage"

    # Reads are streamed chunk by chunk: the seek test crosses ten of them.
    seek_options = {"chunk_size": 1024}
    seek_payload_size = 10 * 1024

    def check_backing_store(self, storage, names):
        # One files document per name, and exactly the chunks their lengths need.
        files = files_collection(storage)
        docs = list(files.find())
        assert sorted(doc["filename"] for doc in docs) == sorted(names)
        needed = sum(-(-doc["length"] // doc["chunkSize"]) for doc in docs)
        assert files.database[f"{storage.bucket}.chunks"].count_documents({}) == needed

    def test_files_collection_holds_size_type_and_date(self, gridfs):
        storage = gridfs()
        name = storage.save("docs/readme.txt", ContentFile(b"hello"))
        doc = files_collection(storage).find_one({"filename": name})
        assert doc["length"] == 5
        assert doc["metadata"]["contentType"] == "text/plain"
        assert storage.content_type(name) == "text/plain"
        assert storage.size(name) == 5
        assert storage.get_modified_time(name).replace(microsecond=0) == doc["uploadDate"].replace(
            microsecond=0, tzinfo=storage.get_modified_time(name).tzinfo
        )

    def test_unique_index_on_filename(self, gridfs):
        storage = gridfs()
        storage.save("x.txt", ContentFile(b"x"))
        indexes = {ix["name"]: ix for ix in files_collection(storage).list_indexes()}
        assert indexes["storages_filename_unique"]["unique"] is True

    def test_listdir_hides_versions_being_replaced(self, gridfs):
        storage = gridfs()
        storage.save("keep.txt", ContentFile(b"k"))
        files_collection(storage).insert_one(
            {"filename": f"{SET_ASIDE_PREFIX}abc", "length": 0, "chunkSize": 1}
        )
        assert storage.listdir("") == ([], ["keep.txt"])


class TestSecrets:
    def test_password_never_in_errors_repr_or_logs(self, caplog, bucket_name):
        secret = "pw-Sup3rSecret"
        uri = f"mongodb://admin:{secret}@127.0.0.1:{free_port()}/media"
        storage = GridFSStorage(
            uri=uri, bucket=bucket_name, client_options={"serverSelectionTimeoutMS": 300}
        )
        caplog.set_level(logging.DEBUG)
        with pytest.raises(GridFSError) as info:
            storage.save("a.txt", ContentFile(b"a"))
        with pytest.raises(GridFSError) as info2:
            storage.exists("a.txt")
        for text in (str(info.value), str(info2.value), repr(storage), caplog.text):
            assert secret not in text
        with_option = GridFSStorage(uri="mongodb://h/db", client_options={"password": secret})
        assert secret not in repr(with_option)
        assert with_option.client_options == {"password": secret}
        assert "'a.txt'" in str(info2.value) and "media" in str(info2.value)
        assert info.value.__cause__ is None or secret not in str(info.value.__cause__)


class TestServerLoss(ServerLossScenario):
    # GridFS sends chunks in 32 MiB batches: let one batch land first.
    block_size = 1024 * 1024
    blocks_before_crash = 36
    blocks_after_crash = 4
    upload_error = GridFSError

    @pytest.fixture
    def own_server(self, tmp_path, bucket_name):
        port = free_port()
        (tmp_path / "secantus").mkdir()
        process = secantus_server(port, str(tmp_path / "secantus")).start()
        yield OwnServer(
            process,
            lambda: GridFSStorage(
                uri=secantus_uri(port),
                database=DATABASE,
                bucket=bucket_name,
                client_options={"serverSelectionTimeoutMS": 1500},
            ),
            # SIGTERM: SecantusDB loses recent writes on SIGKILL (no journal),
            # which would hide what these tests check.
            crash=process.stop,
        )
        process.stop()
