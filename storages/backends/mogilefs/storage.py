"""MogileFS: keys in a tracker's domain, file data on HTTP storage nodes.

Names are keys in ``MOGILEFS_DOMAIN``. A subclass with a ``mogile_class`` class
attribute stores its files in that MogileFS class (the original's
``AvatarStorage`` example). :func:`serve_mogilefs_file` serves files by key,
handing the paths to Perlbal (``X-REPROXY-URL``) when ``SERVE_WITH_PERLBAL`` is
on and streaming them through Django otherwise.
"""

from __future__ import annotations

import contextlib
import mimetypes
import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any, ClassVar

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.utils import timezone as dj_timezone
from django.utils.deconstruct import deconstructible

from storages.backends.mogilefs.tracker import (
    KeyExists,
    MogileFSError,
    TrackerClient,
    UnknownKey,
    http_get,
    http_head,
    http_put,
)
from storages.base import BaseStorage, SettingSpec
from storages.files import ChunkReader, ReadFile, Source, SpooledWriteFile
from storages.utils import file_join, is_root, safe_join, split_listing, url_name, url_under

__all__ = ["MogileFSError", "MogileFSStorage", "serve_mogilefs_file"]

#: Uploads land under a unique key here first, then are renamed into place.
UPLOAD_PREFIX = ".storages-upload/"

_client_lock = threading.Lock()


@deconstructible(path="storages.backends.mogilefs.MogileFSStorage")
class MogileFSStorage(BaseStorage):
    """Files as keys of a MogileFS domain."""

    #: The MogileFS class of new files; ``None`` for the domain's default class.
    mogile_class: ClassVar[str | None] = None

    required_options = ("domain", "trackers")
    transient_attributes = ("_client",)
    overwrite_option = "file_overwrite"

    @classmethod
    def get_default_settings(cls) -> dict[str, SettingSpec]:
        return {
            "domain": ("MOGILEFS_DOMAIN", None),
            "trackers": ("MOGILEFS_TRACKERS", []),
            "base_url": ("MOGILEFS_MEDIA_URL", None),
            "serve_with_perlbal": ("SERVE_WITH_PERLBAL", False),
            "location": ("MOGILEFS_LOCATION", ""),
            "file_overwrite": ("MOGILEFS_FILE_OVERWRITE", False),
            "timeout": ("MOGILEFS_TIMEOUT", 10.0),
            "dead_tracker_retry": ("MOGILEFS_DEAD_TRACKER_RETRY", 5.0),
        }

    def configure(self) -> None:
        if isinstance(self.trackers, str):
            self.trackers = [t.strip() for t in self.trackers.split(",") if t.strip()]
        self.trackers = list(self.trackers or [])
        self.location = (self.location or "").strip("/")

    @property
    def client(self) -> TrackerClient:
        client = self.__dict__.get("_client")
        if client is None:
            if not self.domain or not self.trackers:
                raise ImproperlyConfigured(
                    f"{type(self).__name__} needs MOGILEFS_DOMAIN and MOGILEFS_TRACKERS"
                )
            with _client_lock:
                client = self.__dict__.setdefault(
                    "_client",
                    TrackerClient(
                        self.domain,
                        self.trackers,
                        timeout=self.timeout,
                        dead_retry=self.dead_tracker_retry,
                    ),
                )
        return client

    def _key(self, name: str) -> str:
        # A name that cleans to nothing would be the location itself: refused.
        return file_join(self.location, name)

    def replaced_name(self, name: str) -> str:
        return file_join("", name)  # the name as the key is stored

    @contextlib.contextmanager
    def _errors(self, action: str, name: str) -> Iterator[None]:
        try:
            yield
        except UnknownKey:
            raise FileNotFoundError(
                f"No file {name!r} in MogileFS domain {self.domain!r}"
            ) from None
        except KeyExists:
            raise
        except MogileFSError as exc:
            raise type(exc)(
                exc.code, f"could not {action} {name!r} in domain {self.domain!r}: {exc.text}"
            ) from None

    def paths(self, name: str) -> list[str]:
        """The storage-node URLs of a file, as the tracker lists them."""
        with self._errors("find", name):
            return self.client.get_paths(self._key(name))

    def reproxy_urls(self, name: str) -> list[str]:
        """For ``storages.views.serve(..., handoff="x-reproxy-url")``: perlbal's URLs."""
        return self.paths(name)

    # Storage API.
    def _open(self, name: str, mode: str = "rb") -> ReadFile | SpooledWriteFile:
        if "w" in mode or "x" in mode:
            self._key(name)
            return SpooledWriteFile(name, mode, lambda stream: self._write(name, stream))
        with self._errors("open", name):
            size = int(self.client.file_info(self._key(name))["length"])
        urls = self.paths(name)

        def fetch(start: int) -> Iterator[bytes]:
            return self._fetch(name, urls, start)

        return ReadFile(name, mode, lambda: (ChunkReader(fetch, size), size))

    def _fetch(self, name: str, urls: list[str], start: int) -> Iterator[bytes]:
        failures = []
        for url in urls:  # each replica in turn
            try:
                return http_get(url, start, self.timeout)
            except OSError as exc:
                failures.append(type(exc).__name__)
        raise MogileFSError(
            "no_paths", f"no storage node served {name!r} ({', '.join(failures) or 'no paths'})"
        )

    def _store(self, key: str, name: str, source: Source) -> None:
        """create_open, HTTP PUT to the first node that takes it, create_close."""
        with self._errors("save", name):
            fid, dests = self.client.create_open(key, self.mogile_class)
            failures = []
            for devid, url in dests:
                source.stream.seek(0)
                try:
                    http_put(url, source.stream, source.size, self.timeout)
                except OSError as exc:
                    failures.append(f"device {devid}: {type(exc).__name__} {exc}")
                    continue
                self.client.create_close(key, fid, devid, url, source.size)
                return
            raise MogileFSError("no_devices", f"no storage node took {name!r}: {failures}")

    def _write(self, name: str, stream: Any) -> None:
        with Source(stream) as source:
            self._store(self._key(name), name, source)

    def _save(self, name: str, content: Any) -> str:
        name = file_join("", name)  # "a//b.txt" is stored (and returned) as "a/b.txt"
        key = self._key(name)
        with Source(content) as source:
            if self.file_overwrite:
                # create_close replaces the key in one step.
                self._store(key, name, source)
                return name
            upload = f"{UPLOAD_PREFIX}{uuid.uuid4().hex}"
            self._store(upload, name, source)
            try:
                while True:
                    try:
                        # rename refuses an existing key: an atomic create.
                        with self._errors("save", name):
                            self.client.rename(upload, self._key(name))
                        return name
                    except KeyExists:
                        name = super().get_available_name(name)
            except BaseException:
                with contextlib.suppress(Exception):
                    self.client.delete(upload)
                raise

    def delete(self, name: str) -> None:
        key = self._key(name)
        with contextlib.suppress(FileNotFoundError), self._errors("delete", name):
            self.client.delete(key)

    def exists(self, name: str) -> bool:
        if is_root(name):
            return True  # the root, asked without a request (collectstatic --clear asks)
        key = self._key(name)
        try:
            with self._errors("find", name):
                self.client.file_info(key)
        except FileNotFoundError:
            return False
        return True

    def size(self, name: str) -> int:
        key = self._key(name)
        with self._errors("find", name):
            return int(self.client.file_info(key)["length"])

    def listdir(self, path: str) -> tuple[list[str], list[str]]:
        prefix = safe_join(self.location, path).rstrip("/")  # "" lists the root
        if prefix:
            prefix += "/"
        with self._errors("list", path or "/"):
            keys = self.client.list_keys(prefix)
            return split_listing((k for k in keys if not k.startswith(UPLOAD_PREFIX)), prefix)

    def get_modified_time(self, name: str) -> datetime:
        """The storage node's ``Last-Modified`` (the tracker keeps no times)."""
        for url in self.paths(name):
            try:
                headers = http_head(url, self.timeout)
            except OSError:
                continue
            moment = parsedate_to_datetime(headers["last-modified"]).astimezone(UTC)
            return moment if settings.USE_TZ else dj_timezone.make_naive(moment, UTC)
        raise MogileFSError("no_paths", f"no storage node answered for {name!r}")

    def url(self, name: str) -> str:
        base = self.base_url if self.base_url is not None else settings.MEDIA_URL
        key = self._key(url_name(name))  # refused as save() refuses it
        return url_under(base or "/", key)

    # The original wired the view as ``MogileFSStorage.serve_mogilefs_file``.
    @staticmethod
    def serve_mogilefs_file(request: HttpRequest, key: str | None = None, **kwargs: Any):
        return serve_mogilefs_file(request, key, **kwargs)


