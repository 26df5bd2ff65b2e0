"""Pytest plugin: a CouchDB-compatible HTTP server for the CouchDB tests.

Apache CouchDB does not install here (not in Debian); npm ``pouchdb-server``
(deps/npm/couchdb.txt, installed into ./node_modules) speaks CouchDB's HTTP
API. It is started in memory for the contract suite, or on a directory when a
test needs the data to survive a restart.
"""

from __future__ import annotations

import shutil
import tempfile
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tests.servers.process import LOOPBACK, ServerProcess, free_port

ROOT = Path(__file__).resolve().parents[2]


def pouchdb_program() -> str:
    local = ROOT / "node_modules" / ".bin" / "pouchdb-server"
    if local.exists():
        return str(local)
    found = shutil.which("pouchdb-server")
    if found is None:
        raise FileNotFoundError(
            "pouchdb-server is not installed: npm install --no-save pouchdb-server "
            "(the test command installs deps/npm/couchdb.txt)"
        )
    return found


def http_answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1):
            return True
    except urllib.error.HTTPError:
        return True
    except OSError:
        return False


def pouchdb_server(port: int, data_dir: str | None = None) -> ServerProcess:
    """A pouchdb-server on ``port``: in memory, or keeping its data in ``data_dir``."""
    # It writes config.json and log.txt into its working directory.
    workdir = data_dir or tempfile.mkdtemp(prefix="pouchdb-")
    storage = ["-d", data_dir.rstrip("/") + "/"] if data_dir else ["--in-memory"]
    argv = [pouchdb_program(), *storage, "-p", str(port), "-o", LOOPBACK]
    url = f"http://{LOOPBACK}:{port}/"
    return ServerProcess(
        "pouchdb-server", argv, ready=lambda: http_answers(url), timeout=60, cwd=workdir
    )


def pouchdb_url(port: int) -> str:
    return f"http://{LOOPBACK}:{port}"


@pytest.fixture(scope="session")
def couchdb_url():
    """The URL of a CouchDB-compatible server started for this session."""
    port = free_port()
    server = pouchdb_server(port).start()
    try:
        yield pouchdb_url(port)
    finally:
        server.stop()
