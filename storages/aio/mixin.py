"""Coroutine twins of the Storage API, on every storage.

:class:`AsyncStorageMixin` is a base of ``BaseStorage`` and
``SafeFileSystemStorage``, so every storage (user subclasses included) has
``asave``, ``aopen``, ``adelete``, ``aexists``, ``alistdir``, ``asize``,
``aurl``, the ``aget_*_time`` methods, ``aget_available_name`` and
``agenerate_filename``. The public coroutines keep the sync rules (the same
name checks before and after the available name, the same errors); each calls
a private hook (``_asave``, ``_aopen``, ``_aexists``, ...) which a backend with
an async client overrides and which by default runs the sync method through
:meth:`AsyncStorageMixin._run_sync`.
"""

from __future__ import annotations

import asyncio
import posixpath
from collections.abc import Callable
from datetime import datetime
from typing import Any, ClassVar, TypeVar

from django.core.exceptions import SuspiciousFileOperation
from django.core.files.utils import validate_file_name

from storages.aio.cancellation import undo_on_cancel, uninterrupted
from storages.aio.files import AsyncFile, ThreadedAsyncFile, sync_content
from storages.aio.threads import run_sync

T = TypeVar("T")

#: Attributes by which our backends (and Django's) say a save replaces a file of the same name.
OVERWRITE_ATTRIBUTES = (
    "file_overwrite",
    "overwrite_files",
    "_overwrite",
    "_overwrites",
    "_allow_overwrite",
)


