"""Small helpers shared by every backend: settings lookup, name safety, chunking, hashing.

The helpers django-storages 1.14 has here and projects import (``setting``,
``clean_name``, ``safe_join``, ``get_available_overwrite_name``, ``lookup_env``,
``check_location``, ``to_bytes``, ``is_seekable``, ``ReadBytesWrapper``) keep
their names and behaviour; ``safe_join`` refuses an escape with an error that is
both Django's ``SuspiciousFileOperation`` and the ``ValueError`` theirs raised.
"""

from __future__ import annotations

import hashlib
import importlib
import os
import posixpath
from collections.abc import Iterable, Iterator
from typing import IO, Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured, SuspiciousFileOperation
from django.core.files.utils import FileProxyMixin, validate_file_name
from django.utils.encoding import filepath_to_uri, force_bytes

# 256 KiB: large enough to keep system calls few, and clear of exactly 1 MiB,
# where each read allocates and frees a fresh mmap (measured 3-5x slower here).
DEFAULT_CHUNK_SIZE = 256 * 1024


class UnsafeName(SuspiciousFileOperation, ValueError):
    """A name that would leave the storage's location (a ValueError for django-storages code)."""


def setting(name: str, default: Any = None) -> Any:
    """Read a global setting at call time (never at import time)."""
    return getattr(settings, name, default)


def clean_name(name: str) -> str:
    """Normalise a storage name to forward slashes, keeping a trailing slash.

    Backslashes count as separators so that ``..\\`` cannot smuggle a parent
    reference past the checks in :func:`safe_join`.
    """
    name = os.fspath(name) if isinstance(name, os.PathLike) else str(name)
    name = name.replace("\\", "/")
    keep_slash = name.endswith("/")
    cleaned = posixpath.normpath(name) if name else ""
    if cleaned == ".":
        cleaned = ""
    if keep_slash and cleaned and not cleaned.endswith("/"):
        cleaned += "/"
    return cleaned


def safe_join(location: str, *names: str) -> str:
    """Join ``names`` under ``location``; refuse any name that would leave it.

    Every backend resolves names through this one function. ``location`` may be
    an absolute directory (local disk) or a key prefix, possibly empty (remote
    stores). Absolute names, parent references, NUL bytes and backslash
    variants of those raise :class:`SuspiciousFileOperation`.
    """
    # One already-clean name is the common case, met on every url() and read.
    clean = len(names) == 1 and is_clean(names[0])
    relative = names[0] if clean else _clean_relative(names)
    base = str(location).rstrip("/")
    if not relative:
        return base if base or not location else "/"
    if not base:
        return "/" + relative if str(location).startswith("/") else relative
    return f"{base}/{relative}"


def file_join(location: str, name: str) -> str:
    """:func:`safe_join` for one file's name, which must name something under ``location``.

    A name that cleans to nothing (``""``, ``"."``, ``"a/.."``, ``"./"``) would
    address ``location`` itself (the bucket, database, container or root
    directory): refused with :class:`SuspiciousFileOperation`, before any request.
    """
    relative = safe_join("", name)
    if not relative:
        raise UnsafeName(f"The name {name!r} names no file: it is the storage's root.")
    return safe_join(location, relative)


def is_root(name: str) -> bool:
    """Whether ``name`` cleans to nothing, i.e. is the storage's root (unsafe names raise)."""
    return safe_join("", name) == ""


def url_name(name: str) -> str:
    """The clean relative name ``url()`` quotes, refusing exactly what ``save()`` refuses.

    ``Storage.save()`` refuses absolute names, ``..`` parts and names without a
    file name (Django's ``validate_file_name``), and :func:`file_join` refuses the
    rest; a name that passes cannot make a URL leave its base (another origin
    with ``//host``, or a parent path).
    """
    validate_file_name(str(name), allow_relative_path=True)
    return file_join("", name)


def url_under(base: str, name: str) -> str:
    """The URL of ``name`` under ``base``, checked as :func:`url_name` checks it.

    ``base`` is taken as a directory (a missing trailing slash is added, as
    Django does for ``MEDIA_URL``), so the URL keeps its origin and path prefix.
    """
    base = str(base)
    return (base if base.endswith("/") else base + "/") + filepath_to_uri(url_name(name))


def is_clean(name: object) -> bool:
    """Whether ``name`` is already a safe relative name that cleaning would leave as is.

    No separators to fold or absolute start, no dot segments, no backslash or
    NUL: a conservative test (some clean names fail it and take the full path).
    """
    return (
        isinstance(name, str)
        and name != ""
        and name[0] not in "/."
        and "//" not in name
        and "/." not in name
        and "\\" not in name
        and "\x00" not in name
    )


def _clean_relative(names: tuple[str, ...]) -> str:
    parts = []
    for name in names:
        name = str(name)
        if "\x00" in name:
            raise UnsafeName(f"Refusing a file name with a NUL byte: {name!r}")
        cleaned = clean_name(name)
        if cleaned.startswith("/"):
            raise UnsafeName(f"Refusing an absolute file name: {name!r}")
        if cleaned:
            parts.append(cleaned)
    relative = clean_name(posixpath.join(*parts)) if parts else ""
    if relative.split("/", 1)[0] == "..":
        raise UnsafeName(f"The name {'/'.join(map(str, names))!r} is outside the storage location.")
    return relative


