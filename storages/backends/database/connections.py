"""The two ways :class:`~storages.backends.database.DatabaseStorage` reaches a database.

* :class:`DjangoConnector` uses one of Django's database aliases: Django's own
  per-thread connections, its ``transaction.atomic`` (so a save inside a view's
  transaction becomes a savepoint of it) and its error classes.
* :class:`OdbcConnector` uses a pyodbc connection string, for databases Django
  is not connected to (the original backend's way). pyodbc connections may not
  be shared between threads, so each thread opens its own, lazily, and keeps
  it; a connection that failed is dropped and opened again next time.

Both expose the same small interface: ``execute``, ``transaction``,
``savepoint``, ``vendor``, ``errors`` and a ``describe()`` that never contains
a password.
"""

from __future__ import annotations

import contextlib
import itertools
import re
import sys
import threading
from collections.abc import Iterator, Sequence
from typing import Any

from storages.utils import require

#: Connection-string keys whose values are secrets (masked everywhere we print).
SECRET_KEYS = re.compile(r"pwd|pass|secret|token|key|auth", re.IGNORECASE)
#: Keys shown when describing an ODBC store in messages.
SHOWN_KEYS = ("driver", "dsn", "server", "host", "port", "database", "db")

_savepoint_ids = itertools.count(1)

PAIR = re.compile(r"\s*([^=;]+?)\s*=\s*(\{(?:[^}]|\}\})*\}|[^;]*)\s*(?:;|$)")


def parse_connection_string(connection_string: str) -> list[tuple[str, str]]:
    """``KEY=value;KEY={va;lue}`` pairs, braces honoured as ODBC defines them."""
    return [(match.group(1), match.group(2)) for match in PAIR.finditer(connection_string)]


def connection_secrets(connection_string: str | None) -> list[str]:
    """The secret values in a connection string (with and without braces)."""
    if not connection_string:
        return []
    found = []
    for key, value in parse_connection_string(connection_string):
        if SECRET_KEYS.search(key) and value.strip("{}"):
            found.extend({value, value.strip("{}")})
    return sorted(found, key=len, reverse=True)


def scrub(text: str, secrets_: Sequence[str]) -> str:
    for secret in secrets_:
        if secret:
            text = text.replace(secret, "********")
    return text


def sqlstate_of(exc: BaseException) -> str:
    """The SQLSTATE (or MySQL error number) a driver attached to ``exc``, if any."""
    for candidate in (exc, exc.__cause__):
        if candidate is None:
            continue
        for attribute in ("sqlstate", "pgcode"):
            value = getattr(candidate, attribute, None)
            if value:
                return str(value)
        args = getattr(candidate, "args", ())
        if args and isinstance(args[0], (str, int)):
            first = str(args[0])
            if re.fullmatch(r"[0-9A-Z]{5}|\d{4}", first):
                return first
    return ""


def is_retryable(exc: BaseException) -> bool:
    """A deadlock, serialization failure or lock timeout: the whole save may be retried."""
    state = sqlstate_of(exc)
    # Serialization failure, deadlock (PostgreSQL, MySQL), lock timeout, and a savepoint
    # the driver lost with the transaction (see OdbcConnector.savepoint).
    if state in ("40001", "40P01", "1213", "1205", "HYT00", "3B001"):
        return True
    text = str(exc).lower()
    return "deadlock" in text or "database is locked" in text or "try restarting" in text


class DjangoConnector:
    """A Django database alias."""

    def __init__(self, alias: str) -> None:
        from django.db import DEFAULT_DB_ALIAS

        self.alias = alias or DEFAULT_DB_ALIAS

    @property
    def connection(self) -> Any:
        from django.db import connections

        return connections[self.alias]

    @property
    def vendor(self) -> str:
        return self.connection.vendor

    @property
    def errors(self) -> tuple[type[BaseException], ...]:
        from django.db import Error

        return (Error,)

    def is_integrity_error(self, exc: BaseException) -> bool:
        from django.db import IntegrityError

        return isinstance(exc, IntegrityError)

    @property
    def in_transaction(self) -> bool:
        return self.connection.in_atomic_block

    def transaction(self) -> Any:
        from django.db import transaction

        return transaction.atomic(using=self.alias)

    savepoint = transaction

    @contextlib.contextmanager
    def cursor(self) -> Iterator[Any]:
        with self.connection.cursor() as cursor:
            yield _FormatCursor(cursor)

    @contextlib.contextmanager
    def binary_cursor(self) -> Iterator[Any]:
        """A cursor that moves bytes in binary, where the driver can; else ``cursor()``.

        Django's psycopg 3 cursors bind values on the client, which quotes a
        ``bytea`` parameter as hex text and decodes results from hex: about ten
        copies of every part in memory. psycopg's own server-binding cursor on
        the same connection (so in the same transaction) sends and receives
        the bytes as they are.
        """
        connection = self.connection
        raw = None
        if connection.vendor == "postgresql":
            connection.ensure_connection()
            raw = connection.connection
        if raw is None or type(raw).__module__.split(".")[0] != "psycopg":  # psycopg 3 only
            with self.cursor() as cursor:
                yield cursor
            return
        # Django makes ClientCursor the connection's default: ask for the plain one.
        cursor_class = sys.modules[type(raw).__module__.split(".")[0]].Cursor
        with connection.wrap_database_errors, cursor_class(raw) as cursor:
            yield _BinaryCursor(cursor)

    def describe(self) -> str:
        return f"database {self.alias!r}"

    def secrets(self) -> list[str]:
        return []

    def close(self) -> None:
        """Django manages its connections (closed at the end of each request)."""


