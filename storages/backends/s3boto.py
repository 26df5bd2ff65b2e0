"""``storages.backends.s3boto``: the class names of the original documentation.

``DEFAULT_FILE_STORAGE = 'storages.backends.s3boto.S3BotoStorage'`` and
``STATICFILES_STORAGE = 'storages.backends.s3boto.S3BotoStorage'`` keep working.
boto 2 is long dead: these are the boto3 engine of :mod:`storages.backends.s3`
under their old names, with the same settings.
"""

from __future__ import annotations

from django.utils.deconstruct import deconstructible

from storages.backends.s3 import S3ManifestStaticStorage, S3StaticStorage, S3Storage

__all__ = ["S3BotoManifestStaticStorage", "S3BotoStaticStorage", "S3BotoStorage"]


@deconstructible
class S3BotoStorage(S3Storage):
    """The seed's ``S3BotoStorage``: :class:`~storages.backends.s3.S3Storage`."""


@deconstructible
class S3BotoStaticStorage(S3StaticStorage):
    """:class:`~storages.backends.s3.S3StaticStorage` under the s3boto module."""


@deconstructible
class S3BotoManifestStaticStorage(S3ManifestStaticStorage):
    """:class:`~storages.backends.s3.S3ManifestStaticStorage` under the s3boto module."""
