"""The server harness itself: start, readiness, failure reporting, stop."""

from __future__ import annotations

import sys
import urllib.request

import pytest

from tests.servers.process import (
    LOOPBACK,
    ServerNotReady,
    ServerProcess,
    free_port,
    port_answers,
)


def test_starts_answers_and_stops(tmp_path):
    (tmp_path / "hello.txt").write_text("hello")
    port = free_port()
    command = [sys.executable, "-m", "http.server", str(port), "--bind", LOOPBACK]
    server = ServerProcess("http", command, ready=lambda: port_answers(port), cwd=tmp_path)
    with server:
        assert server.running
        with urllib.request.urlopen(f"http://{LOOPBACK}:{port}/hello.txt", timeout=5) as reply:
            assert reply.read() == b"hello"
    assert not server.running
    assert not port_answers(port)


def test_early_exit_is_reported_with_the_log():
    command = [sys.executable, "-c", "import sys; print('bad config'); sys.exit(3)"]
    server = ServerProcess("broken", command, ready=lambda: False, timeout=10)
    with pytest.raises(ServerNotReady, match="bad config"):
        server.start()


def test_never_ready_times_out_and_is_stopped():
    command = [sys.executable, "-c", "import time; time.sleep(60)"]
    server = ServerProcess("silent", command, ready=lambda: False, timeout=1)
    with pytest.raises(ServerNotReady, match="did not answer"):
        server.start()
    assert not server.running
