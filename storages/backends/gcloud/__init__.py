"""Google Cloud Storage: ``storages.backends.gcloud.GoogleCloudStorage`` and friends.

The public names live here; the package's modules are ``storage`` (the Storage
API), ``files`` (ranged reads, spooled writes), ``urls`` (plain and V4 signed
URLs, locally or through IAM SignBlob) and ``errors`` (google-cloud-storage
errors as ``OSError``).
"""

from __future__ import annotations

from storages.backends.gcloud.errors import GCSPreconditionFailed, GoogleCloudStorageError
from storages.backends.gcloud.files import GoogleCloudFile
from storages.backends.gcloud.storage import (
    GoogleCloudManifestStaticStorage,
    GoogleCloudStaticStorage,
    GoogleCloudStorage,
)

__all__ = [
    "GCSPreconditionFailed",
    "GoogleCloudFile",
    "GoogleCloudManifestStaticStorage",
    "GoogleCloudStaticStorage",
    "GoogleCloudStorage",
    "GoogleCloudStorageError",
]
