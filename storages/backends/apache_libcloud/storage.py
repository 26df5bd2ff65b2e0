"""Apache Libcloud: one container of any Libcloud storage provider as a Django Storage.

Configured as django-storages 1.14 configures it: ``LIBCLOUD_PROVIDERS`` (a dict
of named provider entries), ``DEFAULT_LIBCLOUD_PROVIDER`` (which entry, default
``"default"``) and the ``provider_name`` option or first argument. Highlights
(see docs/backends/apache_libcloud.rst):

* no lost files: a save of a taken name keeps both files; the name is checked
  and written under a lock (per process; per machine for the LOCAL driver),
  and on S3-API drivers the write itself is create-only (``If-None-Match: *``),
  so concurrent saves from any number of processes keep every file there;
* streaming both ways in bounded memory; a failed upload leaves nothing
  under the name (and, overwriting, the old file); on the LOCAL driver a file
  appears whole or not at all (a temporary file moved into place, see ``local``);
* ``listdir`` from prefix listings (with a delimiter on S3-API drivers);
* ``url()`` without a request: the driver's CDN or presigned URL, a plain URL
  under ``base_url``, or ``MEDIA_URL`` for the LOCAL driver;
* errors name the file, container and provider, never a secret; ``repr`` masks.
"""

from __future__ import annotations

import contextlib
import datetime
import email.utils
import mimetypes
import posixpath
import threading
from collections.abc import Iterator, Mapping
from typing import Any, ClassVar

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.files.utils import validate_file_name
from django.utils import timezone
from django.utils.deconstruct import deconstructible

from storages.backends.apache_libcloud import local, s3
from storages.backends.apache_libcloud.errors import (
    LibCloudNameTaken,
    LibCloudNotFound,
    LibCloudStorageError,
    Where,
    libcloud_errors,
)
from storages.backends.apache_libcloud.files import (
    READ_CHUNK_SIZE,
    LibCloudFile,
    LibCloudWriteFile,
)
from storages.backends.apache_libcloud.locks import name_lock
from storages.backends.apache_libcloud.providers import (
    build_driver,
    check_entry,
    masked,
    secrets_of,
    store_identity,
)
from storages.base import BaseStorage, SettingSpec
from storages.files import Source, refuse_partial_update
from storages.utils import (
    UnsafeName,
    clean_name,
    file_join,
    is_root,
    iter_chunks,
    require,
    safe_join,
    split_listing,
    url_name,
    url_under,
)

# ``Storage.save()`` gives ``max_length`` to ``get_available_name`` only; a save
# that finds its name taken needs it again for the next candidate.
_pending = threading.local()


class _IsADirectory(LibCloudNotFound):
    """The LOCAL driver found a directory under the name: no file, but the name is taken."""


def _is_local(driver: Any) -> bool:
    return type(driver).__module__ == "libcloud.storage.drivers.local"


