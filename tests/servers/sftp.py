"""Pytest plugin: OpenSSH's sshd on 127.0.0.1 with the internal SFTP server.

Host and client keys are made with ``ssh-keygen`` in the session's temporary
directory; the client key is the only way in (no passwords, no PAM).
"""

from __future__ import annotations

import contextlib
import getpass
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.servers.process import LOOPBACK, ServerProcess, free_port, require_program

KEY_PASSPHRASE = "ssh-key-Pa55phrase!secret"  # asserted absent from errors, logs and repr


@dataclass
class SSHServerInfo:
    port: int
    root: Path
    host_key: Path
    client_key: Path
    known_hosts: Path
    user: str
    process: ServerProcess | None = field(default=None, repr=False)

    def params(self, **extra):
        return {
            "port": self.port,
            "username": self.user,
            "key_filename": str(self.client_key),
            "passphrase": KEY_PASSPHRASE,
            "allow_agent": False,
            "look_for_keys": False,
            **extra,
        }


def keygen(path: Path, passphrase: str = "", kind: str = "ed25519") -> Path:
    subprocess.run(
        [
            require_program("ssh-keygen"),
            "-q",
            "-t",
            kind,
            "-N",
            passphrase,
            "-C",
            "",
            "-f",
            str(path),
        ],
        check=True,
        timeout=30,
    )
    return path


def known_hosts_line(port: int, host_key: Path) -> str:
    kind, blob = host_key.with_suffix(".pub").read_text().split()[:2]
    return f"[{LOOPBACK}]:{port} {kind} {blob}\n"


def sshd_config(base: Path, port: int, host_key: Path, authorized: Path) -> str:
    return "\n".join(
        [
            f"ListenAddress {LOOPBACK}",
            f"Port {port}",
            f"HostKey {host_key}",
            f"AuthorizedKeysFile {authorized}",
            f"PidFile {base / 'sshd.pid'}",
            "UsePAM no",
            "StrictModes no",
            "PermitRootLogin prohibit-password",
            "PasswordAuthentication no",
            "KbdInteractiveAuthentication no",
            "PubkeyAuthentication yes",
            "MaxStartups 100:30:200",
            "MaxSessions 100",
            "LogLevel ERROR",
            "Subsystem sftp internal-sftp",
            "",
        ]
    )


def start_sshd(base: Path, host_key: Path, client_key: Path, port: int | None = None):
    program = require_program("sshd")
    Path("/run/sshd").mkdir(parents=True, exist_ok=True)
    port = port or free_port()
    authorized = base / "authorized_keys"
    authorized.write_text(client_key.with_suffix(".pub").read_text())
    config = base / "sshd_config"
    config.write_text(sshd_config(base, port, host_key, authorized))
    process = ServerProcess(
        "sshd",
        [program, "-D", "-e", "-f", str(config)],
        ready=lambda: _ssh_banner(port),
        timeout=30,
    )
    process.start()
    return process, port


def _ssh_banner(port: int) -> bool:
    import socket

    try:
        with socket.create_connection((LOOPBACK, port), timeout=1) as sock:
            sock.settimeout(2)
            return sock.recv(4).startswith(b"SSH-")
    except OSError:
        return False


def make_sshd(base: Path) -> SSHServerInfo:
    base.mkdir(parents=True, exist_ok=True)
    host_key = keygen(base / "host_ed25519")
    client_key = keygen(base / "client_ed25519", KEY_PASSPHRASE)
    root = base / "files"
    root.mkdir()
    process, port = start_sshd(base, host_key, client_key)
    known = base / "known_hosts"
    known.write_text(known_hosts_line(port, host_key))
    return SSHServerInfo(port, root, host_key, client_key, known, getpass.getuser(), process)


@pytest.fixture(scope="session")
def sshd_server(tmp_path_factory):
    info = make_sshd(tmp_path_factory.mktemp("sshd"))
    yield info
    info.process.stop()


def descendants(pid: int) -> list[int]:
    """Process ids below ``pid`` (sshd's per-connection children leave its process group)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(entry.name))
    found, queue = [], [pid]
    while queue:
        for child in children.get(queue.pop(), []):
            found.append(child)
            queue.append(child)
    return found


def kill_sshd(info: SSHServerInfo) -> None:
    """Crash the server and every session it serves, as a machine failure would."""
    import os
    import signal

    process = info.process.process
    victims = descendants(process.pid) if process else []
    info.process.kill()
    for pid in victims:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
