"""``collectstatic``, fast on remote stores (see storages.collectstatic).

Django runs the ``collectstatic`` of the app listed first in INSTALLED_APPS:
list ``"storages"`` before ``"django.contrib.staticfiles"`` for this one to run
(the system check ``storages.W010`` says so when the order is wrong). For
local-disk and third-party static storages, and for ``--link``, it is exactly
Django's command.
"""

from __future__ import annotations

from django.contrib.staticfiles.management.commands.collectstatic import (
    Command as StaticCollectCommand,
)
from django.core.exceptions import SuspiciousFileOperation
from django.core.management.base import CommandError
from django.utils.functional import empty

from storages.collectstatic.collector import DEFAULT_WORKERS, Collector
from storages.transfer.cli import ProgressLine
from storages.utils import setting


def real_storage(storage):
    """The storage behind Django's lazy ``staticfiles_storage``."""
    wrapped = getattr(storage, "_wrapped", None)
    if wrapped is empty:
        storage._setup()
        wrapped = storage._wrapped
    return storage if wrapped is None else wrapped


def has_fast_path(storage) -> bool:
    from storages.base import BaseStorage

    if not setting("STORAGES_COLLECTSTATIC_FAST", True):
        return False
    return isinstance(storage, BaseStorage) or hasattr(storage, "list_stored")


class Command(StaticCollectCommand):
    help = (
        StaticCollectCommand.help
        + " Into remote stores: one listing, unchanged files skipped, parallel uploads."
    )

    def add_arguments(self, parser):
        super().add_arguments(parser)
        parser.add_argument(
            "--workers",
            type=int,
            default=None,
            help="parallel uploads to a remote store "
            f"(default: STORAGES_COLLECTSTATIC_WORKERS or {DEFAULT_WORKERS})",
        )

    def set_options(self, **options):
        super().set_options(**options)
        workers = options.get("workers")
        if workers is None:
            workers = setting("STORAGES_COLLECTSTATIC_WORKERS", DEFAULT_WORKERS)
        if int(workers) < 1:
            raise CommandError("--workers must be at least 1")
        self.workers = int(workers)

    def is_local_storage(self):
        # Django asks exists(<absolute location>), which our path-safe local
        # storages refuse as an absolute name: then skip its "files already
        # there?" hint (the prompt always warns) rather than fail.
        if not super().is_local_storage():
            return False
        try:
            self.storage.exists(self.storage.location)
        except SuspiciousFileOperation:
            return False
        return True

    def collect(self):
        target = real_storage(self.storage)
        if self.symlink or self.local or not has_fast_path(target):
            return super().collect()
        stream = getattr(self.stderr, "_out", self.stderr)
        report = ProgressLine(self, self.verbosity, stream=stream)
        return Collector(self, target, self.workers, report).run()
