"""Start a real server on 127.0.0.1, wait until it answers, and always stop it.

Each backend's fixture builds a :class:`ServerProcess` with the command line
and a readiness probe. Servers run in their own process group so that
stopping one also stops anything it spawned; a session-wide ``atexit`` guard
stops whatever a crashed test left behind.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

LOOPBACK = "127.0.0.1"

_running: set[ServerProcess] = set()


class ServerNotReady(RuntimeError):
    """A test server did not answer in time; carries the end of its log."""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that is free right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOOPBACK, 0))
        return sock.getsockname()[1]


def port_answers(port: int, host: str = LOOPBACK) -> bool:
    with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=0.5):
        return True
    return False


def require_program(name: str) -> str:
    """The full path of a program the harness needs; fail (never skip) without it."""
    path = shutil.which(name)
    if path is None:
        raise FileNotFoundError(f"{name!r} is not installed; the README's test command installs it")
    return path


class ServerProcess:
    def __init__(
        self,
        name: str,
        command: Sequence[str],
        *,
        ready: Callable[[], bool],
        timeout: float = 60.0,
        env: dict[str, str] | None = None,
        cwd: str | os.PathLike[str] | None = None,
    ) -> None:
        self.name = name
        self.command = list(command)
        self.ready = ready
        self.timeout = timeout
        self.env = env
        self.cwd = cwd
        self.process: subprocess.Popen[bytes] | None = None
        self.log_path = Path(tempfile.mkstemp(prefix=f"{name}-", suffix=".log")[1])

    def start(self) -> ServerProcess:
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            self.command,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env={**os.environ, **(self.env or {})},
            cwd=self.cwd,
            start_new_session=True,
        )
        log.close()
        _running.add(self)
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                self.stop()
                raise ServerNotReady(f"{self.name} exited early:\n{self.log_tail()}")
            if self.ready():
                return self
            time.sleep(0.1)
        self.stop()
        raise ServerNotReady(f"{self.name} did not answer in {self.timeout}s:\n{self.log_tail()}")

    def stop(self, grace: float = 10.0) -> None:
        process, self.process = self.process, None
        _running.discard(self)
        if process is None or process.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=grace)

    def kill(self) -> None:
        """Stop abruptly, as a crash would (for mid-transfer failure tests)."""
        if self.process is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=10)
            self.process = None
            _running.discard(self)

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def __enter__(self) -> ServerProcess:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


@atexit.register
def _stop_leftovers() -> None:
    for server in list(_running):
        server.stop(grace=2)


def _stop_on_sigterm(signum: int, frame: object) -> None:
    # atexit does not run when a SIGTERM ends the process (a killed benchmark
    # or CI run): stop our servers first, then end as the signal would.
    _stop_leftovers()
    signal.signal(signum, signal.SIG_DFL)
    os.kill(os.getpid(), signum)


if signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:
    with contextlib.suppress(ValueError):  # only the main thread may set handlers
        signal.signal(signal.SIGTERM, _stop_on_sigterm)
