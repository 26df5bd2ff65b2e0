"""A small pool of live connections, shared by the FTP and SFTP backends.

Each operation borrows a connection for its own exclusive use and gives it back
when done, so threads never share a control channel (FTP has no multiplexing)
and at most ``max_idle`` connections stay open between calls. A connection that
failed is closed instead of returned. A connection that sat idle may have been
dropped by the server in the meantime: :meth:`ConnectionPool.run` retries an
operation once on a fresh connection when a reused one turns out to be dead.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import weakref
from collections.abc import Callable, Hashable, Iterator
from typing import Any, Generic, TypeVar

logger = logging.getLogger("storages")

C = TypeVar("C")
T = TypeVar("T")


class Lease(Generic[C]):
    """A borrowed connection; ``reused`` says whether it came from the idle list."""

    __slots__ = ("broken", "connection", "reused")

    def __init__(self, connection: C, reused: bool) -> None:
        self.connection = connection
        self.reused = reused
        self.broken = False


def _close_all(connections: list[Any], closer: Callable[[Any], None]) -> None:
    while connections:
        connection = connections.pop()
        with contextlib.suppress(Exception):
            closer(connection)


class ConnectionPool(Generic[C]):
    def __init__(
        self,
        factory: Callable[[], C],
        closer: Callable[[C], None],
        is_dead: Callable[[BaseException], bool],
        *,
        max_idle: int = 4,
        alive: Callable[[C], bool] | None = None,
    ) -> None:
        self._factory = factory
        self._closer = closer
        self._is_dead = is_dead
        self._max_idle = max_idle
        self._alive = alive
        self._idle: list[C] = []
        self._lock = threading.Lock()
        # Close idle connections (politely: QUIT / channel close) when the pool
        # is garbage collected or the interpreter exits.
        self._finalizer = weakref.finalize(self, _close_all, self._idle, closer)

    def acquire(self) -> Lease[C]:
        with self._lock:
            if self._idle:
                return Lease(self._idle.pop(), reused=True)
        return Lease(self._factory(), reused=False)

    def release(self, lease: Lease[C]) -> None:
        if not lease.broken:
            with self._lock:
                if len(self._idle) < self._max_idle:
                    self._idle.append(lease.connection)
                    return
        self.discard(lease)

    def discard(self, lease: Lease[C]) -> None:
        lease.broken = True
        with contextlib.suppress(Exception):
            self._closer(lease.connection)

    def is_dead(self, exc: BaseException, connection: C) -> bool:
        """Whether a connection that raised ``exc`` must be thrown away."""
        if not isinstance(exc, Exception) or self._is_dead(exc):
            return True
        return self._alive is not None and not self._alive(connection)

    @contextlib.contextmanager
    def lease(self) -> Iterator[Lease[C]]:
        lease = self.acquire()
        try:
            yield lease
        except BaseException as exc:
            if self.is_dead(exc, lease.connection):
                lease.broken = True
            raise
        finally:
            self.release(lease)

    def run(self, operation: Callable[[C], T], *, retry: bool = True) -> T:
        """Run ``operation(connection)``; once more on a fresh connection if a reused one died."""
        while True:
            lease = self.acquire()
            try:
                result = operation(lease.connection)
            except Exception as exc:
                dead = self.is_dead(exc, lease.connection)
                if dead:
                    self.discard(lease)
                else:
                    self.release(lease)
                if dead and lease.reused and retry:
                    logger.debug("Reconnecting after a dropped connection: %s", type(exc).__name__)
                    continue
                raise
            except BaseException:
                self.discard(lease)
                raise
            self.release(lease)
            return result

    def close(self) -> None:
        with self._lock:
            idle, self._idle[:] = list(self._idle), []
        _close_all(idle, self._closer)


# Storages are cheap objects that Django may build many times (settings
# changes, unpickling, one per model field); connections are not. Storages
# that talk to the same server with the same credentials share one pool.
_shared: dict[Hashable, ConnectionPool[Any]] = {}
_shared_lock = threading.Lock()


def shared_pool(key: Hashable, make: Callable[[], ConnectionPool[C]]) -> ConnectionPool[C]:
    with _shared_lock:
        pool = _shared.get(key)
        if pool is None:
            pool = _shared[key] = make()
        return pool
