"""Pytest plugin: a MogileFS cluster (tests/servers/mogile_fake.py) on 127.0.0.1.

Two storage nodes (devices 1 and 2) and a tracker listening on two ports that
share one state, like two trackers on one database. Each runs in its own
process so that a test can stop one abruptly.
"""

from __future__ import annotations

import shutil
import socket
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.servers.process import LOOPBACK, ServerProcess, free_port, port_answers

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class MogileCluster:
    directory: Path
    tracker_ports: list[int]
    node_ports: dict[int, int]
    processes: dict[str, ServerProcess] = field(default_factory=dict)

    @property
    def trackers(self) -> list[str]:
        return [f"{LOOPBACK}:{port}" for port in self.tracker_ports]

    def node(self, devid: int) -> ServerProcess:
        return self.processes[f"node{devid}"]

    def command(self, line: str) -> str:
        """Send one raw protocol line to the first tracker; the raw reply."""
        with socket.create_connection((LOOPBACK, self.tracker_ports[0]), timeout=10) as sock:
            sock.sendall(line.encode() + b"\r\n")
            reply = b""
            while not reply.endswith(b"\r\n"):
                data = sock.recv(65536)
                if not data:
                    break
                reply += data
        return reply.decode().rstrip("\r\n")

    def stop(self) -> None:
        for process in self.processes.values():
            process.stop()
        shutil.rmtree(self.directory, ignore_errors=True)


def _module(*args: str) -> list[str]:
    return [sys.executable, "-m", "tests.servers.mogile_fake", *args]


def start_cluster(nodes: int = 2, trackers: int = 2) -> MogileCluster:
    directory = Path(tempfile.mkdtemp(prefix="storages-mogilefs-"))
    cluster = MogileCluster(
        directory,
        tracker_ports=[free_port() for _ in range(trackers)],
        node_ports={devid: free_port() for devid in range(1, nodes + 1)},
    )
    try:
        for devid, port in cluster.node_ports.items():
            cluster.processes[f"node{devid}"] = ServerProcess(
                f"mogile-node{devid}",
                _module("node", "--port", str(port), "--root", str(directory / f"node{devid}")),
                ready=lambda port=port: port_answers(port),
                cwd=ROOT,
                timeout=30,
            ).start()
        command = _module("tracker")
        for port in cluster.tracker_ports:
            command += ["--port", str(port)]
        for devid, port in cluster.node_ports.items():
            command += ["--device", f"{devid}={LOOPBACK}:{port}"]
        cluster.processes["tracker"] = ServerProcess(
            "mogile-tracker",
            command,
            ready=lambda: all(port_answers(p) for p in cluster.tracker_ports),
            cwd=ROOT,
            timeout=30,
        ).start()
    except BaseException:
        cluster.stop()
        raise
    return cluster


@pytest.fixture(scope="session")
def mogilefs_cluster():
    cluster = start_cluster()
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture
def mogilefs_private_cluster():
    """A cluster of its own, for tests that stop a node or the tracker."""
    cluster = start_cluster(nodes=2, trackers=1)
    try:
        yield cluster
    finally:
        cluster.stop()
