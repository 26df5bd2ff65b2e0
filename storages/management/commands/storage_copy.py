from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from storages.transfer.cli import (
    EXIT_FAILURES,
    EXIT_USAGE,
    ProgressLine,
    add_storage_argument,
    storage_from,
)
from storages.transfer.tree import copy_tree, delete_names, extraneous, human_size, walk


class Command(BaseCommand):
    help = (
        "Copy files from one storage to another, in parallel. Files already at the "
        "destination with the same size and content are skipped, so an interrupted "
        "run resumes where it stopped."
    )
    #: storage_sync turns this on to offer --delete.
    allows_delete = False

    def add_arguments(self, parser):
        add_storage_argument(parser, "source", "where files come from")
        add_storage_argument(parser, "destination", "where files go")
        parser.add_argument("--prefix", default="", help="only files under this directory")
        parser.add_argument("--workers", type=int, default=8, help="parallel transfers (8)")
        parser.add_argument("--dry-run", action="store_true", help="say what would change")
        parser.add_argument(
            "--size-only", action="store_true", help="compare sizes only, not content hashes"
        )
        parser.add_argument(
            "--stop-on-error", action="store_true", help="stop at the first failed file"
        )
        if self.allows_delete:
            parser.add_argument(
                "--delete",
                action="store_true",
                help="delete destination files the source does not have (a true mirror)",
            )

    def handle(self, *args, **options):
        source = storage_from(options, "source")
        destination = storage_from(options, "destination")
        if options["workers"] < 1:
            raise CommandError("--workers must be at least 1", returncode=EXIT_USAGE)
        verbosity = options["verbosity"]
        prefix = options["prefix"].strip("/")
        names = list(walk(source, prefix))
        progress_line = ProgressLine(self, verbosity)
        outcomes = copy_tree(
            source,
            destination,
            names,
            workers=options["workers"],
            size_only=options["size_only"],
            dry_run=options["dry_run"],
            stop_on_error=options["stop_on_error"],
            report=progress_line,
        )
        deleted = []
        if options.get("delete"):
            deleted = extraneous(source, destination, prefix)
            if not options["dry_run"]:
                delete_names(destination, deleted)
        self._summarise(outcomes, deleted, options["dry_run"], verbosity)
        failed = [outcome for outcome in outcomes if outcome.action == "failed"]
        if failed:
            raise CommandError(f"{len(failed)} file(s) failed", returncode=EXIT_FAILURES)

    def _summarise(self, outcomes, deleted, dry_run, verbosity):
        counts: dict[str, list[int]] = {}
        for outcome in outcomes:
            entry = counts.setdefault(outcome.action, [0, 0])
            entry[0] += 1
            entry[1] += outcome.size
            if outcome.action == "failed":
                self.stderr.write(f"failed: {outcome.name}: {outcome.error}")
            elif verbosity >= 2 and outcome.action != "skipped":
                self.stdout.write(f"{outcome.action}: {outcome.name}")
        for name in deleted:
            if verbosity >= 2:
                self.stdout.write(f"{'would delete' if dry_run else 'deleted'}: {name}")
        if verbosity >= 1:
            parts = [
                f"{action} {count} ({human_size(size)})"
                for action, (count, size) in sorted(counts.items())
            ]
            if deleted:
                parts.append(f"{'would delete' if dry_run else 'deleted'} {len(deleted)}")
            self.stdout.write(", ".join(parts) or "nothing to do")
