"""Dropbox, on the official dropbox SDK (12.x).

``DropboxStorage`` keeps files in a Dropbox folder (``root_path``). Highlights
(see docs/backends/dropbox.rst):

* no lost files: with ``write_mode="add"`` (the default) an upload never
  replaces (Dropbox's ``add`` mode, ``autorename`` off, ``strict_conflict`` on);
  when the name is taken, the data already sent is committed under the next
  available name (the upload session is finished again, with no data), so
  concurrent saves of one name keep every file and ``save()`` returns the name
  stored. ``write_mode="overwrite"`` replaces;
* uploads in bounded memory: one ``files/upload`` up to ``CHUNK_SIZE``, an
  upload session of ``CHUNK_SIZE`` blocks beyond; a failed upload commits
  nothing, so nothing appears under the name;
* reads stream, and seeks read ranges of the revision opened;
* ``url()`` is a temporary link (``files/get_temporary_link``, four hours);
* a refresh token (with app key and secret) gets short-lived tokens, renewed
  before they expire;
* a drop-in for django-storages 1.14's ``storages.backends.dropbox``: its
  settings, options, positional token, ``CHUNK_SIZE``, ``client`` and
  ``DropBoxStorage`` alias.
"""

from __future__ import annotations

import datetime
import posixpath
import threading
import warnings
from collections.abc import Iterator
from typing import Any, ClassVar

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.files.utils import validate_file_name
from django.utils import timezone
from django.utils.deconstruct import deconstructible

from storages.backends.dropbox.client import make_client
from storages.backends.dropbox.errors import (
    DropboxFileNotFound,
    DropboxNameTaken,
    DropboxStorageException,
    dropbox_errors,
)
from storages.backends.dropbox.files import DropboxFile, LinkCache, blocks, content_hash
from storages.base import NOT_SET, BaseStorage, SettingSpec, class_option
from storages.files import SpooledWriteFile, refuse_partial_update
from storages.utils import clean_name, file_join, is_root, name_as_given, require, safe_join

MIB = 1024 * 1024
WRITE_MODES = ("add", "overwrite")

_client_lock = threading.Lock()
# ``Storage.save()`` gives ``max_length`` to ``get_available_name`` only; a save
# whose name is taken needs it again for the next name.
_pending = threading.local()


