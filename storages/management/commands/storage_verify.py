from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from storages.transfer.cli import EXIT_FAILURES, add_storage_argument, storage_from
from storages.transfer.tree import compare


class Command(BaseCommand):
    help = "Compare two storages file by file (size and sha256) and report the differences."

    def add_arguments(self, parser):
        add_storage_argument(parser, "source", "the reference storage")
        add_storage_argument(parser, "destination", "the storage to check")
        parser.add_argument("--prefix", default="", help="only files under this directory")
        parser.add_argument(
            "--size-only", action="store_true", help="compare sizes only, not content hashes"
        )

    def handle(self, *args, **options):
        source = storage_from(options, "source")
        destination = storage_from(options, "destination")
        differences = compare(
            source, destination, options["prefix"], size_only=options["size_only"]
        )
        for difference in differences:
            detail = f" ({difference.detail})" if difference.detail else ""
            self.stdout.write(f"{difference.problem:<8} {difference.name}{detail}")
        if differences:
            raise CommandError(f"{len(differences)} difference(s)", returncode=EXIT_FAILURES)
        if options["verbosity"] >= 1:
            self.stdout.write("identical")