def _storage_for_view(storage: MogileFSStorage | None) -> MogileFSStorage:
    """The storage given, else the default storage if it is MogileFS, else one from settings."""
    if storage is not None:
        return storage
    from django.core.files.storage import storages

    default = storages["default"]
    return default if isinstance(default, MogileFSStorage) else MogileFSStorage()


def serve_mogilefs_file(
    request: HttpRequest,
    key: str | None = None,
    storage: MogileFSStorage | None = None,
) -> HttpResponse:
    """Serve the file stored under ``key`` (wire it under ``MOGILEFS_MEDIA_URL``).

    With ``SERVE_WITH_PERLBAL`` the response is empty and carries every path in
    ``X-REPROXY-URL`` for Perlbal to fetch; otherwise Django streams the file.
    """
    storage = _storage_for_view(storage)
    if not key:
        raise Http404("No file named")
    content_type = mimetypes.guess_type(key)[0] or "application/octet-stream"
    try:
        if storage.serve_with_perlbal:
            response = HttpResponse(content_type=content_type)
            response["X-REPROXY-URL"] = " ".join(storage.paths(key))
            return response
        handle = storage.open(key, "rb")
    except FileNotFoundError:
        raise Http404(f"No file {key!r}") from None
    response = StreamingHttpResponse(_stream(handle), content_type=content_type)
    response["Content-Length"] = str(handle.size)
    return response


def _stream(handle: ReadFile) -> Iterator[bytes]:
    try:
        yield from handle.chunks()
    finally:
        handle.close()
