"""Pytest plugin: a real OpenStack Swift (PyPI ``swift``) on 127.0.0.1 with tempauth.

One memcached, one account, container and object server (a one-replica ring
per kind, built in-process with ``RingBuilder``) and a proxy whose pipeline
has ``cache``, ``tempurl``, ``tempauth`` and ``slo``. Everything lives in a
temporary directory given as ``swift_dir`` so nothing is read from
``/etc/swift``. Two tempauth users exist: ``test:tester`` (an account admin,
key ``testing``), ``test:expiring`` (the same, for token-expiry tests: tempauth shares a
user's token between proxies through memcached) and ``test:reader`` (no rights).
"""

from __future__ import annotations

import contextlib
import shutil
import sys
import tempfile
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.servers.process import LOOPBACK, ServerProcess, free_port, port_answers, require_program

USER = "test:tester"
KEY = "testing"
ACCOUNT = "AUTH_test"
#: Seconds a tempauth token lives: long for the session, short for the expiry test.
TOKEN_LIFE = 86400

SERVER_KINDS = ("account", "container", "object")
MODULES = {
    "account": "swift.account.server",
    "container": "swift.container.server",
    "object": "swift.obj.server",
}


@dataclass
class SwiftServer:
    """A running Swift: where to authenticate and how to (re)start its proxy."""

    directory: Path
    proxy_port: int
    memcached_port: int
    processes: dict[str, ServerProcess] = field(default_factory=dict)

    @property
    def auth_url(self) -> str:
        return f"http://{LOOPBACK}:{self.proxy_port}/auth/v1.0"

    @property
    def storage_url(self) -> str:
        return f"http://{LOOPBACK}:{self.proxy_port}/v1/{ACCOUNT}"

    def start_proxy(self, port: int | None = None, token_life: int = TOKEN_LIFE) -> ServerProcess:
        """Start a proxy (another one on ``port`` if given) in front of the same backends."""
        port = port or self.proxy_port
        conf = self.directory / f"proxy-{port}.conf"
        conf.write_text(proxy_conf(self.directory, port, self.memcached_port, token_life))
        process = ServerProcess(
            f"swift-proxy-{port}",
            [sys.executable, "-c", _MAIN.format(module="swift.proxy.server"), str(conf)],
            ready=lambda: _answers(f"http://{LOOPBACK}:{port}/healthcheck"),
            timeout=60,
        )
        return process.start()

    def stop(self) -> None:
        for process in self.processes.values():
            process.stop()
        shutil.rmtree(self.directory, ignore_errors=True)


_MAIN = "import sys; from {module} import main; sys.exit(main())"


def _answers(url: str) -> bool:
    with contextlib.suppress(OSError), urllib.request.urlopen(url, timeout=1) as response:
        return response.status == 200
    return False


def swift_conf() -> str:
    return (
        "[swift-hash]\nswift_hash_path_suffix = storages-tests\n"
        "swift_hash_path_prefix = storages\n\n"
        "[storage-policy:0]\nname = gold\ndefault = yes\n\n"
        # Small enough that the proxy still streams; big enough for the contract.
        "[swift-constraints]\nmax_file_size = 5368709122\n"
    )


def backend_conf(directory: Path, kind: str, port: int) -> str:
    return (
        f"[DEFAULT]\nbind_ip = {LOOPBACK}\nbind_port = {port}\nworkers = 0\nuser = root\n"
        f"devices = {directory / 'devices'}\nmount_check = false\n"
        f"swift_dir = {directory}\nlog_level = WARNING\n\n"
        f"[pipeline:main]\npipeline = {kind}-server\n\n"
        f"[app:{kind}-server]\nuse = egg:swift#{kind}\n"
    )