@deconstructible(path="storages.backends.dropbox.DropboxStorage")
class DropboxStorage(BaseStorage):
    """Files in a Dropbox folder."""

    #: Uploads up to this size go in one request; beyond, an upload session of such blocks.
    CHUNK_SIZE = 4 * MIB
    url_needs_io = True  # url() asks Dropbox for a temporary link: aurl() runs it off the loop

    secret_options: ClassVar[tuple[str, ...]] = (
        "oauth2_access_token",
        "app_secret",
        "oauth2_refresh_token",
    )
    transient_attributes: ClassVar[tuple[str, ...]] = ("_client", "_link_cache")

    def __init__(self, oauth2_access_token: str | None = None, **options: Any) -> None:
        # django-storages takes the token as the first positional argument.
        if oauth2_access_token is not None:
            options["oauth2_access_token"] = oauth2_access_token
        super().__init__(**options)
        self._check_configuration()

    @classmethod
    def get_default_settings(cls) -> dict[str, SettingSpec]:
        return {
            "root_path": ("DROPBOX_ROOT_PATH", "/"),
            "oauth2_access_token": ("DROPBOX_OAUTH2_TOKEN", None),
            "app_key": ("DROPBOX_APP_KEY", None),
            "app_secret": ("DROPBOX_APP_SECRET", None),
            "oauth2_refresh_token": ("DROPBOX_OAUTH2_REFRESH_TOKEN", None),
            "timeout": ("DROPBOX_TIMEOUT", 100),
            "write_mode": ("DROPBOX_WRITE_MODE", "add"),
            # Ours: a CA bundle trusted instead of requests' (and of REQUESTS_CA_BUNDLE).
            "ca_certs": ("DROPBOX_CA_CERTS", None),
        }

    # --- configuration ---------------------------------------------------------

    def configure(self) -> None:
        location = class_option(type(self), "location")
        if location is not NOT_SET:
            warnings.warn(
                "Setting `root_path` with name `location` is deprecated; name it `root_path`.",
                DeprecationWarning,
                stacklevel=4,
            )
            self.root_path = location
        self._root = self._clean_root(self.root_path)

    def _check_configuration(self) -> None:
        """Refuse what cannot work (when the storage is made, and before its first request:
        settings changed later, as a test's override ending, are checked on use)."""
        if not self.oauth2_access_token and not (
            self.app_key and self.app_secret and self.oauth2_refresh_token
        ):
            raise ImproperlyConfigured(
                "DropboxStorage needs an access token (DROPBOX_OAUTH2_TOKEN) or an app key, "
                "app secret and refresh token (DROPBOX_APP_KEY, DROPBOX_APP_SECRET and "
                "DROPBOX_OAUTH2_REFRESH_TOKEN)."
            )
        if self.write_mode not in WRITE_MODES:
            raise ImproperlyConfigured(
                f"DROPBOX_WRITE_MODE must be one of {', '.join(WRITE_MODES)}, "
                f"not {self.write_mode!r}."
            )

    @staticmethod
    def _clean_root(root_path: Any) -> str:
        """``root_path`` as a Dropbox folder path: ``""`` (the root) or ``/a/b``."""
        # ".." is refused, not folded away at the top ("/../x" is not "/x").
        relative = safe_join("", str(root_path or "/").replace("\\", "/").lstrip("/"))
        return "/" + relative.rstrip("/") if relative else ""

    @property
    def client(self) -> Any:
        """The ``dropbox.Dropbox`` client (created on first use, shared by threads)."""
        client = self.__dict__.get("_client")
        if client is None:
            with _client_lock:
                client = self.__dict__.get("_client")
                if client is None:
                    self._check_configuration()
                    client = self.__dict__["_client"] = make_client(
                        oauth2_access_token=self.oauth2_access_token,
                        app_key=self.app_key,
                        app_secret=self.app_secret,
                        oauth2_refresh_token=self.oauth2_refresh_token,
                        timeout=self.timeout,
                        ca_certs=self.ca_certs,
                    )
        return client

    @property
    def _overwrites(self) -> bool:
        return self.write_mode == "overwrite"

    def _path(self, name: str) -> str:
        """The Dropbox path of the file ``name``; unsafe names and the root are refused."""
        # "a/" is looked up as "a": Dropbox refuses paths with a trailing slash.
        return f"{self._root}/{file_join('', name).rstrip('/')}"

    def _full_path(self, name: str) -> str:
        """django-storages' helper: the Dropbox path of ``name`` (the root for ``""``)."""
        relative = safe_join("", name)
        return f"{self._root}/{relative}" if relative else (self._root or "/")

    def _errors(self, path: str, action: str) -> Any:
        secrets = (self.oauth2_access_token, self.app_secret, self.oauth2_refresh_token)
        return dropbox_errors(path, action, secrets)

    # --- reads -------------------------------------------------------------------

    def _download(
        self, path: str, *, action: str, shown: str | None = None, offset: int = 0
    ) -> tuple[Any, Any]:
        """``(FileMetadata, streaming response)`` of ``path`` from ``offset`` on."""
        headers = {"Range": f"bytes={offset}-"} if offset else None
        with self._errors(shown or path, action):
            metadata, response = self.client.files_download(path, extra_headers=headers)
        return metadata, response

    def _metadata(self, name: str, action: str) -> Any:
        path = self._path(name)
        with self._errors(path, action):
            return self.client.files_get_metadata(path)

    def _file_metadata(self, name: str, action: str) -> Any:
        files = require("dropbox.files", "dropbox")
        metadata = self._metadata(name, action)
        if not isinstance(metadata, files.FileMetadata):
            raise DropboxStorageException(
                f"Could not {action} dropbox:{self._path(name)}: it is a folder",
                path=self._path(name),
            )
        return metadata

    def _open(self, name: str, mode: str = "rb") -> Any:
        self._path(name)  # unsafe names and the root are refused before anything else
        refuse_partial_update(name, mode)
        if "w" in mode or "x" in mode:
            # "w" replaces, as opening a local file for writing does; "x" only creates.
            replace = "x" not in mode

            def upload(spool: Any) -> None:
                self._upload(clean_name(name), spool, replace=replace, rename=False)

            return SpooledWriteFile(name, mode, upload)
        return DropboxFile(name, self, mode)

    def exists(self, name: str) -> bool:
        if is_root(name):
            return True  # the root folder (collectstatic --clear asks)
        try:
            self._metadata(name, "look up")
        except DropboxFileNotFound:
            return False
        return True

    def listdir(self, path: str) -> tuple[list[str], list[str]]:
        files_module = require("dropbox.files", "dropbox")
        relative = safe_join("", path).rstrip("/")
        folder = f"{self._root}/{relative}" if relative else self._root
        directories: list[str] = []
        files: list[str] = []
        try:
            with self._errors(folder, "list"):
                page = self.client.files_list_folder(folder)
                while True:
                    for entry in page.entries:
                        if isinstance(entry, files_module.FolderMetadata):
                            directories.append(entry.name)
                        elif isinstance(entry, files_module.FileMetadata):
                            files.append(entry.name)
                    if not page.has_more:
                        break
                    page = self.client.files_list_folder_continue(page.cursor)
        except DropboxFileNotFound:
            if not relative:
                return [], []  # a root folder nothing was saved to yet
            raise
        return sorted(directories), sorted(files)

    def list_stored(self) -> Iterator[tuple[str, int, datetime.datetime, None]]:
        """``(name, size, modified, None)`` of every file under the root, from one paged
        recursive listing (for our collectstatic and the transfer commands). Dropbox
        keeps a ``content_hash``, not an MD5: files compare by size and time."""
        files = require("dropbox.files", "dropbox")
        prefix = self._root.lower() + "/"
        try:
            with self._errors(self._root, "list"):
                page = self.client.files_list_folder(self._root, recursive=True)
        except DropboxFileNotFound:
            return  # nothing saved yet
        while True:
            for entry in page.entries:
                if isinstance(entry, files.FileMetadata) and entry.path_lower.startswith(prefix):
                    moment = entry.server_modified.replace(tzinfo=datetime.UTC)
                    yield entry.path_display[len(prefix) :], int(entry.size), moment, None
            if not page.has_more:
                return
            with self._errors(self._root, "list"):
                page = self.client.files_list_folder_continue(page.cursor)

    def size(self, name: str) -> int:
        return int(self._file_metadata(name, "read the size of").size)

    def get_modified_time(self, name: str) -> datetime.datetime:
        moment = self._file_metadata(name, "read the time of").server_modified
        moment = moment.replace(tzinfo=datetime.UTC)  # the SDK gives naive UTC
        return moment if settings.USE_TZ else timezone.make_naive(moment)

    def url(self, name: str) -> str:
        """A temporary link to the file: it works for at least three of its four hours.

        Dropbox makes a new link per request; one is reused for an hour (the same
        URL for the same file, one request instead of one per page view), never
        after this storage saved or deleted the file.
        """
        path = self._path(name)
        validate_file_name(str(name), allow_relative_path=True)
        link = self._links.get(path)
        if link is None:
            with self._errors(path, "link to"):
                link = self.client.files_get_temporary_link(path).link
            self._links.put(path, link)
        return link

    @property
    def _links(self) -> LinkCache:
        links = self.__dict__.get("_link_cache")
        if links is None:
            links = self.__dict__.setdefault("_link_cache", LinkCache())
        return links

    # --- writes -------------------------------------------------------------------

    def get_available_name(self, name: str, max_length: int | None = None) -> str:
        self._path(name)  # unsafe names and the root are refused before anything else
        name = clean_name(name)
        if self._overwrites:
            validate_file_name(name, allow_relative_path=True)
            return name_as_given(name, max_length)
        _pending.max_length = max_length
        validate_file_name(posixpath.basename(name))
        if max_length is not None and len(name) > max_length:
            return self._next_candidate(name, max_length)[1]
        # No existence check: the upload itself refuses a taken name (see _upload).
        return name

    def _save(self, name: str, content: Any) -> str:
        return self._upload(clean_name(name), content, replace=self._overwrites)

    def _upload(self, name: str, content: Any, *, replace: bool, rename: bool = True) -> str:
        """Store ``content`` as ``name`` and return the name stored.

        Without ``replace``, a taken name is an error only without ``rename``;
        with it, the data already sent
        (which Dropbox keeps in an upload session) is committed under the next
        candidate name instead, with no second upload.
        """
        files = require("dropbox.files", "dropbox")
        mode = files.WriteMode.overwrite if replace else files.WriteMode.add
        path = self._path(name)
        self._links.forget(path)
        data = blocks(content, int(self.CHUNK_SIZE))
        # Two blocks read tell a one-request file from an upload session.
        head = [next(data), next(data, None)]
        try:
            if head[1] is None:
                first = head.pop(0)
                try:
                    with self._errors(path, "save"):
                        self.client.files_upload(
                            first,
                            path,
                            mode=mode,
                            autorename=False,
                            strict_conflict=True,
                            content_hash=content_hash(first),
                        )
                except DropboxNameTaken as taken:
                    taken.upload_offset = len(first)  # in the session Dropbox made of it
                    raise
                return name
            session, offset, last = self._send_blocks(path, head, data)
            self._finish(path, session, offset, last, mode)
            return name
        except DropboxNameTaken as taken:
            if replace or not rename or taken.kind == "file_ancestor" or not taken.upload_session:
                raise
            return self._finish_elsewhere(name, taken.upload_session, taken.upload_offset)

    def _send_blocks(self, path: str, head: list[Any], rest: Any) -> tuple[str, int, bytes]:
        """Start an upload session with the first block of ``head`` and append all
        blocks but the last: ``(session id, bytes sent, the last block)``.

        At most two blocks are held (the one going out and the next), so that the
        memory a save takes does not grow with the file.
        """
        files = require("dropbox.files", "dropbox")
        first = head.pop(0)
        with self._errors(path, "save"):
            session = self.client.files_upload_session_start(
                first, content_hash=content_hash(first)
            ).session_id
        offset = len(first)
        del first  # sent: not held while the next block is read
        current = head.pop(0)
        for block in rest:  # content is read outside the error translation
            with self._errors(path, "save"):
                self.client.files_upload_session_append_v2(
                    current,
                    files.UploadSessionCursor(session, offset),
                    content_hash=content_hash(current),
                )
            offset += len(current)
            current = block
        return session, offset, current

    def _finish(self, path: str, session: str, offset: int, data: bytes, mode: Any) -> None:
        """Commit the session, ``data`` being its last bytes; a taken name raises
        :class:`DropboxNameTaken` telling where the session now ends (Dropbox
        keeps the data of a refused finish, to be finished again with none)."""
        files = require("dropbox.files", "dropbox")
        commit = files.CommitInfo(path=path, mode=mode, autorename=False, strict_conflict=True)
        try:
            with self._errors(path, "save"):
                self.client.files_upload_session_finish(
                    data,
                    files.UploadSessionCursor(session, offset),
                    commit,
                    content_hash=content_hash(data),
                )
        except DropboxNameTaken as taken:
            taken.upload_session, taken.upload_offset = session, offset + len(data)
            raise

    def _finish_elsewhere(self, name: str, session: str, offset: int) -> str:
        """Commit the session's data under the next free candidate after ``name``."""
        files = require("dropbox.files", "dropbox")
        taken = name
        while True:
            taken, name = self._next_candidate(taken, getattr(_pending, "max_length", None))
            try:
                self._finish(self._path(name), session, offset, b"", files.WriteMode.add)
            except DropboxNameTaken as again:
                if again.kind == "file_ancestor":
                    raise
                continue
            return name

    def delete(self, name: str) -> None:
        path = self._path(name)
        self._links.forget(path)
        try:
            with self._errors(path, "delete"):
                self.client.files_delete_v2(path)
        except DropboxFileNotFound:
            pass  # deleting a missing file is a no-op


#: django-storages 1.14's older spelling.
DropBoxStorage = DropboxStorage
