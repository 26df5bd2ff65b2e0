from __future__ import annotations

from django.core.management.base import BaseCommand

from storages.transfer.cli import add_storage_argument, storage_from
from storages.transfer.tree import walk


class Command(BaseCommand):
    help = "List the files of a storage with their sizes."

    def add_arguments(self, parser):
        add_storage_argument(parser, "storage", "the storage to list")
        parser.add_argument("--prefix", default="", help="a directory to list")
        parser.add_argument("-r", "--recursive", action="store_true", help="list subdirectories")

    def handle(self, *args, **options):
        storage = storage_from(options, "storage")
        prefix = options["prefix"].strip("/")
        if not options["recursive"]:
            directories, _files = storage.listdir(prefix)
            for directory in sorted(directories):
                self.stdout.write(f"{'DIR':>12}  {prefix + '/' if prefix else ''}{directory}/")
        for name in walk(storage, prefix, recursive=options["recursive"]):
            self.stdout.write(f"{storage.size(name):>12}  {name}")
