"""What collectstatic must upload: local sources compared with one listing of the store.

A storage may offer ``list_stored()``, yielding ``(name, size, modified, etag)``
for every file it holds (one listing of the whole store, not a request per
file; collectstatic calls it from a worker thread, so it must not rely on
per-thread state such as Django's database connections); ``etag`` is the
content's MD5 in hex, an S3 multipart ETag (``<md5 of part md5s>-<parts>``) or
``None``. A storage that changes the bytes
it stores (gzip) says so with ``stores_verbatim(name) -> False``. Files are
then compared by content where the store keeps a comparable hash, else with
Django's rule (the stored copy is at least as new as the source).
"""

from __future__ import annotations

import datetime
import hashlib
import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import IO, Any

from django.core.files.storage import Storage

CHUNK = 256 * 1024
_MD5 = re.compile(r"[0-9a-f]{32}")
_MULTIPART = re.compile(r"([0-9a-f]{32})-(\d+)")


@dataclass(frozen=True)
class Stored:
    """What the store says about one file."""

    size: int | None = None
    modified: float | None = None  # seconds since the epoch
    etag: str | None = None


@dataclass
class Source:
    """One file to publish under ``name``."""

    name: str
    opener: Callable[[], IO[bytes]]
    size: int
    modified: float | None
    #: Hashed names (``app.3f2a.css``) carry their content: same name, same file.
    content_addressed: bool = False
    #: The file found by the finders (counted as "copied"/"unmodified" like Django).
    original: bool = True
    _md5: str | None = field(default=None, repr=False)

    def md5(self) -> str:
        if self._md5 is None:
            digest = hashlib.md5(usedforsecurity=False)
            with self.opener() as handle:
                for chunk in iter(lambda: handle.read(CHUNK), b""):
                    digest.update(chunk)
            self._md5 = digest.hexdigest()
        return self._md5

    def multipart_etag(self, threshold: int, part_size: int) -> str:
        """The ETag S3 gives this file when uploaded in ``part_size`` parts."""
        if self.size < threshold:
            return self.md5()
        digests = []
        with self.opener() as handle:
            while True:
                part = handle.read(part_size)
                if not part:
                    break
                digests.append(hashlib.md5(part, usedforsecurity=False).digest())
        joined = hashlib.md5(b"".join(digests), usedforsecurity=False).hexdigest()
        return f"{joined}-{len(digests)}"


#: Files above this are hashed only if the comparison needs it (it may not).
EARLY_HASH_LIMIT = 1024 * 1024


def hash_while(sources: list[Source], waiting: Callable[[], bool]) -> None:
    """Hash small sources ahead of the comparison, for as long as ``waiting()`` holds.

    Run while the store's listing is on its way, so the comparison finds most
    hashes ready instead of computing them afterwards.
    """
    for source in sources:
        if not waiting():
            return
        if source.size <= EARLY_HASH_LIMIT and not source.content_addressed:
            source.md5()


def timestamp(moment: datetime.datetime | float | None) -> float | None:
    if moment is None or isinstance(moment, (int, float)):
        return moment
    if moment.tzinfo is None:  # naive times are UTC in listings
        moment = moment.replace(tzinfo=datetime.UTC)
    return moment.timestamp()


def listing(storage: Storage) -> dict[str, Stored] | None:
    """Every stored file from one listing, or ``None`` if the storage cannot list so."""
    list_stored = getattr(storage, "list_stored", None)
    if list_stored is None:
        return None
    return {
        name: Stored(size, timestamp(modified), etag)
        for name, size, modified, etag in list_stored()
    }


def look_up(storage: Storage, name: str) -> Stored | None:
    """Django's per-file way, for storages that cannot list: exists, then modified time."""
    if not storage.exists(name):
        return None
    try:
        modified = timestamp(storage.get_modified_time(name))
    except (OSError, NotImplementedError):
        modified = None
    return Stored(modified=modified)


def unchanged(source: Source, stored: Stored | None, storage: Storage) -> bool:
    """Whether ``stored`` already is ``source``'s content."""
    if stored is None:
        return False
    verbatim = getattr(storage, "stores_verbatim", None)
    verbatim = verbatim(source.name) if verbatim is not None else True
    if verbatim and stored.size is not None and stored.size != source.size:
        return False
    if source.content_addressed:
        return True
    etag = (stored.etag or "").strip('"').lower()
    if verbatim and _MD5.fullmatch(etag):
        return source.md5() == etag
    multipart = _MULTIPART.fullmatch(etag)
    transfer = getattr(storage, "transfer", None)
    if verbatim and multipart and transfer is not None:
        return source.multipart_etag(transfer.threshold, transfer.part_size) == etag
    # No comparable hash: Django's rule, to the second.
    if stored.modified is None or source.modified is None:
        return False
    return int(stored.modified) >= int(source.modified)


def source_from_storage(name: str, storage: Storage, path: str) -> Source:
    """A finder's file (``storage``'s ``path``), to be published as ``name``."""
    try:
        local_path = storage.path(path)
    except NotImplementedError:
        local_path = None
    if local_path is not None:
        return source_from_path(name, local_path)

    def opener() -> Any:
        return storage.open(path, "rb")

    try:
        modified = timestamp(storage.get_modified_time(path))
    except (OSError, NotImplementedError):
        modified = None
    return Source(name, opener, storage.size(path), modified)


def source_from_path(name: str, local_path: str, **kwargs: Any) -> Source:
    info = os.stat(local_path)
    return Source(name, lambda: open(local_path, "rb"), info.st_size, info.st_mtime, **kwargs)
