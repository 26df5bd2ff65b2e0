"""Pytest plugin: PostgreSQL and MariaDB servers on 127.0.0.1, and Django aliases for them.

Both servers start once per session in a temporary directory and are stopped
at the end. ``add_django_database`` registers a Django database alias for the
length of one test only, so pytest-django's own test-database set-up (which
walks every alias) never sees ours.
"""

from __future__ import annotations

import contextlib
import glob
import importlib
import os
import pwd
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest

from tests.servers.process import LOOPBACK, ServerProcess, free_port, port_answers


def _postgres_program(name: str) -> str:
    found = shutil.which(name) or sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))[-1:]
    if not found:
        raise FileNotFoundError(
            f"PostgreSQL's {name!r} is not installed "
            "(Debian package postgresql, listed in deps/apt/database.txt)"
        )
    return found if isinstance(found, str) else found[0]


def _mariadb_program(name: str) -> str:
    for candidate in (shutil.which(name), f"/usr/sbin/{name}", f"/usr/bin/{name}"):
        if candidate and os.path.exists(candidate):
            return candidate
    raise FileNotFoundError(
        f"MariaDB's {name!r} is not installed "
        "(Debian package mariadb-server, listed in deps/apt/database.txt)"
    )


@dataclass
class DatabaseServer:
    vendor: str
    port: int
    user: str
    database: str
    process: ServerProcess

    def django_settings(self, database: str | None = None) -> dict:
        name = database or self.database
        if self.vendor == "postgresql":
            return {
                "ENGINE": "django.db.backends.postgresql",
                "HOST": LOOPBACK,
                "PORT": str(self.port),
                "USER": self.user,
                "PASSWORD": "",
                "NAME": name,
            }
        return {
            "ENGINE": "django.db.backends.mysql",
            "HOST": LOOPBACK,
            "PORT": str(self.port),
            "USER": self.user,
            "PASSWORD": "",
            "NAME": name,
            "OPTIONS": {"charset": "utf8mb4"},
        }

    def odbc(self, database: str | None = None) -> str:
        name = database or self.database
        if self.vendor == "postgresql":
            return (
                f"DRIVER={{PostgreSQL Unicode}};SERVER={LOOPBACK};PORT={self.port};"
                f"DATABASE={name};UID={self.user};PWD=unused;ByteaAsLongVarBinary=1"
            )
        return (
            f"DRIVER={{MariaDB Unicode}};SERVER={LOOPBACK};PORT={self.port};"
            f"DATABASE={name};UID={self.user};PWD="
        )


def _run(argv: list[str], **kwargs) -> None:
    result = subprocess.run(argv, capture_output=True, text=True, timeout=120, **kwargs)
    if result.returncode != 0:
        raise RuntimeError(f"{argv[0]} failed:\n{result.stdout}\n{result.stderr}")


@dataclass(frozen=True)
class _Driver:
    """A server program, and how its Python driver reaches the administrator account."""

    name: str  # the process's name in messages and logs
    vendor: str  # DatabaseServer.vendor
    module: str  # imported only when a server is started
    error: str  # the driver's exception for a refused connection
    user: str
    extra: tuple[tuple[str, str], ...] = ()

    def connect(self, port: int, **options):
        driver = importlib.import_module(self.module)
        return driver.connect(
            host=LOOPBACK, port=port, user=self.user, **dict(self.extra), **options
        )

    def answers(self, port: int) -> bool:
        if not port_answers(port):
            return False
        try:
            self.connect(port, connect_timeout=2).close()
        except getattr(importlib.import_module(self.module), self.error):
            return False
        return True


_POSTGRES = _Driver(
    "postgres", "postgresql", "psycopg", "OperationalError", "postgres", (("dbname", "postgres"),)
)
_MARIADB = _Driver("mariadb", "mysql", "MySQLdb", "Error", "root")


@contextlib.contextmanager
def _serving(
    driver: _Driver, argv: list[str], port: int, root: str, create: str
) -> Iterator[DatabaseServer]:
    """Start the server, create ``storages_test`` with ``create``; stop and clean up after."""
    server = ServerProcess(driver.name, argv, ready=lambda: driver.answers(port), timeout=60)
    server.start()
    try:
        with contextlib.closing(driver.connect(port, autocommit=True)) as connection:
            connection.cursor().execute(create)
        yield DatabaseServer(driver.vendor, port, driver.user, "storages_test", server)
    finally:
        server.stop()
        shutil.rmtree(root, ignore_errors=True)


