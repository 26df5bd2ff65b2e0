"""Pytest plugin: a real MongoDB wire-protocol server for the GridFS tests.

``MONGODB_TEST_URI`` (e.g. ``mongodb://user:pw@host:27017/``) points the tests
at a real MongoDB instead; otherwise SecantusDB (PyPI ``secantusdb``, a MongoDB
wire-protocol server on WiredTiger; no ``mongod`` installs on these machines)
is started on 127.0.0.1.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from tests.servers.process import LOOPBACK, ServerProcess, free_port, require_program

SECANTUS = "secantusd-py"


def secantus_program() -> str:
    beside = Path(sys.executable).parent / SECANTUS
    return str(beside) if beside.exists() else require_program(SECANTUS)


def mongodb_answers(uri: str) -> bool:
    import pymongo

    client = pymongo.MongoClient(uri, serverSelectionTimeoutMS=500, connectTimeoutMS=500)
    try:
        client.admin.command("ping")
        return True
    except pymongo.errors.PyMongoError:
        return False
    finally:
        client.close()


def secantus_server(port: int, storage_path: str = ":memory:") -> ServerProcess:
    """A SecantusDB server on ``port`` (not started yet)."""
    uri = f"mongodb://{LOOPBACK}:{port}/?directConnection=true"
    argv = [
        secantus_program(),
        *("--host", LOOPBACK, "--port", str(port)),
        *("--storage-path", storage_path, "--log-level", "WARNING"),
    ]
    return ServerProcess("secantusdb", argv, ready=lambda: mongodb_answers(uri), timeout=60)


def secantus_uri(port: int) -> str:
    return f"mongodb://{LOOPBACK}:{port}/?directConnection=true"


@pytest.fixture(scope="session")
def mongodb_uri():
    """A MongoDB URI for the tests: MONGODB_TEST_URI, or a SecantusDB started here."""
    given = os.environ.get("MONGODB_TEST_URI")
    if given:
        yield given
        return
    port = free_port()
    server = secantus_server(port).start()
    try:
        yield secantus_uri(port)
    finally:
        server.stop()
