"""``storages.backends.sftpstorage``: django-storages' module name for the SFTP backend.

``DEFAULT_FILE_STORAGE = "storages.backends.sftpstorage.SFTPStorage"`` and
``STORAGES`` entries naming this path keep working: these are the classes of
:mod:`storages.backends.sftp` with the same options and settings, and
migrations keep the path they were given.
"""

from __future__ import annotations

from django.utils.deconstruct import deconstructible

from storages.backends.sftp import SFTPStorage as _SFTPStorage
from storages.backends.sftp import SFTPStorageFile

__all__ = ["SFTPStorage", "SFTPStorageFile"]


@deconstructible
class SFTPStorage(_SFTPStorage):
    """:class:`storages.backends.sftp.SFTPStorage` under django-storages' path."""