@contextlib.contextmanager
def running_postgres() -> Iterator[DatabaseServer]:
    """A PostgreSQL server on 127.0.0.1 with an empty ``storages_test`` database."""
    initdb, postgres = _postgres_program("initdb"), _postgres_program("postgres")
    root = tempfile.mkdtemp(prefix="storages-postgres-")
    # initdb and postgres refuse to run as root: use the postgres account then.
    as_user: list[str] = []
    if os.geteuid() == 0:
        account = pwd.getpwnam("postgres")
        os.chown(root, account.pw_uid, account.pw_gid)
        as_user = ["runuser", "-u", "postgres", "--"]
    data = os.path.join(root, "data")
    _run(
        [
            *as_user,
            initdb,
            "-D",
            data,
            "-A",
            "trust",
            "-U",
            "postgres",
            "-E",
            "UTF8",
            "--locale=C.UTF-8",
            "--no-sync",
        ]
    )
    port = free_port()
    argv = [
        *as_user,
        postgres,
        "-D",
        data,
        "-h",
        LOOPBACK,
        "-p",
        str(port),
        "-k",
        root,
        "-F",
        "-c",
        "full_page_writes=off",
        "-c",
        "synchronous_commit=off",
        "-c",
        "max_connections=300",
    ]
    with _serving(_POSTGRES, argv, port, root, "CREATE DATABASE storages_test") as up:
        yield up


@contextlib.contextmanager
def running_mariadb() -> Iterator[DatabaseServer]:
    """A MariaDB server on 127.0.0.1 with an empty ``storages_test`` database."""
    install, mariadbd = _mariadb_program("mariadb-install-db"), _mariadb_program("mariadbd")
    root = tempfile.mkdtemp(prefix="storages-mariadb-")
    data = os.path.join(root, "data")
    user = ["--user=root"] if os.geteuid() == 0 else []
    _run(
        [
            install,
            "--no-defaults",
            f"--datadir={data}",
            "--auth-root-authentication-method=normal",
            "--skip-test-db",
            *user,
        ]
    )
    port = free_port()
    argv = [
        mariadbd,
        "--no-defaults",
        f"--datadir={data}",
        f"--port={port}",
        f"--bind-address={LOOPBACK}",
        f"--socket={root}/mysqld.sock",
        f"--pid-file={root}/mysqld.pid",
        "--max-allowed-packet=256M",
        "--skip-grant-tables",
        "--skip-name-resolve",
        "--innodb-flush-log-at-trx-commit=0",
        "--skip-log-bin",
        "--innodb-buffer-pool-size=64M",
        "--max-connections=300",
        *user,
    ]
    create = "CREATE DATABASE storages_test CHARACTER SET utf8mb4 COLLATE utf8mb4_bin"
    with _serving(_MARIADB, argv, port, root, create) as up:
        yield up


def _session_server(name: str, running: Callable[[], contextlib.AbstractContextManager]):
    @pytest.fixture(scope="session", name=name)
    def server() -> Iterator[DatabaseServer]:
        with running() as started:
            yield started

    return server


postgres_server = _session_server("postgres_server", running_postgres)
mariadb_server = _session_server("mariadb_server", running_mariadb)


@contextlib.contextmanager
def add_django_database(alias: str, settings_dict: dict) -> Iterator[str]:
    """Make ``alias`` a Django database while the block runs (this thread closes it)."""
    from django.db import connections

    configured = connections.configure_settings(
        {**connections.settings, alias: dict(settings_dict)}
    )[alias]
    connections.settings[alias] = configured
    try:
        yield alias
    finally:
        with contextlib.suppress(Exception):
            connections[alias].close()
        with contextlib.suppress(AttributeError):
            delattr(connections._connections, alias)
        connections.settings.pop(alias, None)


def unique_name(prefix: str = "files") -> str:
    return f"{prefix}_{uuid.uuid4().hex[:12]}"
