"""Amazon S3 and S3-compatible object stores, on boto3.

``S3Storage`` keeps files as objects of one bucket, under an optional key
prefix (``location``). Highlights (see docs/backends/s3.rst):

* no lost files: with overwrite off, a save is a conditional create
  (``If-None-Match: *``); when the name is taken the save retries under a new
  available name, so concurrent saves of one name keep every file;
* streaming reads and multipart writes in bounded memory; a failed upload is
  aborted and leaves nothing under the name;
* ``url()`` makes no request and is cheap (its base is resolved once);
* one lazily created, thread-safe boto3 client per storage; storages pickle;
* a drop-in for django-storages 1.14's S3 backend: its settings (with their
  fallbacks and environment variables), options, class attributes, methods
  (``get_object_parameters``, ``get_cloudfront_signer``, ``bucket``) and
  ``ClientError`` catching all work (see ``compat`` below and the docs).
"""

from __future__ import annotations

import copy
import datetime
import mimetypes
import os
import threading
from collections.abc import Iterable, Iterator
from typing import Any, ClassVar

from django.conf import settings
from django.contrib.staticfiles.storage import ManifestFilesMixin
from django.core.exceptions import ImproperlyConfigured, SuspiciousFileOperation
from django.core.files.utils import validate_file_name
from django.utils import timezone
from django.utils.deconstruct import deconstructible

from storages.backends.s3.aio import S3AsyncMixin
from storages.backends.s3.browser import S3BrowserUploads
from storages.backends.s3.direct import DirectPut
from storages.backends.s3.errors import S3PreconditionFailed, S3StorageError, s3_errors
from storages.backends.s3.files import (
    UNCOMPRESSED_SIZE,
    GzipStream,
    S3File,
    S3Reader,
    S3Writer,
    stored_size,
)
from storages.backends.s3.listing import Entry, list_objects
from storages.backends.s3.options import (
    CHECKSUM_MODES,
    DEFAULT_GZIP_CONTENT_TYPES,
    FALLBACK_SETTINGS,
    OMITTED,
    calling_format_style,
    header_parameters,
    read_parameters,
    resolve_credentials,
)
from storages.backends.s3.transfer import (
    MIB,
    TransferSettings,
    rewound,
    size_of,
    spooled_copy,
    upload,
)
from storages.backends.s3.urls import S3Urls, plain_urls
from storages.base import BaseStorage, SettingSpec
from storages.utils import UnsafeName, clean_name, require, rewindable, safe_join

# One lock guards client creation for every storage: creation is rare and a
# lock object would not pickle.
_client_lock = threading.Lock()
#: The most keys one DeleteObjects request may name.
DELETE_BATCH = 1000
# ``Storage.save()`` passes ``max_length`` to ``get_available_name`` only; a save
# that loses a race needs it again to pick the next name.
_pending = threading.local()