class AsyncStorageMixin:
    """The async API; the defaults run the storage's sync code in threads."""

    #: True when ``url()`` makes a request (then ``aurl`` runs it in a thread).
    url_needs_io: ClassVar[bool] = False
    #: Run the sync code where Django's async ORM runs its own (asgiref's
    #: ``thread_sensitive``): None decides by whether the storage works on a
    #: Django database alias.
    async_thread_sensitive: ClassVar[bool | None] = None

    # The public coroutines ------------------------------------------------------------------

    async def asave(self, name: str | None, content: Any, max_length: int | None = None) -> str:
        """Store ``content`` under ``name`` (or a free name like it); return the name stored."""
        if name is None:
            name = getattr(content, "name", None)
            if name is None:
                raise ValueError("asave() needs a name: the content has none.")
        validate_file_name(name, allow_relative_path=True)
        name = await self.aget_available_name(name, max_length=max_length)
        validate_file_name(name, allow_relative_path=True)
        name = await self._asave(name, content)
        validate_file_name(name, allow_relative_path=True)
        return name

    async def aopen(self, name: str, mode: str = "rb") -> AsyncFile:
        return await self._aopen(name, mode)

    async def adelete(self, name: str) -> None:
        await self._adelete(name)

    async def aexists(self, name: str) -> bool:
        return await self._aexists(name)

    async def alistdir(self, path: str) -> tuple[list[str], list[str]]:
        return await self._alistdir(path)

    async def asize(self, name: str) -> int:
        return await self._asize(name)

    async def aurl(self, name: str, *args: Any, **kwargs: Any) -> str:
        return await self._aurl(name, *args, **kwargs)

    async def aget_modified_time(self, name: str) -> datetime:
        return await self._aget_modified_time(name)

    async def aget_created_time(self, name: str) -> datetime:
        return await self._aget_created_time(name)

    async def aget_accessed_time(self, name: str) -> datetime:
        return await self._aget_accessed_time(name)

    async def agenerate_filename(self, filename: str) -> str:
        return self.generate_filename(filename)  # names only: no I/O

    async def aget_available_name(self, name: str, max_length: int | None = None) -> str:
        """The name ``asave`` stores under, by the sync rules, awaiting ``aexists``.

        A storage whose nearest override is a sync ``get_available_name`` (or
        ``is_name_available``) with rules of its own gets them exactly: that
        method runs in a thread. A native ``aget_available_name`` that calls
        ``super()`` gets the generic loop below.
        """
        if _sync_name_rules(type(self)):
            return await self._run_sync(self.get_available_name, name, max_length)
        if self._save_replaces():
            return self.get_available_name(name, max_length)  # the replace rule makes no request
        name = str(name).replace("\\", "/")
        directory, file_name = posixpath.split(name)
        if ".." in directory.split("/"):
            raise SuspiciousFileOperation(f"Detected path traversal attempt in '{directory}'")
        validate_file_name(file_name)
        from storages.base import BaseStorage  # base.py imports this module

        next_candidate = getattr(self, "_next_candidate", None)
        if next_candidate is None:  # the local-disk base is not a BaseStorage
            next_candidate = BaseStorage._next_candidate.__get__(self)
        base = name
        while await self.aexists(name) or (max_length and len(name) > max_length):
            base, name = next_candidate(base, max_length)
        return name

    # The hooks a native backend overrides ---------------------------------------------------

    async def _asave(self, name: str, content: Any) -> str:
        """Threaded default: the sync ``_save``; a cancelled call leaves nothing it stored."""
        source, cleanup = await sync_content(content, name)
        saving = asyncio.ensure_future(self._run_sync(self._save, name, source))
        try:
            return await undo_on_cancel(saving, self._undo_cancelled_save)
        finally:
            if saving.done():
                cleanup()
            else:
                saving.add_done_callback(lambda _future: cleanup())

    async def _aopen(self, name: str, mode: str) -> AsyncFile:
        return ThreadedAsyncFile(await self._run_sync(self._open, name, mode), storage=self)

    async def _adelete(self, name: str) -> None:
        await self._run_sync(self.delete, name)

    async def _aexists(self, name: str) -> bool:
        return await self._run_sync(self.exists, name)

    async def _alistdir(self, path: str) -> tuple[list[str], list[str]]:
        return await self._run_sync(self.listdir, path)

    async def _asize(self, name: str) -> int:
        return await self._run_sync(self.size, name)

    async def _aurl(self, name: str, *args: Any, **kwargs: Any) -> str:
        if self.url_needs_io:
            return await self._run_sync(self.url, name, *args, **kwargs)
        return self.url(name, *args, **kwargs)

    async def _aget_modified_time(self, name: str) -> datetime:
        return await self._run_sync(self.get_modified_time, name)

    async def _aget_created_time(self, name: str) -> datetime:
        return await self._run_sync(self.get_created_time, name)

    async def _aget_accessed_time(self, name: str) -> datetime:
        return await self._run_sync(self.get_accessed_time, name)

    # Where the threaded defaults run ------------------------------------------------------

    async def _run_sync(self, func: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
        """Run this storage's sync code off the loop.

        In the bounded pool, unless the storage works on Django's database
        connections: those belong to a thread and Django closes them at the end
        of a request in the request's own thread, so such code runs where
        Django's async ORM runs its sync code (``sync_to_async`` with
        ``thread_sensitive=True``: the request's thread under ASGI), in the
        caller's transaction and with the connection Django manages.
        """
        if self._thread_sensitive():
            from asgiref.sync import sync_to_async

            return await sync_to_async(func, thread_sensitive=True)(*args, **kwargs)
        return await run_sync(func, *args, **kwargs)

    def _thread_sensitive(self) -> bool:
        if self.async_thread_sensitive is not None:
            return self.async_thread_sensitive
        try:
            connector = getattr(self, "connector", None)
        except Exception:  # a misconfigured store says so on the call itself
            return False
        # A connector naming a Django database alias (DatabaseStorage's, say).
        return isinstance(getattr(connector, "alias", None), str)

    def _save_replaces(self) -> bool:
        """Whether a save keeps the name given even when it is taken (overwrite on)."""
        option = getattr(self, "overwrite_option", None)
        if option:
            return bool(getattr(self, option, False))
        return any(bool(getattr(self, attribute, False)) for attribute in OVERWRITE_ATTRIBUTES)

    async def _undo_cancelled_save(self, stored: str) -> None:
        """Delete what the thread of a cancelled save stored (it has ended).

        Only a name the save chose is deleted: with overwrite on, the name is
        the caller's and may hold another writer's newer file, and the content
        it replaced cannot come back, so that file stays.
        """
        if not self._save_replaces():
            await uninterrupted(self._run_sync(self.delete, stored))


#: The classes whose name rules the async path knows (it follows them awaiting aexists).
GENERIC_NAME_RULES = frozenset(
    {
        "django.core.files.storage.base.Storage",
        "django.core.files.storage.filesystem.FileSystemStorage",
        "storages.base.BaseStorage",
        "storages.filesystem.SafeFileSystemStorage",
    }
)


def _sync_name_rules(storage_cls: type) -> bool:
    """Whether the nearest name rules in ``storage_cls``'s MRO are a sync override of ours.

    Django's and our generic classes, and any class with an async
    ``aget_available_name`` of its own (a native backend), end the search.
    """
    for klass in storage_cls.__mro__:
        if klass is AsyncStorageMixin or f"{klass.__module__}.{klass.__qualname__}" in (
            GENERIC_NAME_RULES
        ):
            return False
        defined = vars(klass)
        if "aget_available_name" in defined:
            return False
        if "get_available_name" in defined or "is_name_available" in defined:
            return True
    return False