class _FormatCursor:
    """Django cursors take ``%s`` placeholders; our SQL is written with ``?``."""

    def __init__(self, cursor: Any) -> None:
        self._cursor = cursor

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Any:
        # Identifiers are validated (no '?' or '%' in them) and values are
        # parameters, so the only '?' in the text are placeholders.
        return self._cursor.execute(sql.replace("?", "%s"), list(params))

    def __getattr__(self, name: str) -> Any:
        return getattr(self._cursor, name)


class _BinaryCursor(_FormatCursor):
    """psycopg's ``%b`` placeholders: every parameter in binary format."""

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Any:
        return self._cursor.execute(sql.replace("?", "%b"), list(params), binary=True)


class OdbcConnector:
    """A pyodbc connection string; one connection per thread, opened lazily."""

    #: SQL to create, roll back to and release a savepoint (set from the dialect).
    savepoint_sql: tuple[str, str, str | None] = (
        "SAVEPOINT {name}",
        "ROLLBACK TO SAVEPOINT {name}",
        "RELEASE SAVEPOINT {name}",
    )

    def __init__(self, connection_string: str) -> None:
        self.connection_string = connection_string
        self._local = threading.local()

    def _pyodbc(self) -> Any:
        return require("pyodbc", "database")

    @property
    def connection(self) -> Any:
        connection = getattr(self._local, "connection", None)
        if connection is None:
            pyodbc = self._pyodbc()
            connection = pyodbc.connect(self.connection_string, autocommit=True)
            self._local.connection = connection
            self._local.depth = 0
            self._local.sqlite = None
        return connection

    @property
    def vendor(self) -> str:
        return self.connection.getinfo(self._pyodbc().SQL_DBMS_NAME)

    @property
    def errors(self) -> tuple[type[BaseException], ...]:
        return (self._pyodbc().Error,)

    def is_integrity_error(self, exc: BaseException) -> bool:
        if isinstance(exc, self._pyodbc().IntegrityError) or sqlstate_of(exc).startswith("23"):
            return True
        # The SQLite ODBC driver reports constraint failures as a generic HY000.
        text = str(exc).lower()
        return "unique constraint" in text or "constraint failed" in text

    @property
    def in_transaction(self) -> bool:
        return getattr(self._local, "depth", 0) > 0

    @contextlib.contextmanager
    def transaction(self) -> Iterator[None]:
        if self.in_transaction:
            with self.savepoint():
                yield
            return
        connection = self.connection
        if self._is_sqlite(connection):
            with self._immediate_transaction(connection):
                yield
            return
        connection.autocommit = False
        self._local.depth = 1
        try:
            yield
        except BaseException:
            with contextlib.suppress(Exception):
                connection.rollback()
            raise
        else:
            connection.commit()
        finally:
            self._local.depth = 0
            with contextlib.suppress(Exception):
                connection.autocommit = True

    def _is_sqlite(self, connection: Any) -> bool:
        if getattr(self._local, "sqlite", None) is None:
            name = connection.getinfo(self._pyodbc().SQL_DBMS_NAME)
            self._local.sqlite = name.lower().startswith("sqlite")
        return self._local.sqlite

    @contextlib.contextmanager
    def _immediate_transaction(self, connection: Any) -> Iterator[None]:
        """``BEGIN IMMEDIATE``: take SQLite's write lock first, then read.

        The driver's own transactions are deferred: two writers that both read
        before writing deadlock, and SQLite lets one of them wait out the whole
        busy timeout (30 s by default) before either goes on.
        """
        connection.execute("BEGIN IMMEDIATE")
        self._local.depth = 1
        try:
            yield
        except BaseException:
            with contextlib.suppress(Exception):
                connection.execute("ROLLBACK")
            raise
        else:
            connection.execute("COMMIT")
        finally:
            self._local.depth = 0

    @contextlib.contextmanager
    def savepoint(self) -> Iterator[None]:
        if not self.in_transaction:
            with self.transaction():
                yield
            return
        create, rollback, release = self.savepoint_sql
        name = f"storages_sp{next(_savepoint_ids)}"
        cursor = self.connection.cursor()
        cursor.execute(create.format(name=name))
        self._local.depth += 1
        try:
            yield
        except BaseException:
            # If the savepoint is gone, the driver rolled the whole transaction back
            # under us (psqlODBC does, now and then, after an error): that failure,
            # SQLSTATE 3B001, is raised instead, and the whole save starts again.
            cursor.execute(rollback.format(name=name))
            raise
        else:
            if release:
                cursor.execute(release.format(name=name))
        finally:
            self._local.depth -= 1
            cursor.close()

    def binary_cursor(self) -> Any:
        return self.cursor()

    @contextlib.contextmanager
    def cursor(self) -> Iterator[Any]:
        try:
            cursor = self.connection.cursor()
        except self.errors:
            self.close()
            raise
        try:
            yield cursor
        except self.errors as exc:
            if not self.in_transaction and sqlstate_of(exc).startswith("08"):
                self.close()  # the connection is gone: reconnect next time
            raise
        finally:
            with contextlib.suppress(Exception):
                cursor.close()

    def describe(self) -> str:
        shown = [
            f"{key}={value}"
            for key, value in parse_connection_string(self.connection_string)
            if key.lower() in SHOWN_KEYS
        ]
        return f"ODBC {';'.join(shown) or 'connection'}"

    def secrets(self) -> list[str]:
        return connection_secrets(self.connection_string)

    def close(self) -> None:
        connection = getattr(self._local, "connection", None)
        self._local.connection = None
        self._local.depth = 0
        if connection is not None:
            with contextlib.suppress(Exception):
                connection.close()
