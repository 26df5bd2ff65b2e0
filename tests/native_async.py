"""Checks every native async backend passes (Azure's, GCS's): each test module
runs them on its own server and counts the requests its own way.

These are about ``storages.aio.native.NativeAsyncMixin`` and the native save
paths, beyond the async contract (tests/contract.py): unsafe names refused
before any request, a subclass's sync name rule run off the loop, and a save
cancelled once its final request landed leaving nothing.
"""

from __future__ import annotations

import asyncio
import threading

import pytest
from django.core.exceptions import SuspiciousFileOperation

from tests.contract import UNSAFE_NAMES


async def refuse_unsafe_names(storage):
    """Every async call refuses every unsafe name (the caller checks no request went out)."""
    calls = (storage.aexists, storage.aopen, storage.adelete, storage.asize)
    for name in UNSAFE_NAMES:
        for call in (*calls, storage.aget_modified_time, storage.aurl):
            with pytest.raises(SuspiciousFileOperation):
                await call(name)
        with pytest.raises(SuspiciousFileOperation):
            await storage.asave(name, b"x")
    with pytest.raises(SuspiciousFileOperation):
        await storage.alistdir("../up")


def check_subclass_name_rule_runs_in_the_pool(storage_class, options):
    asked_in = []

    class Checking(storage_class):
        def get_available_name(self, name, max_length=None):
            asked_in.append(threading.current_thread().name)
            return super().get_available_name(name, max_length)

    storage = Checking(**options)
    assert asyncio.run(storage.asave("n.txt", b"n")) == "n.txt"
    assert asked_in and asked_in[0].startswith("storages-async")


async def cancel_saves_once_landed(storage, saving, contents):
    """``asave`` each of ``contents`` as final.bin; the test's hook cancels
    ``saving[0]`` once the save's final request has made the file."""
    for content in contents:
        saving[:] = [asyncio.ensure_future(storage.asave("final.bin", content))]
        with pytest.raises(asyncio.CancelledError):
            await saving[0]
        saving.clear()
        assert not await storage.aexists("final.bin")
