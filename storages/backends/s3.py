"""Amazon S3 and S3-compatible object stores, on boto3.

``S3Storage`` keeps files as objects of one bucket, under an optional key
prefix (``location``). Highlights (see docs/backends/s3.rst):

* no lost files: with overwrite off, a save is a conditional create
  (``If-None-Match: *``); when the name is taken the save retries under a new
  available name, so concurrent saves of one name keep every file;
* streaming reads and multipart writes in bounded memory; a failed upload is
  aborted and leaves nothing under the name;
* ``url()`` makes no request and is cheap (its base is resolved once);
* one lazily created, thread-safe boto3 client per storage; storages pickle.
"""

from __future__ import annotations

import datetime
import mimetypes
import os
import tempfile
import threading
from collections.abc import Iterable, Iterator
from typing import Any, ClassVar

from django.conf import settings
from django.contrib.staticfiles.storage import ManifestFilesMixin
from django.core.exceptions import ImproperlyConfigured, SuspiciousFileOperation
from django.core.files.storage import Storage
from django.core.files.utils import validate_file_name
from django.utils import timezone
from django.utils.deconstruct import deconstructible

from storages.base import BaseStorage, SettingSpec
from storages.s3_direct import DirectPut
from storages.s3_errors import S3PreconditionFailed, S3StorageError, s3_errors
from storages.s3_files import (
    UNCOMPRESSED_SIZE,
    GzipStream,
    S3File,
    S3Reader,
    S3Writer,
    stored_size,
)
from storages.s3_signing import PROBE_KEY, SigV4Signer, UrlBase, cloudfront_signer, quote_key
from storages.s3_transfer import TransferSettings, upload
from storages.utils import clean_name, require, safe_join

MIB = 1024 * 1024

DEFAULT_GZIP_CONTENT_TYPES = (
    "text/css",
    "text/javascript",
    "application/javascript",
    "application/x-javascript",
    "image/svg+xml",
)

#: Old ``AWS_CALLING_FORMAT`` values (boto 2 class names, S3.py constants) -> addressing style.
CALLING_FORMATS = {
    "subdomain": "virtual",
    "vhost": "virtual",
    "vanity": "virtual",
    "path": "path",
    "ordinary": "path",
}
#: The 2006 ``S3.CallingFormat`` constants.
NUMERIC_CALLING_FORMATS = {1: "path", 2: "virtual", 3: "virtual"}

CHECKSUM_MODES = ("when_supported", "when_required")

# One lock guards client creation for every storage: creation is rare and a
# lock object would not pickle.
_client_lock = threading.Lock()
#: The most keys one DeleteObjects request may name.
DELETE_BATCH = 1000
# ``Storage.save()`` passes ``max_length`` to ``get_available_name`` only; a save
# that loses a race needs it again to pick the next name.
_pending = threading.local()
# Set while the manifest storage rewrites references inside CSS/JS: those must be
# plain addresses, never signed (expiring) URLs.
_plain_urls = threading.local()


def calling_format_style(value: Any) -> tuple[str, bool]:
    """``(addressing style, bucket is its own host)`` for an old calling format."""
    if isinstance(value, int) and value in NUMERIC_CALLING_FORMATS:
        return NUMERIC_CALLING_FORMATS[value], value == 3
    text = getattr(value, "__name__", None) or type(value).__name__
    if isinstance(value, str):
        text = value
    word = text.rsplit(".", 1)[-1].lower().removesuffix("callingformat") or text.lower()
    if word not in CALLING_FORMATS:
        raise ImproperlyConfigured(
            f"AWS_CALLING_FORMAT {value!r} is not one of: subdomain, path (ordinary), vhost"
        )
    return CALLING_FORMATS[word], word in ("vhost", "vanity")


def header_parameters(headers: dict[str, Any]) -> dict[str, Any]:
    """HTTP header names (``Cache-Control``, ``x-amz-meta-a``) -> boto3 object parameters."""
    params: dict[str, Any] = {}
    metadata: dict[str, str] = {}
    for header, value in (headers or {}).items():
        lower = header.lower()
        if lower.startswith("x-amz-meta-"):
            metadata[lower[len("x-amz-meta-") :]] = str(value)
        elif lower == "x-amz-acl":
            params["ACL"] = value
        elif "-" in header or header.islower():
            words = lower.removeprefix("x-amz-").split("-")
            params["".join(word.capitalize() for word in words)] = value
        else:
            params[header] = value  # already a boto3 name, such as "CacheControl"
    if metadata:
        params["Metadata"] = metadata
    return params


