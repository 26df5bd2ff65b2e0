"""Waiting for a request that must not be abandoned, however often we are cancelled.

Exists because a cancelled save may already have stored its file: the request
on its way (or the thread running a sync ``_save``) goes on without us, so
every save path (the threaded default, and S3's, Azure's and GCS's native
ones) waits for it to end and removes what it created before the
cancellation goes on. :func:`uninterrupted` is that wait;
:func:`undo_on_cancel` is the whole pattern around one request.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

T = TypeVar("T")


async def uninterrupted(future: Awaitable[T]) -> T | None:
    """``future``'s result once done, however often the waiting task is cancelled meanwhile.

    None when it failed (or was cancelled itself): a request that raised stored nothing.
    """
    future = asyncio.ensure_future(future)
    while not future.done():
        try:
            await asyncio.shield(future)
        except asyncio.CancelledError:
            continue
        except Exception:
            break
    if future.cancelled() or future.exception() is not None:
        return None
    return future.result()


async def undo_on_cancel(request: Awaitable[T], undo: Callable[[T], Awaitable[Any]]) -> T:
    """``request``'s result; if we are cancelled meanwhile, it still runs to its end.

    Then, if it succeeded, ``await undo(result)`` removes what it made, and the
    cancellation goes on (``CancelledError`` is raised).
    """
    task = asyncio.ensure_future(request)
    try:
        return await asyncio.shield(task)
    except asyncio.CancelledError:
        result = await uninterrupted(task)
        if result is not None:
            await undo(result)
        raise


__all__ = ["undo_on_cancel", "uninterrupted"]
