from __future__ import annotations

from django.core.management.base import BaseCommand

from storages.transfer.cli import add_storage_argument, storage_from
from storages.transfer.tree import human_size, walk


class Command(BaseCommand):
    help = "Disk usage of a storage: files and bytes per top-level directory, and in total."

    def add_arguments(self, parser):
        add_storage_argument(parser, "storage", "the storage to measure")
        parser.add_argument("--prefix", default="", help="only under this directory")

    def handle(self, *args, **options):
        storage = storage_from(options, "storage")
        prefix = options["prefix"].strip("/")
        totals: dict[str, list[int]] = {}
        for name in walk(storage, prefix):
            relative = name[len(prefix) :].lstrip("/") if prefix else name
            top = relative.split("/", 1)[0] if "/" in relative else "."
            entry = totals.setdefault(top, [0, 0])
            entry[0] += 1
            entry[1] += storage.size(name)
        for top, (count, size) in sorted(totals.items()):
            self.stdout.write(f"{size:>14}  {human_size(size):>10}  {count:>7} files  {top}")
        count = sum(entry[0] for entry in totals.values())
        size = sum(entry[1] for entry in totals.values())
        self.stdout.write(f"{size:>14}  {human_size(size):>10}  {count:>7} files  total")
