"""``manage.py storage_abandoned [app_label.Model.field ...] [--older-than S] [--delete]``.

Lists browser uploads nobody submitted (see ``storages.uploads.abandoned``):
parts staged and never joined, and files under a field's upload directory no
model row names. A dry run unless ``--delete``.
"""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from storages.uploads import abandoned
from storages.uploads.fields import registered_fields
from storages.uploads.tickets import ticket_lifetime


class Command(BaseCommand):
    help = "List (and with --delete remove) browser uploads that were never submitted."

    def add_arguments(self, parser):
        parser.add_argument(
            "fields",
            nargs="*",
            metavar="app_label.Model.field",
            help="The fields to look at (default: every field with direct uploads).",
        )
        parser.add_argument(
            "--older-than",
            type=float,
            default=None,
            help="Only uploads at least this many seconds old "
            "(default: DIRECT_UPLOADS_EXPIRE, the tickets' lifetime).",
        )
        parser.add_argument(
            "--delete", action="store_true", help="Delete them (without it: only list them)."
        )

    def handle(self, *args, **options):
        labels = options["fields"] or sorted(registered_fields)
        if not labels:
            raise CommandError(
                "No field uses direct uploads; name fields as app_label.Model.field."
            )
        older_than = options["older_than"]
        if older_than is None:
            older_than = ticket_lifetime()
        try:
            items = abandoned.find(labels, older_than)
        except LookupError as exc:
            raise CommandError(str(exc)) from exc
        for item in items:
            when = item.when.strftime("%Y-%m-%d %H:%M:%S") if item.when else "?"
            self.stdout.write(f"{item.kind:<13}{item.name}  ({item.field}, {when})")
            if options["delete"]:
                item.remove()
        count = len(items)
        if options["delete"]:
            self.stdout.write(f"{count} abandoned upload{'s' * (count != 1)} deleted.")
        else:
            self.stdout.write(
                f"{count} abandoned upload{'s' * (count != 1)} (dry run: nothing deleted; "
                "--delete deletes them)."
            )