@deconstructible
class S3Storage(BaseStorage):
    """Files as objects in an S3 bucket."""

    secret_options: ClassVar[tuple[str, ...]] = ("secret_key", "security_token", "cloudfront_key")
    required_options: ClassVar[tuple[str, ...]] = ("bucket_name",)
    transient_attributes: ClassVar[tuple[str, ...]] = (
        "_client",
        "_session",
        "_url_base",
        "_presigner",
        "_cloudfront",
        "_direct",
    )

    @classmethod
    def get_default_settings(cls) -> dict[str, SettingSpec]:
        return {
            "access_key": ("AWS_ACCESS_KEY_ID", None),
            "secret_key": ("AWS_SECRET_ACCESS_KEY", None),
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
        }

    # --- configuration ---------------------------------------------------

    def configure(self) -> None:
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
        self.max_memory_size = int(self.max_memory_size or 0)

    def _make_session(self) -> Any:
        boto3 = require("boto3", "s3")
        return boto3.session.Session(
            aws_access_key_id=self.access_key,
            aws_secret_access_key=self.secret_key,
            aws_session_token=self.security_token,
            profile_name=self.session_profile,
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
        return self.client_config.merge(ours) if self.client_config is not None else ours

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
                    self.__dict__["_session"] = session
                    self.__dict__["_client"] = client
        return client

    client = connection

    def _key(self, name: str) -> str:
        return safe_join(self.location, name)

    def _errors(self, key: str, action: str):
        return s3_errors(self.bucket_name, key, action)

    # --- object parameters -----------------------------------------------

    def get_object_parameters(self, name: str) -> dict[str, Any]:
        """Per-object boto3 parameters (override to vary them by name)."""
        return {}

    def _upload_parameters(self, name: str, content: Any = None) -> dict[str, Any]:
        params = header_parameters(self.headers)
        params.update(self.object_parameters or {})
        params.update(self.get_object_parameters(name))
        if "Metadata" in params:
            params["Metadata"] = dict(params["Metadata"])
        if self.default_acl and "ACL" not in params:
            params["ACL"] = self.default_acl
        if "ContentType" not in params:
            guessed = mimetypes.guess_type(name)[0]
            params["ContentType"] = (
                guessed or getattr(content, "content_type", None) or "application/octet-stream"
            )
        return params

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
                part_size=self.transfer.part_size,
                max_memory_size=self.max_memory_size,
                direct=self._direct_put(),
            )
        else:
            raw = S3Reader(self.connection, self.bucket_name, key).start()
        return S3File(raw, name, mode, reopen=lambda again: self._open(name, again))

    def _save(self, name: str, content: Any) -> str:
        name = clean_name(name)
        conditional = not self.file_overwrite and self.conditional_writes
        if conditional and not _seekable(content):
            content = _spooled_copy(content, self.max_memory_size)
        while True:
            key = self._key(name)
            params = self._upload_parameters(name, content)
            stream = _rewound(content)
            if self._should_gzip(params):
                params["ContentEncoding"] = "gzip"
                params.setdefault("Metadata", {})[UNCOMPRESSED_SIZE] = str(_size_of(content))
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
                # Someone else created this name first: keep theirs, take another.
                name = Storage.get_available_name(
                    self, name, max_length=getattr(_pending, "max_length", None)
                )
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
        if self.conditional_writes and not too_long:
            # No existence check: the conditional create in _save detects a taken name.
            validate_file_name(os.path.basename(name))
            return clean_name(name)
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

    def _head(self, key: str, action: str) -> dict[str, Any]:
        with self._errors(key, action):
            return self.connection.head_object(Bucket=self.bucket_name, Key=key)

    def exists(self, name: str) -> bool:
        key = self._key(name)
        if key and not key.endswith("/"):
            try:
                self._head(key, "look up")
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
        prefix = self._key(path)
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
        return stored_size(self._head(key, "read the size of"))

    def get_modified_time(self, name: str) -> datetime.datetime:
        key = self._key(name)
        moment = self._head(key, "read the time of")["LastModified"]
        return moment if settings.USE_TZ else timezone.make_naive(moment)

    # --- beyond Django's API ---------------------------------------------

    def list_stored(self) -> Iterator[tuple[str, int, datetime.datetime, str]]:
        """``(name, size, modified, etag)`` of every file, from one paginated listing.

        Used by collectstatic to find unchanged files without a request per file.
        The listing pages are parsed here (botocore's parser costs ~0.2 ms per entry).
        """
        prefix = f"{self.location}/" if self.location else ""
        client = self.connection
        # First: botocore's own first handler would otherwise parse each page once more,
        # looking for an error document inside a 200 (parse_listing refuses those itself).
        client.meta.events.register_first(
            "before-parse.s3.ListObjectsV2", _keep_listing_body, unique_id="storages-listing"
        )
        token = None
        while True:
            params: dict[str, Any] = {
                "Bucket": self.bucket_name,
                "Prefix": prefix,
                "EncodingType": "url",
            }
            if token:
                params["ContinuationToken"] = token
            _raw_listing.bodies = bodies = []
            try:
                with self._errors(prefix, "list"):
                    answer = client.list_objects_v2(**params)
            finally:
                _raw_listing.bodies = None
            if bodies:
                entries, token = parse_listing(bodies[-1])
            else:  # the hook did not run: botocore parsed the page
                entries = [
                    (e["Key"], e["Size"], e["LastModified"], e.get("ETag", ""))
                    for e in answer.get("Contents", ())
                ]
                token = answer.get("NextContinuationToken") if answer.get("IsTruncated") else None
            for key, size, modified, etag in entries:
                name = key[len(prefix) :]
                if name and not name.endswith("/"):
                    yield name, size, modified, etag
            if not token:
                return

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

    # --- URLs ------------------------------------------------------------

    def _base(self) -> UrlBase:
        base = self.__dict__.get("_url_base")
        if base is None:
            base = UrlBase(self._probe_url())
            self.__dict__["_url_base"] = base
        return base

    def _probe_url(self) -> str:
        from botocore.exceptions import NoCredentialsError

        params = {"Bucket": self.bucket_name, "Key": PROBE_KEY}
        try:
            return self.connection.generate_presigned_url("get_object", Params=params)
        except NoCredentialsError:
            # Public buckets without credentials: only the address is wanted.
            from botocore import UNSIGNED
            from botocore.config import Config

            unsigned = self._make_session().client(
                "s3",
                region_name=self.region_name,
                endpoint_url=self.endpoint_url,
                use_ssl=self.use_ssl,
                config=self._make_config().merge(Config(signature_version=UNSIGNED)),
            )
            return unsigned.generate_presigned_url("get_object", Params=params)

    def _fast_presigner(self) -> SigV4Signer | None:
        presigner = self.__dict__.get("_presigner", False)
        if presigner is False:
            presigner = None
            from urllib.parse import parse_qs, urlsplit

            query = parse_qs(urlsplit(self._probe_url()).query)
            credential = query.get("X-Amz-Credential", [""])[0].split("/")
            session = self.__dict__.get("_session")
            if (
                query.get("X-Amz-Algorithm") == ["AWS4-HMAC-SHA256"]
                and len(credential) == 5
                and session is not None
                and session.get_credentials() is not None
            ):
                presigner = SigV4Signer(self._base(), credential[2], session.get_credentials())
            self.__dict__["_presigner"] = presigner
        return presigner

    def _direct_put(self) -> DirectPut | None:
        """Signs small uploads itself (storages.s3_direct), unless turned off or unsuited."""
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

    def url(
        self,
        name: str,
        parameters: dict[str, Any] | None = None,
        expire: int | None = None,
        http_method: str | None = None,
    ) -> str:
        key = self._key(name)
        expire = self.querystring_expire if expire is None else expire
        domain = self.custom_domain or (self.bucket_name if self._bucket_is_host else None)
        plain = getattr(_plain_urls, "active", False)
        if domain:
            url = f"{self.url_protocol}//{domain}/{quote_key(key)}"
            if self.cloudfront_key_id and self.cloudfront_key and not plain:
                return self._cloudfront_url(url, expire)
            return url
        if plain or not (self.querystring_auth or parameters or http_method):
            return self._base().url(key)
        if not (parameters or http_method):
            presigner = self._fast_presigner()
            if presigner is not None:
                return presigner.presign_get(key, expire)
        params = {"Bucket": self.bucket_name, "Key": key, **(parameters or {})}
        with self._errors(key, "sign a URL for"):
            return self.connection.generate_presigned_url(
                "get_object", Params=params, ExpiresIn=expire, HttpMethod=http_method
            )

    def _cloudfront_url(self, url: str, expire: int) -> str:
        signer = self.__dict__.get("_cloudfront")
        if signer is None:
            signer = cloudfront_signer(self.cloudfront_key_id, self.cloudfront_key)
            self.__dict__["_cloudfront"] = signer
        until = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=expire)
        return signer.generate_presigned_url(url, date_less_than=until)

    def presigned_upload_url(
        self, name: str, *, expire: int | None = None, content_type: str | None = None
    ) -> str:
        """A URL a browser can ``PUT`` the file's bytes to (for direct uploads).

        The caller chooses the name: pass it through ``get_alternative_name`` or
        a UUID first. A ``content_type`` given here must be sent as the upload's
        ``Content-Type`` header.
        """
        key = self._key(name)
        params: dict[str, Any] = {"Bucket": self.bucket_name, "Key": key}
        if content_type:
            params["ContentType"] = content_type
        if self.default_acl:
            params["ACL"] = self.default_acl
        with self._errors(key, "sign an upload URL for"):
            return self.connection.generate_presigned_url(
                "put_object",
                Params=params,
                ExpiresIn=self.querystring_expire if expire is None else expire,
            )

    def presigned_post(
        self,
        name: str,
        *,
        expire: int | None = None,
        max_size: int | None = None,
        fields: dict[str, Any] | None = None,
        conditions: list[Any] | None = None,
    ) -> dict[str, Any]:
        """``{"url": ..., "fields": {...}}`` for an HTML form ``POST`` upload (policy)."""
        key = self._key(name)
        fields = dict(fields or {})
        conditions = list(conditions or [])
        if self.default_acl:
            fields.setdefault("acl", self.default_acl)
            conditions.append({"acl": fields["acl"]})
        if max_size is not None:
            conditions.append(["content-length-range", 0, int(max_size)])
        with self._errors(key, "sign an upload form for"):
            return self.connection.generate_presigned_post(
                self.bucket_name,
                key,
                Fields=fields,
                Conditions=conditions,
                ExpiresIn=self.querystring_expire if expire is None else expire,
            )


