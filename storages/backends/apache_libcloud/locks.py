"""Name locks for the stores where Libcloud has no create-only write.

A save checks that its name is free and writes it while holding the name's
lock, so two saves of one name never both find it free: in one process
always (a lock per store and name), and across the processes of one machine
for the LOCAL driver (a ``fasteners`` lock file per name in the temporary
directory, beside the LOCAL driver's own).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
import threading
from collections.abc import Iterator

_guard = threading.Lock()
_locks: dict[str, list] = {}  # key -> [lock, holders]


@contextlib.contextmanager
def thread_lock(key: str) -> Iterator[None]:
    """Hold the process-wide lock of ``key``; it is forgotten once nobody holds it."""
    with _guard:
        entry = _locks.setdefault(key, [threading.Lock(), 0])
        entry[1] += 1
    try:
        with entry[0]:
            yield
    finally:
        with _guard:
            entry[1] -= 1
            if not entry[1]:
                _locks.pop(key, None)


def lock_file_for(path: str) -> str:
    """The lock file of a LOCAL object path.

    Not the driver's own: releasing that one would drop ours (POSIX locks are per process).
    """
    digest = hashlib.sha256(os.path.abspath(path).encode()).hexdigest()
    return os.path.join(tempfile.gettempdir(), f"storages-libcloud-{digest}.lock")


@contextlib.contextmanager
def name_lock(key: str, local_path: str | None = None, timeout: float = 60) -> Iterator[None]:
    """The lock of one name: the thread lock, then the machine-wide one for LOCAL."""
    with thread_lock(key):
        if local_path is None:
            yield
            return
        import fasteners

        lock = fasteners.InterProcessLock(lock_file_for(local_path))
        if not lock.acquire(blocking=True, timeout=timeout):
            raise TimeoutError(f"Could not lock {local_path!r} within {timeout} s")
        try:
            yield
        finally:
            lock.release()
