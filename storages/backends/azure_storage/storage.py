"""Azure Blob Storage, on azure-storage-blob.

``AzureStorage`` keeps files as block blobs of one container, under an
optional name prefix (``location``). Highlights (see docs/backends/azure.rst):

* no lost files: with overwrite off (the default), a save is a create-only
  upload (``If-None-Match: *``); when the name is taken the save tries the
  next available name at once, so concurrent saves of one name keep every file;
* ranged streaming reads and staged-block writes in bounded memory; a failed
  upload leaves nothing under the name;
* ``url()`` makes no request (a SAS from the account key is computed here);
* one lazily created client per storage, shared by threads; storages pickle;
* a drop-in for django-storages 1.14's ``AzureStorage``: its settings, options,
  class attributes, ``client``/``service_client`` and ``get_object_parameters``.
"""

from __future__ import annotations

import datetime
import mimetypes
import os
import random
import threading
import time
import warnings
from collections.abc import Iterable, Iterator
from typing import Any, ClassVar

from django.conf import settings
from django.contrib.staticfiles.storage import ManifestFilesMixin
from django.core.exceptions import ImproperlyConfigured
from django.core.files.utils import validate_file_name
from django.utils import timezone
from django.utils.deconstruct import deconstructible

from storages.backends.azure_storage.aio import AzureAsyncMixin
from storages.backends.azure_storage.browser import AzureBrowserUploads
from storages.backends.azure_storage.errors import AzureNameTaken, AzureStorageError, azure_errors
from storages.backends.azure_storage.files import (
    BLOCK_SIZE,
    MD5_MAX_SIZE,
    READ_CHUNK_SIZE,
    SINGLE_PUT_SIZE,
    AzureStorageFile,
    open_reader,
    upload_stream,
)
from storages.backends.azure_storage.urls import AzureUrls
from storages.base import MASK, BaseStorage, SettingSpec
from storages.files import Source, is_write_mode, refuse_partial_update
from storages.utils import clean_name, file_join, is_root, name_as_given, require, safe_join

#: Azure's limit on a blob name's length (django-storages' default max_length).
MAX_NAME_LENGTH = 1024
#: Staged uploads of one name that race: how often a replacing save stages again.
BLOCK_LIST_ATTEMPTS = 8
_client_lock = threading.Lock()
# ``Storage.save()`` gives ``max_length`` to get_available_name only; a save
# that finds its name taken needs it again to pick the next one.
_pending = threading.local()
#: The client options we set unless AZURE_CLIENT_OPTIONS sets them (bounded memory).
CLIENT_DEFAULTS = {
    "max_single_get_size": READ_CHUNK_SIZE,
    "max_chunk_get_size": READ_CHUNK_SIZE,
    "max_single_put_size": SINGLE_PUT_SIZE,
    "max_block_size": BLOCK_SIZE,
}


