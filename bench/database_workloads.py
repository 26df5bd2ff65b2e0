"""Workloads for bench_database, each run in a fresh process (see bench/common.py).

``setup`` configures Django with the database under test as the ``default``
alias (or nothing, for ODBC) and builds the contender:

* ``storages``: DatabaseStorage (chunked appends on save, SUBSTRING reads);
* ``whole-blob``: what the original backend did: one INSERT of the whole
  content read into memory, one SELECT of the whole blob.
"""

from __future__ import annotations

import tempfile

import django
from django.conf import settings


def setup(
    *,
    contender: str,
    django_db: dict | None,
    connection_string: str | None,
    table: str,
    options: dict | None = None,
    **_,
):
    if not settings.configured:
        unused = {"ENGINE": "django.db.backends.sqlite3", "NAME": tempfile.gettempdir() + "/x"}
        databases = {"default": django_db or unused}
        settings.configure(DATABASES=databases, USE_TZ=True, INSTALLED_APPS=[])
        django.setup()
    from storages.backends.database import DatabaseStorage

    options = {"db_table": table, **(options or {})}
    if connection_string:
        options["connection_string"] = connection_string
    storage = DatabaseStorage(**options)
    if contender == "whole-blob":
        return WholeBlob(storage)
    return storage


class WholeBlob:
    """The original backend's way, with bound parameters: everything in one statement."""

    def __init__(self, storage) -> None:
        self.storage = storage

    def save(self, name: str, content) -> str:
        storage = self.storage
        c = storage.columns
        data = content.read()
        with storage.connector.transaction(), storage.connector.cursor() as cursor:
            cursor.execute(storage.sql.upsert_sql(c), (name, data, len(data), 0))
        return name

    def read_all(self, name: str) -> bytes:
        storage = self.storage
        c = storage.columns
        with storage.connector.cursor() as cursor:
            cursor.execute(f"SELECT {c.blob} FROM {c.table} WHERE {c.name} = ?", (name,))
            return bytes(cursor.fetchone()[0])


def big_save(state, *, source: str, **_ignored) -> dict:
    from django.core.files import File

    with open(source, "rb") as handle:
        state.save("big.bin", File(handle))
    return {}


def big_read(state, **_ignored) -> dict:
    if isinstance(state, WholeBlob):
        return {"bytes": len(state.read_all("big.bin"))}
    total = 0
    with state.open("big.bin", "rb") as handle:
        for chunk in handle.chunks(1024 * 1024):
            total += len(chunk)
    return {"bytes": total}


def small_saves(state, *, count: int, **_ignored) -> dict:
    from django.core.files.base import ContentFile

    payload = b"x" * 2048
    for index in range(count):
        state.save(f"small/{index % 50}/file{index}.txt", ContentFile(payload))
    return {}


def small_reads(state, *, count: int, **_ignored) -> dict:
    total = 0
    for index in range(count):
        name = f"small/{index % 50}/file{index}.txt"
        if isinstance(state, WholeBlob):
            total += len(state.read_all(name))
        else:
            with state.open(name, "rb") as handle:
                total += len(handle.read())
    return {"bytes": total}


def create(state, **_ignored) -> dict:
    storage = state.storage if isinstance(state, WholeBlob) else state
    storage.create_table()
    return {}


def drop(state, **_ignored) -> dict:
    storage = state.storage if isinstance(state, WholeBlob) else state
    storage.drop_table()
    return {}
