"""Post-process (hash) static files on local disk with the static storage's own rules.

Django's ``HashedFilesMixin.post_process`` reads files back from the storage and
asks it whether every hashed name exists: against a remote store that is a
request per file. Here the same class runs against a local staging directory
instead: a subclass of the storage's own class (so its hashing, patterns,
``manifest_strict``, ``keep_intermediate_files`` and ``manifest_name`` are
kept) whose file operations go to a ``FileSystemStorage`` on a temporary
directory. Only its URL stays the storage's own (post-processing uses the last
path segment of it).
"""

from __future__ import annotations

import os
import shutil
from typing import Any

from django.contrib.staticfiles.storage import HashedFilesMixin, ManifestFilesMixin
from django.core.files.storage import FileSystemStorage, Storage

#: Storage operations that go to the staging directory.
LOCAL_OPERATIONS = (
    "_open",
    "_save",
    "exists",
    "delete",
    "listdir",
    "size",
    "path",
    "get_available_name",
    "get_modified_time",
    "get_accessed_time",
    "get_created_time",
)


def is_hashing(storage: Storage) -> bool:
    return isinstance(storage, HashedFilesMixin)


def _delegate(operation: str):
    def method(self, *args: Any, **kwargs: Any) -> Any:
        return getattr(self._staging_disk, operation)(*args, **kwargs)

    method.__name__ = operation
    return method


_classes: dict[type, type] = {}


def staging_class(storage_cls: type) -> type:
    cls = _classes.get(storage_cls)
    if cls is None:
        namespace = {name: _delegate(name) for name in LOCAL_OPERATIONS}
        namespace["__module__"] = __name__
        # The user's class name: it shows in error messages (a failed post-process).
        namespace["__qualname__"] = storage_cls.__qualname__
        cls = type(storage_cls.__name__, (storage_cls,), namespace)
        _classes[storage_cls] = cls
    return cls


def staging_storage(target: Storage, directory: str) -> Storage:
    """A copy of ``target`` (same class and attributes) that reads and writes ``directory``."""
    cls = staging_class(type(target))
    staging = cls.__new__(cls)  # no __init__: it would read the remote manifest
    staging.__dict__.update(target.__dict__)
    staging.__dict__["_staging_disk"] = FileSystemStorage(location=directory, base_url="/")
    if isinstance(target, ManifestFilesMixin):
        staging.manifest_storage = staging
        staging.hashed_files = {}
    return staging


def stage_file(source_storage: Storage, path: str, directory: str, name: str) -> None:
    """Place ``source_storage``'s file ``path`` at ``directory/name`` (a symlink if possible)."""
    target = os.path.join(directory, *name.split("/"))
    os.makedirs(os.path.dirname(target), exist_ok=True)
    try:
        source_path = source_storage.path(path)
    except NotImplementedError:
        source_path = None
    if source_path is not None:
        try:
            os.symlink(os.path.abspath(source_path), target)
            return
        except OSError:  # no symlinks here (some Windows set-ups): copy instead
            shutil.copyfile(source_path, target)
            return
    with source_storage.open(path, "rb") as source, open(target, "wb") as out:
        for chunk in source.chunks():
            out.write(chunk)


def staged_names(directory: str) -> list[str]:
    """Every file under ``directory`` as a ``/``-separated name."""
    names = []
    for root, _dirs, files in os.walk(directory):
        relative = os.path.relpath(root, directory)
        for filename in files:
            names.append(
                filename if relative == "." else f"{relative}/{filename}".replace(os.sep, "/")
            )
    return sorted(names)