@deconstructible(path="storages.backends.azure_storage.AzureStorage")
class AzureStorage(AzureAsyncMixin, AzureBrowserUploads, AzureUrls, BaseStorage):
    """Files as block blobs in an Azure Blob Storage container."""

    secret_options: ClassVar[tuple[str, ...]] = (
        "account_key",
        "connection_string",
        "sas_token",
        "token_credential",
    )
    required_options: ClassVar[tuple[str, ...]] = ("azure_container",)
    transient_attributes: ClassVar[tuple[str, ...]] = (
        "_service_client",
        "_client",
        "_url_base",
        "_user_delegation_key",
        "_signing_key",
        "_aio_clients",
    )
    overwrite_option: ClassVar[str | None] = "overwrite_files"

    @classmethod
    def get_default_settings(cls) -> dict[str, SettingSpec]:
        return {
            "account_name": ("AZURE_ACCOUNT_NAME", None),
            "account_key": ("AZURE_ACCOUNT_KEY", None),
            "object_parameters": ("AZURE_OBJECT_PARAMETERS", {}),
            "azure_container": ("AZURE_CONTAINER", None),
            "azure_ssl": ("AZURE_SSL", True),
            "upload_max_conn": ("AZURE_UPLOAD_MAX_CONN", 2),
            "timeout": ("AZURE_CONNECTION_TIMEOUT_SECS", 20),
            "max_memory_size": ("AZURE_BLOB_MAX_MEMORY_SIZE", 2 * 1024 * 1024),
            "expiration_secs": ("AZURE_URL_EXPIRATION_SECS", None),
            "overwrite_files": ("AZURE_OVERWRITE_FILES", False),
            "location": ("AZURE_LOCATION", ""),
            "default_content_type": (None, "application/octet-stream"),
            "cache_control": ("AZURE_CACHE_CONTROL", None),
            "sas_token": ("AZURE_SAS_TOKEN", None),
            "endpoint_suffix": ("AZURE_ENDPOINT_SUFFIX", "core.windows.net"),
            "custom_domain": ("AZURE_CUSTOM_DOMAIN", None),
            "connection_string": ("AZURE_CONNECTION_STRING", None),
            "token_credential": ("AZURE_TOKEN_CREDENTIAL", None),
            "api_version": ("AZURE_API_VERSION", None),
            "client_options": ("AZURE_CLIENT_OPTIONS", {}),
            # Ours: staged uploads above this get no Content-MD5 (None: all do).
            "content_md5_max_size": ("AZURE_CONTENT_MD5_MAX_SIZE", MD5_MAX_SIZE),
        }

    # --- configuration ---------------------------------------------------

    def configure(self) -> None:
        self.location = clean_name(self.location or "").strip("/")
        self.object_parameters = dict(self.object_parameters or {})
        self.client_options = dict(self.client_options or {})
        self._connection_sas = None
        if self.connection_string:
            parsed = _parse_connection_string(self.connection_string)
            self.account_name = self.account_name or parsed.get("accountname")
            self.account_key = self.account_key or parsed.get("accountkey")
            self._connection_sas = parsed.get("sharedaccesssignature")

    @property
    def azure_protocol(self) -> str:
        return "https" if self.azure_ssl else "http"

    def _where(self) -> str:
        return f"Azure container {self.azure_container!r} (account {self.account_name or '?'})"

    def _secrets(self) -> tuple[str | None, ...]:
        return (self.account_key, self.sas_token, self.connection_string, self._connection_sas)

    def _errors(self, blob: str, action: str):
        return azure_errors(self._where(), self.azure_container, blob, action, self._secrets())

    def _client_kwargs(self) -> dict[str, Any]:
        options = {**CLIENT_DEFAULTS, **self.client_options}
        if self.api_version:
            options["api_version"] = self.api_version
        return options

    def _get_service_client(self) -> Any:
        return self._build_service_client(require("azure.storage.blob", "azure"))

    def _build_service_client(self, blob: Any, token: Any = None) -> Any:
        """A ``BlobServiceClient`` of the module ``blob`` (sync or ``.aio``), configured
        from the settings; ``token`` adapts a token credential to that module."""
        if not self.azure_container:
            raise ImproperlyConfigured(
                f"{type(self).__name__} needs a container: set AZURE_CONTAINER "
                "(or OPTIONS['azure_container'])."
            )
        if self.api_version:
            warnings.warn(
                "AZURE_API_VERSION (api_version) is deprecated, as in django-storages: "
                "give {'api_version': ...} in AZURE_CLIENT_OPTIONS instead.",
                DeprecationWarning,
                stacklevel=4,
            )
        if self.connection_string:
            return blob.BlobServiceClient.from_connection_string(
                self.connection_string, **self._client_kwargs()
            )
        if not self.account_name:
            raise ImproperlyConfigured(
                f"{type(self).__name__} needs AZURE_CONNECTION_STRING or AZURE_ACCOUNT_NAME."
            )
        account_url = f"{self.azure_protocol}://{self.account_name}.blob.{self.endpoint_suffix}"
        # django-storages' order: the account key, then a SAS token, then a token credential.
        credential: Any = None
        if self.account_key:
            credential = {"account_name": self.account_name, "account_key": self.account_key}
        elif self.sas_token:
            credential = self.sas_token
        elif self.token_credential:
            credential = token(self.token_credential) if token else self.token_credential
        return blob.BlobServiceClient(account_url, credential=credential, **self._client_kwargs())

    @property
    def service_client(self) -> Any:
        """The ``BlobServiceClient`` (made on first use, shared by all threads)."""
        client = self.__dict__.get("_service_client")
        if client is None:
            with _client_lock:
                client = self.__dict__.get("_service_client")
                if client is None:
                    client = self.__dict__["_service_client"] = self._get_service_client()
        return client

    @property
    def client(self) -> Any:
        """The ``ContainerClient`` of ``azure_container``."""
        client = self.__dict__.get("_client")
        if client is None:
            client = self.service_client.get_container_client(self.azure_container)
            self.__dict__["_client"] = client
        return client

    def _shown_option(self, option: str, value: Any) -> Any:
        if option == "client_options" and value:
            return {key: MASK if "cred" in key or "key" in key else v for key, v in value.items()}
        return super()._shown_option(option, value)

    # --- names -----------------------------------------------------------

    def _blob(self, name: str) -> str:
        """The blob name of the file ``name``; unsafe names and the root are refused."""
        return file_join(self.location, name)

    _get_valid_path = _blob  # django-storages' name

    def _prefix(self, path: str) -> str:
        prefix = safe_join(self.location, path)
        return prefix + "/" if prefix and not prefix.endswith("/") else prefix

    # --- object parameters -----------------------------------------------

    def get_object_parameters(self, name: str) -> dict[str, Any]:
        """``ContentSettings`` keywords for ``name`` (``AZURE_OBJECT_PARAMETERS``).

        Override to vary them per file (``content_disposition``, ...), as with
        django-storages.
        """
        return dict(self.object_parameters)

    def _get_content_settings_parameters(self, name: str, content: Any = None) -> dict[str, Any]:
        guessed, encoding = mimetypes.guess_type(name)
        given = getattr(getattr(content, "file", None), "content_type", None) or getattr(
            content, "content_type", None
        )
        params: dict[str, Any] = {
            "cache_control": self.cache_control,
            "content_type": given or guessed or self.default_content_type,
            "content_encoding": encoding,
        }
        params.update(self.get_object_parameters(name))
        return params

    def _content_settings(self, name: str, content: Any = None) -> Any:
        from azure.storage.blob import ContentSettings

        return ContentSettings(**self._get_content_settings_parameters(name, content))

    # --- Storage API -----------------------------------------------------

    def _open(self, name: str, mode: str = "rb") -> AzureStorageFile:
        self._blob(name)  # refuse unsafe names before any request
        refuse_partial_update(name, mode)
        if is_write_mode(mode) and "w" not in mode:
            raise ValueError(f"Mode {mode!r} is not supported for {name!r}: use 'w' or 'wb'.")
        return AzureStorageFile(name, mode, self)

    def _reader(self, name: str) -> tuple[Any, int]:
        blob = self._blob(name)
        client = self.client.get_blob_client(blob)
        return open_reader(client, lambda action: self._errors(blob, action), self.timeout)

    def _upload(self, name: str, stream: Any, *, overwrite: bool, content: Any = None) -> None:
        blob = self._blob(name)
        with Source(stream) as source:
            for attempt in range(BLOCK_LIST_ATTEMPTS):
                source.stream.seek(0)
                try:
                    with self._errors(blob, "save"):
                        upload_stream(
                            self.client.get_blob_client(blob),
                            source.stream,
                            source.size,
                            **self._upload_options(name, content, overwrite),
                        )
                    return
                except AzureStorageError as exc:
                    delay = self._restage_delay(exc, blob, overwrite=overwrite, attempt=attempt)
                    if delay is None:
                        raise
                    time.sleep(delay)

    def _restage_delay(
        self, exc: AzureStorageError, blob: str, *, overwrite: bool, attempt: int
    ) -> float | None:
        """After a failed upload: the seconds to wait before staging again, else None.

        ``InvalidBlockList``: another upload to this name committed first, which
        discards the blocks we staged: the name is taken (create-only: raises
        ``AzureNameTaken``), or we stage again, ``BLOCK_LIST_ATTEMPTS`` times at most.
        """
        if exc.code != "InvalidBlockList":
            return None
        if not overwrite:
            raise AzureNameTaken(
                str(exc), container=exc.container, blob=blob, code=exc.code
            ) from exc
        if attempt == BLOCK_LIST_ATTEMPTS - 1:
            return None
        return random.uniform(0, 0.05 * 2**attempt)  # noqa: S311 - jitter

    def _upload_options(self, name: str, content: Any, overwrite: bool) -> dict[str, Any]:
        """What an upload (sync or async) is given besides the blob and its bytes.

        Made for each attempt: the upload sets the ``Content-MD5`` of its settings.
        """
        kwargs = self._client_kwargs()
        limit = self.content_md5_max_size
        return {
            "content_settings": self._content_settings(name, content),
            "overwrite": overwrite,
            "concurrency": self.upload_max_conn,
            "timeout": self.timeout,
            "single_put_size": int(kwargs["max_single_put_size"]),
            "block_size": int(kwargs["max_block_size"]),
            "md5_max_size": None if limit is None else int(limit),
        }

    def _save(self, name: str, content: Any) -> str:
        name = clean_name(name)
        overwrite = bool(self.overwrite_files)
        with Source(content) as source:
            taken = name
            while True:
                source.stream.seek(0)
                try:
                    self._upload(name, source.stream, overwrite=overwrite, content=content)
                except AzureNameTaken:
                    # Keep that file; the next create-only upload checks the next name.
                    taken, name = self._next_candidate(taken, getattr(_pending, "max_length", None))
                    continue
                return name

    def get_available_name(self, name: str, max_length: int | None = MAX_NAME_LENGTH) -> str:
        self._blob(name)  # refuse unsafe names before anything else
        _pending.max_length = max_length
        if self.overwrite_files:
            validate_file_name(name, allow_relative_path=True)
            return name_as_given(clean_name(name), max_length)
        # No existence check: the create-only upload in _save finds a taken name.
        validate_file_name(os.path.basename(name))
        name = clean_name(name)
        if max_length is not None and len(name) > max_length:
            return self._next_candidate(name, max_length)[1]
        return name

    def delete(self, name: str) -> None:
        blob = self._blob(name)
        try:
            with self._errors(blob, "delete"):
                self.client.delete_blob(blob, timeout=self.timeout)
        except FileNotFoundError:
            pass

    def delete_many(self, names: Iterable[str]) -> None:
        """Delete files 256 to a request (a blob batch); missing ones are no error."""
        blobs = [self._blob(name) for name in names]
        for start in range(0, len(blobs), 256):
            batch = blobs[start : start + 256]
            with self._errors(batch[0], "delete"):
                answers = self.client.delete_blobs(
                    *batch, raise_on_any_failure=False, timeout=self.timeout
                )
            for blob, answer in zip(batch, answers, strict=False):
                if answer.status_code not in (200, 202, 404):
                    self.delete(blob[len(self.location) + 1 :] if self.location else blob)

    def _properties(self, name: str, action: str) -> Any:
        blob = self._blob(name)
        with self._errors(blob, action):
            return self.client.get_blob_client(blob).get_blob_properties(timeout=self.timeout)

    def exists(self, name: str) -> bool:
        if is_root(name):
            return True  # the location's root (collectstatic --clear asks)
        try:
            self._properties(name, "look up")
            return True
        except FileNotFoundError:
            pass
        prefix = self._prefix(name)  # a "directory": any blob under it
        try:
            with self._errors(prefix, "list"):
                pages = self.client.list_blobs(
                    name_starts_with=prefix, results_per_page=1, timeout=self.timeout
                ).by_page()
                return any(True for _ in next(pages, ()))
        except FileNotFoundError:  # no container: nothing exists
            return False

    def listdir(self, path: str) -> tuple[list[str], list[str]]:
        prefix = self._prefix(path)
        directories: list[str] = []
        files: list[str] = []
        with self._errors(prefix, "list"):
            for item in self.client.walk_blobs(
                name_starts_with=prefix or None, delimiter="/", timeout=self.timeout
            ):
                rest = item.name[len(prefix) :]
                if rest.endswith("/"):
                    directories.append(rest.rstrip("/"))
                elif rest:
                    files.append(rest)
        return directories, files

    def list_all(self, path: str = "") -> list[str]:
        """django-storages' listing: the blob names of every file under ``path``."""
        prefix = self._prefix(path)
        with self._errors(prefix, "list"):
            return [
                blob.name
                for blob in self.client.list_blobs(
                    name_starts_with=prefix or None, timeout=self.timeout
                )
            ]

    def size(self, name: str) -> int:
        return self._properties(name, "read the size of").size

    def _moment(self, moment: datetime.datetime) -> datetime.datetime:
        if timezone.is_naive(moment):
            moment = moment.replace(tzinfo=datetime.UTC)
        return moment if settings.USE_TZ else timezone.make_naive(moment)

    def get_modified_time(self, name: str) -> datetime.datetime:
        return self._moment(self._properties(name, "read the time of").last_modified)

    def get_created_time(self, name: str) -> datetime.datetime:
        return self._moment(self._properties(name, "read the time of").creation_time)

    # --- beyond Django's API ---------------------------------------------

    def list_stored(self) -> Iterator[tuple[str, int, datetime.datetime, str | None]]:
        """``(name, size, modified, md5 hex)`` of every file, from one paginated listing.

        Used by collectstatic to find unchanged files without a request per file.
        """
        prefix = f"{self.location}/" if self.location else ""
        with self._errors(prefix, "list"):
            for blob in self.client.list_blobs(
                name_starts_with=prefix or None, timeout=self.timeout
            ):
                md5 = blob.content_settings.content_md5 if blob.content_settings else None
                yield (
                    blob.name[len(prefix) :],
                    blob.size,
                    blob.last_modified,
                    bytes(md5).hex() if md5 else None,
                )

    def stores_verbatim(self, name: str) -> bool:
        return True


def _parse_connection_string(text: str) -> dict[str, str]:
    """``key=value;...`` with lower-case keys (values keep their ``=`` padding)."""
    pairs = (part.split("=", 1) for part in str(text).split(";") if "=" in part)
    return {key.strip().lower(): value.strip() for key, value in pairs}


@deconstructible(path="storages.backends.azure_storage.AzureStaticStorage")
class AzureStaticStorage(AzureStorage):
    """For static files: plain (unsigned) URLs and replacing saves by default."""

    @classmethod
    def get_default_settings(cls) -> dict[str, SettingSpec]:
        spec = super().get_default_settings()
        # Static URLs are rendered into cached pages: they must not expire.
        spec["expiration_secs"] = (None, None)
        # collectstatic republishes a changed file under the same name.
        spec["overwrite_files"] = (None, True)
        return spec


@deconstructible(path="storages.backends.azure_storage.AzureManifestStaticStorage")
class AzureManifestStaticStorage(ManifestFilesMixin, AzureStaticStorage):
    """Static files with content hashes in their names (``ManifestStaticFilesStorage``)."""


__all__ = ["AzureManifestStaticStorage", "AzureStaticStorage", "AzureStorage"]
