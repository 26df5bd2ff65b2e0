"""DatabaseStorage against the contract on SQLite, PostgreSQL and MariaDB (Django and ODBC)."""

from __future__ import annotations

import pytest

from storages.backends.database import DatabaseStorage
from tests.contract import StorageContract
from tests.servers.databases import add_django_database, unique_name

BASE_URL = "/dbfiles/"
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
