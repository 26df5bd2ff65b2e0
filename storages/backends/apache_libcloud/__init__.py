"""Apache Libcloud: ``storages.backends.apache_libcloud.LibCloudStorage`` and ``LibCloudFile``.

The public names live here; the package's modules are ``storage`` (the Storage
API), ``providers`` (``LIBCLOUD_PROVIDERS`` entries and their drivers), ``s3``
(what is done on S3-API drivers: delimiter listings, create-only writes,
presigned URLs that sign the port, and the listing
workaround), ``local`` (LOCAL-driver writes that appear whole: a temporary
file moved into place), ``files``
(streaming reads, spooled writes), ``locks`` (name locks) and ``errors``.
"""

from __future__ import annotations

from storages.backends.apache_libcloud.errors import (
    LibCloudNameTaken,
    LibCloudNotFound,
    LibCloudStorageError,
)
from storages.backends.apache_libcloud.files import LibCloudFile, LibCloudWriteFile
from storages.backends.apache_libcloud.storage import LibCloudStorage

__all__ = [
    "LibCloudFile",
    "LibCloudNameTaken",
    "LibCloudNotFound",
    "LibCloudStorage",
    "LibCloudStorageError",
    "LibCloudWriteFile",
]
