"""``storages.backends.s3boto3``: django-storages' names for the S3 backend.

``DEFAULT_FILE_STORAGE = "storages.backends.s3boto3.S3Boto3Storage"``,
``STATICFILES_STORAGE = "storages.backends.s3boto3.S3StaticStorage"`` (or
``S3ManifestStaticStorage``), ``STORAGES`` entries with these paths, and
``from storages.backends.s3boto3 import S3Boto3Storage`` in a subclass keep
working: they are :mod:`storages.backends.s3` under the names django-storages
gave it before 1.14, with the same settings. Migrations that name
``storages.backends.s3boto3.S3Boto3Storage`` load, and a storage made from
these classes deconstructs to these paths.
"""

from __future__ import annotations

from django.utils.deconstruct import deconstructible

from storages.backends import s3

__all__ = [
    "S3Boto3Storage",
    "S3Boto3StorageFile",
    "S3ManifestStaticStorage",
    "S3StaticStorage",
]

#: django-storages' name for the file object ``open()`` returns.
S3Boto3StorageFile = s3.S3File


@deconstructible(path="storages.backends.s3boto3.S3Boto3Storage")
class S3Boto3Storage(s3.S3Storage):
    """:class:`~storages.backends.s3.S3Storage` under django-storages' old name."""


@deconstructible(path="storages.backends.s3boto3.S3StaticStorage")
class S3StaticStorage(s3.S3StaticStorage):
    """:class:`~storages.backends.s3.S3StaticStorage` under the s3boto3 module."""


@deconstructible(path="storages.backends.s3boto3.S3ManifestStaticStorage")
class S3ManifestStaticStorage(s3.S3ManifestStaticStorage):
    """:class:`~storages.backends.s3.S3ManifestStaticStorage` under the s3boto3 module."""
