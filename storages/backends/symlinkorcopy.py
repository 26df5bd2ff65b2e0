"""Local disk that stores a symlink when the content already lives under ``symlink_within``."""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import Any

from django.utils.deconstruct import deconstructible

from storages.filesystem import SafeFileSystemStorage
from storages.utils import setting


@deconstructible
class SymlinkOrCopyStorage(SafeFileSystemStorage):
    """Symlink files that are on disk under one of ``symlink_within``; copy the rest.

    ``symlink_within`` is a list of directories (or one string of them joined
    by ``os.pathsep``, as the original backend took); the global setting is
    ``SYMLINK_WITHIN``.
    """

    extra_options = {"symlink_within": "SYMLINK_WITHIN"}

    def __init__(self, *args: Any, symlink_within: str | Iterable[str] | None = None, **kw: Any):
        super().__init__(*args, **kw)
        self._symlink_within = symlink_within

    @property
    def symlink_within(self) -> list[str]:
        roots = self._symlink_within
        if roots is None:
            roots = setting("SYMLINK_WITHIN", ())
        if isinstance(roots, (str, os.PathLike)):
            roots = str(roots).split(os.pathsep)
        return [os.path.realpath(root) for root in roots if root]

    def _save(self, name: str, content: Any) -> str:
        source = self._linkable_source(content)
        if source is None:
            return super()._save(name, content)
        self._make_directories(os.path.dirname(self.path(name)))
        return self._publish(name, lambda target: os.symlink(source, target))

    def _linkable_source(self, content: Any) -> str | None:
        """The real path of ``content`` if it is a file on disk under a configured root."""
        source = _disk_path(content)
        if source is None:
            return None
        for root in self.symlink_within:
            if os.path.commonpath([source, root]) == root:
                return source
        return None


def _disk_path(content: Any) -> str | None:
    """Where ``content`` is on disk, only if its open handle really is that file."""
    if hasattr(content, "temporary_file_path"):
        candidate = content.temporary_file_path()
    else:
        candidate = getattr(getattr(content, "file", content), "name", None)
    if not isinstance(candidate, str) or not os.path.isabs(candidate):
        return None
    try:
        handle_stat = os.fstat(content.fileno())
        path_stat = os.stat(candidate)
    except (AttributeError, OSError, ValueError):
        return None
    # A name alone proves nothing (ContentFile has one); the open handle must match it.
    if (handle_stat.st_dev, handle_stat.st_ino) != (path_stat.st_dev, path_stat.st_ino):
        return None
    return os.path.realpath(candidate)
