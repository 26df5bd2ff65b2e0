"""DatabaseStorage against the contract on SQLite, PostgreSQL and MariaDB (Django and ODBC)."""

from __future__ import annotations

import gc
import hashlib
import io
import logging
import os
import pickle
import threading
import time
import tracemalloc

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.core.files import File
from django.core.files.base import ContentFile
from django.core.management import CommandError, call_command

from storages.backends.database import BlobChangedError, DatabaseStorage, DatabaseStorageError
from tests.contract import StorageContract
from tests.servers.databases import add_django_database, unique_name
from tests.servers.process import free_port

BASE_URL = "/dbfiles/"
MiB = 1024 * 1024
ALIAS = "dbfiles"


def sqlite_odbc(path) -> str:
    return f"DRIVER={{SQLite3}};Database={path};Timeout=30000"


def sqlite_django(path) -> dict:
    return {"ENGINE": "django.db.backends.sqlite3", "NAME": str(path), "OPTIONS": {"timeout": 30}}


class DatabaseContract(StorageContract):
    backend = "storages.backends.database.DatabaseStorage"
    overwrites = True
    # Small chunks, so the contract's large file is written by appends and read by parts.
    extra_options: dict = {"write_chunk_size": 2 * 1024 * 1024, "chunk_size": 512 * 1024}

    @pytest.fixture
    def connection_options(self, request, tmp_path):
        raise NotImplementedError

    @pytest.fixture
    def backend_options(self, connection_options, django_db_blocker):
        options = {
            **connection_options,
            "db_table": unique_name(),
            "base_url": BASE_URL,
            **self.extra_options,
        }
        with django_db_blocker.unblock():
            storage = DatabaseStorage(**options)
            storage.create_table()
            yield options
            storage.drop_table()
            storage.connector.close()

    @pytest.fixture
    def backend_settings(self, backend_options):
        db_files = {k: v for k, v in backend_options.items() if k != "base_url"}
        return {"DB_FILES": db_files, "DB_FILES_URL": backend_options["base_url"]}


class TestSQLiteDjango(DatabaseContract):
    @pytest.fixture
    def connection_options(self, tmp_path):
        with add_django_database(ALIAS, sqlite_django(tmp_path / "files.sqlite3")):
            yield {"database": ALIAS}


class TestSQLiteDjangoNewNames(TestSQLiteDjango):
    overwrites = False
    extra_options = {**DatabaseContract.extra_options, "file_overwrite": False}


class TestPostgreSQLDjango(DatabaseContract):
    @pytest.fixture
    def connection_options(self, postgres_server):
        with add_django_database(ALIAS, postgres_server.django_settings()):
            yield {"database": ALIAS}


class TestMariaDBDjango(DatabaseContract):
    @pytest.fixture
    def connection_options(self, mariadb_server):
        with add_django_database(ALIAS, mariadb_server.django_settings()):
            yield {"database": ALIAS}


class TestMariaDBDjangoNewNames(TestMariaDBDjango):
    overwrites = False
    extra_options = {**DatabaseContract.extra_options, "file_overwrite": False}


class TestSQLiteOdbc(DatabaseContract):
    @pytest.fixture
    def connection_options(self, tmp_path):
        return {"connection_string": sqlite_odbc(tmp_path / "files.sqlite3")}


class TestPostgreSQLOdbc(DatabaseContract):
    @pytest.fixture
    def connection_options(self, postgres_server):
        return {"connection_string": postgres_server.odbc()}


class TestPostgreSQLOdbcNewNames(TestPostgreSQLOdbc):
    overwrites = False
    extra_options = {**DatabaseContract.extra_options, "file_overwrite": False}


class TestMariaDBOdbc(DatabaseContract):
    @pytest.fixture
    def connection_options(self, mariadb_server):
        return {"connection_string": mariadb_server.odbc()}


# Backend-specific behaviour, on every database and both ways of connecting.
KINDS = ["sqlite-django", "postgresql-django", "mariadb-django"]
KINDS += ["sqlite-odbc", "postgresql-odbc", "mariadb-odbc"]


@pytest.fixture(params=KINDS)
def kind(request):
    return request.param


