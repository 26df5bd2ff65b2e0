"""Listing, comparing and copying files between any two Django storages.

The engine behind the ``storage_ls``, ``storage_du``, ``storage_copy``,
``storage_sync`` and ``storage_verify`` management commands. It only uses the
public Storage API, so it works between any two backends (ours or not):
files stream from one to the other with bounded memory, and a file already at
the destination with the same size and content hash is skipped, which makes an
interrupted run resumable by running it again.
"""

from __future__ import annotations

import hashlib
import json
import posixpath
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.core.files.storage import Storage, storages
from django.utils.module_loading import import_string

from storages.utils import DEFAULT_CHUNK_SIZE, iter_chunks


def resolve_storage(spec: str, options: dict[str, Any] | None = None) -> Storage:
    """A storage from an alias in ``STORAGES`` or a dotted class path (+ options)."""
    if "." not in spec:
        if options:
            raise ImproperlyConfigured(f"Options cannot be given for the alias {spec!r}.")
        return storages[spec]
    try:
        storage_cls = import_string(spec)
    except ImportError as exc:
        raise ImproperlyConfigured(f"Cannot import storage class {spec!r}: {exc}") from exc
    return storage_cls(**(options or {}))


def parse_options(pairs: list[str]) -> dict[str, Any]:
    """``key=value`` pairs; values are JSON where they parse as JSON, else strings."""
    options: dict[str, Any] = {}
    for pair in pairs:
        key, sep, raw = pair.partition("=")
        if not sep or not key:
            raise ValueError(f"Expected key=value, got {pair!r}")
        try:
            options[key] = json.loads(raw)
        except ValueError:
            options[key] = raw
    return options


def walk(storage: Storage, prefix: str = "", recursive: bool = True) -> Iterator[str]:
    """Every file name under ``prefix``, depth first, in sorted order."""
    prefix = prefix.strip("/")
    try:
        directories, files = storage.listdir(prefix)
    except FileNotFoundError:  # local disk: a directory nobody has written to yet
        return
    for name in sorted(files):
        yield posixpath.join(prefix, name) if prefix else name
    if recursive:
        for directory in sorted(directories):
            yield from walk(storage, posixpath.join(prefix, directory) if prefix else directory)


def content_hash(storage: Storage, name: str) -> str:
    digest = hashlib.sha256()
    with storage.open(name, "rb") as handle:
        for chunk in iter_chunks(handle, DEFAULT_CHUNK_SIZE):
            digest.update(chunk)
    return digest.hexdigest()


def same_file(source: Storage, destination: Storage, name: str, size_only: bool) -> bool:
    """Whether ``destination`` already holds exactly ``source``'s file ``name``."""
    if not destination.exists(name):
        return False
    if source.size(name) != destination.size(name):
        return False
    return size_only or content_hash(source, name) == content_hash(destination, name)


@dataclass
class Outcome:
    name: str
    action: str  # "copied", "skipped", "deleted", "failed", "would copy", "would delete"
    size: int = 0
    error: str = ""


@dataclass
class Progress:
    """Counts shared between worker threads; ``report`` is called after each file."""

    total_files: int
    total_bytes: int
    report: Callable[[Progress], None] = lambda progress: None
    done_files: int = 0
    done_bytes: int = 0
    started: float = field(default_factory=time.monotonic)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def advance(self, size: int) -> None:
        with self._lock:
            self.done_files += 1
            self.done_bytes += size
        self.report(self)

    @property
    def rate(self) -> float:
        elapsed = time.monotonic() - self.started
        return self.done_bytes / elapsed if elapsed > 0 else 0.0

    @property
    def seconds_left(self) -> float | None:
        if not self.rate:
            return None
        return (self.total_bytes - self.done_bytes) / self.rate


def copy_one(
    source: Storage, destination: Storage, name: str, *, size_only: bool, dry_run: bool
) -> Outcome:
    size = source.size(name)
    if same_file(source, destination, name, size_only):
        return Outcome(name, "skipped", size)
    if dry_run:
        return Outcome(name, "would copy", size)
    if destination.exists(name):
        # The store may pick a new name rather than replace: make room first.
        destination.delete(name)
    with source.open(name, "rb") as handle:
        stored = destination.save(name, handle)
    if stored != name:
        raise OSError(f"the destination stored {name!r} as {stored!r}")
    return Outcome(name, "copied", size)


def copy_tree(
    source: Storage,
    destination: Storage,
    names: list[str],
    *,
    workers: int = 8,
    size_only: bool = False,
    dry_run: bool = False,
    stop_on_error: bool = False,
    report: Callable[[Progress], None] = lambda progress: None,
) -> list[Outcome]:
    """Copy ``names`` in parallel; one failure is reported and the rest go on."""
    sizes = {name: source.size(name) for name in names}
    progress = Progress(len(names), sum(sizes.values()), report)
    outcomes: list[Outcome] = []
    stop = threading.Event()

    def task(name: str) -> Outcome:
        if stop.is_set():
            return Outcome(
                name, "failed", sizes[name], "not attempted: stopped on an earlier error"
            )
        try:
            outcome = copy_one(source, destination, name, size_only=size_only, dry_run=dry_run)
        except Exception as exc:  # reported per file; the run goes on
            outcome = Outcome(name, "failed", sizes[name], f"{type(exc).__name__}: {exc}")
            if stop_on_error:
                stop.set()
        progress.advance(sizes[name])
        return outcome

    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        futures = [pool.submit(task, name) for name in names]
        for future in as_completed(futures):
            outcomes.append(future.result())
    return sorted(outcomes, key=lambda outcome: outcome.name)


def delete_names(storage: Storage, names: list[str]) -> None:
    """Delete ``names``: many per request where the storage can (``delete_many``)."""
    delete_many = getattr(storage, "delete_many", None)
    if delete_many is not None:
        delete_many(names)
        return
    for name in names:
        storage.delete(name)


def extraneous(source: Storage, destination: Storage, prefix: str) -> list[str]:
    """Files under ``prefix`` at the destination that the source does not have."""
    wanted = set(walk(source, prefix))
    return [name for name in walk(destination, prefix) if name not in wanted]


@dataclass
class Difference:
    name: str
    problem: str  # "missing", "extra", "size", "content"
    detail: str = ""


def compare(
    source: Storage, destination: Storage, prefix: str = "", *, size_only: bool = False
) -> list[Difference]:
    """Every file that differs between the two storages under ``prefix``."""
    source_names = list(walk(source, prefix))
    destination_names = set(walk(destination, prefix))
    differences = []
    for name in source_names:
        if name not in destination_names:
            differences.append(Difference(name, "missing"))
            continue
        source_size, destination_size = source.size(name), destination.size(name)
        if source_size != destination_size:
            differences.append(Difference(name, "size", f"{source_size} != {destination_size}"))
        elif not size_only and content_hash(source, name) != content_hash(destination, name):
            differences.append(Difference(name, "content", "sha256 differs"))
    differences.extend(
        Difference(name, "extra") for name in sorted(destination_names - set(source_names))
    )
    return differences


def human_size(size: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(size) < 1024 or unit == "TiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} TiB"