def name_as_given(name: str, max_length: int | None = None) -> str:
    """``get_available_name`` for a storage that replaces files: the name itself,
    once it is known to be safe and to fit ``max_length`` (never truncated into
    another name, which would replace the wrong file)."""
    safe_join("", name)
    if max_length is not None and len(name) > max_length:
        raise SuspiciousFileOperation(
            f"Storage can not keep {name!r}: it is longer than {max_length} characters."
        )
    return name


def split_listing(names: Iterable[str], prefix: str) -> tuple[list[str], list[str]]:
    """``listdir()`` from the full names found under ``prefix`` ("" or ending in "/"):
    the first part of deeper names as directories, the others as files, both sorted."""
    directories: set[str] = set()
    files = []
    for name in names:
        rest = name[len(prefix) :]
        head, slash, _tail = rest.partition("/")
        if slash:
            directories.add(head)
        elif rest:
            files.append(rest)
    return sorted(directories), sorted(files)


def iter_chunks(stream: IO[bytes], chunk_size: int = DEFAULT_CHUNK_SIZE) -> Iterator[bytes]:
    """Yield a readable stream's bytes in chunks, never holding more than one."""
    while True:
        chunk = stream.read(chunk_size)
        if not chunk:
            return
        if isinstance(chunk, str):
            chunk = chunk.encode()
        yield chunk


def content_chunks(content: Any, chunk_size: int = DEFAULT_CHUNK_SIZE) -> Iterator[bytes]:
    """Chunks of a Django ``File`` (or any stream) from its start, as bytes."""
    if hasattr(content, "seekable") and content.seekable():
        content.seek(0)
    if hasattr(content, "chunks"):
        for chunk in content.chunks(chunk_size):
            yield chunk.encode() if isinstance(chunk, str) else chunk
    else:
        yield from iter_chunks(content, chunk_size)


def rewindable(content: Any) -> bool:
    """Whether a save can start ``content`` again from its beginning (for a retry).

    Stricter than django-storages' :func:`is_seekable`: a stream that cannot say
    counts as one-pass, and a Django ``File`` is asked about the file it wraps.
    """
    seekable = getattr(content, "seekable", None)
    if callable(seekable):
        try:
            return bool(seekable())
        except (OSError, ValueError):
            return False
    inner = getattr(content, "file", None)
    return inner is not None and inner is not content and rewindable(inner)


def file_digest(content: Any, algorithm: str = "sha256") -> str:
    """Hex digest of a file's content, read in bounded chunks."""
    digest = hashlib.new(algorithm)
    for chunk in content_chunks(content):
        digest.update(chunk)
    return digest.hexdigest()


def require(module: str, extra: str) -> Any:
    """Import an optional client library or say which pip extra provides it."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise ImproperlyConfigured(
            f"This backend needs the {module!r} package: pip install 'storages[{extra}]'"
        ) from exc


# --- django-storages 1.14's helpers, under their names -------------------------


def to_bytes(content: Any) -> bytes | bytearray:
    """``content`` as bytes (a ``bytearray`` passes through unchanged)."""
    return content if isinstance(content, bytearray) else force_bytes(content)


def lookup_env(names: Iterable[str]) -> str | None:
    """The first of the environment variables ``names`` that is set and not empty."""
    for name in names:
        value = os.environ.get(name)
        if value:
            return value
    return None


def check_location(storage: Any) -> None:
    """Refuse a key prefix (``storage.location``) that starts with a slash."""
    if storage.location.startswith("/"):
        raise ImproperlyConfigured(
            f"{type(storage).__name__}.location cannot begin with a leading slash. "
            f"Found {storage.location!r}. Use {storage.location.lstrip('/')!r} instead."
        )


def get_available_overwrite_name(name: str, max_length: int | None) -> str:
    """The name a replacing save uses: ``name``, its stem shortened to fit ``max_length``."""
    directory, file_name = os.path.split(name)
    if ".." in directory.replace("\\", "/").split("/"):
        raise UnsafeName(f"Detected path traversal attempt in {directory!r}")
    validate_file_name(file_name, allow_relative_path=True)
    if max_length is None or len(name) <= max_length:
        return name
    root, extension = os.path.splitext(file_name)
    root = root[: -(len(name) - max_length)]
    if not root:
        raise SuspiciousFileOperation(
            f"Storage tried to truncate away entire filename {name!r}. Please make sure "
            "that the corresponding file field allows sufficient max_length."
        )
    name = os.path.join(directory, root + extension)
    validate_file_name(name, allow_relative_path=True)
    return name


def is_seekable(file_object: Any) -> bool:
    """Whether a stream can seek; one that does not say is taken to (as django-storages)."""
    return not hasattr(file_object, "seekable") or bool(file_object.seekable())


class ReadBytesWrapper(FileProxyMixin):
    """A file whose ``read()`` always gives bytes, encoding text it reads."""

    def __init__(self, file: Any, encoding: str | None = None) -> None:
        self.file = file
        self._encoding = encoding or getattr(file, "encoding", None) or "utf-8"

    def read(self, *args: Any, **kwargs: Any) -> bytes:
        content = self.file.read(*args, **kwargs)
        return content if isinstance(content, bytes) else content.encode(self._encoding)

    def readable(self) -> bool:
        return True

    def close(self) -> None:
        self.file.close()