@deconstructible(path="storages.backends.s3.S3Storage")
class S3Storage(S3BrowserUploads, S3AsyncMixin, S3Urls, BaseStorage):
    """Files as objects in an S3 bucket."""

    secret_options: ClassVar[tuple[str, ...]] = (
        "secret_key",
        "security_token",
        "cloudfront_key",
        "cloudfront_signer",
    )
    required_options: ClassVar[tuple[str, ...]] = ("bucket_name",)
    transient_attributes: ClassVar[tuple[str, ...]] = (
        "_client",
        "_session",
        "_url_base",
        "_presigner",
        "_cloudfront",
        "_direct",
        "_unsigned",
        "_bucket",
        "_aio",  # the async transport (S3AsyncMixin)
    )

    @classmethod
    def get_default_settings(cls) -> dict[str, SettingSpec]:
        return {
            # django-storages' names first; the fallbacks (AWS_ACCESS_KEY_ID, ...,
            # then the environment) are in options.CREDENTIAL_FALLBACKS.
            "access_key": ("AWS_S3_ACCESS_KEY_ID", None),
            "secret_key": ("AWS_S3_SECRET_ACCESS_KEY", None),
            "security_token": ("AWS_SESSION_TOKEN", None),
            "session_profile": ("AWS_S3_SESSION_PROFILE", None),
            "bucket_name": ("AWS_STORAGE_BUCKET_NAME", None),
            "calling_format": ("AWS_CALLING_FORMAT", None),
            "headers": ("AWS_HEADERS", {}),
            "endpoint_url": ("AWS_S3_ENDPOINT_URL", None),
            "region_name": ("AWS_S3_REGION_NAME", None),
            "location": ("AWS_LOCATION", ""),
            "default_acl": ("AWS_DEFAULT_ACL", None),
            "querystring_auth": ("AWS_QUERYSTRING_AUTH", True),
            "querystring_expire": ("AWS_QUERYSTRING_EXPIRE", 3600),
            "custom_domain": ("AWS_S3_CUSTOM_DOMAIN", None),
            "url_protocol": ("AWS_S3_URL_PROTOCOL", "https:"),
            "object_parameters": ("AWS_S3_OBJECT_PARAMETERS", {}),
            "file_overwrite": ("AWS_S3_FILE_OVERWRITE", False),
            "conditional_writes": ("AWS_S3_CONDITIONAL_WRITES", True),
            "gzip": ("AWS_IS_GZIPPED", False),
            "gzip_content_types": ("GZIP_CONTENT_TYPES", DEFAULT_GZIP_CONTENT_TYPES),
            "signature_version": ("AWS_S3_SIGNATURE_VERSION", "s3v4"),
            "addressing_style": ("AWS_S3_ADDRESSING_STYLE", None),
            "proxies": ("AWS_S3_PROXIES", None),
            "use_ssl": ("AWS_S3_USE_SSL", True),
            "verify": ("AWS_S3_VERIFY", None),
            "max_memory_size": ("AWS_S3_MAX_MEMORY_SIZE", 8 * MIB),
            "transfer_config": ("AWS_S3_TRANSFER_CONFIG", None),
            "client_config": ("AWS_S3_CLIENT_CONFIG", None),
            "checksums": ("AWS_S3_CHECKSUMS", None),
            "direct_uploads": ("AWS_S3_DIRECT_UPLOADS", True),
            "cloudfront_key_id": ("AWS_CLOUDFRONT_KEY_ID", None),
            "cloudfront_key": ("AWS_CLOUDFRONT_KEY", None),
            # django-storages' own: an object with generate_presigned_url(url,
            # date_less_than=...); None turns CloudFront signing off.
            "cloudfront_signer": (None, OMITTED),
            "default_content_type": (None, "application/octet-stream"),
            "use_threads": ("AWS_S3_USE_THREADS", True),
            "file_buffer_size": ("AWS_S3_FILE_BUFFER_SIZE", None),
            # Accepted and ignored, as django-storages 1.14 ignores it too.
            "file_name_charset": ("AWS_S3_FILE_NAME_CHARSET", "utf-8"),
            # django-storages' deprecated class attribute for client_config.
            "config": (None, None),
        }

    # --- configuration ---------------------------------------------------

    def configure(self) -> None:
        resolve_credentials(self)
        if self.config is not None and self.client_config is None:
            self.client_config = self.config
        if self.cloudfront_signer is OMITTED and (
            bool(self.cloudfront_key_id) != bool(self.cloudfront_key)
        ):
            raise ImproperlyConfigured(
                "AWS_CLOUDFRONT_KEY_ID (cloudfront_key_id) and AWS_CLOUDFRONT_KEY "
                "(cloudfront_key) must be given together."
            )
        if self.url_protocol is None:  # django-storages 1.14.6: None means https
            self.url_protocol = "https:"
        self.location = clean_name(self.location or "").lstrip("/")
        self._bucket_is_host = False
        if self.addressing_style not in (None, "auto", "virtual", "path"):
            raise ImproperlyConfigured(
                f"AWS_S3_ADDRESSING_STYLE must be 'auto', 'virtual' or 'path', "
                f"not {self.addressing_style!r}"
            )
        if self.calling_format is not None:
            style, self._bucket_is_host = calling_format_style(self.calling_format)
            if self.addressing_style is None:
                self.addressing_style = style
        if self.checksums not in (None, *CHECKSUM_MODES):
            raise ImproperlyConfigured(
                f"AWS_S3_CHECKSUMS must be one of {', '.join(CHECKSUM_MODES)}, "
                f"not {self.checksums!r}"
            )
        if self.url_protocol and not self.url_protocol.endswith(":"):
            self.url_protocol += ":"
        self.transfer = TransferSettings.from_config(self.transfer_config)
        if self.transfer_config is None and self.use_threads is False:
            self.transfer = TransferSettings(
                threshold=self.transfer.threshold, part_size=self.transfer.part_size, concurrency=1
            )
        self.max_memory_size = int(self.max_memory_size or 0)

    def _on_setting_changed(self, *, setting: str, **kwargs: Any) -> None:
        if setting in FALLBACK_SETTINGS:
            self._apply_settings()
        else:
            super()._on_setting_changed(setting=setting, **kwargs)

    def _make_session(self) -> Any:
        boto3 = require("boto3", "s3")
        if self.session_profile:
            # As django-storages: a profile brings its own keys (keys from the
            # environment are then ignored).
            return boto3.session.Session(profile_name=self.session_profile)
        return boto3.session.Session(
            aws_access_key_id=self.access_key,
            aws_secret_access_key=self.secret_key,
            aws_session_token=self.security_token,
        )

    def _make_config(self) -> Any:
        from botocore.config import Config

        options: dict[str, Any] = {"user_agent_extra": "storages"}
        if self.addressing_style:
            options["s3"] = {"addressing_style": self.addressing_style}
        if self.signature_version:
            options["signature_version"] = self.signature_version
        if self.proxies:
            options["proxies"] = self.proxies
        if self.checksums:
            options["request_checksum_calculation"] = self.checksums
            options["response_checksum_validation"] = self.checksums
        if self.client_config is None:
            # Room for every part of a concurrent upload plus ordinary requests.
            # (and for collectstatic's parallel uploads, 16 by default).
            options["max_pool_connections"] = max(32, 2 * self.transfer.concurrency)
        try:
            ours = Config(**options)
        except TypeError as exc:
            raise ImproperlyConfigured(
                f"This botocore is too old for these S3 options ({exc}); upgrade boto3"
            ) from exc
        # What the user's client_config sets itself wins (as in django-storages,
        # where it replaces signature_version, addressing_style and proxies).
        return ours.merge(self.client_config) if self.client_config is not None else ours

    @property
    def connection(self) -> Any:
        """The boto3 S3 client (created on first use, shared by all threads)."""
        client = self.__dict__.get("_client")
        if client is None:
            with _client_lock:
                client = self.__dict__.get("_client")
                if client is None:
                    session = self._make_session()
                    kwargs: dict[str, Any] = {
                        "region_name": self.region_name,
                        "endpoint_url": self.endpoint_url,
                        "use_ssl": self.use_ssl,
                        "config": self._make_config(),
                    }
                    if self.verify is not None:
                        kwargs["verify"] = self.verify
                    client = session.client("s3", **kwargs)
                    # django-storages' connection was a boto3 resource: code that
                    # reaches its client as ``storage.connection.meta.client`` works.
                    client.meta.client = client
                    self.__dict__["_session"] = session
                    self.__dict__["_client"] = client
        return client

    client = connection

    @property
    def bucket(self) -> Any:
        """The bucket as a boto3 ``Bucket`` resource (on this storage's client)."""
        bucket = self.__dict__.get("_bucket")
        if bucket is None:
            client = self.connection
            resource = self.__dict__["_session"].resource(
                "s3",
                region_name=self.region_name,
                endpoint_url=self.endpoint_url,
                use_ssl=self.use_ssl,
                config=self._make_config(),
                **({"verify": self.verify} if self.verify is not None else {}),
            )
            resource.meta.client = client  # one client (and connection pool) for both
            bucket = self.__dict__["_bucket"] = resource.Bucket(self.bucket_name)
        return bucket

    def _key(self, name: str) -> str:
        """The object key of the file ``name``; a name that cleans to nothing is refused."""
        if not clean_name(str(name)).strip("/"):  # "", ".", "a/..": the bucket, not a file
            raise UnsafeName(f"Refusing a file name that names no file: {name!r}")
        return safe_join(self.location, name)

    def _errors(self, key: str, action: str):
        return s3_errors(self.bucket_name, key, action)

    # --- object parameters -----------------------------------------------

    def get_object_parameters(self, name: str) -> dict[str, Any]:
        """The boto3 parameters of the object ``name``: ``headers`` and ``object_parameters``.

        Override to vary them by name, as with django-storages: start from
        ``super().get_object_parameters(name)`` (a copy, yours to change), or
        return a dict of your own. Reads send the part of them that GET and HEAD
        take (customer-provided keys, SSE-C).
        """
        params = header_parameters(self.headers)
        params.update(copy.deepcopy(self.object_parameters or {}))
        return params

    def _upload_parameters(self, name: str, content: Any = None) -> dict[str, Any]:
        params = dict(self.get_object_parameters(name))
        if "Metadata" in params:
            params["Metadata"] = dict(params["Metadata"])
        if self.default_acl and "ACL" not in params:
            params["ACL"] = self.default_acl
        if "ContentType" not in params:
            guessed = mimetypes.guess_type(name)[0]
            params["ContentType"] = (
                guessed or getattr(content, "content_type", None) or self.default_content_type
            )
        return params

    def _read_parameters(self, name: str) -> dict[str, Any]:
        """GetObject/HeadObject parameters for ``name`` (SSE-C keys and the like)."""
        if not (self.object_parameters or _overrides_parameters(type(self))):
            return {}
        return read_parameters(self.get_object_parameters(name))

    # --- Storage API -----------------------------------------------------

    def _open(self, name: str, mode: str = "rb") -> S3File:
        key = self._key(name)
        if "+" in mode or "a" in mode:
            raise ValueError(f"S3 objects cannot be opened in mode {mode!r}")
        if "w" in mode or "x" in mode:
            raw: S3Reader | S3Writer = S3Writer(
                self.connection,
                self.bucket_name,
                key,
                extra_args=self._upload_parameters(name),
                conditional="x" in mode,
                part_size=max(int(self.file_buffer_size or 0), self.transfer.part_size)
                if self.file_buffer_size
                else self.transfer.part_size,
                max_memory_size=self.max_memory_size,
                direct=self._direct_put(),
            )
        else:
            raw = S3Reader(
                self.connection, self.bucket_name, key, read_args=self._read_parameters(name)
            ).start()
        return S3File(raw, name, mode, reopen=lambda again: self._open(name, again))

    def _save(self, name: str, content: Any) -> str:
        name = clean_name(name)
        conditional = not self.file_overwrite and self.conditional_writes
        if conditional and not rewindable(content):
            content = spooled_copy(content, self.max_memory_size)
        taken = name
        while True:
            key = self._key(name)
            params = self._upload_parameters(name, content)
            stream = rewound(content)
            if self._should_gzip(params):
                params["ContentEncoding"] = "gzip"
                params.setdefault("Metadata", {})[UNCOMPRESSED_SIZE] = str(size_of(content))
                stream = GzipStream(stream)
            try:
                with self._errors(key, "save"):
                    upload(
                        self.connection,
                        self.bucket_name,
                        key,
                        stream,
                        extra_args=params,
                        conditional=conditional,
                        transfer=self.transfer,
                        direct=self._direct_put(),
                    )
            except S3PreconditionFailed:
                # The name is taken: keep that file and try a new candidate at once
                # (the next conditional create is the existence check).
                taken, name = self._next_candidate(taken, getattr(_pending, "max_length", None))
                continue
            return name

    def _should_gzip(self, params: dict[str, Any]) -> bool:
        return (
            bool(self.gzip)
            and "ContentEncoding" not in params
            and params.get("ContentType") in tuple(self.gzip_content_types)
        )

    def get_available_name(self, name: str, max_length: int | None = None) -> str:
        self._key(name)  # refuse unsafe names before anything else
        _pending.max_length = max_length
        too_long = max_length is not None and len(name) > max_length
        if self.file_overwrite:
            if too_long:
                raise SuspiciousFileOperation(
                    f"Storage can not keep {name!r}: it is longer than {max_length} characters."
                )
            return clean_name(name)
        if self.conditional_writes:
            # No existence check: the conditional create in _save detects a taken name.
            validate_file_name(os.path.basename(name))
            name = clean_name(name)
            return self._next_candidate(name, max_length)[1] if too_long else name
        return super().get_available_name(name, max_length)

    def delete(self, name: str) -> None:
        key = self._key(name)
        with self._errors(key, "delete"):
            self.connection.delete_object(Bucket=self.bucket_name, Key=key)

    def delete_many(self, names: Iterable[str]) -> None:
        """Delete files 1,000 to a request (``DeleteObjects``); missing ones are no error.

        Used by collectstatic ``--clear`` instead of a request per file.
        """
        keys = [self._key(name) for name in names]
        for start in range(0, len(keys), DELETE_BATCH):
            batch = keys[start : start + DELETE_BATCH]
            with self._errors(batch[0], "delete"):
                answer = self.connection.delete_objects(
                    Bucket=self.bucket_name,
                    Delete={"Objects": [{"Key": key} for key in batch], "Quiet": True},
                )
            refused = answer.get("Errors") or []
            if refused:
                first = refused[0]
                raise S3StorageError(
                    f"Could not delete {len(refused)} of {len(batch)} objects in "
                    f"s3://{self.bucket_name}, the first s3://{self.bucket_name}/{first['Key']}: "
                    f"{first.get('Code', '')}: {first.get('Message', '')}",
                    bucket=self.bucket_name,
                    key=first["Key"],
                    code=str(first.get("Code", "")),
                )

    def _head(self, key: str, action: str, name: str) -> dict[str, Any]:
        params = self._read_parameters(name)
        with self._errors(key, action):
            return self.connection.head_object(Bucket=self.bucket_name, Key=key, **params)

    def exists(self, name: str) -> bool:
        if not clean_name(str(name)).strip("/"):
            return True  # the location's root (collectstatic --clear asks), no file
        key = self._key(name)
        if key and not key.endswith("/"):
            try:
                self._head(key, "look up", name)
                return True
            except FileNotFoundError:
                pass
        # A "directory": any object under the prefix.
        prefix = key.rstrip("/") + "/" if key else ""
        with self._errors(prefix, "list"):
            answer = self.connection.list_objects_v2(
                Bucket=self.bucket_name, Prefix=prefix, MaxKeys=1
            )
        return bool(answer.get("KeyCount") or answer.get("Contents"))

    def listdir(self, path: str) -> tuple[list[str], list[str]]:
        prefix = safe_join(self.location, path)
        if prefix and not prefix.endswith("/"):
            prefix += "/"
        directories: list[str] = []
        files: list[str] = []
        paginator = self.connection.get_paginator("list_objects_v2")
        with self._errors(prefix, "list"):
            for page in paginator.paginate(Bucket=self.bucket_name, Prefix=prefix, Delimiter="/"):
                for common in page.get("CommonPrefixes", ()):
                    directories.append(common["Prefix"][len(prefix) :].rstrip("/"))
                for entry in page.get("Contents", ()):
                    if entry["Key"] != prefix:  # a "directory marker" object
                        files.append(entry["Key"][len(prefix) :])
        return directories, files

    def size(self, name: str) -> int:
        key = self._key(name)
        return stored_size(self._head(key, "read the size of", name))

    def get_modified_time(self, name: str) -> datetime.datetime:
        key = self._key(name)
        moment = self._head(key, "read the time of", name)["LastModified"]
        return moment if settings.USE_TZ else timezone.make_naive(moment)

    # --- beyond Django's API ---------------------------------------------

    def list_stored(self) -> Iterator[Entry]:
        """``(name, size, modified, etag)`` of every file, from one paginated listing.

        Used by collectstatic to find unchanged files without a request per file.
        """
        prefix = f"{self.location}/" if self.location else ""
        return list_objects(self.connection, self.bucket_name, prefix, self._errors)

    def stores_verbatim(self, name: str) -> bool:
        """Whether ``name`` is stored byte for byte (not gzipped), so its ETag is comparable."""
        if not self.gzip:  # asked once per static file: skip working out its parameters
            return True
        return not self._should_gzip(self._upload_parameters(name))

    def copy(self, source: str, target: str) -> str:
        """Server-side copy (multipart above 5 GiB); return ``target``."""
        boto3 = require("boto3", "s3")
        source_key, target_key = self._key(source), self._key(target)
        config = boto3.s3.transfer.TransferConfig(
            multipart_threshold=max(self.transfer.threshold, 5 * 1024 * MIB),
            multipart_chunksize=max(self.transfer.part_size, 64 * MIB),
            max_concurrency=self.transfer.concurrency,
        )
        with self._errors(source_key, f"copy to {target_key}"):
            self.connection.copy(
                {"Bucket": self.bucket_name, "Key": source_key},
                self.bucket_name,
                target_key,
                Config=config,
            )
        return clean_name(target)

    def move(self, source: str, target: str) -> str:
        """Server-side copy, then delete the source; return ``target``."""
        target = self.copy(source, target)
        self.delete(source)
        return target

    def _direct_put(self) -> DirectPut | None:
        """Signs small uploads itself (``s3.direct``), unless turned off or unsuited."""
        direct = self.__dict__.get("_direct", False)
        if direct is False:
            client = self.connection
            with _client_lock:  # the first uploads of a collectstatic come at once
                direct = self.__dict__.get("_direct", False)
                if direct is False:
                    direct = None
                    if self.direct_uploads:
                        credentials = self.__dict__["_session"].get_credentials()
                        direct = DirectPut.for_client(client, self.bucket_name, credentials)
                    self.__dict__["_direct"] = direct
        return direct


def _overrides_parameters(storage_cls: type) -> bool:
    """Whether a user's subclass has its own ``get_object_parameters``."""
    return storage_cls.get_object_parameters is not S3Storage.get_object_parameters


@deconstructible(path="storages.backends.s3.S3StaticStorage")
class S3StaticStorage(S3Storage):
    """For static files: plain (unsigned) URLs and replacing saves by default."""

    @classmethod
    def get_default_settings(cls) -> dict[str, SettingSpec]:
        spec = super().get_default_settings()
        # Static URLs are rendered into cached pages: they must not expire.
        spec["querystring_auth"] = (None, False)
        # collectstatic republishes a changed file under the same name.
        spec["file_overwrite"] = (None, True)
        return spec


@deconstructible(path="storages.backends.s3.S3ManifestStaticStorage")
class S3ManifestStaticStorage(ManifestFilesMixin, S3StaticStorage):
    """Static files with content hashes in their names (``ManifestStaticFilesStorage``)."""

    def _url(self, hashed_name_func: Any, name: str, force: bool = False, **kwargs: Any) -> str:
        # force=True is post-processing computing the names written into files.
        with plain_urls(force):
            return super()._url(hashed_name_func, name, force, **kwargs)
