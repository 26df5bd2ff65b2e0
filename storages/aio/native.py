"""What the native async mixins of create-only object stores share.

Exists because Azure's and GCS's native hooks follow the same rules: a client
(or session) per event loop, kept in the storage's ``__dict__``; names that
need no request to choose (the create-only upload is the existence check);
and a save that, when the create finds its name taken, keeps that file and
uploads the same content again under the next candidate name.
"""

from __future__ import annotations

import contextvars
from collections.abc import Awaitable, Callable
from typing import Any, ClassVar

from storages.aio.loops import PerLoop
from storages.aio.replay import Replay
from storages.aio.threads import run_sync

#: ``max_length`` of the asave() under way (its next candidate names need it).
_max_length: contextvars.ContextVar[int | None] = contextvars.ContextVar(
    "storages_native_asave_max_length", default=None
)


class NativeAsyncMixin:
    """The shared part of a backend's async mixin (see the module doc)."""

    #: The module whose ``get_available_name`` makes no request (the backend's storage).
    names_module: ClassVar[str] = ""
    #: The ``__dict__`` key of the :class:`PerLoop` (a transient attribute of the storage).
    per_loop_key: ClassVar[str] = ""

    def _new_per_loop(self) -> PerLoop[Any]:
        raise NotImplementedError

    def _per_loop(self) -> PerLoop[Any]:
        """The storage's clients, one per event loop (made once, on first use)."""
        held = self.__dict__.get(self.per_loop_key)
        if held is None:
            held = self.__dict__.setdefault(self.per_loop_key, self._new_per_loop())
        return held

    async def aclose(self) -> None:
        """Close the running loop's client now (else it closes with the loop)."""
        held = self.__dict__.get(self.per_loop_key)
        if held is not None:
            await held.aclose()

    async def aget_available_name(self, name: str, max_length: int | None = None) -> str:
        _max_length.set(max_length)
        if type(self).get_available_name.__module__ == self.names_module:
            # Our rules make no request (a taken name is found by the create).
            return self.get_available_name(name, max_length)
        # A subclass's own rules may (an exists() check): in the pool.
        return await run_sync(self.get_available_name, name, max_length)

    async def _asave_first_free(
        self,
        name: str,
        content: Any,
        upload: Callable[[str, Replay], Awaitable[Any]],
        taken_error: type[Exception],
    ) -> str:
        """``await upload(name, replay)`` under ``name`` or, while it raises
        ``taken_error``, under the next candidate; the name stored."""
        max_length = _max_length.get()
        replay = Replay(content)
        try:
            taken = name
            while True:
                try:
                    await upload(name, replay)
                except taken_error:
                    # Keep that file; the next create-only upload checks the next name.
                    taken, name = self._next_candidate(taken, max_length)
                    continue
                return name
        finally:
            await replay.close()


__all__ = ["NativeAsyncMixin"]
