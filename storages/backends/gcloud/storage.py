"""Google Cloud Storage, on google-cloud-storage.

``GoogleCloudStorage`` keeps files as objects of one bucket, under an optional
prefix (``location``). Highlights (see docs/backends/gcloud.rst):

* no lost files: with overwrite off (our default), a save is a conditional
  create (``ifGenerationMatch=0``); when the name is taken the save retries
  under the next available name, so concurrent saves of one name keep every file;
* uploads in bounded memory: up to 8 MiB in one multipart request, beyond that
  a resumable upload in ``blob_chunk_size`` chunks; a failed upload stores
  nothing under the name;
* reads stream by ranged downloads of one pinned generation;
* ``url()`` makes no request (plain, or V4 signed here with the key);
* ``list_stored()`` (name, size, time, MD5) for our fast collectstatic;
* a drop-in for django-storages 1.14's ``storages.backends.gcloud``: its
  settings, options, class attributes, ``client``/``bucket`` properties and
  ``get_object_parameters``.
"""

from __future__ import annotations

import base64
import datetime
import mimetypes
import pathlib
import posixpath
import threading
from collections.abc import Iterable, Iterator
from typing import Any, ClassVar

from django.conf import settings
from django.contrib.staticfiles.storage import ManifestFilesMixin
from django.core.exceptions import ImproperlyConfigured
from django.core.files.utils import validate_file_name
from django.utils import timezone
from django.utils.deconstruct import deconstructible

from storages.backends.gcloud.aio import GoogleCloudAsyncMixin
from storages.backends.gcloud.browser import GoogleCloudBrowserUploads
from storages.backends.gcloud.errors import GCSNotFound, GCSPreconditionFailed, gcs_errors
from storages.backends.gcloud.files import (
    READ_CHUNK_SIZE,
    UNCOMPRESSED_SIZE,
    GoogleCloudFile,
    GoogleCloudWriteFile,
    gzipped,
    stored_size,
)
from storages.backends.gcloud.urls import DEFAULT_URL_REUSE, GoogleCloudUrls, url_reuse_fraction
from storages.base import BaseStorage, SettingSpec
from storages.files import SPOOL_MAX_MEMORY, Source, refuse_partial_update
from storages.utils import clean_name, file_join, is_root, require, safe_join

MIB = 1024 * 1024
#: google-cloud-storage sends uploads up to this size in one multipart request.
MULTIPART_LIMIT = 8 * MIB
#: The chunk of a resumable upload when ``blob_chunk_size`` is not set.
DEFAULT_UPLOAD_CHUNK = 16 * MIB
#: GCS wants resumable chunks in multiples of this.
CHUNK_QUANTUM = 256 * 1024
DEFAULT_GZIP_CONTENT_TYPES = (
    "text/css",
    "text/javascript",
    "application/javascript",
    "application/x-javascript",
    "image/svg+xml",
)
#: The listing fields list_stored() needs (a smaller answer to parse).
LISTING_FIELDS = "items(name,size,updated,md5Hash),nextPageToken"

#: Connections kept open per host (requests' default is 10).
POOL_SIZE = 32

_client_lock = threading.Lock()
# ``Storage.save()`` gives ``max_length`` to ``get_available_name`` only; a save
# that loses a race needs it again for the next name.
_pending = threading.local()

Entry = tuple[str, int, datetime.datetime, str | None]


def load_credentials(credentials: Any) -> Any:
    """``GS_CREDENTIALS`` as google-auth credentials: an object as is, a service-account
    key as a dict (its JSON) or the path of its JSON file."""
    if credentials is None or not isinstance(credentials, (str, pathlib.Path, dict)):
        return credentials
    service_account = require("google.oauth2.service_account", "google")
    if isinstance(credentials, dict):
        return service_account.Credentials.from_service_account_info(credentials)
    return service_account.Credentials.from_service_account_file(str(credentials))


