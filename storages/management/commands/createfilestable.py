"""``manage.py createfilestable``: create the table of a DatabaseStorage.

Which storage: ``--storage ALIAS`` (an alias of ``STORAGES`` whose backend is
a DatabaseStorage); by default every configured DatabaseStorage, or, if none
is configured, one built from ``settings.DB_FILES``. The SQL is written for the
database's dialect; ``--sql`` prints it without running it.
"""

from __future__ import annotations

from typing import Any

from django.core.files.storage import storages
from django.core.management.base import BaseCommand, CommandError, CommandParser

from storages.backends.database import DatabaseStorage, DatabaseStorageError


class Command(BaseCommand):
    help = "Create the table DatabaseStorage keeps files in (if it does not exist)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--storage",
            action="append",
            dest="aliases",
            metavar="ALIAS",
            help="A STORAGES alias using DatabaseStorage (repeatable; default: all of them).",
        )
        parser.add_argument(
            "--name-length",
            type=int,
            default=255,
            help="Length of the file-name column (default 255; FileField's max_length is 100).",
        )
        parser.add_argument(
            "--sql", action="store_true", help="Print the SQL instead of running it."
        )

    def handle(self, *args: Any, aliases: list[str] | None, name_length: int, sql: bool, **kw):
        if name_length < 1:
            raise CommandError("--name-length must be positive.")
        for label, storage in self.targets(aliases):
            try:
                statements = storage.create_table(name_length=name_length, execute=not sql)
            except DatabaseStorageError as exc:
                raise CommandError(str(exc)) from exc
            if sql:
                for statement in statements:
                    self.stdout.write(f"{statement};")
            else:
                self.stdout.write(f"{label}: {storage.describe()} is ready.")

    def targets(self, aliases: list[str] | None) -> list[tuple[str, DatabaseStorage]]:
        configured = storages.backends
        if aliases:
            unknown = [alias for alias in aliases if alias not in configured]
            if unknown:
                raise CommandError(f"No storage alias {', '.join(map(repr, unknown))}.")
        chosen = aliases or list(configured)
        found = []
        for alias in chosen:
            storage = storages[alias]
            if isinstance(storage, DatabaseStorage):
                found.append((f"STORAGES[{alias!r}]", storage))
            elif aliases:
                raise CommandError(f"STORAGES[{alias!r}] is not a DatabaseStorage.")
        if not found:
            found.append(("settings.DB_FILES", DatabaseStorage()))
        return found
