"""collectstatic for remote stores: one listing, parallel uploads, hashing on local disk.

Used by ``storages.management.commands.collectstatic`` when the static storage
is one of ours and remote. Files are gathered from the finders exactly as
Django does (ignore patterns, first found wins); then:

1. the store is listed once (``list_stored()``), or, for a storage that cannot
   list, asked about each file in parallel as Django would (exists, modified
   time);
2. with a hashing (manifest) storage, post-processing runs on a local staging
   copy with the storage's own class and settings, so no file is read back
   from the store;
3. new and changed files upload in parallel; unchanged ones are not sent;
4. the manifest goes last, and only when every other file is in place, so a
   site never references a file that is not there yet.
"""

from __future__ import annotations

import contextlib
import logging
import tempfile
import threading
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from typing import Any

import django
from django.contrib.staticfiles.finders import get_finders
from django.contrib.staticfiles.storage import ManifestFilesMixin
from django.core.files import File
from django.core.files.storage import Storage
from django.core.management.base import CommandError

from storages.collectstatic.plan import (
    Source,
    Stored,
    hash_while,
    listing,
    look_up,
    source_from_path,
    source_from_storage,
    unchanged,
)
from storages.collectstatic.staging import (
    is_hashing,
    stage_file,
    staged_names,
    staging_storage,
)
from storages.transfer.tree import Progress

logger = logging.getLogger("storages.collectstatic")

DEFAULT_WORKERS = 16
# Django 6.0 reports deletions and name conflicts in its summary, and logs each
# deletion and conflict at verbosity 2 (1 before).
REPORTS_DELETIONS = django.VERSION >= (6, 0)
PER_FILE_LEVEL = 2 if REPORTS_DELETIONS else 1


def overwrites(storage: Storage) -> bool:
    """Whether a save replaces an existing file (rather than picking a new name)."""
    return bool(
        getattr(storage, "file_overwrite", False) or getattr(storage, "allow_overwrite", False)
    )


@dataclass
class Staged:
    """A hashing storage's files, post-processed on local disk, ready to publish."""

    staging: Storage
    manifest: str | None
    sources: list[Source]
    hashed_by_original: dict[str, str]