@pytest.fixture
def connection_for(kind, request, tmp_path):
    """Connection options for ``kind`` (registering a Django alias while the test runs)."""
    vendor, via = kind.split("-")
    fixture = {"postgresql": "postgres_server", "mariadb": "mariadb_server"}.get(vendor)
    server = request.getfixturevalue(fixture) if fixture else None
    if via == "odbc":
        yield {
            "connection_string": sqlite_odbc(tmp_path / "f.sqlite3")
            if server is None
            else server.odbc()
        }
        return
    settings_dict = (
        sqlite_django(tmp_path / "f.sqlite3") if server is None else (server.django_settings())
    )
    with add_django_database(ALIAS, settings_dict):
        yield {"database": ALIAS}


@pytest.fixture
def make_storage(connection_for, django_db_blocker):
    """Build DatabaseStorages on fresh tables; drop them afterwards."""
    made: list[DatabaseStorage] = []

    def make(**options) -> DatabaseStorage:
        options = {**connection_for, "db_table": unique_name(), "base_url": BASE_URL, **options}
        storage = DatabaseStorage(**options)
        storage.create_table()
        made.append(storage)
        return storage

    with django_db_blocker.unblock():
        yield make
        for storage in made:
            storage.drop_table()
            storage.connector.close()


class FailingContent(ContentFile):
    """Content whose reading breaks after two chunks, like a dropped upload."""

    def chunks(self, chunk_size=None):
        yield b"a" * 70_000
        yield b"b" * 70_000
        raise OSError("connection reset by peer")


INJECTIONS = [
    "x'; DROP TABLE files; --.txt",
    'a" OR "1"="1.txt',
    "b` OR 1=1; --.txt",
    "c''); DELETE FROM files; --.txt",
    "100%_off!.txt",
    "semi;colon/and ? mark %s.txt",
]