def _widen_pool(client: Any) -> None:
    """Room for collectstatic's parallel uploads (16) plus reads: requests keeps 10."""
    adapters = require("requests.adapters", "google")
    session = client._http  # the AuthorizedSession, made here without a request
    if not getattr(session, "_storages_pool", False) and hasattr(session, "mount"):
        adapter = adapters.HTTPAdapter(pool_connections=4, pool_maxsize=POOL_SIZE)
        session.mount("https://", adapter)
        session.mount("http://", adapter)
        session._storages_pool = True


@deconstructible(path="storages.backends.gcloud.GoogleCloudStorage")
class GoogleCloudStorage(
    GoogleCloudAsyncMixin, GoogleCloudBrowserUploads, GoogleCloudUrls, BaseStorage
):
    """Files as objects in a Google Cloud Storage bucket."""

    secret_options: ClassVar[tuple[str, ...]] = ("credentials",)
    required_options: ClassVar[tuple[str, ...]] = ("bucket_name",)
    transient_attributes: ClassVar[tuple[str, ...]] = (
        "_client",
        "_bucket",
        "_credentials",
        "_aio_sessions",
        "_signed_url_cache",
    )
    overwrite_option: ClassVar[str | None] = "file_overwrite"

    @classmethod
    def get_default_settings(cls) -> dict[str, SettingSpec]:
        return {
            "project_id": ("GS_PROJECT_ID", None),
            "credentials": ("GS_CREDENTIALS", None),
            "bucket_name": ("GS_BUCKET_NAME", None),
            "custom_endpoint": ("GS_CUSTOM_ENDPOINT", None),
            "location": ("GS_LOCATION", ""),
            "default_acl": ("GS_DEFAULT_ACL", None),
            "querystring_auth": ("GS_QUERYSTRING_AUTH", True),
            "expiration": ("GS_EXPIRATION", datetime.timedelta(seconds=86400)),
            "gzip": ("GS_IS_GZIPPED", False),
            "gzip_content_types": ("GZIP_CONTENT_TYPES", DEFAULT_GZIP_CONTENT_TYPES),
            # django-storages 1.14 replaces by default; we keep both files (W020 says so).
            "file_overwrite": ("GS_FILE_OVERWRITE", False),
            "cache_control": ("GS_CACHE_CONTROL", None),
            "object_parameters": ("GS_OBJECT_PARAMETERS", {}),
            "max_memory_size": ("GS_MAX_MEMORY_SIZE", 0),
            "blob_chunk_size": ("GS_BLOB_CHUNK_SIZE", None),
            "iam_sign_blob": ("GS_IAM_SIGN_BLOB", False),
            "sa_email": ("GS_SA_EMAIL", None),
            # Ours: the JSON API's endpoint (an emulator, a private endpoint).
            "api_endpoint": ("GS_API_ENDPOINT", None),
            # Ours: a google.api_core Retry for every request (None: the library's).
            "retry": ("GS_RETRY", None),
            # Ours: reuse a signed URL for this fraction of its lifetime (False: never).
            "url_reuse": ("GS_URL_REUSE", DEFAULT_URL_REUSE),
        }

    # --- configuration ---------------------------------------------------

    def configure(self) -> None:
        location = clean_name(self.location or "")
        if location.startswith("/"):
            raise ImproperlyConfigured(
                f"{type(self).__name__}.location cannot begin with a leading slash. "
                f"Found {self.location!r}. Use {location.lstrip('/')!r} instead."
            )
        self.location = location.rstrip("/")
        chunk = self.blob_chunk_size
        if chunk is not None and (int(chunk) <= 0 or int(chunk) % CHUNK_QUANTUM):
            raise ImproperlyConfigured(
                f"GS_BLOB_CHUNK_SIZE must be a positive multiple of 256 KiB, not {chunk!r}"
            )
        if self.custom_endpoint:
            self.custom_endpoint = str(self.custom_endpoint).rstrip("/")
        url_reuse_fraction(self.url_reuse)  # refused now rather than on the first url()

    @property
    def client(self) -> Any:
        """The google-cloud-storage ``Client`` (created on first use, shared by threads)."""
        client = self.__dict__.get("_client")
        if client is None:
            storage = require("google.cloud.storage", "google")
            with _client_lock:
                client = self.__dict__.get("_client")
                if client is None:
                    options = {"api_endpoint": self.api_endpoint} if self.api_endpoint else None
                    client = storage.Client(
                        project=self.project_id,
                        credentials=self._loaded_credentials(),
                        client_options=options,
                    )
                    # google-cloud-storage 3.x fetches the bucket's metadata in a
                    # background thread on first use, for tracing attributes only:
                    # one more request per storage, and one that needs
                    # storage.buckets.get, which object-only accounts lack.
                    if getattr(client, "_bucket_metadata_cache", None) is not None:
                        client._bucket_metadata_cache = None
                    _widen_pool(client)
                    self.__dict__["_client"] = client
        return client

    def _loaded_credentials(self) -> Any:
        loaded = self.__dict__.get("_credentials")
        if loaded is None and self.credentials is not None:
            loaded = self.__dict__["_credentials"] = load_credentials(self.credentials)
        return loaded

    @property
    def bucket(self) -> Any:
        """The google-cloud-storage ``Bucket`` (no request)."""
        bucket = self.__dict__.get("_bucket")
        if bucket is None:
            bucket = self.__dict__["_bucket"] = self.client.bucket(self.bucket_name)
        return bucket

    def _key(self, name: str) -> str:
        """The object name of the file ``name``; unsafe names and the root are refused."""
        return file_join(self.location, name)

    def _listing_prefix(self, path: str) -> str:
        """The prefix of the objects in the directory ``path`` ("" for the whole bucket)."""
        prefix = safe_join(self.location, path)
        return prefix + "/" if prefix and not prefix.endswith("/") else prefix

    def _retry(self) -> dict[str, Any]:
        """``retry=`` for google-cloud-storage calls, when one is configured."""
        return {"retry": self.retry} if self.retry is not None else {}

    def _errors(self, key: str, action: str) -> Any:
        return gcs_errors(self.bucket_name, key, action)

    # --- object parameters -----------------------------------------------

    def get_object_parameters(self, name: str) -> dict[str, Any]:
        """Blob properties for ``name`` (``acl``, ``cache_control``, ``content_type``,
        ``metadata``, ...); override to vary them by name, as with django-storages."""
        params = dict(self.object_parameters or {})
        if "cache_control" not in params and self.cache_control:
            params["cache_control"] = self.cache_control
        return params

    def _new_blob(self, key: str, name: str, content: Any = None) -> tuple[Any, str | None]:
        """A ``Blob`` for ``key`` with its properties set, and the predefined ACL."""
        blob = self.bucket.blob(key)
        params = dict(self.get_object_parameters(name))
        acl = params.pop("acl", self.default_acl)
        params.pop("name", None)
        if "content_type" not in params:
            params["content_type"] = (
                mimetypes.guess_type(name)[0]
                or getattr(content, "content_type", None)
                or "application/octet-stream"
            )
        for prop, value in params.items():
            setattr(blob, prop, value)
        return blob, acl

    # --- Storage API -----------------------------------------------------

    def _open(self, name: str, mode: str = "rb") -> Any:
        key = self._key(name)
        refuse_partial_update(name, mode)
        if "w" in mode or "x" in mode:
            conditional = "x" in mode

            def upload(spool: Any) -> None:
                self._upload(key, name, spool, conditional=conditional)

            return GoogleCloudWriteFile(name, mode, upload, max_memory_size=self._spool_limit())
        blob = self._get_blob(key, "open")
        pinned = self.bucket.blob(key, generation=blob.generation)
        # Not its mediaLink: the download URL is then built with the generation.
        pinned._properties.update(
            {prop: value for prop, value in blob._properties.items() if prop != "mediaLink"}
        )
        chunk = int(self.blob_chunk_size or 0) or READ_CHUNK_SIZE
        return GoogleCloudFile(
            name, mode, pinned, self.bucket_name, chunk_size=chunk, retry=self._retry()
        )

    def _spool_limit(self) -> int:
        # django-storages' 0 meant "never roll over to disk"; here memory stays bounded.
        return int(self.max_memory_size or 0) or SPOOL_MAX_MEMORY

    def _upload(
        self, key: str, name: str, content: Any, *, conditional: bool, original: Any = None
    ) -> None:
        """Store ``content`` under ``key``; with ``conditional``, only if no object has it.

        Up to 8 MiB goes in one multipart request (which holds it in memory);
        beyond, a resumable upload sends ``blob_chunk_size`` chunks, and nothing
        exists under the name until the last one lands.
        """
        blob, acl = self._new_blob(key, name, original if original is not None else content)
        packed = None
        if self._should_gzip(blob):
            packed, original_size = gzipped(content)
            blob.content_encoding = "gzip"
            blob.metadata = {**(blob.metadata or {}), UNCOMPRESSED_SIZE: str(original_size)}
            content = packed
        try:
            self._send(blob, key, content, acl, conditional=conditional)
        finally:
            if packed is not None:
                packed.close()

    def _should_gzip(self, blob: Any) -> bool:
        return (
            bool(self.gzip)
            and not blob.content_encoding
            and blob.content_type in tuple(self.gzip_content_types or ())
        )

    def _send(self, blob: Any, key: str, content: Any, acl: Any, *, conditional: bool) -> None:
        with Source(content) as source:
            if source.size > MULTIPART_LIMIT:
                blob.chunk_size = int(self.blob_chunk_size or 0) or DEFAULT_UPLOAD_CHUNK
            kwargs: dict[str, Any] = {"size": source.size, "predefined_acl": acl}
            if conditional:
                kwargs["if_generation_match"] = 0
            with self._errors(key, "save"):
                blob.upload_from_file(
                    source.stream,
                    content_type=blob.content_type,
                    rewind=False,
                    **kwargs,
                    **self._retry(),
                )

    def _save(self, name: str, content: Any) -> str:
        name = clean_name(name)
        conditional = not self.file_overwrite
        taken = name
        # One seekable copy (the content itself when it is one): a retry re-reads it.
        with Source(content) as source:
            while True:
                key = self._key(name)
                source.stream.seek(0)
                try:
                    self._upload(
                        key, name, source.stream, conditional=conditional, original=content
                    )
                except GCSPreconditionFailed:
                    # The name is taken: keep that file and try the next candidate at
                    # once (the next conditional create is the existence check).
                    taken, name = self._next_candidate(taken, getattr(_pending, "max_length", None))
                    continue
                return name

    def get_available_name(self, name: str, max_length: int | None = None) -> str:
        self._key(name)  # unsafe names and the root are refused before anything else
        if self.file_overwrite:
            return super().get_available_name(clean_name(name), max_length)
        _pending.max_length = max_length
        validate_file_name(posixpath.basename(name))
        name = clean_name(name)
        if max_length is not None and len(name) > max_length:
            return self._next_candidate(name, max_length)[1]
        # No existence check: the conditional create in _save finds a taken name.
        return name

    def delete(self, name: str) -> None:
        key = self._key(name)
        try:
            with self._errors(key, "delete"):
                self.bucket.delete_blob(key, **self._retry())
        except GCSNotFound:
            pass  # deleting a missing file is a no-op

    def delete_many(self, names: Iterable[str]) -> None:
        """Delete several files (missing ones are no error)."""
        for name in names:
            self.delete(name)

    def _get_blob(self, key: str, action: str) -> Any:
        with self._errors(key, action):
            blob = self.bucket.get_blob(key, **self._retry())
        if blob is None:
            raise GCSNotFound(
                f"Could not {action} gs://{self.bucket_name}/{key}: it does not exist"
            )
        return blob

    def exists(self, name: str) -> bool:
        if is_root(name):
            return True  # the location's root (collectstatic --clear asks)
        key = self._key(name)
        with self._errors(key, "look up"):
            if not key.endswith("/") and self.bucket.get_blob(key, **self._retry()) is not None:
                return True
            # A "directory": any object under the prefix.
            prefix = key.rstrip("/") + "/"
            found = self.client.list_blobs(
                self.bucket_name, prefix=prefix, max_results=1, **self._retry()
            )
            return any(True for _ in found)

    def listdir(self, path: str) -> tuple[list[str], list[str]]:
        prefix = self._listing_prefix(path)
        directories: list[str] = []
        files: list[str] = []
        with self._errors(prefix, "list"):
            listing = self.client.list_blobs(
                self.bucket_name,
                prefix=prefix,
                delimiter="/",
                fields="items(name),prefixes,nextPageToken",
                **self._retry(),
            )
            for page in listing.pages:
                files.extend(blob.name[len(prefix) :] for blob in page if blob.name != prefix)
                directories.extend(p[len(prefix) :].rstrip("/") for p in page.prefixes)
        return sorted(set(directories)), files

    def size(self, name: str) -> int:
        return stored_size(self._get_blob(self._key(name), "read the size of"))

    def _moment(self, moment: datetime.datetime) -> datetime.datetime:
        return moment if settings.USE_TZ else timezone.make_naive(moment)

    def get_modified_time(self, name: str) -> datetime.datetime:
        return self._moment(self._get_blob(self._key(name), "read the time of").updated)

    def get_created_time(self, name: str) -> datetime.datetime:
        return self._moment(self._get_blob(self._key(name), "read the time of").time_created)

    def modified_time(self, name: str) -> datetime.datetime:
        """django-storages' naive modification time."""
        return timezone.make_naive(self._get_blob(self._key(name), "read the time of").updated)

    # --- beyond Django's API ---------------------------------------------

    def list_stored(self) -> Iterator[Entry]:
        """``(name, size, modified, md5 hex)`` of every file, from one paginated listing."""
        prefix = f"{self.location}/" if self.location else ""
        with self._errors(prefix, "list"):
            listing = self.client.list_blobs(self.bucket_name, prefix=prefix, fields=LISTING_FIELDS)
            for blob in listing:
                name = blob.name[len(prefix) :]
                if not name or name.endswith("/"):
                    continue
                md5 = base64.b64decode(blob.md5_hash).hex() if blob.md5_hash else None
                yield name, int(blob.size or 0), blob.updated, md5

    def stores_verbatim(self, name: str) -> bool:
        """Whether ``name`` is stored byte for byte (not gzipped), so its MD5 compares."""
        if not self.gzip:
            return True
        content_type = (
            self.get_object_parameters(name).get("content_type") or (mimetypes.guess_type(name)[0])
        )
        return content_type not in tuple(self.gzip_content_types or ())

    def copy(self, source: str, target: str) -> str:
        """Server-side copy; return ``target``."""
        source_key, target_key = self._key(source), self._key(target)
        with self._errors(source_key, f"copy to {target_key}"):
            self.bucket.copy_blob(
                self.bucket.blob(source_key), self.bucket, target_key, **self._retry()
            )
        return clean_name(target)

    def move(self, source: str, target: str) -> str:
        """Server-side copy, then delete the source; return ``target``."""
        target = self.copy(source, target)
        self.delete(source)
        return target


@deconstructible(path="storages.backends.gcloud.GoogleCloudStaticStorage")
class GoogleCloudStaticStorage(GoogleCloudStorage):
    """For static files: plain (unsigned) URLs and replacing saves by default."""

    @classmethod
    def get_default_settings(cls) -> dict[str, SettingSpec]:
        spec = super().get_default_settings()
        # Static URLs end up in cached pages: they must not expire.
        spec["querystring_auth"] = (None, False)
        # collectstatic republishes a changed file under the same name.
        spec["file_overwrite"] = (None, True)
        return spec


@deconstructible(path="storages.backends.gcloud.GoogleCloudManifestStaticStorage")
class GoogleCloudManifestStaticStorage(ManifestFilesMixin, GoogleCloudStaticStorage):
    """Static files with content hashes in their names (``ManifestStaticFilesStorage``)."""