class Collector:
    """One run of the fast collectstatic; ``command`` is the management command."""

    def __init__(self, command: Any, target: Storage, workers: int, report: Any) -> None:
        self.command = command
        self.target = target
        self.workers = max(1, workers)
        self.report = report
        self.dry_run = command.dry_run
        self.copied: list[str] = []
        self.unmodified: list[str] = []
        self.post_processed: list[str] = []
        # Django 6's command keeps these lists itself (its clear_dir appends to one).
        self.skipped: list[str] = getattr(command, "skipped_files", [])
        self.deleted: list[str] = getattr(command, "deleted_files", [])
        self._lock = threading.Lock()

    def log(self, message: str, level: int = 2) -> None:
        self.command.log(message, level=level)

    # --- the run ------------------------------------------------------------------

    def run(self) -> dict[str, list[str]]:
        hashing = self.command.post_process and is_hashing(self.target)
        with contextlib.ExitStack() as cleanup:
            # The store is listed while the disk is walked (and staged and hashed):
            # the listing mostly waits on the network, the rest on the disk.
            pool = cleanup.enter_context(
                ThreadPoolExecutor(1, thread_name_prefix="collectstatic-listing")
            )
            listed = pool.submit(listing, self.target)
            found = self.gather()
            if hashing:
                directory = cleanup.enter_context(
                    tempfile.TemporaryDirectory(prefix="collectstatic-")
                )
                staged = self.stage_hashed(found, directory)
                sources = staged.sources
            else:
                sources = [
                    source_from_storage(name, storage, path)
                    for name, (storage, path) in found.items()
                ]
            hash_while(sources, lambda: not listed.done())
            remote = listed.result()
            if self.command.clear:
                remote = self.clear(remote)
            if hashing:
                self.publish_hashed(staged, remote)
            else:
                self.publish(sources, remote)
                if self.command.post_process and hasattr(self.target, "post_process"):
                    self.django_post_process(found)
        summary = {
            "modified": self.copied,
            "unmodified": self.unmodified,
            "post_processed": self.post_processed,
        }
        if REPORTS_DELETIONS:  # what Django's own collect() returns on this version
            summary.update(skipped=self.skipped, deleted=self.deleted)
        return summary

    def gather(self) -> dict[str, tuple[Storage, str]]:
        """Django's discovery: every finder, first file found for a name wins."""
        found: dict[str, tuple[Storage, str]] = {}
        for finder in get_finders():
            for path, storage in finder.list(self.command.ignore_patterns):
                prefix = getattr(storage, "prefix", None)
                name = f"{prefix.strip('/')}/{path}" if prefix else path
                name = name.replace("\\", "/")
                if name not in found:
                    found[name] = (storage, path)
                else:
                    self.skipped.append(name)
                    self.log(
                        f"Found another file with the destination path '{name}'. It will be "
                        "ignored since only the first encountered file is collected. If this "
                        "is not what you want, make sure every static file has a unique path.",
                        level=PER_FILE_LEVEL,
                    )
        return found

    def clear(self, remote: dict[str, Stored] | None) -> dict[str, Stored] | None:
        if remote is None:
            self.command.clear_dir("")  # Django's way, directory by directory
            return None
        names = sorted(remote)
        if self.dry_run:
            for name in names:
                self.log(f"Pretending to delete '{name}'", level=PER_FILE_LEVEL)
            self.deleted.extend(names)
            return {}
        delete_many = getattr(self.target, "delete_many", None)
        if delete_many is None:
            self._parallel(names, self._delete)
        else:
            for name in names:
                self.log(f"Deleting '{name}'", level=PER_FILE_LEVEL)
            delete_many(names)  # a request per many files, where the store has one
        self.deleted.extend(names)  # every call above raises unless all went
        return {}

    def _delete(self, name: str) -> None:
        self.log(f"Deleting '{name}'", level=PER_FILE_LEVEL)
        self.target.delete(name)

    def post_processing_failed(self, original: str, error: Exception) -> None:
        """Report and raise as Django's command does on this version."""
        self.command.stderr.write(f"Post-processing '{original}' failed!")
        self.command.stderr.write()
        if django.VERSION < (6, 1):
            raise error
        # Django 6.1 raises a CommandError carrying the exception's notes.
        message = "\n".join([str(error), *getattr(error, "__notes__", ())])
        raise CommandError(message) from error

    # --- hashing storages ---------------------------------------------------------

    def stage_hashed(self, found: dict[str, tuple[Storage, str]], directory: str) -> Staged:
        """Copy the files to ``directory`` and post-process them there (nothing is sent)."""
        for name, (storage, path) in found.items():
            stage_file(storage, path, directory, name)
        staging = staging_storage(self.target, directory)
        hashed_by_original: dict[str, str] = {}
        for original, hashed, processed in staging.post_process(found, dry_run=False):
            if isinstance(processed, Exception):
                self.post_processing_failed(original, processed)  # nothing was uploaded yet
            if processed:
                self.log(f"Post-processed '{original}' as '{hashed}'", level=2)
                hashed_by_original[original] = hashed
            else:
                self.log(f"Skipped post-processing '{original}'")
        manifest = self._manifest_name(staging)
        sources = [
            source_from_path(
                name,
                staging.path(name),
                original=name in found,
                content_addressed=name not in found,
            )
            for name in staged_names(directory)
            if name != manifest
        ]
        return Staged(staging, manifest, sources, hashed_by_original)

    def publish_hashed(self, staged: Staged, remote: dict[str, Stored] | None) -> None:
        uploaded = self.publish(staged.sources, remote)
        self.post_processed.extend(
            original
            for original, hashed in staged.hashed_by_original.items()
            if hashed in uploaded or hashed == original
        )
        if isinstance(self.target, ManifestFilesMixin):
            self.publish_manifest(staged.staging, staged.manifest, remote)

    def _manifest_name(self, staging: Storage) -> str | None:
        if (
            isinstance(self.target, ManifestFilesMixin)
            and self.target.manifest_storage is self.target
        ):
            return staging.manifest_name
        return None

    def publish_manifest(
        self, staging: Storage, manifest: str | None, remote: dict[str, Stored] | None
    ) -> None:
        """Last of all: the manifest, once every file it names is stored."""
        if self.dry_run:
            return
        if manifest is None:
            # The manifest has a storage of its own: Django's save_manifest writes it there.
            self.target.hashed_files = staging.hashed_files
            self.target.save_manifest()
            return
        source = source_from_path(manifest, staging.path(manifest), original=False)
        self.publish([source], remote)
        self.target.hashed_files = staging.hashed_files
        if hasattr(staging, "manifest_hash"):
            self.target.manifest_hash = staging.manifest_hash

    # --- other storages with a post_process() --------------------------------------

    def django_post_process(self, found: dict[str, tuple[Storage, str]]) -> None:
        for original, processed_path, processed in self.target.post_process(
            found, dry_run=self.dry_run
        ):
            if isinstance(processed, Exception):
                self.post_processing_failed(original, processed)
            if processed:
                self.log(f"Post-processed '{original}' as '{processed_path}'", level=2)
                self.post_processed.append(original)
            else:
                self.log(f"Skipped post-processing '{original}'")

    # --- uploads --------------------------------------------------------------------

    def publish(self, sources: list[Source], remote: dict[str, Stored] | None) -> set[str]:
        """Upload the sources the store lacks, in parallel; return the names sent."""
        progress = Progress(len(sources), sum(source.size for source in sources), self.report)
        sent: set[str] = set()
        failures: list[str] = []

        def task(source: Source) -> None:
            try:
                if self._publish_one(source, remote):
                    with self._lock:
                        sent.add(source.name)
            except Exception as exc:  # reported together below; the others go on
                with self._lock:
                    failures.append(f"{source.name}: {type(exc).__name__}: {exc}")
            progress.advance(source.size)

        self._parallel(sources, task)
        if sources:
            self.report(progress, final=True)
        if failures:
            for failure in sorted(failures):
                self.command.stderr.write(f"Could not upload {failure}")
            raise CommandError(
                f"{len(failures)} static file(s) could not be uploaded"
                + ("; the manifest was not updated" if is_hashing(self.target) else "")
            )
        return sent

    def _publish_one(self, source: Source, remote: dict[str, Stored] | None) -> bool:
        stored = (
            remote.get(source.name) if remote is not None else look_up(self.target, source.name)
        )
        if unchanged(source, stored, self.target):
            if source.original:
                with self._lock:
                    self.unmodified.append(source.name)
            self.log(f"Skipping '{source.name}' (not modified)")
            return False
        if self.dry_run:
            self.log(f"Pretending to copy '{source.name}'", level=1)
        else:
            self.log(f"Copying '{source.name}'", level=2)
            if stored is not None and not overwrites(self.target):
                self.target.delete(source.name)  # or the store would pick another name
            with source.opener() as handle:
                name = self.target.save(source.name, File(handle, name=source.name))
            if name != source.name:
                raise OSError(f"the storage stored it as {name!r}")
        if source.original:
            with self._lock:
                self.copied.append(source.name)
        return True

    def _parallel(self, items: list[Any], function: Any) -> None:
        if self.workers == 1 or len(items) <= 1:
            for item in items:
                function(item)
            return
        # A few tasks per worker, each a slice of the files: submitting one task
        # per file costs more than deciding that an unchanged file stays.
        count = min(len(items), self.workers * 4)
        batches = [items[start::count] for start in range(count)]

        def run_batch(batch: list[Any]) -> None:
            for item in batch:
                function(item)

        with ThreadPoolExecutor(self.workers, thread_name_prefix="collectstatic") as pool:
            for future in as_completed([pool.submit(run_batch, batch) for batch in batches]):
                future.result()
