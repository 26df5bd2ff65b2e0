"""CouchDB storage (``storages.backends.couchdb.CouchDBStorage``) over plain HTTP.

Each file is a document whose id is the file's name, holding the content as
one attachment named ``content``. Uploads are ``PUT /db/<id>/content``: a
single request that creates the document and its attachment together, so a
name has either a complete file or nothing. CouchDB's revisions make the
same-name rules safe: creating an existing document is refused with ``409``
(the save takes a new name), and replacing one needs its current revision
(a ``409`` means someone else wrote first: read the new revision, retry).
"""

from __future__ import annotations

import base64
import datetime
import hashlib
import json
import logging
import mimetypes
import re
import threading
from collections.abc import Iterator
from contextlib import suppress
from typing import IO, Any
from urllib.parse import quote, urlsplit, urlunsplit

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured, SuspiciousFileOperation
from django.utils import timezone
from django.utils.deconstruct import deconstructible

from storages.base import BaseStorage, SettingSpec
from storages.files import (
    ReadFile,
    Source,
    SpooledWriteFile,
    StreamReader,
    require_read_or_write_mode,
)
from storages.utils import (
    content_chunks,
    file_join,
    is_root,
    require,
    safe_join,
    setting,
    split_listing,
    url_name,
    url_under,
)

requests = require("requests", "couchdb")

logger = logging.getLogger(__name__)

ATTACHMENT = "content"
OPTIONS_SETTING = "COUCHDB_STORAGE_OPTIONS"
MAX_ATTEMPTS = 20
PAGE = 1000
UPLOAD_CHUNK = 1024 * 1024

_URL_PASSWORD = re.compile(r"(?P<scheme>[a-z][a-z0-9+.-]*://)(?P<user>[^:/@\s]*):[^@/\s]*@", re.I)


def redact(text: str) -> str:
    """Text with any ``scheme://user:password@`` password masked."""
    return _URL_PASSWORD.sub(r"\g<scheme>\g<user>:********@", text)


class CouchDBError(OSError):
    """A CouchDB request failed; the message names the file and the database."""


