"""Files as blobs in a SQL table: ``DatabaseStorage``.

One row per file: the name (primary key), the content (a blob), its size and,
if the table has that column, the time it was last written (the original
backend's table has none: the columns are looked up once per storage). The
table is reached through a Django database alias (``database``, default
``"default"``) or, as the original backend did, through a pyodbc
``connection_string``. ``manage.py createfilestable`` creates
the table for the database's dialect.

Safety: table and column names are validated and quoted for the dialect, and
every value is a bound parameter. Saving an existing name replaces its blob
(the original behaviour); ``file_overwrite=False`` gives Django's behaviour
(a new name). Either way a save is one transaction: the row is written, grown
chunk by chunk and only then committed, so readers see the old content or the
new one, never part of it, and a failed save leaves the old state.

Reading never loads a whole blob: a file opened for reading fetches the parts
it is asked for with the dialect's ``SUBSTRING``, starting at 256 KiB and
doubling while the reads are sequential, up to ``chunk_size`` (a default per
dialect). On SQLite through a Django alias, saves and reads go through
incremental blob I/O instead (see ``storages.backends.database.sqlite``).
"""

from __future__ import annotations

import contextlib
import datetime
import io
import threading
import time
from collections.abc import Iterator
from typing import Any, ClassVar
from urllib.parse import urljoin

from django.core.exceptions import ImproperlyConfigured, SuspiciousFileOperation
from django.core.files import File
from django.utils import timezone
from django.utils.deconstruct import deconstructible
from django.utils.encoding import filepath_to_uri

from storages.backends.database.connections import (
    DjangoConnector,
    OdbcConnector,
    is_retryable,
    scrub,
)
from storages.backends.database.dialects import (
    Columns,
    Dialect,
    dialect_for,
    find_column,
    like_prefix,
    validate_identifier,
)
from storages.backends.database.errors import DatabaseStorageError
from storages.backends.database.files import BlobReader, BlobWriter, DatabaseFile, TextWriter
from storages.backends.database.sqlite import (
    blob_connection,
    known_size,
    sized,
    split_table,
    write_chunks,
)
from storages.base import NOT_SET, BaseStorage, SettingSpec, class_option
from storages.utils import (
    DEFAULT_CHUNK_SIZE,
    content_chunks,
    is_root,
    iter_chunks,
    rewindable,
    safe_join,
    setting,
)

MiB = 1024 * 1024
#: How many times a save that hit a deadlock or lock timeout is tried in all.
SAVE_ATTEMPTS = 5

_connector_lock = threading.Lock()

# How the databases say "no such table" (SQLite, PostgreSQL, MySQL, SQL Server).
MISSING_TABLE = ("no such table", "does not exist", "doesn't exist", "invalid object name")


