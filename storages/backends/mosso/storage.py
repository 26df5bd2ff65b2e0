"""Rackspace Cloud Files and any OpenStack Swift, through python-swiftclient.

The module keeps its historical name (Mosso was Rackspace's cloud before it was
renamed) so that ``DEFAULT_FILE_STORAGE = 'storages.backends.mosso.CloudFilesStorage'``
and ``from storages.backends.mosso import CloudFilesStorage, cloudfiles_upload_to``
keep working.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import mimetypes
import posixpath
import threading
import time
import uuid
import weakref
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import IO, Any
from urllib.parse import quote, urlsplit

import requests
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.utils import timezone as dj_timezone
from django.utils.deconstruct import deconstructible

from storages.backends.mosso.auth import RACKSPACE_AUTH_URL, Authenticator, SwiftAuthError
from storages.base import BaseStorage, SettingSpec
from storages.files import ChunkReader, ReadFile, Source, SpooledWriteFile, Window
from storages.utils import file_join, is_root, require, safe_join, url_name

swiftclient = require("swiftclient", "swift")
from swiftclient.exceptions import ClientException  # noqa: E402

__all__ = ["CloudFilesStorage", "SwiftError", "SwiftStorage", "cloudfiles_upload_to"]

CHUNK_SIZE = 256 * 1024
#: Swift refuses single objects over 5 GiB; go segmented well before that.
DEFAULT_SEGMENT_SIZE = 1024 * 1024 * 1024

_local_lock = threading.Lock()


_name_locks: weakref.WeakValueDictionary[tuple[str, str], Any] = weakref.WeakValueDictionary()
_name_locks_guard = threading.Lock()


@contextlib.contextmanager
def _name_lock(container: str, name: str, overwrite: bool) -> Iterator[None]:
    """Serialise this process's creations of one name.

    Swift checks ``If-None-Match: *`` when a PUT starts, not when it ends, so two
    PUTs of one new name that overlap both succeed and the later one wins. Within
    a process the second waits here and then gets its 412; across processes the
    window is the length of one PUT (a manifest's, for segmented files).
    """
    if overwrite:
        yield
        return
    with _name_locks_guard:
        lock = _name_locks.get((container, name))
        if lock is None:
            lock = _name_locks[(container, name)] = threading.Lock()
    with lock:
        yield


class SwiftError(OSError):
    """A Swift request failed; the message names the object and container, never a secret."""


def cloudfiles_upload_to(instance: Any, filename: str) -> str:
    """``upload_to`` that stores a file under its own name at the top of the container.

    With a string ``upload_to`` Django prefixes that path instead; this callable
    keeps just the file name (``'myfile.jpg'``), as the original documentation says.
    """
    return posixpath.basename(str(filename).replace("\\", "/"))


class _Connection(swiftclient.Connection):
    """A swiftclient connection whose tokens come from a shared :class:`Authenticator`."""

    def __init__(self, authenticator: Authenticator, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._authenticator = authenticator
        # swiftclient retries a 401 only when it believes it can authenticate again;
        # it never sees the real key, which stays in the authenticator.
        self.authurl = authenticator.auth_url
        self.user = authenticator.username
        self.key = "(held by the authenticator)"
        self._last_token: str | None = None

    def get_auth(self) -> tuple[str, str]:
        auth = self._authenticator.get(stale_token=self._last_token)
        self._last_token = auth.token
        return auth.storage_url, auth.token


@deconstructible(path="storages.backends.mosso.CloudFilesStorage")
class CloudFilesStorage(BaseStorage):
    """Files as objects in one Swift container (Rackspace Cloud Files by default)."""

    secret_options = ("api_key", "temp_url_key")
    required_options = ("username", "api_key", "container")
    transient_attributes = ("_authenticator", "_local", "_container_state", "_public_base")
    overwrite_option = "file_overwrite"
    url_needs_io = True  # url() may authenticate and read the container's headers first

    @classmethod
    def get_default_settings(cls) -> dict[str, SettingSpec]:
        return {
            "username": ("CLOUDFILES_USERNAME", None),
            "api_key": ("CLOUDFILES_API_KEY", None),
            "container": ("CLOUDFILES_CONTAINER", None),
            "auth_url": ("CLOUDFILES_AUTH_URL", RACKSPACE_AUTH_URL),
            "auth_version": ("CLOUDFILES_AUTH_VERSION", "2"),
            "credential_type": ("CLOUDFILES_CREDENTIAL_TYPE", "auto"),
            "tenant_name": ("CLOUDFILES_TENANT_NAME", None),
            "tenant_id": ("CLOUDFILES_TENANT_ID", None),
            "user_domain": ("CLOUDFILES_USER_DOMAIN", "Default"),
            "project_domain": ("CLOUDFILES_PROJECT_DOMAIN", "Default"),
            "region": ("CLOUDFILES_REGION", None),
            "use_servicenet": ("CLOUDFILES_SERVICENET", False),
            "storage_url": ("CLOUDFILES_STORAGE_URL", None),
            "location": ("CLOUDFILES_LOCATION", ""),
            "auto_create_container": ("CLOUDFILES_AUTO_CREATE_CONTAINER", False),
            "auto_create_container_public": ("CLOUDFILES_AUTO_CREATE_CONTAINER_PUBLIC", False),
            "public": ("CLOUDFILES_PUBLIC", None),
            "cdn_url": ("CLOUDFILES_CDN_URL", None),
            "cdn_ssl": ("CLOUDFILES_CDN_SSL", True),
            "temp_url_key": ("CLOUDFILES_TEMP_URL_KEY", None),
            "temp_url_expires": ("CLOUDFILES_TEMP_URL_EXPIRES", 3600),
            "temp_url_digest": ("CLOUDFILES_TEMP_URL_DIGEST", "sha256"),
            "file_overwrite": ("CLOUDFILES_FILE_OVERWRITE", False),
            "segment_size": ("CLOUDFILES_SEGMENT_SIZE", DEFAULT_SEGMENT_SIZE),
            "segment_container": ("CLOUDFILES_SEGMENT_CONTAINER", None),
            "object_headers": ("CLOUDFILES_OBJECT_HEADERS", {}),
            "metadata": ("CLOUDFILES_METADATA", {}),
            "timeout": ("CLOUDFILES_TIMEOUT", 30.0),
            "retries": ("CLOUDFILES_RETRIES", 3),
        }

    def configure(self) -> None:
        if self.temp_url_digest not in ("sha1", "sha256", "sha512"):
            raise ImproperlyConfigured(
                f"temp_url_digest must be sha1, sha256 or sha512, not {self.temp_url_digest!r}"
            )
        if int(self.segment_size) < 1:
            raise ImproperlyConfigured("segment_size must be a positive number of bytes")
        self.location = (self.location or "").strip("/")

    # Connections: one authenticator per storage, one swiftclient connection per thread.
    def _auth(self) -> Authenticator:
        authenticator = self.__dict__.get("_authenticator")
        if authenticator is None:
            missing = [o for o in self.required_options if not getattr(self, o, None)]
            if missing:
                raise ImproperlyConfigured(
                    f"{type(self).__name__} needs {', '.join(missing)} "
                    "(options or CLOUDFILES_* settings)"
                )
            try:
                authenticator = Authenticator(
                    auth_url=self.auth_url,
                    username=self.username,
                    key=self.api_key,
                    version=self.auth_version,
                    credential_type=self.credential_type,
                    tenant_name=self.tenant_name,
                    tenant_id=self.tenant_id,
                    user_domain=self.user_domain,
                    project_domain=self.project_domain,
                    region=self.region,
                    endpoint_type="internal" if self.use_servicenet else "public",
                    storage_url=self.storage_url,
                    timeout=self.timeout,
                )
            except ValueError as exc:
                raise ImproperlyConfigured(str(exc)) from None
            authenticator = self.__dict__.setdefault("_authenticator", authenticator)
        return authenticator

    @property
    def connection(self) -> _Connection:
        local = self.__dict__.get("_local")
        if local is None:
            with _local_lock:
                local = self.__dict__.setdefault("_local", threading.local())
        conn = getattr(local, "conn", None)
        if conn is None:
            conn = local.conn = _Connection(
                self._auth(),
                retries=int(self.retries),
                starting_backoff=0.2,
                max_backoff=4,
                timeout=self.timeout,
            )
        if "_container_state" not in self.__dict__:
            self._ensure_container(conn)
        return conn

    def _ensure_container(self, conn: _Connection) -> None:
        with self._errors("reach the container of", ""):
            try:
                headers = conn.head_container(self.container)
            except ClientException as exc:
                if exc.http_status != 404:
                    raise
                if not self.auto_create_container:
                    raise SwiftError(
                        f"The container {self.container!r} does not exist; create it or "
                        "set auto_create_container (CLOUDFILES_AUTO_CREATE_CONTAINER)"
                    ) from None
                headers = {}
                if self.auto_create_container_public:
                    headers["X-Container-Read"] = ".r:*,.rlistings"
                conn.put_container(self.container, headers=headers)
        self.__dict__["_container_state"] = headers

    @contextlib.contextmanager
    def _errors(self, action: str, name: str) -> Iterator[None]:
        """Turn client failures into FileNotFoundError / SwiftError that name no secret."""
        what = f"{name!r} in container {self.container!r}" if name else repr(self.container)
        try:
            yield
        except ClientException as exc:
            if exc.http_status == 404:
                raise FileNotFoundError(f"No object {what}") from None
            status = f"HTTP {exc.http_status} {exc.http_reason}" if exc.http_status else exc.msg
            raise SwiftError(f"Could not {action} {what}: {status}") from None
        except SwiftAuthError:
            raise
        except (requests.RequestException, ConnectionError) as exc:
            raise SwiftError(f"Could not {action} {what}: {type(exc).__name__}") from None

    # Names.
    def _key(self, name: str) -> str:
        # A name that cleans to nothing would be the container (or location) itself: refused.
        return file_join(self.location, name)

    def replaced_name(self, name: str) -> str:
        return file_join("", name)  # the name as the object is stored

    def _head(self, name: str) -> dict[str, str]:
        key = self._key(name)
        with self._errors("read", name):
            return self.connection.head_object(self.container, key)

    # Storage API.
    def _open(self, name: str, mode: str = "rb") -> ReadFile | SpooledWriteFile:
        key = self._key(name)
        if "w" in mode or "x" in mode:
            return SpooledWriteFile(name, mode, lambda stream: self._write(name, stream))
        size = int(self._head(name).get("content-length", 0))

        def fetch(start: int) -> Iterator[bytes]:
            with self._errors("read", name):
                _headers, body = self.connection.get_object(
                    self.container,
                    key,
                    resp_chunk_size=CHUNK_SIZE,
                    headers={"Range": f"bytes={start}-"},
                )
            return body

        return ReadFile(name, mode, lambda: (ChunkReader(fetch, size), size))

    def _write(self, name: str, stream: IO[bytes]) -> None:
        """A file opened for writing replaces the object it names."""
        with Source(stream) as source:
            self._upload(name, source, self.get_object_headers(name, None), overwrite=True)

    def _save(self, name: str, content: Any) -> str:
        name = file_join("", name)  # "a//b.txt" is stored (and returned) as "a/b.txt"
        with Source(content) as source:
            return self._upload(
                name, source, self.get_object_headers(name, content), self.file_overwrite
            )

    def _upload(self, name: str, source: Source, headers: dict[str, str], overwrite: bool) -> str:
        conn = self.connection
        cleanup: Callable[[], None] = lambda: None  # noqa: E731
        if source.size > int(self.segment_size):
            manifest, cleanup = self._upload_segments(name, source)
            body = json.dumps(manifest)

            def put(key: str, put_headers: dict[str, str]) -> None:
                conn.put_object(
                    self.container,
                    key,
                    contents=body,
                    query_string="multipart-manifest=put",
                    headers=put_headers,
                )
        else:

            def put(key: str, put_headers: dict[str, str]) -> None:
                source.stream.seek(0)
                conn.put_object(
                    self.container,
                    key,
                    contents=source.stream,
                    content_length=source.size,
                    chunk_size=CHUNK_SIZE,
                    headers=put_headers,
                )

        try:
            while True:
                put_headers = dict(headers)
                if not overwrite:
                    # Refused with 412 if the name exists when the PUT starts.
                    put_headers["If-None-Match"] = "*"
                try:
                    with self._errors("save", name), _name_lock(self.container, name, overwrite):
                        put(self._key(name), put_headers)
                    return name
                except SwiftError as exc:
                    if "HTTP 412" not in str(exc):
                        raise
                # Someone else took the name between our check and our PUT.
                name = super().get_available_name(name)
        except BaseException:
            cleanup()
            raise

    @property
    def _segment_container(self) -> str:
        return self.segment_container or f"{self.container}_segments"

    def _upload_segments(
        self, name: str, source: Source
    ) -> tuple[list[dict[str, Any]], Callable[[], None]]:
        """Upload ``source`` as segments; the manifest and a function removing them."""
        conn = self.connection
        container = self._segment_container
        prefix = f"{self._key(name)}/{uuid.uuid4().hex}/"
        manifest: list[dict[str, Any]] = []
        segment = int(self.segment_size)

        def cleanup() -> None:
            for entry in manifest:
                with contextlib.suppress(Exception):
                    conn.delete_object(container, entry["path"].split("/", 2)[2])

        try:
            with self._errors("create the segment container for", name):
                conn.put_container(container)
            for index, offset in enumerate(range(0, source.size, segment)):
                length = min(segment, source.size - offset)
                segment_name = f"{prefix}{index:08d}"
                with self._errors("save a segment of", name):
                    etag = conn.put_object(
                        container,
                        segment_name,
                        contents=Window(source.stream, offset, length),
                        content_length=length,
                        chunk_size=CHUNK_SIZE,
                    )
                manifest.append(
                    {"path": f"/{container}/{segment_name}", "etag": etag, "size_bytes": length}
                )
        except BaseException:
            cleanup()
            raise
        return manifest, cleanup

    def get_object_headers(self, name: str, content: Any) -> dict[str, str]:
        """Headers stored with a new object: type, configured headers and metadata.

        Override to vary them by file (e.g. ``Cache-Control`` for images only).
        """
        content_type = getattr(content, "content_type", None)
        if not content_type:
            content_type = mimetypes.guess_type(name)[0] or "application/octet-stream"
        headers = {"Content-Type": content_type}
        headers.update({str(k): str(v) for k, v in (self.object_headers or {}).items()})
        for key, value in (self.metadata or {}).items():
            headers[f"X-Object-Meta-{key}"] = str(value)
        return headers

    def delete(self, name: str) -> None:
        key = self._key(name)
        try:
            headers = self._head(name)
        except FileNotFoundError:
            return
        # A large object's manifest and its segments go together.
        large = headers.get("x-static-large-object", "").lower() == "true"
        with contextlib.suppress(FileNotFoundError), self._errors("delete", name):
            self.connection.delete_object(
                self.container, key, query_string="multipart-manifest=delete" if large else None
            )

    def exists(self, name: str) -> bool:
        if is_root(name):
            return True  # the root, asked without a request (collectstatic --clear asks)
        try:
            self._head(name)
        except FileNotFoundError:
            return False
        return True

    def size(self, name: str) -> int:
        return int(self._head(name).get("content-length", 0))

    def listdir(self, path: str) -> tuple[list[str], list[str]]:
        prefix = safe_join(self.location, path).rstrip("/")  # "" lists the root
        if prefix:
            prefix += "/"
        with self._errors("list", path or "/"):
            _headers, items = self.connection.get_container(
                self.container, prefix=prefix, delimiter="/", full_listing=True
            )
        directories, files = [], []
        for item in items:
            if "subdir" in item:
                directories.append(item["subdir"][len(prefix) :].rstrip("/"))
            else:
                files.append(item["name"][len(prefix) :])
        return directories, files

    def get_modified_time(self, name: str) -> datetime:
        headers = self._head(name)
        if "x-timestamp" in headers:
            moment = datetime.fromtimestamp(float(headers["x-timestamp"]), UTC)
        else:
            moment = parsedate_to_datetime(headers["last-modified"])
        return moment if settings.USE_TZ else dj_timezone.make_naive(moment, UTC)

    # URLs.
    def url(self, name: str) -> str:
        name = url_name(name)  # refused as save() refuses it
        key = self._key(name)
        if self.cdn_url:
            return f"{self.cdn_url.rstrip('/')}/{quote(key)}"
        if self._is_public():
            return f"{self._public_base_url()}/{quote(key)}"
        if self.temp_url_key:
            return self.temp_url(name)
        return self._object_url(key)

    def _object_url(self, key: str) -> str:
        storage_url = self._auth().get().storage_url.rstrip("/")
        return f"{storage_url}/{quote(self.container)}/{quote(key)}"

    def _is_public(self) -> bool:
        if self.public is not None:
            return bool(self.public)
        self.connection  # noqa: B018 - reads the container's headers once
        read_acl = self.__dict__.get("_container_state", {}).get("x-container-read", "")
        return ".r:*" in read_acl.replace(" ", "").split(",")

    def _public_base_url(self) -> str:
        base = self.__dict__.get("_public_base")
        if base is None:
            base = self._cdn_base() or self._object_url("").rstrip("/")
            self.__dict__["_public_base"] = base
        return base

    def _cdn_base(self) -> str | None:
        """Rackspace's CDN URI for the container, when the account has a CDN endpoint."""
        auth = self._auth().get()
        if not auth.cdn_management_url:
            return None
        url = f"{auth.cdn_management_url.rstrip('/')}/{quote(self.container)}"
        try:
            response = requests.head(
                url, headers={"X-Auth-Token": auth.token}, timeout=self.timeout
            )
        except requests.RequestException:
            return None
        if response.headers.get("X-Cdn-Enabled", "").lower() != "true":
            return None
        header = "X-Cdn-Ssl-Uri" if self.cdn_ssl else "X-Cdn-Uri"
        return response.headers.get(header) or response.headers.get("X-Cdn-Uri")

    def temp_url(
        self,
        name: str,
        expires: int | None = None,
        method: str = "GET",
        filename: str | None = None,
    ) -> str:
        """A TempURL: ``method`` on ``name`` allowed to anyone until ``expires`` seconds pass."""
        if not self.temp_url_key:
            raise ImproperlyConfigured("temp_url() needs temp_url_key (CLOUDFILES_TEMP_URL_KEY)")
        object_url = self._object_url(self._key(name))
        parts = urlsplit(object_url)
        # Swift signs the decoded path it receives.
        path = "/".join(
            [
                urlsplit(self._auth().get().storage_url).path.rstrip("/"),
                self.container,
                self._key(name),
            ]
        )
        until = int(time.time() + (self.temp_url_expires if expires is None else expires))
        body = f"{method.upper()}\n{until}\n{path}".encode()
        signature = hmac.new(
            str(self.temp_url_key).encode(), body, getattr(hashlib, self.temp_url_digest)
        ).hexdigest()
        query = f"temp_url_sig={signature}&temp_url_expires={until}"
        if filename is not None:
            query += f"&filename={quote(filename)}"
        return f"{parts.scheme}://{parts.netloc}{parts.path}?{query}"


#: The same storage under the name OpenStack users look for.
SwiftStorage = CloudFilesStorage