@deconstructible
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


@deconstructible
class S3ManifestStaticStorage(ManifestFilesMixin, S3StaticStorage):
    """Static files with content hashes in their names (``ManifestStaticFilesStorage``)."""

    def _url(self, hashed_name_func: Any, name: str, force: bool = False, **kwargs: Any) -> str:
        # force=True is post-processing computing the names written into files.
        previous = getattr(_plain_urls, "active", False)
        _plain_urls.active = previous or force
        try:
            return super()._url(hashed_name_func, name, force, **kwargs)
        finally:
            _plain_urls.active = previous


_raw_listing = threading.local()
_EMPTY_LISTING = (
    b'<?xml version="1.0" encoding="UTF-8"?>'
    b'<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"></ListBucketResult>'
)


def _keep_listing_body(response_dict: dict[str, Any], **kwargs: Any) -> None:
    """Take a listing page's XML away from botocore's (slow) parser for list_stored()."""
    bodies = getattr(_raw_listing, "bodies", None)
    if bodies is not None and response_dict.get("status_code") == 200:
        bodies.append(response_dict["body"])
        response_dict["body"] = _EMPTY_LISTING


def parse_listing(body: bytes) -> tuple[list[tuple[str, int, datetime.datetime, str]], str | None]:
    """A ListObjectsV2 page: ``([(key, size, modified, etag)], next continuation token)``."""
    from urllib.parse import unquote_plus
    from xml.etree import ElementTree

    root = ElementTree.fromstring(body)  # noqa: S314 - the S3 server we talk to, as botocore
    if root.tag.rpartition("}")[2] != "ListBucketResult":
        # An error document inside a 200 answer: never read as an empty listing.
        raise OSError(
            f"S3 answered a listing with {root.findtext('Code') or root.tag!r}: "
            f"{root.findtext('Message') or ''}"
        )
    fields: dict[str, str] = {}
    entries = []
    for child in root:
        tag = child.tag.rpartition("}")[2]
        if tag != "Contents":
            fields[tag] = child.text or ""
            continue
        entry = {item.tag.rpartition("}")[2]: item.text or "" for item in child}
        modified = datetime.datetime.fromisoformat(entry["LastModified"].replace("Z", "+00:00"))
        entries.append((entry["Key"], int(entry["Size"]), modified, entry.get("ETag", "")))
    if fields.get("EncodingType") == "url":
        entries = [(unquote_plus(key), *rest) for key, *rest in entries]
    truncated = fields.get("IsTruncated", "false").lower() == "true"
    return entries, (fields.get("NextContinuationToken") or None) if truncated else None


