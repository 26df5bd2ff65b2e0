"""The one bounded thread pool every threaded async call runs in.

A storage whose client has no async I/O runs its sync code here, so an event
loop never blocks on it and a burst of coroutines never becomes a burst of
threads: at most ``STORAGES_ASYNC_THREADS`` (default 16) calls run at once,
process-wide, and the rest wait in the pool's queue without holding the loop.
Each call runs in a copy of the caller's context (contextvars), as asgiref's
``sync_to_async`` does.

Django database connections are per thread, and nothing closes the ones a pool
thread opens (Django closes connections at the end of a request, in the
request's own thread). So after every call the pool thread gives back the
connections it holds outside a transaction, as a request's end would:
closed when ``CONN_MAX_AGE`` says so (at once by default), never leaked by the
thread. Storages built on Django's connections do not come here at all (see
:meth:`storages.aio.mixin.AsyncStorageMixin._run_sync`).
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import os
import sys
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from django.core.exceptions import ImproperlyConfigured

from storages.utils import setting

DEFAULT_THREADS = 16
THREAD_NAME_PREFIX = "storages-async"

T = TypeVar("T")

_lock = threading.Lock()
_pool: ThreadPoolExecutor | None = None
_pool_size = 0


def thread_count() -> int:
    """``STORAGES_ASYNC_THREADS``, checked: the most threaded calls running at once."""
    value = setting("STORAGES_ASYNC_THREADS", DEFAULT_THREADS)
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ImproperlyConfigured(
            f"STORAGES_ASYNC_THREADS must be a whole number of at least 1, not {value!r}."
        )
    return value


def executor() -> ThreadPoolExecutor:
    """The process-wide pool, made on first use (and again if the setting changed)."""
    global _pool, _pool_size
    size = thread_count()
    pool = _pool
    if pool is not None and _pool_size == size:
        return pool
    with _lock:
        if _pool is None or _pool_size != size:
            previous = _pool
            _pool = ThreadPoolExecutor(max_workers=size, thread_name_prefix=THREAD_NAME_PREFIX)
            _pool_size = size
            if previous is not None:
                previous.shutdown(wait=False)  # its running calls finish; no new ones start
        return _pool


def _forget_pool_after_fork() -> None:
    # A forked child (a preloading server's worker) has none of the parent's
    # threads: a pool copied from the parent would queue work no thread runs.
    global _pool, _pool_size, _lock
    _pool, _pool_size, _lock = None, 0, threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_pool_after_fork)


async def run_sync(func: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
    """Run ``func(*args, **kwargs)`` in the bounded pool and return (or raise) its result.

    Cancelling the awaiting task does not stop a call that has started (a
    thread cannot be interrupted); one still queued never starts.
    """
    loop = asyncio.get_running_loop()
    context = contextvars.copy_context()
    call = functools.partial(context.run, _call, func, args, kwargs)
    return await loop.run_in_executor(executor(), call)


def _call(func: Callable[..., T], args: tuple, kwargs: dict) -> T:
    try:
        return func(*args, **kwargs)
    finally:
        release_database_connections()


def release_database_connections() -> None:
    """Close this thread's Django connections that a request's end would close.

    Connections inside a transaction are left alone (their owner ends it).
    """
    if "django.db" not in sys.modules:
        return
    from django.db import connections

    for connection in connections.all(initialized_only=True):
        if not connection.in_atomic_block:
            connection.close_if_unusable_or_obsolete()
