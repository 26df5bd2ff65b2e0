"""Workloads for bench_local, run in a fresh process each (see bench/common.py)."""

from __future__ import annotations

import os
import tempfile

import django
from django.conf import settings

if not settings.configured:
    settings.configure(MEDIA_ROOT=tempfile.gettempdir(), USE_TZ=True)
    django.setup()

from django.core.files.base import ContentFile, File
from django.core.files.storage import FileSystemStorage

from storages.backends.overwrite import OverwriteStorage
from storages.filesystem import SafeFileSystemStorage

CONTENDERS = {
    "django-filesystem": lambda root: FileSystemStorage(location=root),
    "storages-safe": lambda root: SafeFileSystemStorage(location=root),
    "storages-overwrite": lambda root: OverwriteStorage(location=root),
}


def small_saves(contender: str, root: str, count: int) -> dict:
    storage = CONTENDERS[contender](root)
    payload = b"x" * 2048
    for index in range(count):
        storage.save(f"small/{index % 50}/file{index}.txt", ContentFile(payload))
    return {}


def big_save(contender: str, root: str, source: str) -> dict:
    storage = CONTENDERS[contender](root)
    with open(source, "rb") as handle:
        storage.save("big.bin", File(handle))
    return {}


def big_read(contender: str, root: str) -> dict:
    storage = CONTENDERS[contender](root)
    total = 0
    with storage.open("big.bin", "rb") as handle:
        for chunk in handle.chunks(256 * 1024):
            total += len(chunk)
    return {"bytes": total}


def raw_big_write(root: str, source: str) -> dict:
    with open(source, "rb") as src, open(os.path.join(root, "raw.bin"), "wb") as dst:
        while chunk := src.read(256 * 1024):
            dst.write(chunk)
    return {}