def _seekable(content: Any) -> bool:
    seekable = getattr(content, "seekable", None)
    if callable(seekable):
        try:
            return bool(seekable())
        except (OSError, ValueError):
            return False
    inner = getattr(content, "file", None)
    return inner is not None and inner is not content and _seekable(inner)


def _rewound(content: Any) -> Any:
    if _seekable(content):
        content.seek(0)
    return content


def _spooled_copy(content: Any, max_memory_size: int) -> Any:
    """Copy a one-pass stream to a spooled temporary file so a retry can re-read it."""
    from django.core.files import File

    spool = tempfile.SpooledTemporaryFile(max_size=max_memory_size or 8 * MIB)  # noqa: SIM115 - returned open
    for chunk in content.chunks() if hasattr(content, "chunks") else iter(content.read, b""):
        spool.write(chunk.encode() if isinstance(chunk, str) else chunk)
    spool.seek(0)
    copied = File(spool, getattr(content, "name", None))
    if getattr(content, "content_type", None):
        copied.content_type = content.content_type
    return copied


def _size_of(content: Any) -> int:
    size = getattr(content, "size", None)
    if size is not None:
        return int(size)
    position = content.tell()
    content.seek(0, os.SEEK_END)
    size = content.tell()
    content.seek(position)
    return size