@deconstructible
class CouchDBStorage(BaseStorage):
    """Django storage keeping each file as a CouchDB document with one attachment."""

    secret_options = ("password",)
    required_options = ("server", "database")
    transient_attributes = ("_local", "_target")
    overwrite_option = "file_overwrite"

    @classmethod
    def get_default_settings(cls) -> dict[str, SettingSpec]:
        return {
            "server": ("COUCHDB_DEFAULT_SERVER", "http://couchdb.local:5984"),
            "database": (None, None),
            "username": ("COUCHDB_USERNAME", None),
            "password": ("COUCHDB_PASSWORD", None),
            "verify": ("COUCHDB_VERIFY", True),
            "timeout": ("COUCHDB_TIMEOUT", 30),
            "base_url": ("COUCHDB_BASE_URL", None),
            "file_overwrite": ("COUCHDB_FILE_OVERWRITE", False),
            "create_database": ("COUCHDB_CREATE_DATABASE", False),
        }

    @classmethod
    def resolve_options(cls, options: dict[str, Any]) -> dict[str, Any]:
        # The original read COUCHDB_STORAGE_OPTIONS (server, database, ...): it sits
        # between constructor options and the single settings.
        resolved = super().resolve_options(options)
        shared = setting(OPTIONS_SETTING) or {}
        for key, value in shared.items():
            if key in resolved and key not in options:
                resolved[key] = value
        return resolved

    def _on_setting_changed(self, *, setting: str, **kwargs: Any) -> None:
        if setting == OPTIONS_SETTING:
            self._apply_settings()
        else:
            super()._on_setting_changed(setting=setting, **kwargs)

    def __repr__(self) -> str:
        return redact(super().__repr__())

    # Connection -------------------------------------------------------------------------

    def _resolve(self) -> tuple[str, tuple[str, str] | None, str]:
        """(database URL without credentials, auth, description), worked out on first use."""
        target = self.__dict__.get("_target")
        if target is not None:
            return target
        known = self.option_table()
        unknown = sorted(set(setting(OPTIONS_SETTING) or {}) - set(known))
        if unknown:  # checked here, not in a settings signal, which must not raise
            raise ImproperlyConfigured(
                f"{OPTIONS_SETTING} has no option {', '.join(map(repr, unknown))}; "
                f"known: {', '.join(sorted(known))}."
            )
        if not self.server or not self.database:
            raise ImproperlyConfigured(
                "CouchDBStorage needs 'server' and 'database' (COUCHDB_STORAGE_OPTIONS)."
            )
        parts = urlsplit(str(self.server))
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ImproperlyConfigured(
                f"CouchDB server must be an http(s) URL, not {redact(str(self.server))!r}."
            )
        username = self.username if self.username is not None else parts.username
        password = self.password if self.password is not None else parts.password
        host = parts.hostname + (f":{parts.port}" if parts.port else "")
        server = urlunsplit((parts.scheme, host, parts.path.rstrip("/"), "", ""))
        database_url = f"{server}/{quote(str(self.database), safe='')}"
        auth = (username, password or "") if username else None
        where = f"CouchDB database {self.database!r} at {server}"
        target = self.__dict__["_target"] = (database_url, auth, where)
        return target

    @property
    def _where(self) -> str:
        return self._resolve()[2]

    def _session(self) -> Any:
        """One requests.Session per thread (a Session is not documented thread-safe)."""
        local = self.__dict__.get("_local")
        if local is None:
            local = self.__dict__.setdefault("_local", threading.local())
        session = getattr(local, "session", None)
        if session is None:
            _url, auth, _where = self._resolve()
            session = requests.Session()
            session.auth = auth
            session.verify = self.verify
            # Identity: sizes from Content-Length, bytes as stored.
            session.headers["Accept-Encoding"] = "identity"
            local.session = session
        return session

    def _request(self, method: str, url: str, action: str, name: str, **kwargs: Any) -> Any:
        kwargs.setdefault("timeout", self.timeout)
        try:
            return self._session().request(method, url, **kwargs)
        except requests.RequestException as exc:
            message = redact(str(exc))
            raise CouchDBError(
                f"Could not {action} {name!r} in {self._where}: {type(exc).__name__}: {message}"
            ) from None

    def _fail(self, response: Any, action: str, name: str) -> CouchDBError:
        try:
            body = response.json()
            reason = f"{body.get('error')}: {body.get('reason')}"
        except ValueError:
            reason = response.text[:200]
        return CouchDBError(
            f"Could not {action} {name!r} in {self._where}: HTTP {response.status_code} "
            f"{redact(reason)}"
        )

    @staticmethod
    def _reason(response: Any) -> str:
        with suppress(ValueError, AttributeError):
            return str(response.json().get("reason", ""))
        return ""

    # Names ----------------------------------------------------------------------------------

    def _path(self, name: str) -> str:
        # A name that cleans to nothing would be the database's own URL: refused.
        path = file_join("", name)
        if path.startswith("_"):
            # Ids starting with "_" are CouchDB's own (_design, _local, _all_docs, ...).
            raise SuspiciousFileOperation(f"CouchDB reserves ids starting with '_': {name!r}")
        return path

    def _doc_url(self, path: str) -> str:
        return f"{self._resolve()[0]}/{quote(path, safe='')}"

    def _attachment_url(self, path: str) -> str:
        return f"{self._doc_url(path)}/{ATTACHMENT}"

    def replaced_name(self, name: str) -> str:
        return self._path(name)

    # Reading ---------------------------------------------------------------------------------

    def _head(self, path: str, name: str, action: str) -> Any:
        response = self._request("HEAD", self._attachment_url(path), action, name)
        if response.status_code == 404:
            raise FileNotFoundError(f"{name!r} does not exist in {self._where}")
        if response.status_code != 200:
            raise self._fail(response, action, name)
        return response

    def exists(self, name: str) -> bool:
        if is_root(name):
            return True  # the root, asked without a request (collectstatic --clear asks)
        path = self._path(name)
        response = self._request("HEAD", self._attachment_url(path), "look up", name)
        if response.status_code in (200, 404):
            return response.status_code == 200
        raise self._fail(response, "look up", name)

    def size(self, name: str) -> int:
        response = self._head(self._path(name), name, "get the size of")
        return int(response.headers["Content-Length"])

    def content_type(self, name: str) -> str | None:
        """The attachment's content type."""
        return self._head(self._path(name), name, "get the type of").headers.get("Content-Type")

    def _open(self, name: str, mode: str = "rb") -> ReadFile | SpooledWriteFile:
        path = self._path(name)
        require_read_or_write_mode(name, mode)
        if "w" in mode:
            return SpooledWriteFile(
                name, mode, lambda spool: self._store(path, spool, overwrite=True)
            )
        size = int(self._head(path, name, "open").headers["Content-Length"])
        url = self._attachment_url(path)

        def open_at(position: int) -> IO[bytes]:
            headers = {"Range": f"bytes={position}-"} if position else {}
            response = self._request("GET", url, "read", name, stream=True, headers=headers)
            if response.status_code == 404:
                response.close()
                raise FileNotFoundError(f"{name!r} was deleted from {self._where}")
            if response.status_code not in (200, 206):
                response.close()
                raise self._fail(response, "read", name)
            stream = _ResponseStream(response, self, name)
            if position and response.status_code == 200:  # Range ignored: skip ahead
                stream.skip(position)
            return stream

        return ReadFile(name, mode, lambda: (StreamReader(open_at, size), size))

    def get_modified_time(self, name: str) -> datetime.datetime:
        path = self._path(name)
        response = self._request("GET", self._doc_url(path), "get the time of", name)
        if response.status_code == 404:
            raise FileNotFoundError(f"{name!r} does not exist in {self._where}")
        if response.status_code != 200:
            raise self._fail(response, "get the time of", name)
        stamp = response.json().get("modified")
        if not stamp:
            raise CouchDBError(f"{name!r} in {self._where} has no recorded modification time")
        moment = datetime.datetime.fromisoformat(stamp)
        return moment if settings.USE_TZ else timezone.make_naive(moment)

    get_created_time = get_modified_time

    def listdir(self, path: str) -> tuple[list[str], list[str]]:
        prefix = safe_join("", path).rstrip("/")
        prefix = f"{prefix}/" if prefix else ""
        # Design and local documents ("_...") are not files.
        ids = (doc_id for doc_id in self._ids(prefix, path) if not doc_id.startswith("_"))
        return split_listing(ids, prefix)

    def _ids(self, prefix: str, path: str) -> Iterator[str]:
        """Document ids under a prefix, a page at a time (_all_docs sorts by code point)."""
        params: dict[str, str] = {"limit": str(PAGE)}
        if prefix:
            # "/" + 1 == "0": every id under the prefix sorts in [prefix, upper).
            params.update(
                startkey=json.dumps(prefix),
                endkey=json.dumps(prefix[:-1] + "0"),
                inclusive_end="false",
            )
        url = f"{self._resolve()[0]}/_all_docs"
        while True:
            response = self._request("GET", url, "list", path, params=params)
            if response.status_code == 404 and self._reason(response) == "no_db_file":
                return
            if response.status_code != 200:
                raise self._fail(response, "list", path)
            rows = response.json().get("rows", [])
            for row in rows:
                yield row["id"]
            if len(rows) < PAGE:
                return
            params.update(startkey=json.dumps(rows[-1]["id"]), skip="1")

    def url(self, name: str) -> str:
        path = self._path(url_name(name))  # refused as save() refuses it
        if self.base_url is not None:
            return url_under(self.base_url, path)
        return self._attachment_url(path)

    # Writing ---------------------------------------------------------------------------------

    def _save(self, name: str, content: Any) -> str:
        return self._store(self._path(name), content, overwrite=self.file_overwrite)

    def _current_rev(self, path: str) -> str | None:
        response = self._request("GET", self._doc_url(path), "read the revision of", path)
        if response.status_code == 404:
            return None
        if response.status_code != 200:
            raise self._fail(response, "read the revision of", path)
        return response.json()["_rev"]

    def _store(self, path: str, content: Any, *, overwrite: bool) -> str:
        content_type = (
            getattr(content, "content_type", None)
            or mimetypes.guess_type(path)[0]
            or "application/octet-stream"
        )
        with Source(content) as measured:  # counts bytes: text's length is not its size
            source, size = measured.stream, measured.size
            rev = self._current_rev(path) if overwrite else None
            inline = False  # PouchDB will not attach to a deleted document: send it inline
            for _attempt in range(MAX_ATTEMPTS):
                body = _Body(source, size)
                if inline:
                    response = self._put_inline(path, body, content_type, rev)
                else:
                    response = self._request(
                        "PUT",
                        self._attachment_url(path),
                        "save",
                        path,
                        data=body if size else b"",
                        params={"rev": rev} if rev else None,
                        headers={"Content-Type": content_type},
                    )
                status = response.status_code
                if status in (200, 201, 202):
                    if not inline:
                        self._record_time(path, response.json()["rev"], body, content_type)
                    return path
                if status == 409:  # someone else wrote this id first
                    if overwrite:
                        rev = self._current_rev(path)
                    else:
                        path = self.get_available_name(path)
                    inline = False
                    continue
                if status == 404 and self._reason(response) == "no_db_file":
                    if not self.create_database:
                        raise self._fail(response, "save", path)
                    self._create_database(path)
                    continue
                if status == 404 and not inline:
                    inline = True
                    continue
                raise self._fail(response, "save", path)
        raise CouchDBError(f"Gave up saving {path!r} in {self._where}: it kept changing.")

    def _put_inline(self, path: str, body: _Body, content_type: str, rev: str | None) -> Any:
        doc: dict[str, Any] = {"modified": _now()}
        if rev:
            doc["_rev"] = rev
        # The document without its closing brace, then the attachment's opening.
        attachment = (
            f'"_attachments": {{"{ATTACHMENT}": {{"content_type": {json.dumps(content_type)}'
        )
        head = f'{json.dumps(doc)[:-1]}, {attachment}, "data": "'
        return self._request(
            "PUT",
            self._doc_url(path),
            "save",
            path,
            data=_InlineBody(head.encode(), body, b'"}}}'),
            headers={"Content-Type": "application/json"},
        )

    def _record_time(self, path: str, rev: str, body: _Body, content_type: str) -> None:
        """Add the upload time to the new revision (the attachment PUT cannot carry it)."""
        stub = {
            "stub": True,
            "content_type": content_type,
            "length": body.length,
            "digest": "md5-" + base64.b64encode(body.md5.digest()).decode(),
            "revpos": int(rev.split("-", 1)[0]),
        }
        doc = {"_rev": rev, "modified": _now(), "_attachments": {ATTACHMENT: stub}}
        with suppress(CouchDBError):
            response = self._request("PUT", self._doc_url(path), "date", path, json=doc)
            if response.status_code not in (200, 201, 202):
                # 409: a newer version landed first and records its own time.
                logger.debug("Upload time of %r not recorded: HTTP %s", path, response.status_code)

    def _create_database(self, path: str) -> None:
        response = self._request("PUT", self._resolve()[0], "create the database for", path)
        if response.status_code not in (201, 202, 412):  # 412: created meanwhile
            raise self._fail(response, "create the database for", path)

    def delete(self, name: str) -> None:
        path = self._path(name)
        for _attempt in range(MAX_ATTEMPTS):
            rev = self._current_rev(path)
            if rev is None:
                return
            response = self._request(
                "DELETE", self._doc_url(path), "delete", name, params={"rev": rev}
            )
            if response.status_code in (200, 202, 404):
                return
            if response.status_code != 409:
                raise self._fail(response, "delete", name)
        raise CouchDBError(f"Gave up deleting {name!r} in {self._where}: it kept changing.")