@deconstructible(path="storages.backends.database.DatabaseStorage")
class DatabaseStorage(BaseStorage):
    """Files stored as rows ``(name, blob, size, modified)`` of one table."""

    secret_options = ("connection_string",)
    transient_attributes = ("_connector", "_dialect", "_packet", "_columns")

    #: Keys of ``settings.DB_FILES`` that are not options of ours are refused.
    setting_name: ClassVar[str] = "DB_FILES"

    def __init__(self, option: dict[str, Any] | None = None, **options: Any) -> None:
        # ``option`` is the original constructor's dictionary; keyword options win.
        if option is not None:
            if not isinstance(option, dict):
                raise ImproperlyConfigured("DatabaseStorage(option=...) must be a dict.")
            options = {**option, **options}
        super().__init__(**options)
        # Checked here, not while resolving: that also runs on setting changes,
        # where raising would break override_settings for everyone.
        db_files = setting("DB_FILES") or {}
        unknown = sorted(set(db_files) - set(self.option_table()))
        if unknown:
            raise ImproperlyConfigured(
                f"settings.DB_FILES has unknown key(s) {', '.join(map(repr, unknown))}; "
                f"known keys: {', '.join(sorted(self.option_table()))}."
            )

    @classmethod
    def get_default_settings(cls) -> dict[str, SettingSpec]:
        return {
            "db_table": ("DB_FILES", "storages_files"),
            "fname_column": ("DB_FILES", "name"),
            "blob_column": ("DB_FILES", "content"),
            "size_column": ("DB_FILES", "size"),
            "modified_column": ("DB_FILES", "modified"),
            "base_url": ("DB_FILES_URL", None),
            "database": ("DB_FILES", "default"),
            "connection_string": ("DB_FILES", None),
            "dialect": ("DB_FILES", None),
            "file_overwrite": ("DB_FILES", True),
            # None: the dialect's default (see dialects.Dialect).
            "chunk_size": ("DB_FILES", None),
            "write_chunk_size": ("DB_FILES", None),
        }

    @classmethod
    def resolve_options(cls, options: dict[str, Any]) -> dict[str, Any]:
        """Options, then ``settings.DB_FILES[key]`` (``DB_FILES_URL`` too), then defaults."""
        db_files = setting("DB_FILES") or {}
        if not isinstance(db_files, dict):
            raise ImproperlyConfigured("settings.DB_FILES must be a dict.")
        spec = cls.option_table()
        resolved = {}
        for option, (_name, default) in spec.items():
            if option in options:
                resolved[option] = options[option]
            elif (declared := class_option(cls, option)) is not NOT_SET:
                resolved[option] = declared
            elif option in db_files:
                resolved[option] = db_files[option]
            elif option == "base_url":
                resolved[option] = setting("DB_FILES_URL", None)
            else:
                resolved[option] = default
        return resolved

    @classmethod
    def missing_options(cls, options: dict[str, Any]) -> list[str]:
        return []  # every option has a default

    def configure(self) -> None:
        self.db_table = validate_identifier(self.db_table, "db_table", qualified=True)
        for option in ("fname_column", "blob_column", "size_column"):
            validate_identifier(getattr(self, option), option)
        if self.modified_column is not None:
            validate_identifier(self.modified_column, "modified_column")
        # Given (not the default): a table without that column is a configuration error.
        self._modified_given = (
            "modified_column" in self._options
            or class_option(type(self), "modified_column") is not NOT_SET
            or "modified_column" in (setting("DB_FILES") or {})
        )
        for option in ("chunk_size", "write_chunk_size"):
            value = getattr(self, option)
            if value is not None and (not isinstance(value, int) or value < 1):
                raise ImproperlyConfigured(
                    f"DatabaseStorage {option} must be a positive int (or None)."
                )
        if self.connection_string is not None and not isinstance(self.connection_string, str):
            raise ImproperlyConfigured("DatabaseStorage connection_string must be a string.")
        if self.base_url is not None and not str(self.base_url).endswith("/"):
            self.base_url = f"{self.base_url}/"

    # Connections and SQL.
    @property
    def connector(self) -> DjangoConnector | OdbcConnector:
        connector = self.__dict__.get("_connector")
        if connector is None:
            with _connector_lock:
                connector = self.__dict__.get("_connector")
                if connector is None:
                    if self.connection_string:
                        connector = OdbcConnector(self.connection_string)
                    else:
                        connector = DjangoConnector(self.database)
                    self.__dict__["_connector"] = connector
        return connector

    @property
    def sql(self) -> Dialect:
        """The dialect of the configured database (asks the database once)."""
        dialect = self.__dict__.get("_dialect")
        if dialect is None:
            with self._errors("connect to", None):
                dialect = dialect_for(self.dialect or self.connector.vendor)
            if isinstance(self.connector, OdbcConnector):
                self.connector.savepoint_sql = dialect.savepoint_sql
            self.__dict__["_dialect"] = dialect
        return dialect

    @property
    def read_part(self) -> int:
        """The largest part one read query fetches."""
        sql = self.sql
        part = self.chunk_size or sql.read_part
        if sql.max_read:
            part = min(part, sql.max_read)
        if sql.packet_sql:
            packet = self.__dict__.get("_packet")
            if packet is None:
                (packet,) = self._fetchone(sql.packet_sql, (), "read", "max_allowed_packet")
                packet = self.__dict__["_packet"] = int(packet)
            part = max(min(part, packet - 64 * 1024), 64 * 1024)  # room for the row's header
        return part

    @property
    def write_part(self) -> int:
        """The bytes one statement of a save sends."""
        return self.write_chunk_size or self.sql.write_part

    def _blob_connection(self) -> Any | None:
        """The sqlite3 connection for incremental blob I/O (SQLite via Django), else None."""
        connector = self.connector
        if not isinstance(connector, DjangoConnector) or self.sql.zeroblob is None:
            return None
        return blob_connection(connector.connection)

    @property
    def columns(self) -> Columns:
        """The quoted table and columns every statement uses, checked against the table.

        The table is asked once per storage which columns it has; the modified
        column is used only if it is there (the original table has none).
        """
        columns = self.__dict__.get("_columns")
        if columns is None:
            columns = self._table_columns()
        return columns

    def _declared_columns(self, modified: str | None = NOT_SET) -> Columns:
        """The columns as configured (what ``create_table`` creates)."""
        return self.sql.columns(
            self.db_table,
            self.fname_column,
            self.blob_column,
            self.size_column,
            self.modified_column if modified is NOT_SET else modified,
        )

    def _table_columns(self) -> Columns:
        sql = self.sql
        table, present = self.db_table, self._column_names(self.db_table)
        if present is None and sql.folded(table) != table:  # created without quotes
            table, present = sql.folded(table), self._column_names(sql.folded(table))
        if present is None:
            return self._declared_columns()  # no table (yet): the statement will say so
        found: dict[str, str | None] = {}
        for option in ("fname_column", "blob_column", "size_column", "modified_column"):
            column = getattr(self, option)
            found[option] = column and find_column(present, column)
            if (
                column is None
                or found[option]
                or (option == "modified_column" and not self._modified_given)
            ):
                continue
            hint = "; set it to None for a table without one" if "modified" in option else ""
            spelt = f" (found as {table})" if table != self.db_table else ""
            raise ImproperlyConfigured(
                f"DatabaseStorage {option} {column!r} is not a column of table {self.db_table}"
                f"{spelt} of {self.connector.describe()} (its columns: {', '.join(present)}){hint}."
            )
        columns = self.__dict__["_columns"] = sql.columns(table, *found.values())
        return columns

    def _column_names(self, table: str) -> list[str] | None:
        """The table's column names (from a query of no rows), or None if it cannot be read."""
        connector = self.connector
        try:
            # In a savepoint: a failure must not abort a transaction we are part of.
            with connector.savepoint(), connector.cursor() as cursor:
                cursor.execute(self.sql.probe_sql(table))
                names = [str(column[0]) for column in cursor.description or ()]
                cursor.fetchall()
        except connector.errors:
            return None
        return names or None

    def describe(self) -> str:
        return f"table {self.db_table} of {self.connector.describe()}"

    @contextlib.contextmanager
    def _errors(self, action: str, name: str | None) -> Iterator[None]:
        """Turn driver errors into DatabaseStorageError (no secrets, file and store named)."""
        connector = self.connector
        try:
            yield
        except connector.errors as exc:
            what = f" {name!r}" if name is not None else ""
            detail = scrub(str(exc), connector.secrets())
            hint = ""
            lowered = detail.lower()
            if "column" not in lowered and any(word in lowered for word in MISSING_TABLE):
                hint = " (create the table with: manage.py createfilestable)"
            error = DatabaseStorageError(
                f"Could not {action}{what} in {self.describe()}: {detail}{hint}"
            )
            if isinstance(connector, OdbcConnector):
                raise error from None  # pyodbc messages are not ours to vouch for
            raise error from exc

    def _execute(self, cursor: Any, sql: str, params: tuple = ()) -> Any:
        cursor.execute(sql, params)
        return cursor

    def _fetchone(self, sql: str, params: tuple, action: str, name: str) -> Any:
        with self._errors(action, name), self.connector.cursor() as cursor:
            cursor.execute(sql, params)
            return cursor.fetchone()

    def _key(self, name: str) -> str:
        key = safe_join("", name)
        if not key or key.endswith("/"):
            raise SuspiciousFileOperation(f"{name!r} is not a file name.")
        return key

    # The table.
    def create_table(self, *, name_length: int = 255, execute: bool = True) -> list[str]:
        """Create the table if it is missing; return the SQL (run unless ``execute`` is False)."""
        statements = self.sql.create_table_sql(self._declared_columns(), name_length)
        self.__dict__.pop("_columns", None)  # ask the table again once it exists
        if execute:
            with (
                self._errors("create the table", None),
                self.connector.transaction(),
                self.connector.cursor() as cursor,
            ):
                for statement in statements:
                    cursor.execute(statement)
        return statements

    def drop_table(self) -> None:
        """Drop the table and every file in it (used by tests and benchmarks)."""
        with self._errors("drop the table", None), self.connector.cursor() as cursor:
            for statement in self.sql.drop_table_sql(self._declared_columns()):
                cursor.execute(statement)
        self.__dict__.pop("_columns", None)

    # Django's Storage API.
    def _open(self, name: str, mode: str = "rb") -> File:
        key = self._key(name)
        if "+" in mode or "a" in mode:
            raise ValueError(f"DatabaseStorage cannot open files in mode {mode!r}.")
        if "w" in mode or "x" in mode:
            writer = BlobWriter(self, key, exclusive="x" in mode)
            stream: Any = writer if "b" in mode else TextWriter(writer, encoding="utf-8")
            return DatabaseFile(stream, key, None, storage=self, mode=mode)
        size, modified = self._stat(key)
        reader = BlobReader(self, key, size, modified)
        stream = io.BufferedReader(reader, buffer_size=min(self.read_part, DEFAULT_CHUNK_SIZE))
        if "b" not in mode:
            stream = io.TextIOWrapper(stream, encoding="utf-8")
        return DatabaseFile(stream, key, size, storage=self, mode=mode)

    def _stat(self, key: str) -> tuple[int, int | None]:
        row = self._fetchone(self.sql.stat_sql(self.columns), (key,), "read", key)
        if row is None:
            raise FileNotFoundError(f"{key!r} is not in {self.describe()}.")
        return int(row[0]), (int(row[1]) if row[1] is not None else None)

    def get_available_name(self, name: str, max_length: int | None = None) -> str:
        if not self.file_overwrite:
            return super().get_available_name(name, max_length)
        key = self._key(name)
        if max_length is not None and len(key) > max_length:
            raise SuspiciousFileOperation(
                f"Storage can not keep {key!r}: it is longer than {max_length} characters."
            )
        return key

    def _save(self, name: str, content: Any) -> str:
        key = self._key(name)
        return self._write(key, content, overwrite=bool(self.file_overwrite))

    def _write(self, key: str, content: Any, *, overwrite: bool, exclusive: bool = False) -> str:
        """Store ``content`` under ``key`` in one transaction, retrying deadlocks."""
        connector = self.connector
        retry = not connector.in_transaction and rewindable(content)
        for attempt in range(1, SAVE_ATTEMPTS + 1):
            try:
                with self._errors("save", key), connector.transaction():
                    return self._write_in_transaction(key, content, overwrite, exclusive)
            except DatabaseStorageError as exc:
                cause = exc.__cause__ or exc.__context__ or exc
                if not (retry and attempt < SAVE_ATTEMPTS and is_retryable(cause)):
                    raise
                time.sleep(0.05 * attempt)
        raise AssertionError("unreachable")

    def _write_in_transaction(
        self, key: str, content: Any, overwrite: bool, exclusive: bool
    ) -> str:
        raw = self._blob_connection()
        size = known_size(content)
        if raw is not None and (size is None or size > DEFAULT_CHUNK_SIZE):
            return self._write_blob(raw, key, content, overwrite, exclusive)
        sql, c = self.sql, self.columns
        chunk_size = self.write_part if sql.can_append else None
        chunks = content_chunks(content, chunk_size or DEFAULT_CHUNK_SIZE)
        if chunk_size is None:
            chunks = iter([b"".join(chunks)])  # no append in this dialect: one INSERT
        first = next(chunks, b"")
        now = time.time_ns() // 1000  # microseconds
        row = (first, len(first)) + ((now,) if c.modified else ())
        with self.connector.binary_cursor() as cursor:
            if overwrite and not exclusive:
                self._replace(cursor, key, row)
            else:
                key = self._claim(cursor, key, row, exclusive)
            size = len(first)
            del first, row  # one part in memory at a time: drop each once sent
            appended = False
            for chunk in chunks:
                if chunk:
                    cursor.execute(sql.append_sql(c), (chunk, key))
                    size += len(chunk)
                    appended = True
                del chunk
            if appended:
                cursor.execute(sql.finish_sql(c), (size,) + ((now,) if c.modified else ()) + (key,))
                cursor.execute(sql.length_sql(c), (key,))
                (stored,) = cursor.fetchone()
                if stored is None or int(stored) != size:
                    raise DatabaseStorageError(
                        f"Could not save {key!r} in {self.describe()}: the database kept "
                        f"{stored} of {size} bytes (is the blob larger than the server allows, "
                        "e.g. MySQL's max_allowed_packet?)."
                    )
        return key

    def _write_blob(
        self, raw: Any, key: str, content: Any, overwrite: bool, exclusive: bool
    ) -> str:
        """Save through a SQLite blob handle: insert zeroblob(size), then write the bytes."""
        sql, c = self.sql, self.columns
        schema, table = split_table(self.db_table)
        wrap_errors = self.connector.connection.wrap_database_errors
        now = time.time_ns() // 1000  # microseconds
        modified = (now,) if c.modified else ()
        spool_limit = self.write_chunk_size or DEFAULT_CHUNK_SIZE * 32
        with sized(content, spool_limit) as (source, size), self.connector.cursor() as cursor:
            row = (size, size, *modified)
            if overwrite and not exclusive:
                self._replace(cursor, key, row, blob=sql.zeroblob)
            else:
                key = self._claim(cursor, key, row, exclusive, blob=sql.zeroblob)
            cursor.execute(sql.rowid_sql(c), (key,))
            rowid = cursor.fetchone()[0]
            with wrap_errors, raw.blobopen(table, self.blob_column, rowid, name=schema) as blob:
                written, overflow = write_chunks(blob, content_chunks(source), size)
            if overflow is None and written == size:
                return key
            # The content was not the size it claimed: resize (whole-value work,
            # only on this unusual path), then write what did not fit.
            with overflow or contextlib.nullcontext():
                total = written + (overflow.tell() if overflow else 0)
                cursor.execute(sql.resize_sql(c), (max(total - size, 0), total, key))
                cursor.execute(sql.finish_sql(c), (total, *modified, key))
                if overflow is not None:
                    overflow.seek(0)
                    with (
                        wrap_errors,
                        raw.blobopen(table, self.blob_column, rowid, name=schema) as blob,
                    ):
                        blob.seek(written)
                        for chunk in iter_chunks(overflow):
                            blob.write(chunk)
        return key

    def _replace(self, cursor: Any, key: str, row: tuple, blob: str = "?") -> None:
        sql, c = self.sql, self.columns
        upsert = sql.upsert_sql(c, blob)
        if upsert is not None:
            cursor.execute(upsert, (key, *row))
            return
        cursor.execute(sql.update_sql(c, blob), (*row, key))
        if cursor.rowcount == 1:
            return
        try:
            with self.connector.savepoint(), self.connector.cursor() as inner:
                inner.execute(sql.insert_sql(c, blob), (key, *row))
        except self.connector.errors as exc:
            if not self.connector.is_integrity_error(exc):
                raise
            cursor.execute(sql.update_sql(c, blob), (*row, key))  # inserted meanwhile

    def _claim(self, cursor: Any, key: str, row: tuple, exclusive: bool, blob: str = "?") -> str:
        """Insert a new row under ``key`` or, if taken, under the next available name."""
        sql, c = self.sql, self.columns
        insert_new = sql.insert_new_sql(c, blob)
        while True:
            if insert_new is not None:  # no error, so no savepoint (psqlODBC loses some)
                cursor.execute(insert_new, (key, *row))
                if cursor.rowcount == 1:
                    return key
            else:
                try:
                    with self.connector.savepoint(), self.connector.cursor() as inner:
                        inner.execute(sql.insert_sql(c, blob), (key, *row))
                    return key
                except self.connector.errors as exc:
                    if not self.connector.is_integrity_error(exc):
                        raise
            if exclusive:
                raise FileExistsError(f"{key!r} already exists in {self.describe()}.") from None
            key = super().get_available_name(key)

    def delete(self, name: str) -> None:
        key = self._key(name)
        with self._errors("delete", key), self.connector.cursor() as cursor:
            cursor.execute(self.sql.delete_sql(self.columns), (key,))

    def exists(self, name: str) -> bool:
        if is_root(name):
            return True  # the root always exists (collectstatic --clear asks), no query
        key = self._key(name)
        return self._fetchone(self.sql.exists_sql(self.columns), (key,), "look up", key) is not None

    def size(self, name: str) -> int:
        return self._stat(self._key(name))[0]

    def listdir(self, path: str) -> tuple[list[str], list[str]]:
        prefix = safe_join("", path).rstrip("/")
        prefix = f"{prefix}/" if prefix else ""
        c = self.columns
        directories: set[str] = set()
        files: list[str] = []
        with self._errors("list", path), self.connector.cursor() as cursor:
            if prefix:
                cursor.execute(self.sql.list_sql(c), (like_prefix(prefix),))
            else:
                cursor.execute(self.sql.list_all_sql(c))
            while rows := cursor.fetchmany(1000):
                for (stored,) in rows:
                    if not stored.startswith(prefix):  # LIKE may ignore case
                        continue
                    rest = stored[len(prefix) :]
                    if "/" in rest:
                        directories.add(rest.split("/", 1)[0])
                    elif rest:
                        files.append(rest)
        return sorted(directories), files

    def url(self, name: str) -> str:
        if self.base_url is None:
            raise ValueError(
                "DatabaseStorage has no base_url: set DB_FILES_URL, DB_FILES['base_url'] "
                "or the base_url option (the URL where storages.views serves the files)."
            )
        key = self._key(name)
        return urljoin(self.base_url, filepath_to_uri(key))

    def get_modified_time(self, name: str) -> datetime.datetime:
        key = self._key(name)
        if self.columns.modified is None:
            raise NotImplementedError(
                f"{self.describe()} has no modified column (modified_column="
                f"{self.modified_column!r}): DatabaseStorage cannot tell modification times."
            )
        _size, micros = self._stat(key)
        if micros is None:
            raise NotImplementedError(f"{key!r} has no modification time.")
        moment = datetime.datetime.fromtimestamp(micros / 1_000_000, tz=datetime.UTC)
        if setting("USE_TZ"):
            return moment
        return timezone.make_naive(moment, timezone.get_default_timezone())

    def get_accessed_time(self, name: str) -> datetime.datetime:
        raise NotImplementedError("DatabaseStorage does not record access times.")

    def get_created_time(self, name: str) -> datetime.datetime:
        raise NotImplementedError("DatabaseStorage does not record creation times.")

    def read_range(self, name: str, offset: int, length: int) -> bytes:
        """``length`` bytes from ``offset`` of a file, fetched with one partial read."""
        key = self._key(name)
        row = self._fetchone(
            self.sql.read_sql(self.columns),
            self.sql.read_params(offset + 1, length, key),
            "read",
            key,
        )
        if row is None:
            raise FileNotFoundError(f"{key!r} is not in {self.describe()}.")
        return bytes(row[0] or b"")
