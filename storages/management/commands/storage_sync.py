from __future__ import annotations

from storages.management.commands.storage_copy import Command as CopyCommand


class Command(CopyCommand):
    help = CopyCommand.help + " With --delete, files the source lacks are removed: a mirror."
    allows_delete = True
