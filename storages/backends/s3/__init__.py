"""Amazon S3 and S3-compatible stores: ``storages.backends.s3.S3Storage`` and friends.

The public names live here; the package's modules are ``storage`` (the Storage
API), ``urls`` (plain, presigned and CloudFront URLs, upload URLs and forms),
``listing`` (fast bucket listings), ``files`` (streaming reads, multipart
writes), ``transfer`` (uploads), ``direct`` (small uploads signed here),
``signing`` (SigV4 and CloudFront signers), ``options`` (old setting values),
``errors`` (boto3 errors as ``OSError``) and ``aio`` (the native async hooks,
with ``aio_http``, ``aio_upload`` and ``aio_files``: signed requests on aiohttp).
"""

from __future__ import annotations

from storages.backends.s3.aio import S3AsyncMixin
from storages.backends.s3.errors import S3PreconditionFailed, S3StorageError
from storages.backends.s3.files import S3File
from storages.backends.s3.storage import S3ManifestStaticStorage, S3StaticStorage, S3Storage

__all__ = [
    "S3AsyncMixin",
    "S3File",
    "S3ManifestStaticStorage",
    "S3PreconditionFailed",
    "S3StaticStorage",
    "S3Storage",
    "S3StorageError",
]
