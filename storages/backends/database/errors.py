"""The errors of DatabaseStorage (``OSError`` subclasses, as every store failure)."""

from __future__ import annotations


class DatabaseStorageError(OSError):
    """A database failure, naming the file and the store but never a password."""


class BlobChangedError(DatabaseStorageError):
    """The file was replaced while it was being read."""