def _now() -> str:
    return datetime.datetime.now(datetime.UTC).isoformat()


class _Body:
    """An upload body read once in chunks, with its length and MD5 worked out on the way."""

    def __init__(self, source: Any, size: int) -> None:
        self._source = source
        self._size = size
        self.length = 0
        self.md5 = hashlib.md5(usedforsecurity=False)

    def __iter__(self) -> Iterator[bytes]:
        for chunk in content_chunks(self._source, UPLOAD_CHUNK):
            self.length += len(chunk)
            self.md5.update(chunk)
            yield chunk

    def __len__(self) -> int:  # requests sends it as Content-Length
        return self._size

    def __bool__(self) -> bool:
        return True


class _InlineBody:
    """A JSON document whose attachment is base64-encoded while it is sent."""

    def __init__(self, head: bytes, body: _Body, tail: bytes) -> None:
        self._head, self._body, self._tail = head, body, tail

    def __len__(self) -> int:
        return len(self._head) + 4 * -(-len(self._body) // 3) + len(self._tail)

    def __iter__(self) -> Iterator[bytes]:
        yield self._head
        carry = b""
        for chunk in self._body:
            chunk = carry + chunk
            cut = len(chunk) - len(chunk) % 3
            carry = chunk[cut:]
            if cut:
                yield base64.b64encode(chunk[:cut])
        if carry:
            yield base64.b64encode(carry)
        yield self._tail


class _ResponseStream:
    """A streamed HTTP response body read in pieces; errors name the file."""

    def __init__(self, response: Any, storage: CouchDBStorage, name: str) -> None:
        self._response, self._storage, self._name = response, storage, name

    def read(self, size: int = -1) -> bytes:
        try:
            return self._response.raw.read(None if size < 0 else size)
        except Exception as exc:
            raise CouchDBError(
                f"Could not read {self._name!r} from {self._storage._where}: "
                f"{type(exc).__name__}: {redact(str(exc))}"
            ) from None

    def skip(self, count: int) -> None:
        while count > 0:
            data = self.read(min(count, UPLOAD_CHUNK))
            if not data:
                return
            count -= len(data)

    def close(self) -> None:
        self._response.close()
