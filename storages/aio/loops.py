"""One client (or session) per running event loop, closed when that loop shuts down.

Exists because an aiohttp-based client belongs to the loop it was made on, and
a storage is shared by every loop of the process (``asyncio.run`` per call,
asgiref's loops, uvicorn's): Azure's async SDK client, GCS's and S3's aiohttp sessions
are all kept here, one per loop per storage.
"""

from __future__ import annotations

import asyncio
import threading
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, Generic, TypeVar

T = TypeVar("T")

#: Every closer not yet run, held here so that a storage dropped while its loop runs
#: leaves its closer for that loop's shutdown; collected early, asyncio would schedule
#: it on a loop that may be ending ("Task was destroyed but it is pending").
_pending_closers: set[Any] = set()


class PerLoop(Generic[T]):
    """``await get()``: the running loop's ``T``, made by ``await make()`` on first use.

    Callers that arrive while it is being made wait for that one. Each one is
    closed by an async generator started on its loop: the loop closes it at
    ``shutdown_asyncgens()`` (``asyncio.run``, asgiref, uvicorn), which awaits
    ``close(item)``; ``aclose()`` closes the running loop's one at once.
    """

    def __init__(
        self, make: Callable[[], Awaitable[T]], close: Callable[[T], Awaitable[Any]]
    ) -> None:
        self._make = make
        self._close = close
        self._lock = threading.Lock()  # loops of other threads use these dictionaries too
        self._items: weakref.WeakKeyDictionary[Any, tuple[T, Any]] = weakref.WeakKeyDictionary()
        self._making: weakref.WeakKeyDictionary[Any, asyncio.Future[T]] = (
            weakref.WeakKeyDictionary()
        )

    async def get(self) -> T:
        loop = asyncio.get_running_loop()
        with self._lock:
            entry = self._items.get(loop)
            if entry is not None:
                return entry[0]
            making = self._making.get(loop)
            if making is None:
                making = self._making[loop] = asyncio.ensure_future(self._create(loop))
        return await asyncio.shield(making)

    async def _create(self, loop: Any) -> T:
        try:
            item = await self._make()
            itself: list[Any] = []
            closer = self._closer(item, itself)
            itself.append(closer)
            await closer.__anext__()  # runs to its ``yield``: the loop now knows it
            _pending_closers.add(closer)
            with self._lock:
                self._items[loop] = (item, closer)
            return item
        finally:
            with self._lock:
                self._making.pop(loop, None)

    async def _closer(self, item: T, itself: list[Any]) -> AsyncIterator[None]:
        try:
            yield
        finally:
            _pending_closers.discard(itself[0])
            await self._close(item)

    async def aclose(self) -> None:
        """Close the running loop's one (a new one is made on next use)."""
        loop = asyncio.get_running_loop()
        with self._lock:
            entry = self._items.pop(loop, None)
        if entry is not None:
            await entry[1].aclose()


__all__ = ["PerLoop"]
