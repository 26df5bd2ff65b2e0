"""Dropbox: ``storages.backends.dropbox.DropboxStorage`` (django-storages 1.14's path and names).

The public names live here; the package's modules are ``storage`` (the Storage
API and uploads), ``files`` (streamed and ranged reads, upload blocks),
``client`` (the SDK client and its TLS session) and ``errors`` (SDK errors as
``OSError``).
"""

from __future__ import annotations

from storages.backends.dropbox.errors import (
    DropboxAuthError,
    DropboxFileNotFound,
    DropboxNameTaken,
    DropBoxStorageException,
    DropboxStorageException,
)
from storages.backends.dropbox.files import DropboxFile
from storages.backends.dropbox.storage import DropBoxStorage, DropboxStorage

#: django-storages 1.14's older spelling.
DropBoxFile = DropboxFile

__all__ = [
    "DropBoxFile",
    "DropBoxStorage",
    "DropBoxStorageException",
    "DropboxAuthError",
    "DropboxFile",
    "DropboxFileNotFound",
    "DropboxNameTaken",
    "DropboxStorage",
    "DropboxStorageException",
]
