"""The names browser uploads get: decided here, never by the browser.

``<upload_to, with its strftime codes filled in>/<sanitised stem>_<random>.<ext>``,
as Django names a second file of one name, cut to the field's ``max_length``.
"""

from __future__ import annotations

import datetime
import posixpath

from django.core.exceptions import SuspiciousFileOperation
from django.utils.crypto import get_random_string
from django.utils.text import get_valid_filename

from storages.utils import safe_join

RANDOM_LENGTH = 12
RANDOM_ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789"
#: A name with nothing usable left (only dots, slashes, punctuation).
FALLBACK_STEM = "file"


def sanitised(original: str) -> str:
    """The last part of ``original`` as Django keeps uploaded names (``get_valid_filename``)."""
    base = str(original).replace("\\", "/").rsplit("/", 1)[-1]
    try:
        return get_valid_filename(base)
    except SuspiciousFileOperation:  # "", "." or ".." once cleaned
        return FALLBACK_STEM


def static_prefix(upload_to: str) -> str:
    """The directory every name of ``upload_to`` starts with (the part before any ``%`` code)."""
    head = str(upload_to).split("%", 1)[0]
    directory = head if head.endswith("/") or "%" not in str(upload_to) else posixpath.dirname(head)
    return safe_join("", directory).strip("/")


def upload_name(upload_to: str, original: str, max_length: int | None = None) -> str:
    """A fresh name for a browser upload of ``original`` under ``upload_to``."""
    directory = safe_join("", datetime.datetime.now().strftime(str(upload_to))).strip("/")
    stem, ext = posixpath.splitext(sanitised(original))
    stem = stem.lstrip(".")  # no hidden files
    if len(ext) > 16:  # an "extension" that long is part of the name
        stem, ext = stem + ext, ""
    random_part = "_" + get_random_string(RANDOM_LENGTH, RANDOM_ALPHABET)
    fixed = (len(directory) + 1 if directory else 0) + len(random_part) + len(ext)
    if max_length is not None:
        room = max_length - fixed
        if room < 1:
            raise SuspiciousFileOperation(
                f"upload_to {upload_to!r} leaves no room for a file name in {max_length} characters"
            )
        stem = stem[:room] or FALLBACK_STEM[:room]
    name = f"{stem or FALLBACK_STEM}{random_part}{ext}"
    return f"{directory}/{name}" if directory else name


def is_within(name: str, prefix: str) -> bool:
    """Whether the clean name ``name`` lies under the directory ``prefix`` (by path parts)."""
    clean = safe_join("", name)
    if clean != name or not clean:
        return False
    if not prefix:
        return True
    parts, under = clean.split("/"), prefix.split("/")
    return len(parts) > len(under) and parts[: len(under)] == under
