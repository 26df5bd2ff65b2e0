"""Rackspace Cloud Files and OpenStack Swift: ``storages.backends.mosso.CloudFilesStorage``.

The package keeps its historical name (Mosso was Rackspace's cloud before it
was renamed), so ``DEFAULT_FILE_STORAGE = 'storages.backends.mosso.CloudFilesStorage'``
and ``from storages.backends.mosso import CloudFilesStorage, cloudfiles_upload_to``
keep working. Modules: ``storage`` (the Storage API) and ``auth`` (Swift and
Rackspace authentication, token refresh).
"""

from __future__ import annotations

from storages.backends.mosso.storage import (
    CloudFilesStorage,
    SwiftError,
    SwiftStorage,
    cloudfiles_upload_to,
)

__all__ = ["CloudFilesStorage", "SwiftError", "SwiftStorage", "cloudfiles_upload_to"]
