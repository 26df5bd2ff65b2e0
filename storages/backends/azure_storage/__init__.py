"""Azure Blob Storage: ``storages.backends.azure_storage.AzureStorage`` and friends.

The public names live here (django-storages 1.14's module path); the package's
modules are ``storage`` (the Storage API), ``urls`` (plain and SAS URLs),
``files`` (ranged reads, staged-block writes) and ``errors`` (azure-core errors
as ``OSError``).
"""

from __future__ import annotations

from storages.backends.azure_storage.errors import (
    AzureNameTaken,
    AzureNotFound,
    AzureStorageError,
)
from storages.backends.azure_storage.files import AzureStorageFile
from storages.backends.azure_storage.storage import (
    AzureManifestStaticStorage,
    AzureStaticStorage,
    AzureStorage,
)

__all__ = [
    "AzureManifestStaticStorage",
    "AzureNameTaken",
    "AzureNotFound",
    "AzureStaticStorage",
    "AzureStorage",
    "AzureStorageError",
    "AzureStorageFile",
]