def proxy_conf(directory: Path, port: int, memcached_port: int, token_life: int) -> str:
    return (
        f"[DEFAULT]\nbind_ip = {LOOPBACK}\nbind_port = {port}\nworkers = 0\nuser = root\n"
        f"swift_dir = {directory}\nlog_level = WARNING\n\n"
        "[pipeline:main]\npipeline = catch_errors gatekeeper healthcheck proxy-logging cache "
        "listing_formats tempurl tempauth copy slo dlo proxy-logging proxy-server\n\n"
        "[app:proxy-server]\nuse = egg:swift#proxy\naccount_autocreate = true\n\n"
        "[filter:catch_errors]\nuse = egg:swift#catch_errors\n\n"
        "[filter:gatekeeper]\nuse = egg:swift#gatekeeper\n\n"
        "[filter:healthcheck]\nuse = egg:swift#healthcheck\n\n"
        "[filter:proxy-logging]\nuse = egg:swift#proxy_logging\n\n"
        "[filter:cache]\nuse = egg:swift#memcache\n"
        f"memcache_servers = {LOOPBACK}:{memcached_port}\n\n"
        "[filter:listing_formats]\nuse = egg:swift#listing_formats\n\n"
        "[filter:tempurl]\nuse = egg:swift#tempurl\n\n"
        f"[filter:tempauth]\nuse = egg:swift#tempauth\ntoken_life = {token_life}\n"
        f"user_test_tester = {KEY} .admin http://{LOOPBACK}:{port}/v1/{ACCOUNT}\n"
        f"user_test_expiring = expiring .admin http://{LOOPBACK}:{port}/v1/{ACCOUNT}\n"
        f"user_test_reader = reading http://{LOOPBACK}:{port}/v1/{ACCOUNT}\n\n"
        "[filter:copy]\nuse = egg:swift#copy\n\n"
        "[filter:slo]\nuse = egg:swift#slo\n\n"
        "[filter:dlo]\nuse = egg:swift#dlo\n"
    )


def build_rings(directory: Path, ports: dict[str, int]) -> None:
    from swift.common.ring import RingBuilder

    for kind in SERVER_KINDS:
        builder = RingBuilder(part_power=6, replicas=1, min_part_hours=0)
        builder.add_dev(
            {"id": 0, "region": 1, "zone": 1, "ip": LOOPBACK, "port": ports[kind],
             "device": "sdb1", "weight": 100, "meta": ""}
        )  # fmt: skip
        builder.rebalance()
        builder.get_ring().save(str(directory / f"{kind}.ring.gz"))


def start_swift() -> SwiftServer:
    memcached = require_program("memcached")
    directory = Path(tempfile.mkdtemp(prefix="storages-swift-"))
    (directory / "devices" / "sdb1").mkdir(parents=True)
    (directory / "swift.conf").write_text(swift_conf())
    ports = {kind: free_port() for kind in SERVER_KINDS}
    build_rings(directory, ports)
    server = SwiftServer(directory, proxy_port=free_port(), memcached_port=free_port())
    try:
        server.processes["memcached"] = ServerProcess(
            "memcached",
            [memcached, "-l", LOOPBACK, "-p", str(server.memcached_port), "-U", "0",
             "-u", "root", "-m", "32"],
            ready=lambda: port_answers(server.memcached_port),
            timeout=20,
        ).start()  # fmt: skip
        backends = []
        for kind in SERVER_KINDS:
            conf = directory / f"{kind}.conf"
            conf.write_text(backend_conf(directory, kind, ports[kind]))
            process = ServerProcess(
                f"swift-{kind}",
                [sys.executable, "-c", _MAIN.format(module=MODULES[kind]), str(conf)],
                ready=lambda port=ports[kind]: port_answers(port),
                timeout=60,
            )
            # Start all three before waiting on any: they load in parallel.
            process.ready, ready = (lambda: True), process.ready
            server.processes[kind] = process.start()
            backends.append((process, ready))
        server.processes["proxy"] = server.start_proxy()
        for process, ready in backends:
            _wait(process, ready)
    except BaseException:
        server.stop()
        raise
    return server


def _wait(process: ServerProcess, ready, timeout: float = 60) -> None:
    import time

    deadline = time.monotonic() + timeout
    while not ready():
        if time.monotonic() > deadline or not process.running:
            raise RuntimeError(f"{process.name} did not start:\n{process.log_tail()}")
        time.sleep(0.05)


@pytest.fixture(scope="session")
def swift_server():
    server = start_swift()
    try:
        yield server
    finally:
        server.stop()
