"""Local-disk storage with atomic saves, the base of the three local backends.

Django's ``FileSystemStorage`` streams straight into the final name, so a save
that fails half-way leaves a truncated file there. Here content is written to a
hidden temporary file in the target directory and then published under its
name in one step: ``os.link`` (which refuses to replace, so two concurrent
saves of one name both survive) or, when overwriting, ``os.replace``.
"""

from __future__ import annotations

import contextlib
import errno
import functools
import os
import secrets
from collections.abc import Callable
from typing import Any

from django.core.files import File
from django.core.files.storage import FileSystemStorage
from django.utils.deconstruct import deconstructible

from storages.aio.mixin import AsyncStorageMixin
from storages.base import unknown_options
from storages.utils import UnsafeName, content_chunks, name_as_given, safe_join, url_name, url_under

TEMPORARY_SUFFIX = ".part"

FILESYSTEM_OPTIONS = {
    "location": "MEDIA_ROOT",
    "base_url": "MEDIA_URL",
    "file_permissions_mode": "FILE_UPLOAD_PERMISSIONS",
    "directory_permissions_mode": "FILE_UPLOAD_DIRECTORY_PERMISSIONS",
    "allow_overwrite": None,
}


@deconstructible
class SafeFileSystemStorage(AsyncStorageMixin, FileSystemStorage):
    """``FileSystemStorage`` with one path check, clear option errors and atomic saves.

    Its async twins (``asave``, ``aopen``, ...) come from ``AsyncStorageMixin``.
    """

    #: Option name -> global setting (None: option only), in addition to Django's.
    extra_options: dict[str, str | None] = {}

    def __init__(
        self,
        location: str | os.PathLike[str] | None = None,
        base_url: str | None = None,
        file_permissions_mode: int | None = None,
        directory_permissions_mode: int | None = None,
        allow_overwrite: bool = False,
        **options: Any,
    ) -> None:
        unknown_options(type(self), options, {**FILESYSTEM_OPTIONS, **self.extra_options})
        super().__init__(location, base_url, file_permissions_mode, directory_permissions_mode)
        self._overwrite = allow_overwrite

    def _open(self, name: str, mode: str = "rb") -> File:
        full_path = self.file_path(name)
        if not ("w" in mode or "x" in mode):
            return super()._open(name, mode)
        if "x" in mode and os.path.lexists(full_path):
            raise FileExistsError(f"{name!r} already exists.")
        self._make_directories(os.path.dirname(full_path))
        overwrite = "x" not in mode  # like open(): "w" replaces, "x" refuses
        place = functools.partial(self._place, overwrite=overwrite)
        return AtomicFile(AtomicWriter(full_path, mode.replace("x", "w"), place))

    def path(self, name: str) -> str:
        name = str(name)
        if os.path.isabs(name) and "\x00" not in name:
            # Django itself passes absolute paths inside the location (collectstatic
            # asks exists(location)); anything outside still fails safe_join below.
            name = os.path.relpath(os.path.normpath(name), self.location)
            if name == os.curdir:
                return self.location
        return os.path.normpath(safe_join(self.location, name))

    def file_path(self, name: str) -> str:
        """:meth:`path` of a file: a name that is the location itself is refused.

        ``path("")`` and ``listdir("")`` stay the location (Django's collectstatic
        asks for them); the methods that act on one file use this instead.
        """
        full_path = self.path(name)
        if full_path == os.path.normpath(self.location):
            raise UnsafeName(f"The name {name!r} names no file: it is the storage's location.")
        return full_path

    def delete(self, name: str) -> None:
        self.file_path(name)
        super().delete(name)

    def size(self, name: str) -> int:
        return os.path.getsize(self.file_path(name))

    def get_accessed_time(self, name: str):
        self.file_path(name)
        return super().get_accessed_time(name)

    def get_created_time(self, name: str):
        self.file_path(name)
        return super().get_created_time(name)

    def get_modified_time(self, name: str):
        self.file_path(name)
        return super().get_modified_time(name)

    def url(self, name: str) -> str:
        if self.base_url is None:
            raise ValueError("This file is not accessible via a URL.")
        # Checked as save() checks names: the URL cannot leave base_url's origin or path.
        self.file_path(url_name(name))
        return url_under(self.base_url, name)

    def get_available_name(self, name: str, max_length: int | None = None) -> str:
        if not self._overwrite:
            return super().get_available_name(name, max_length)
        self.path(name)  # refuse unsafe names before anything else
        return name_as_given(name, max_length)

    def _save(self, name: str, content: Any) -> str:
        directory = os.path.dirname(self.path(name))
        self._make_directories(directory)
        temporary = self._write_temporary(directory, content)
        try:
            name = self._publish(name, lambda target: self._place(temporary, target))
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(temporary)
        if self.file_permissions_mode is not None:
            os.chmod(self.path(name), self.file_permissions_mode)
        return name

    def _publish(self, name: str, place: Callable[[str], None]) -> str:
        """Call ``place(full_path)`` until a name is free; return the name used."""
        while True:
            full_path = self.path(name)
            try:
                place(full_path)
            except FileExistsError:
                name = self.get_available_name(name)
            else:
                return os.path.relpath(full_path, self.location).replace("\\", "/")

    def _place(self, temporary: str, target: str, *, overwrite: bool = False) -> None:
        if overwrite or self._overwrite:
            os.replace(temporary, target)
            return
        try:
            # A hard link is an atomic create that fails if the name is taken.
            os.link(temporary, target)
        except FileExistsError:
            raise
        except OSError as exc:
            if exc.errno not in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP):
                raise
            # No hard links on this filesystem: claim the name, then move over it.
            os.close(os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
            os.replace(temporary, target)

    def _write_temporary(self, directory: str, content: Any) -> str:
        temporary, fd = create_temporary(directory)
        try:
            with os.fdopen(fd, "wb") as out:
                for chunk in content_chunks(content):
                    out.write(chunk)
        except BaseException:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(temporary)
            raise
        return temporary

    def _make_directories(self, directory: str) -> None:
        missing = []
        while directory and not os.path.isdir(directory):
            missing.append(directory)
            directory = os.path.dirname(directory)
        for path in reversed(missing):
            try:
                os.mkdir(path)
            except FileExistsError:
                if not os.path.isdir(path):
                    raise FileExistsError(f"{path} exists and is not a directory.") from None
                continue
            if self.directory_permissions_mode is not None:
                os.chmod(path, self.directory_permissions_mode)

    def listdir(self, path: str) -> tuple[list[str], list[str]]:
        directories, files = super().listdir(path)
        # Hide the temporary files of saves that are in progress.
        return directories, [f for f in files if not _is_temporary(f)]


def create_temporary(directory: str) -> tuple[str, int]:
    """A new hidden file in ``directory`` (same filesystem as the target), open for writing."""
    temporary = os.path.join(directory, f".{secrets.token_hex(8)}{TEMPORARY_SUFFIX}")
    # 0o666 lets the process umask decide, as for any ordinary new file.
    return temporary, os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)


class AtomicWriter:
    """A file opened for writing that appears under its name only once closed."""

    def __init__(self, path: str, mode: str, place: Callable[[str, str], None]) -> None:
        self.name = path
        self._place = place
        self._temporary, fd = create_temporary(os.path.dirname(path))
        self._file = os.fdopen(fd, mode)

    def __getattr__(self, attribute: str) -> Any:
        return getattr(self._file, attribute)

    def __iter__(self):
        return iter(self._file)

    def close(self) -> None:
        if self._file.closed:
            return
        try:
            self._file.close()
            self._place(self._temporary, self.name)
        finally:
            self.abort()

    def abort(self) -> None:
        """Close and forget what was written: nothing appears under the name."""
        self._file.close()
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self._temporary)


class AtomicFile(File):
    """The ``File`` around an :class:`AtomicWriter`: a ``with`` block left by an
    exception publishes nothing."""

    def __exit__(self, exc_type: Any, exc_value: Any, traceback: Any) -> None:
        if exc_type is None:
            self.close()
        else:
            self.file.abort()


def _is_temporary(filename: str) -> bool:
    return filename.startswith(".") and filename.endswith(TEMPORARY_SUFFIX)
