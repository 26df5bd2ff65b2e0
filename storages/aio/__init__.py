"""The async API of every storage (see docs/internals.rst, "The async layer").

``run_sync`` runs sync code in the one bounded pool; ``AsyncFile`` is what
``aopen()`` returns (``ThreadedAsyncFile`` over a sync file); ``content_chunks``
yields the bytes of anything ``asave()`` accepts; ``AsyncStorageMixin`` gives
every storage its coroutines.
"""

from storages.aio.files import AsyncFile, ThreadedAsyncFile, content_chunks
from storages.aio.mixin import AsyncStorageMixin
from storages.aio.threads import run_sync

__all__ = ["AsyncFile", "AsyncStorageMixin", "ThreadedAsyncFile", "content_chunks", "run_sync"]