@deconstructible(path="storages.backends.apache_libcloud.LibCloudStorage")
class LibCloudStorage(BaseStorage):
    """Files as objects in one container of a Libcloud storage provider."""

    # The entries hold the secrets; repr masks their secret keys.
    secret_options: ClassVar[tuple[str, ...]] = ()
    transient_attributes: ClassVar[tuple[str, ...]] = ("_local",)
    overwrite_option: ClassVar[str | None] = "file_overwrite"

    def __init__(self, provider_name: str | None = None, option: Any = None, **options: Any):
        if provider_name is not None:
            options["provider_name"] = provider_name
        # django-storages' second argument, which it never used.
        self.option = option
        super().__init__(**options)
        self._entry()  # a missing or invalid entry is refused now, as django-storages does

    @classmethod
    def get_default_settings(cls) -> dict[str, SettingSpec]:
        return {
            "provider_name": ("DEFAULT_LIBCLOUD_PROVIDER", "default"),
            # Ours as an option: the entries may also be given in OPTIONS.
            "providers": ("LIBCLOUD_PROVIDERS", None),
            # Ours: replace instead of keeping both files.
            "file_overwrite": (None, False),
            # Ours: plain URLs under this base (a CDN), instead of the driver's.
            "base_url": (None, None),
            # Ours: bytes per download request.
            "read_chunk_size": (None, READ_CHUNK_SIZE),
        }

    # --- configuration ---------------------------------------------------

    def configure(self) -> None:
        # Never raises: it also runs when settings change, even to nothing.
        providers = self.providers
        entry = providers.get(self.provider_name) if isinstance(providers, Mapping) else None
        self.provider = entry
        self.bucket = entry.get("bucket") if isinstance(entry, Mapping) else None

    def _entry(self) -> Mapping[str, Any]:
        return check_entry(str(self.provider_name), self.provider)

    def _shown_option(self, option: str, value: Any) -> Any:
        return masked(value) if option == "providers" else super()._shown_option(option, value)

    @property
    def _thread(self) -> threading.local:
        local = self.__dict__.get("_local")
        if local is None:
            local = self.__dict__.setdefault("_local", threading.local())
        return local

    @property
    def driver(self) -> Any:
        """This thread's Libcloud driver (a connection object is not thread-safe)."""
        local = self._thread
        driver = getattr(local, "driver", None)
        if driver is None:
            require("libcloud.storage.providers", "libcloud")
            driver = build_driver(str(self.provider_name), self._entry())
            if s3.is_s3_api(driver):
                s3.fix_listing_version(driver)
            local.driver = driver
        return driver

    @property
    def container(self) -> Any:
        """The Libcloud ``Container`` (made here, without a request)."""
        from libcloud.storage.base import Container

        driver = self.driver
        local = self._thread
        container = getattr(local, "container", None)
        if container is None or container.driver is not driver:
            container = local.container = Container(name=self.bucket, extra=None, driver=driver)
        return container

    def _get_bucket(self) -> Any:
        """django-storages' name for the container."""
        return self.container

    @property
    def where(self) -> Where:
        entry = self._entry()
        return Where(
            provider=str(self.provider_name),
            driver=str(getattr(self.driver, "name", type(self.driver).__name__)),
            container=str(self.bucket),
            secrets=secrets_of(entry),
        )

    def _errors(self, name: str, action: str) -> Any:
        return libcloud_errors(self.where, name, action)

    def _key(self, name: str) -> str:
        """The object name of the file ``name``; unsafe names and the root are refused."""
        return _not_temporary(file_join("", name), name)

    def _object(self, key: str, size: int = 0) -> Any:
        """A Libcloud ``Object`` for ``key``, made here (for calls that need no lookup)."""
        from libcloud.storage.base import Object

        return Object(key, size, None, {}, {}, self.container, self.driver)

    def _lookup(self, key: str, action: str) -> Any:
        """The stored object (one request); ``FileNotFoundError`` if there is none."""
        from libcloud.storage.types import ObjectError

        driver = self.driver
        with self._errors(key, action):
            try:
                if s3.is_s3_api(driver):
                    return s3.head_object(driver, self.container, key)
                return driver.get_object(self.bucket, key)
            except ObjectError as exc:  # the LOCAL driver: a directory
                if type(exc).__name__ == "ObjectError":
                    raise _IsADirectory(
                        f"Could not {action} {self.where.describe(key)}: it is a directory"
                    ) from None
                raise

    def _get_object(self, name: str) -> Any:
        """django-storages' lookup by name (``FileNotFoundError`` if missing)."""
        return self._lookup(self._key(name), "look up")

    # --- saving ------------------------------------------------------------

    def _locked(self, key: str) -> Any:
        driver = self.driver
        local_path = None
        if _is_local(driver):
            # Still needed where the filesystem has no hard links (see local.store).
            local_path = driver.get_object_cdn_url(self._object(key))
        return name_lock(f"{store_identity(self._entry())}:{key}", local_path)

    def _is_taken(self, key: str) -> bool:
        try:
            self._lookup(key, "look up")
        except _IsADirectory:
            return True
        except LibCloudNotFound:
            return False
        return True

    def _content_type(self, name: str, content: Any) -> str:
        return (
            mimetypes.guess_type(name)[0]
            or getattr(content, "content_type", None)
            or "application/octet-stream"
        )

    def _save(self, name: str, content: Any) -> str:
        name = clean_name(name)
        key = self._key(name)
        with Source(content) as source:
            if self.file_overwrite:
                with self._locked(key):
                    self._store(key, source, self._content_type(name, content), create_only=False)
                return name
            taken = name
            while True:
                key = self._key(name)
                with self._locked(key):
                    if not self._is_taken(key):
                        try:
                            self._store(
                                key, source, self._content_type(name, content), create_only=True
                            )
                            return name
                        except LibCloudNameTaken:
                            pass  # another process took it between the check and the write
                taken, name = self._next_candidate(taken, getattr(_pending, "max_length", None))

    def get_available_name(self, name: str, max_length: int | None = None) -> str:
        self._key(name)  # unsafe names and the root are refused before anything else
        if self.file_overwrite:
            return super().get_available_name(clean_name(name), max_length)
        _pending.max_length = max_length
        validate_file_name(posixpath.basename(name))
        name = clean_name(name)
        if max_length is not None and len(name) > max_length:
            return self._next_candidate(name, max_length)[1]
        # The check is made in _save, under the name's lock.
        return name

    def _store(self, key: str, source: Source, content_type: str, *, create_only: bool) -> None:
        """Write ``source`` under ``key`` (create-only where the driver can say so)."""
        driver = self.driver
        source.stream.seek(0)
        if s3.uses_s3_multipart(driver):
            self._store_s3(key, source, content_type, create_only=create_only)
            return
        if _is_local(driver):
            with self._errors(key, "save"):
                stored = local.store(
                    driver, self._object(key), iter_chunks(source.stream), create_only=create_only
                )
            if not stored:
                raise LibCloudNameTaken(
                    f"Could not save {self.where.describe(key)}: the name is taken",
                    provider=str(self.provider_name),
                    name=key,
                )
            return
        try:
            with self._errors(key, "save"):
                driver.upload_object_via_stream(
                    iter_chunks(source.stream),
                    self.container,
                    key,
                    extra={"content_type": content_type},
                )
        except BaseException:
            if create_only:  # the name was free: what is there is our partial
                self._remove_partial(key)
            raise

    def _store_s3(self, key: str, source: Source, content_type: str, *, create_only: bool) -> None:
        driver = self.driver
        conditional = create_only and not self.__dict__.get("_no_conditional_writes")
        headers = {"Content-Type": content_type}
        condition = {"If-None-Match": "*"} if conditional else {}
        try:
            with self._errors(key, "save"):
                if source.size <= s3.PART_SIZE:
                    data = source.stream.read()
                    s3.put_object(driver, self.container, key, data, {**headers, **condition})
                else:
                    s3.multipart_upload(
                        driver,
                        self.container,
                        key,
                        iter_chunks(source.stream),
                        headers,
                        condition,
                    )
        except LibCloudStorageError as exc:
            if conditional and exc.status == 412:
                raise LibCloudNameTaken(
                    str(exc), provider=exc.provider, name=exc.name, status=412
                ) from None
            if conditional and exc.status == 501:
                # A server that refuses the condition itself: the lock and the
                # existence check are all that is left; remembered for this storage.
                self.__dict__["_no_conditional_writes"] = True
                source.stream.seek(0)
                self._store_s3(key, source, content_type, create_only=False)
                return
            raise

    def _remove_partial(self, key: str) -> None:
        # Nothing there, or the store is gone: the save's own error says it.
        with contextlib.suppress(Exception):
            self.driver.delete_object(self._object(key))

    # --- Storage API -----------------------------------------------------

    def _open(self, name: str, mode: str = "rb") -> Any:
        key = self._key(name)
        refuse_partial_update(name, mode)
        if "w" in mode or "x" in mode:

            def upload(spool: Any) -> None:
                with Source(spool) as source, self._locked(key):
                    self._store(key, source, self._content_type(key, None), create_only=False)

            return LibCloudWriteFile(name, mode, upload)
        obj = self._lookup(key, "open")
        return LibCloudFile(
            name, mode, self.driver, obj, self.where, chunk_size=int(self.read_chunk_size)
        )

    def delete(self, name: str) -> None:
        key = self._key(name)
        driver = self.driver
        try:
            if s3.is_s3_api(driver) or _is_local(driver):
                obj = self._object(key)  # these drivers need nothing but the name
            else:
                obj = self._lookup(key, "delete")
            with self._errors(key, "delete"):
                driver.delete_object(obj)
        except LibCloudNotFound:
            pass  # deleting a missing file is a no-op

    def exists(self, name: str) -> bool:
        if is_root(name):
            return True  # the container itself (collectstatic --clear asks)
        key = self._key(name)
        try:
            self._lookup(key, "look up")
            return True
        except LibCloudNotFound:
            pass
        # A "directory": anything stored under the prefix.
        return any(True for _ in self._names_under(key.rstrip("/") + "/", limit=1))

    def _names_under(self, prefix: str, *, limit: int = 0) -> Iterator[str]:
        driver = self.driver
        with self._errors(prefix, "list"):
            if s3.is_s3_api(driver):
                for _kind, key in s3.list_keys(
                    driver, self.container, prefix, delimiter=None, limit=limit
                ):
                    yield key
                return
            if _is_local(driver):
                # It filters the whole container here either way; asked for a prefix,
                # it also warns on every call. Uploads in progress are hidden.
                names = (obj.name for obj in driver.iterate_container_objects(self.container))
                yield from (
                    name
                    for name in names
                    if name.startswith(prefix) and not local.is_temporary(name)
                )
                return
            for obj in driver.iterate_container_objects(self.container, prefix=prefix):
                yield obj.name

    def listdir(self, path: str) -> tuple[list[str], list[str]]:
        prefix = _not_temporary(safe_join("", path), path)
        if prefix and not prefix.endswith("/"):
            prefix += "/"
        driver = self.driver
        if not s3.is_s3_api(driver):
            return split_listing(self._names_under(prefix), prefix)
        directories, files = set(), []
        with self._errors(prefix, "list"):
            for kind, key in s3.list_keys(driver, self.container, prefix):
                rest = key[len(prefix) :]
                if kind == "dir":
                    directories.add(rest.rstrip("/"))
                elif rest and "/" not in rest:
                    files.append(rest)
        return sorted(directories - {""}), sorted(files)

    def size(self, name: str) -> int:
        return int(self._lookup(self._key(name), "read the size of").size)

    def _moment(self, moment: datetime.datetime) -> datetime.datetime:
        return moment if settings.USE_TZ else timezone.make_naive(moment)

    def _time(self, name: str, *fields: str) -> datetime.datetime:
        extra = self._lookup(self._key(name), "read the time of").extra or {}
        for field in fields:
            value = extra.get(field)
            if value in (None, ""):
                continue
            if isinstance(value, (int, float)):
                moment = datetime.datetime.fromtimestamp(value, datetime.UTC)
            elif isinstance(value, datetime.datetime):
                moment = value if value.tzinfo else value.replace(tzinfo=datetime.UTC)
            else:
                moment = _parse_time(str(value))
            return self._moment(moment)
        raise NotImplementedError(
            f"Libcloud provider {self.provider_name!r} gives no {fields[0].replace('_', ' ')}"
        )

    def get_modified_time(self, name: str) -> datetime.datetime:
        return self._time(name, "last_modified", "modify_time")

    def get_created_time(self, name: str) -> datetime.datetime:
        return self._time(name, "creation_time")

    def get_accessed_time(self, name: str) -> datetime.datetime:
        return self._time(name, "access_time")

    def url(self, name: str) -> str:
        key = _not_temporary(url_name(name), name)
        if self.base_url:
            return url_under(self.base_url, key)
        driver = self.driver
        if _is_local(driver):
            # The LOCAL driver's "CDN URL" is a path on disk: served like MEDIA_ROOT.
            return url_under(settings.MEDIA_URL or "/", key)
        from libcloud.storage.drivers.s3 import S3StorageDriver

        obj = self._object(key)
        with self._errors(key, "make the URL of"):
            if isinstance(driver, S3StorageDriver):
                return s3.presigned_url(driver, obj)
            try:
                return driver.get_object_cdn_url(obj)
            except NotImplementedError:
                pass
        return self._fallback_url(key)

    def _fallback_url(self, key: str) -> str:
        """django-storages' URLs for drivers without CDN URLs (public containers)."""
        from urllib.parse import quote

        driver = self.driver
        kind = str(self._entry().get("type", "")).lower()
        path = f"{quote(str(self.bucket))}/{quote(key)}"
        if s3.is_s3_api(driver):
            return s3.plain_url(driver, self.container, key)
        if "azure" in kind:
            return f"https://{quote(str(self._entry().get('user')))}.blob.core.windows.net/{path}"
        if "google" in kind:
            return f"https://storage.googleapis.com/{path}"
        raise NotImplementedError(
            f"Libcloud provider {self.provider_name!r} ({driver.name}) has no object URLs; "
            "set the base_url option to the URL the container is served under."
        )


def _not_temporary(key: str, name: str) -> str:
    """``key``, unless it is (or is under) the temporary name of a LOCAL upload."""
    if local.is_temporary(key):
        raise UnsafeName(f"{name!r} is reserved for uploads in progress")
    return key


def _parse_time(text: str) -> datetime.datetime:
    """An RFC 1123 (HTTP header) or ISO 8601 (listing) time, made aware."""
    try:
        moment = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError):
        moment = datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=datetime.UTC)


__all__ = ["ImproperlyConfigured", "LibCloudStorage"]