class TestDatabaseStorage:
    def test_names_with_sql_in_them_are_just_names(self, make_storage):
        storage = make_storage()
        for index, name in enumerate(INJECTIONS):
            assert storage.save(name, ContentFile(f"body {index}".encode())) == name
        for index, name in enumerate(INJECTIONS):
            assert storage.exists(name)
            assert storage.open(name).read() == f"body {index}".encode()
        assert sorted(storage.listdir("")[1]) == sorted(n for n in INJECTIONS if "/" not in n)
        assert storage.listdir("semi;colon")[1] == ["and ? mark %s.txt"]
        # LIKE wildcards in a directory name match only themselves.
        storage.save("a%/one.txt", ContentFile(b"1"))
        storage.save("ab/two.txt", ContentFile(b"2"))
        storage.save("a_/three.txt", ContentFile(b"3"))
        assert storage.listdir("a%") == ([], ["one.txt"])
        assert storage.listdir("a_") == ([], ["three.txt"])
        assert not storage.exists("%")
        storage.delete("%")
        assert storage.exists("ab/two.txt")

    def test_failure_in_the_middle_of_a_save_leaves_the_old_state(self, make_storage):
        storage = make_storage(write_chunk_size=64 * 1024)
        storage.save("doc.bin", ContentFile(b"old content"))
        with pytest.raises(OSError, match="connection reset"):
            storage.save("doc.bin", FailingContent(b"", name="doc.bin"))
        assert storage.open("doc.bin").read() == b"old content"
        assert storage.size("doc.bin") == len(b"old content")
        with pytest.raises(OSError, match="connection reset"):
            storage.save("new.bin", FailingContent(b"", name="new.bin"))
        assert not storage.exists("new.bin")
        assert storage.listdir("")[1] == ["doc.bin"]

    def test_failure_without_overwrite_leaves_nothing(self, make_storage):
        storage = make_storage(write_chunk_size=64 * 1024, file_overwrite=False)
        storage.save("doc.bin", ContentFile(b"old"))
        with pytest.raises(OSError, match="connection reset"):
            storage.save("doc.bin", FailingContent(b"", name="doc.bin"))
        assert storage.listdir("")[1] == ["doc.bin"]
        assert storage.open("doc.bin").read() == b"old"

    def test_ranged_reads_fetch_only_the_part(self, make_storage):
        storage = make_storage(chunk_size=64 * 1024, write_chunk_size=256 * 1024)
        payload = os.urandom(1024 * 1024 + 17)
        storage.save("big.bin", ContentFile(payload))
        assert storage.read_range("big.bin", 1000, 10) == payload[1000:1010]
        with storage.open("big.bin") as handle:
            handle.seek(700_000)
            assert handle.read(100) == payload[700_000:700_100]
            handle.seek(-5, os.SEEK_END)
            assert handle.read() == payload[-5:]
            handle.seek(0)
            assert handle.read() == payload
        assert storage.size("big.bin") == len(payload)

    def test_replacement_while_reading_is_detected(self, make_storage):
        storage = make_storage(chunk_size=64 * 1024)
        storage.save("v.bin", ContentFile(b"1" * 200_000))
        handle = storage.open("v.bin")
        assert handle.read(10) == b"1" * 10
        time.sleep(0.002)  # the modification time is in microseconds
        storage.save("v.bin", ContentFile(b"2" * 300_000))
        with pytest.raises(BlobChangedError, match="replaced"):
            handle.read()
        handle.close()

    def test_exclusive_mode_refuses_an_existing_name(self, make_storage):
        storage = make_storage()
        with storage.open("x.txt", "xb") as handle:
            handle.write(b"first")
        with pytest.raises(FileExistsError), storage.open("x.txt", "xb") as handle:
            handle.write(b"second")
        assert storage.open("x.txt").read() == b"first"
        with storage.open("x.txt", "wb") as handle:
            handle.write(b"replaced")
        assert storage.open("x.txt").read() == b"replaced"

    def test_unclosed_writer_stores_nothing(self, make_storage):
        storage = make_storage()
        handle = storage.open("dropped.txt", "w")
        handle.write("half")
        del handle
        gc.collect()
        assert not storage.exists("dropped.txt")

    def test_open_modes_that_cannot_work_are_refused(self, make_storage):
        storage = make_storage()
        storage.save("f.txt", ContentFile(b"x"))
        for mode in ("ab", "r+b", "w+"):
            with pytest.raises(ValueError, match="mode"):
                storage.open("f.txt", mode)

    def test_table_without_a_modified_column(self, make_storage):
        storage = make_storage(modified_column=None)
        storage.save("old.txt", ContentFile(b"legacy"))
        assert storage.open("old.txt").read() == b"legacy"
        with pytest.raises(NotImplementedError):
            storage.get_modified_time("old.txt")

    def test_table_created_after_first_use_gets_modified_times(
        self, connection_for, django_db_blocker
    ):
        storage = DatabaseStorage(**connection_for, db_table=unique_name("later"))
        with django_db_blocker.unblock():
            with pytest.raises(DatabaseStorageError, match="createfilestable"):
                storage.exists("a.txt")
            storage.create_table()
            try:
                storage.save("a.txt", ContentFile(b"a"))
                assert storage.get_modified_time("a.txt").year >= 2024
            finally:
                storage.drop_table()
                storage.connector.close()

    def test_missing_table_says_how_to_create_it(self, connection_for, django_db_blocker):
        storage = DatabaseStorage(**connection_for, db_table=unique_name("missing"))
        with django_db_blocker.unblock(), pytest.raises(DatabaseStorageError) as caught:
            storage.exists("a.txt")
        assert "createfilestable" in str(caught.value)
        assert "a.txt" in str(caught.value)

    def test_streaming_memory_is_bounded(self, make_storage, tmp_path):
        storage = make_storage(chunk_size=256 * 1024, write_chunk_size=1024 * 1024)
        source = tmp_path / "source.bin"
        size = 12 * 1024 * 1024
        with open(source, "wb") as out:
            for _ in range(size // (1024 * 1024)):
                out.write(os.urandom(1024 * 1024))
        tracemalloc.start()
        try:
            with open(source, "rb") as handle:
                storage.save("big.bin", File(handle))
            _current, write_peak = tracemalloc.get_traced_memory()
            tracemalloc.reset_peak()
            digest = hashlib.sha256()
            with storage.open("big.bin") as handle:
                for chunk in handle.chunks(256 * 1024):
                    digest.update(chunk)
            _current, read_peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        assert digest.hexdigest() == hashlib.sha256(source.read_bytes()).hexdigest()
        assert write_peak < 8 * 1024 * 1024, write_peak
        assert read_peak < 4 * 1024 * 1024, read_peak

    def test_default_parts_read_and_write_a_large_file(self, make_storage, tmp_path):
        # The dialect's own part sizes: PostgreSQL binary appends, MySQL parts
        # capped by max_allowed_packet, SQLite blob handles, growing read parts.
        storage = make_storage()
        size = 20 * MiB + 12345
        source = write_random(tmp_path / "source.bin", size)
        with open(source, "rb") as handle:
            assert storage.save("big.bin", File(handle)) == "big.bin"
        assert storage.size("big.bin") == size
        assert 64 * 1024 <= storage.read_part <= 16 * MiB
        digest = hashlib.sha256()
        with storage.open("big.bin") as handle:
            for chunk in handle.chunks():
                digest.update(chunk)
            handle.seek(size - 100)
            tail = handle.read()
        assert digest.hexdigest() == sha256_of(source)
        assert tail == source.read_bytes()[-100:]

    def test_postgresql_parts_travel_in_binary(self, kind, make_storage):
        from storages.backends.database.connections import _BinaryCursor

        storage = make_storage()
        with storage.connector.binary_cursor() as cursor:
            binary = isinstance(cursor, _BinaryCursor)
        assert binary == (kind == "postgresql-django")
        storage.save("b.bin", ContentFile(bytes(range(256)) * 5000))
        assert storage.open("b.bin").read() == bytes(range(256)) * 5000


def write_random(path, size: int):
    with open(path, "wb") as out:
        while size > 0:
            out.write(os.urandom(min(size, MiB)))
            size -= MiB
    return path


def sha256_of(path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(MiB):
            digest.update(chunk)
    return digest.hexdigest()


def reset_peak_rss() -> int:
    """Reset this process's VmHWM (Linux) and return the current RSS in bytes."""
    with open("/proc/self/clear_refs", "w") as clear:
        clear.write("5")
    return status_bytes("VmRSS")


def status_bytes(field: str) -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    raise AssertionError(f"no {field} in /proc/self/status")


class TestSQLiteBlobIO:
    """SQLite through a Django alias: saves and reads through blob handles.

    SQLite's own memory is not Python's (tracemalloc does not see it), so the
    process's peak RSS is measured: the portable way (``blob || ?``,
    ``substr``) grew it by several times the file.
    """

    @pytest.fixture
    def storage(self, tmp_path, django_db_blocker):
        with add_django_database(ALIAS, sqlite_django(tmp_path / "f.sqlite3")):
            storage = DatabaseStorage(database=ALIAS, db_table=unique_name())
            with django_db_blocker.unblock():
                storage.create_table()
                yield storage

    def test_large_file_memory_is_bounded(self, storage, tmp_path):
        size = 40 * MiB
        source = write_random(tmp_path / "source.bin", size)
        gc.collect()
        start = reset_peak_rss()
        with open(source, "rb") as handle:
            storage.save("big.bin", File(handle))
        save_growth = status_bytes("VmHWM") - start
        storage.save("big.bin", ContentFile(b"small"))  # overwrite goes through the handle too
        with open(source, "rb") as handle:
            storage.save("big.bin", File(handle))
        gc.collect()
        start = reset_peak_rss()
        digest = hashlib.sha256()
        with storage.open("big.bin") as handle:
            for chunk in handle.chunks():
                digest.update(chunk)
        read_growth = status_bytes("VmHWM") - start
        assert digest.hexdigest() == sha256_of(source)
        assert save_growth < 12 * MiB, save_growth
        assert read_growth < 2 * storage.read_part + 8 * MiB, read_growth

    def test_content_of_unknown_or_wrong_size(self, storage):
        class Stream(io.RawIOBase):  # no size, not seekable
            def __init__(self, data):
                self._data = io.BytesIO(data)

            def readable(self):
                return True

            def readinto(self, buffer):
                return self._data.readinto(buffer)

        data = os.urandom(3 * MiB + 7)
        assert storage.save("stream.bin", File(Stream(data))) == "stream.bin"
        assert storage.open("stream.bin").read() == data

        class Lying(ContentFile):
            def __init__(self, data, claimed):
                super().__init__(data)
                self.size = claimed

        storage.save("longer.bin", Lying(data, 1000))
        assert storage.open("longer.bin").read() == data
        assert storage.size("longer.bin") == len(data)
        storage.save("shorter.bin", Lying(data, len(data) + 5000))
        assert storage.open("shorter.bin").read() == data
        assert storage.size("shorter.bin") == len(data)

    def test_table_of_the_original_layout(self, storage, django_db_blocker):
        # The blob in the middle (name, blob, size), no modification time:
        # still correct, only SQLite builds a zeroblob in memory for it.
        from django.db import connections

        table = unique_name("FILES")
        with connections[ALIAS].cursor() as cursor:
            cursor.execute(
                f'CREATE TABLE "{table}" ("FILE_NAME" VARCHAR(100) PRIMARY KEY, '
                '"BLOB" BLOB NOT NULL, "SIZE" INTEGER NOT NULL)'
            )
        old = DatabaseStorage(
            database=ALIAS,
            db_table=table,
            fname_column="FILE_NAME",
            blob_column="BLOB",
            size_column="SIZE",
            modified_column=None,
            chunk_size=300 * 1024,
        )
        data = os.urandom(MiB + 3)
        old.save("a/b.bin", ContentFile(data))
        with old.open("a/b.bin") as handle:
            handle.seek(500_000)
            assert handle.read(10) == data[500_000:500_010]
            handle.seek(0)
            assert handle.read() == data
        assert old.listdir("a") == ([], ["b.bin"])

    def test_replacement_between_parts_is_detected(self, storage):
        storage.save("v.bin", ContentFile(b"1" * 600_000))
        handle = storage.open("v.bin")
        assert handle.read(10) == b"1" * 10
        time.sleep(0.002)
        storage.save("v.bin", ContentFile(b"2" * 600_000))
        with pytest.raises(BlobChangedError, match="replaced"):
            handle.read()
        handle.close()
        storage.delete("v.bin")
        assert not storage.exists("v.bin")


BAD_IDENTIFIERS = [
    "files; DROP TABLE x",
    'files"',
    "files`",
    "fi les",
    "1files",
    "files--",
    "a.b.c",
    "",
    "x" * 64,
]


class TestConfiguration:
    @pytest.mark.parametrize("value", BAD_IDENTIFIERS)
    @pytest.mark.parametrize("option", ["db_table", "fname_column", "blob_column", "size_column"])
    def test_identifiers_are_validated(self, option, value):
        with pytest.raises(ImproperlyConfigured, match="not a plain SQL identifier"):
            DatabaseStorage(**{option: value})

    def test_schema_qualified_table_is_quoted_per_part(self):
        from storages.backends.database.dialects import dialect_for

        assert dialect_for("PostgreSQL").quote("s.t") == '"s"."t"'
        assert dialect_for("MariaDB").quote("s.t") == "`s`.`t`"
        assert dialect_for("Microsoft SQL Server").quote("t") == "[t]"
        with pytest.raises(ImproperlyConfigured, match="dialect"):
            dialect_for("Informix")

    def test_db_files_setting_and_db_files_url(self, settings):
        settings.DB_FILES = {"db_table": "FILES", "fname_column": "FILE_NAME", "size_column": "S"}
        settings.DB_FILES_URL = "http://localhost/dbfiles"
        storage = DatabaseStorage()
        assert (storage.db_table, storage.fname_column, storage.size_column) == (
            "FILES",
            "FILE_NAME",
            "S",
        )
        assert storage.url("a b/c.txt") == "http://localhost/dbfiles/a%20b/c.txt"
        settings.DB_FILES = {**settings.DB_FILES, "base_url": "/in-dict/"}
        assert storage.url("c.txt") == "/in-dict/c.txt"

    def test_original_constructor_dictionary_and_keyword_precedence(self):
        storage = DatabaseStorage({"db_table": "FILES", "blob_column": "BLOB"}, blob_column="B")
        assert (storage.db_table, storage.blob_column) == ("FILES", "B")
        path, args, kwargs = storage.deconstruct()
        assert path == "storages.backends.database.DatabaseStorage"
        assert DatabaseStorage(*args, **kwargs).blob_column == "B"

    def test_unknown_keys_are_refused(self, settings):
        with pytest.raises(ImproperlyConfigured, match="no option 'bucket'"):
            DatabaseStorage(bucket="x")
        settings.DB_FILES = {"tabel": "x"}
        with pytest.raises(ImproperlyConfigured, match=r"unknown key.*'tabel'"):
            DatabaseStorage()

    def test_url_needs_a_base_url(self):
        with pytest.raises(ValueError, match="DB_FILES_URL"):
            DatabaseStorage().url("a.txt")

    def test_secret_in_connection_string_never_shown(self, caplog):
        secret = "s3cr3t-Pa55"
        port = free_port()
        storage = DatabaseStorage(
            connection_string=(
                "DRIVER={PostgreSQL Unicode};SERVER=127.0.0.1;"
                f"PORT={port};DATABASE=x;UID=me;PWD={{{secret}}}"
            )
        )
        with caplog.at_level(logging.DEBUG), pytest.raises(DatabaseStorageError) as caught:
            storage.exists("a.txt")
        message = str(caught.value)
        assert "127.0.0.1" in message
        assert secret not in message
        assert secret not in repr(storage)
        assert secret not in caplog.text
        assert caught.value.__cause__ is None and caught.value.__suppress_context__
        assert pickle.loads(pickle.dumps(storage)).connection_string == storage.connection_string


class TestCreateTableCommand:
    def test_prints_the_sql_for_the_dialect(self, postgres_server, django_db_blocker, settings):
        settings.DB_FILES = {"connection_string": postgres_server.odbc(), "db_table": "t"}
        out = io.StringIO()
        with django_db_blocker.unblock():
            call_command("createfilestable", "--sql", "--name-length", "100", stdout=out)
        assert 'CREATE TABLE IF NOT EXISTS "t" ("name" VARCHAR(100) NOT NULL PRIMARY KEY' in (
            out.getvalue()
        )
        assert "SET STORAGE EXTERNAL" in out.getvalue()

    @pytest.mark.django_db
    def test_creates_the_table_on_the_default_database(self, settings):
        settings.STORAGES = {
            "default": {"BACKEND": "storages.backends.database.DatabaseStorage"},
            "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
        }
        out = io.StringIO()
        call_command("createfilestable", stdout=out)
        call_command("createfilestable", "--storage", "default", stdout=out)  # idempotent
        assert "STORAGES['default']: table storages_files of database 'default'" in out.getvalue()
        from django.core.files.storage import default_storage

        name = default_storage.save("in/default.txt", ContentFile(b"on the default alias"))
        assert default_storage.open(name).read() == b"on the default alias"

    def test_refuses_an_alias_that_is_not_a_database_storage(self):
        with pytest.raises(CommandError, match="not a DatabaseStorage"):
            call_command("createfilestable", "--storage", "staticfiles")


# The original documentation's table: "a pk-column for filenames (better to use the same type
# that FileField uses: nvarchar(100)), blob field (image type for example) and size field
# (bigint)", named by its DB_FILES, written without quotes as a user would (PostgreSQL then
# keeps the names in lower case; MariaDB needs BLOB quoted, a reserved word). No modification time.
SEED_DB_FILES = {
    "db_table": "FILES",
    "fname_column": "FILE_NAME",
    "blob_column": "BLOB",
    "size_column": "SIZE",
    "base_url": "http://localhost/dbfiles/",
}
SEED_TABLES = {
    "sqlite": "CREATE TABLE FILES (FILE_NAME NVARCHAR(100) PRIMARY KEY, BLOB BLOB, SIZE BIGINT)",
    "postgresql": (
        "CREATE TABLE FILES (FILE_NAME VARCHAR(100) PRIMARY KEY, BLOB BYTEA, SIZE BIGINT)"
    ),
    "mariadb": (
        "CREATE TABLE FILES (FILE_NAME NVARCHAR(100) PRIMARY KEY, `BLOB` LONGBLOB, SIZE BIGINT)"
    ),
}


@pytest.fixture
def seed_table(kind, connection_for, settings, django_db_blocker):
    """The seed's FILES table, made by hand as the seed says, and its DB_FILES in settings."""
    vendor = kind.split("-")[0]
    settings.DB_FILES = {**SEED_DB_FILES, **connection_for}
    with django_db_blocker.unblock():
        maker = DatabaseStorage(**connection_for)
        with maker.connector.cursor() as cursor:
            cursor.execute(SEED_TABLES[vendor])
        try:
            yield vendor
        finally:
            with maker.connector.cursor() as cursor:
                cursor.execute("DROP TABLE FILES")
            maker.connector.close()


class TestOriginalTable:
    """A table made the original way works with the original DB_FILES, unchanged."""

    def test_every_operation_works_without_a_modified_column(self, seed_table):
        storage = DatabaseStorage()  # everything from settings.DB_FILES
        payload = os.urandom(300_000)
        assert storage.save("player_photos/a.jpg", ContentFile(payload)) == "player_photos/a.jpg"
        assert storage.exists("player_photos/a.jpg")
        assert storage.size("player_photos/a.jpg") == len(payload)
        assert storage.open("player_photos/a.jpg").read() == payload
        assert storage.read_range("player_photos/a.jpg", 1000, 10) == payload[1000:1010]
        with storage.open("player_photos/a.jpg") as handle:
            handle.seek(200_000)
            assert handle.read(100) == payload[200_000:200_100]
        assert storage.url("player_photos/a.jpg") == "http://localhost/dbfiles/player_photos/a.jpg"
        # The original default: a second save of a name replaces the blob.
        assert storage.save("player_photos/a.jpg", ContentFile(b"new")) == "player_photos/a.jpg"
        assert storage.open("player_photos/a.jpg").read() == b"new"
        with storage.open("notes.txt", "w") as handle:
            handle.write("written through open()")
        assert storage.listdir("") == (["player_photos"], ["notes.txt"])
        assert storage.listdir("player_photos") == ([], ["a.jpg"])
        with pytest.raises(NotImplementedError, match="modified"):
            storage.get_modified_time("notes.txt")
        storage.delete("notes.txt")
        storage.delete("notes.txt")  # a missing file: nothing to do
        assert not storage.exists("notes.txt")
        with pytest.raises(FileNotFoundError):
            storage.open("notes.txt")

    def test_the_table_is_asked_once(self, seed_table, monkeypatch):
        storage = DatabaseStorage()
        calls = []
        probe = storage._column_names
        monkeypatch.setattr(storage, "_column_names", lambda t: calls.append(t) or probe(t))
        storage.save("a.txt", ContentFile(b"a"))
        asked = len(calls)
        assert 1 <= asked <= 2  # PostgreSQL: "FILES", then files (created without quotes)
        storage.open("a.txt").read()
        storage.listdir("")
        storage.delete("a.txt")
        assert len(calls) == asked

    def test_concurrent_saves(self, seed_table):
        from django.db import connections

        storage = DatabaseStorage()
        count = 4
        barrier = threading.Barrier(count)
        errors: list[BaseException] = []

        def save(index: int) -> None:
            try:
                barrier.wait(timeout=30)
                storage.save("same.txt", ContentFile(f"writer {index}".encode()))
                storage.save(f"own/{index}.txt", ContentFile(b"x" * index))
            except BaseException as exc:  # reported below
                errors.append(exc)
            finally:
                connections.close_all()

        threads = [threading.Thread(target=save, args=(i,)) for i in range(count)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        assert not errors, errors
        assert storage.open("same.txt").read() in {f"writer {i}".encode() for i in range(count)}
        assert storage.listdir("own") == ([], [f"{i}.txt" for i in range(count)])
        assert [storage.size(f"own/{i}.txt") for i in range(count)] == list(range(count))

    def test_a_modified_column_that_is_not_there_is_named(self, seed_table, settings):
        settings.DB_FILES = {**settings.DB_FILES, "modified_column": "MODIFIED"}
        with pytest.raises(ImproperlyConfigured, match=r"'MODIFIED'.*FILES"):
            DatabaseStorage().exists("a.txt")
        explicit = DatabaseStorage(modified_column="changed")
        with pytest.raises(ImproperlyConfigured, match=r"'changed'.*FILES"):
            explicit.save("a.txt", ContentFile(b"a"))
