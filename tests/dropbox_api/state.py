"""What the test Dropbox holds: a case-insensitive namespace, revisions, upload sessions.

One :class:`Store` per server process, shared by its request threads under one
lock. File contents live on disk (``root/blobs/<rev>``), so a big upload costs
the server no memory; an upload session is a file that grows with each append.
Everything is forgotten when the process ends.
"""

from __future__ import annotations

import contextlib
import datetime
import hashlib
import itertools
import os
import posixpath
import random
import secrets
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

#: Dropbox's content hash hashes the content in blocks of this size.
HASH_BLOCK = 4 * 1024 * 1024
#: The largest body one upload call takes (Dropbox: 150 MiB).
MAX_CALL_BODY = 150 * 1024 * 1024
#: Names Dropbox refuses to store (its "ignored files").
DISALLOWED_NAMES = {"desktop.ini", "thumbs.db", ".ds_store", "icon\r", ".dropbox", ".dropbox.attr"}


class ApiFailure(Exception):
    """A route error: Dropbox's 409 with ``error_summary`` and the tagged ``error``."""

    def __init__(self, error: dict[str, Any], status: int = 409) -> None:
        super().__init__(summary(error))
        self.error = error
        self.status = status

    def body(self) -> dict[str, Any]:
        return {"error_summary": summary(self.error), "error": self.error}


class BadInput(Exception):
    """Dropbox's 400: a plain-text message about the call itself."""


def tag(name: str, inner: Any = None, **fields: Any) -> dict[str, Any]:
    """A tagged union value: ``{".tag": name, name: inner, **fields}``."""
    value: dict[str, Any] = {".tag": name}
    if inner is not None:
        value[name] = inner
    value.update(fields)
    return value


def summary(error: Any) -> str:
    """``path/conflict/file/..``: the tags from the outside in, as Dropbox writes them."""
    parts = []
    while isinstance(error, dict) and ".tag" in error:
        parts.append(error[".tag"])
        inner = error.get(error[".tag"])
        if not isinstance(inner, dict):
            inner = next((v for v in error.values() if isinstance(v, dict) and ".tag" in v), None)
        error = inner
    return "/".join(parts) + "/" + "." * random.choice((2, 3))


def lookup_error(reason: str) -> dict[str, Any]:
    return tag(reason)


def conflict(kind: str) -> dict[str, Any]:
    return tag("conflict", tag(kind))


def now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC).replace(microsecond=0)


def stamp(moment: datetime.datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


class ContentHasher:
    """Dropbox's content hash: SHA-256 of the SHA-256 digests of each 4 MiB block."""

    def __init__(self) -> None:
        self._blocks = hashlib.sha256()
        self._block = hashlib.sha256()
        self._filled = 0

    def update(self, data: bytes | memoryview) -> None:
        view = memoryview(data)
        while view:
            take = min(len(view), HASH_BLOCK - self._filled)
            self._block.update(view[:take])
            self._filled += take
            view = view[take:]
            if self._filled == HASH_BLOCK:
                self._blocks.update(self._block.digest())
                self._block, self._filled = hashlib.sha256(), 0

    def hexdigest(self) -> str:
        total = self._blocks.copy()
        if self._filled:
            total.update(self._block.digest())
        return total.hexdigest()


def file_hash(path: Path) -> str:
    hasher = ContentHasher()
    with path.open("rb") as handle:
        while chunk := handle.read(1024 * 1024):
            hasher.update(chunk)
    return hasher.hexdigest()


@dataclass
class Entry:
    kind: str  # "file" or "folder"
    display: str  # "/Folder/Name.txt", the case it was created with
    id: str
    rev: str = ""
    size: int = 0
    content_hash: str = ""
    client_modified: datetime.datetime | None = None
    server_modified: datetime.datetime | None = None

    @property
    def lower(self) -> str:
        return self.display.lower()

    def metadata(self) -> dict[str, Any]:
        common = {
            "name": posixpath.basename(self.display),
            "path_lower": self.lower,
            "path_display": self.display,
            "id": self.id,
        }
        if self.kind == "folder":
            return {".tag": "folder", **common}
        assert self.server_modified is not None and self.client_modified is not None
        return {
            ".tag": "file",
            **common,
            "client_modified": stamp(self.client_modified),
            "server_modified": stamp(self.server_modified),
            "rev": self.rev,
            "size": self.size,
            "is_downloadable": True,
            "content_hash": self.content_hash,
        }


@dataclass
class Session:
    id: str
    spool: Path
    offset: int = 0
    closed: bool = False
    busy: bool = False


@dataclass
class Received:
    """A request body written to disk while its content hash was computed."""

    path: Path
    size: int
    content_hash: str


@dataclass
class Store:
    root: Path
    lock: threading.RLock = field(default_factory=threading.RLock)
    entries: dict[str, Entry] = field(default_factory=dict)
    #: rev -> the file's entry as that revision left it (read by ``rev:`` paths).
    revisions: dict[str, Entry] = field(default_factory=dict)
    sessions: dict[str, Session] = field(default_factory=dict)
    #: temporary-link token -> rev
    links: dict[str, str] = field(default_factory=dict)
    #: list_folder cursor -> the entries still to give
    cursors: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    _counter: Any = field(default_factory=lambda: itertools.count(1))

    def __post_init__(self) -> None:
        for sub in ("blobs", "sessions", "incoming"):
            (self.root / sub).mkdir(parents=True, exist_ok=True)

    # --- bodies and blobs -------------------------------------------------------

    def blob(self, rev: str) -> Path:
        return self.root / "blobs" / rev

    def receive(self, body: BinaryIO, length: int, into: Path | None = None) -> Received:
        """Write ``length`` bytes of ``body`` to a new file (or the end of ``into``)."""
        target = into or self.root / "incoming" / secrets.token_hex(8)
        hasher = ContentHasher()
        done = 0
        with target.open("ab" if into else "wb") as out:
            while done < length:
                chunk = body.read(min(256 * 1024, length - done))
                if not chunk:
                    raise ConnectionError("the client went away in the middle of the body")
                hasher.update(chunk)
                out.write(chunk)
                done += len(chunk)
        return Received(target, done, hasher.hexdigest())

    def _next_rev(self) -> str:
        return f"{0x15A0000000 + next(self._counter):x}"

    # --- paths --------------------------------------------------------------------

    def write_path(self, path: str) -> str:
        """A path an upload may create; WriteError ``malformed_path``/``disallowed_name``."""
        if not path.startswith("/") or path == "/" or path.endswith("/") or "//" in path:
            raise ApiFailure(tag("malformed_path"))
        parts = path[1:].split("/")
        if any(
            part in (".", "..") or any(ord(c) < 32 and c != "\r" for c in part) for part in parts
        ):
            raise ApiFailure(tag("malformed_path"))
        if parts[-1].lower() in DISALLOWED_NAMES:
            raise ApiFailure(tag("disallowed_name"))
        return path

    def find(self, path: str, *, root_ok: bool = False) -> Entry | None:
        """The entry a lookup path names (``/a/b``, ``id:...``, ``rev:...``); LookupError
        ``malformed_path`` for a path Dropbox would not parse."""
        if path.startswith("rev:"):
            return self.revisions.get(path[4:])
        if path.startswith("id:"):
            return next((e for e in self.entries.values() if e.id == path), None)
        if path == "" and root_ok:
            return Entry("folder", "", "id:root")
        if not path.startswith("/") or path.endswith("/") or "//" in path:
            raise ApiFailure(lookup_error("malformed_path"))
        return self.entries.get(path.lower())

    def children(self, folder_lower: str) -> list[Entry]:
        prefix = folder_lower + "/"
        return [
            entry
            for lower, entry in self.entries.items()
            if lower.startswith(prefix) and "/" not in lower[len(prefix) :]
        ]

    # --- writes ----------------------------------------------------------------------

    def commit(
        self,
        path: str,
        received: Received,
        mode: dict[str, Any] | str,
        *,
        autorename: bool = False,
        strict_conflict: bool = False,
        client_modified: str | None = None,
    ) -> Entry:
        """Store ``received`` at ``path`` as ``mode`` says (add / overwrite / update)."""
        path = self.write_path(path)
        mode_tag = mode if isinstance(mode, str) else mode.get(".tag", "add")
        with self.lock:
            display = self._display_for(path)
            existing = self.entries.get(display.lower())
            if existing is not None:
                if existing.kind == "folder":
                    if not autorename:
                        raise ApiFailure(conflict("folder"))
                    display = self._free_name(display)
                elif mode_tag == "overwrite" or (
                    mode_tag == "update" and existing.rev == mode.get("update")
                ):
                    display = existing.display
                elif (
                    mode_tag == "add"
                    and not strict_conflict
                    and existing.content_hash == received.content_hash
                ):
                    received.path.unlink(missing_ok=True)
                    return existing  # the same content is already there: no conflict
                elif autorename:
                    display = self._free_name(display)
                else:
                    raise ApiFailure(conflict("file"))
            elif mode_tag == "update" and strict_conflict:
                raise ApiFailure(conflict("file"))
            return self._store(display, received, client_modified)

    def _display_for(self, path: str) -> str:
        """``path`` with its existing folders' case; conflict ``file_ancestor`` if one is a file."""
        parts = path[1:].split("/")
        shown = ""
        for part in parts[:-1]:
            shown += "/" + part
            entry = self.entries.get(shown.lower())
            if entry is not None:
                if entry.kind == "file":
                    raise ApiFailure(conflict("file_ancestor"))
                shown = entry.display
        return shown + "/" + parts[-1]

    def _free_name(self, display: str) -> str:
        folder, name = posixpath.split(display)
        root, extension = posixpath.splitext(name)
        for number in itertools.count(1):
            candidate = posixpath.join(folder, f"{root} ({number}){extension}")
            if candidate.lower() not in self.entries:
                return candidate
        raise AssertionError("unreachable")

    def _store(self, display: str, received: Received, client_modified: str | None) -> Entry:
        self._make_folders(posixpath.dirname(display))
        old = self.entries.get(display.lower())
        rev = self._next_rev()
        os.replace(received.path, self.blob(rev))
        moment = now()
        client = (
            datetime.datetime.strptime(client_modified, "%Y-%m-%dT%H:%M:%SZ").replace(
                tzinfo=datetime.UTC
            )
            if client_modified
            else moment
        )
        entry = Entry(
            "file",
            display,
            old.id if old else f"id:{secrets.token_urlsafe(12)}",
            rev=rev,
            size=received.size,
            content_hash=received.content_hash,
            client_modified=client,
            server_modified=moment,
        )
        self.entries[entry.lower] = entry
        self.revisions[rev] = entry
        return entry

    def _make_folders(self, display: str) -> None:
        shown = ""
        for part in [p for p in display.split("/") if p]:
            shown += "/" + part
            if shown.lower() not in self.entries:
                self.entries[shown.lower()] = Entry(
                    "folder", shown, f"id:{secrets.token_urlsafe(12)}"
                )

    def delete(self, entry: Entry) -> None:
        with self.lock:
            self.entries.pop(entry.lower, None)
            if entry.kind == "folder":
                prefix = entry.lower + "/"
                for lower in [k for k in self.entries if k.startswith(prefix)]:
                    del self.entries[lower]

    # --- upload sessions -------------------------------------------------------------

    def new_session(
        self, spool: Path | None = None, size: int = 0, closed: bool = False
    ) -> Session:
        session_id = "pid_upload_session:" + secrets.token_urlsafe(24)
        target = self.root / "sessions" / secrets.token_hex(8)
        if spool is not None:
            os.replace(spool, target)
        else:
            target.touch()
        session = Session(session_id, target, offset=size, closed=closed)
        with self.lock:
            self.sessions[session_id] = session
        return session

    @contextlib.contextmanager
    def appending(self, cursor: dict[str, Any]) -> Any:
        """The session ``cursor`` names, checked (UploadSessionLookupError) and held while
        data is appended; a body cut short is taken back out."""
        with self.lock:
            session = self.sessions.get(cursor.get("session_id", ""))
            if session is None:
                raise ApiFailure(tag("not_found"))
            if session.busy:
                raise ApiFailure(tag("other"))
            if cursor.get("offset") != session.offset:
                raise ApiFailure(tag("incorrect_offset", correct_offset=session.offset))
            session.busy = True
        try:
            yield session
        except BaseException:
            with session.spool.open("r+b") as spool:
                spool.truncate(session.offset)
            raise
        finally:
            session.busy = False

    def forget_session(self, session: Session) -> None:
        with self.lock:
            self.sessions.pop(session.id, None)
        session.spool.unlink(missing_ok=True)

    # --- inspection (the /_fake/ routes) ----------------------------------------------

    def tree(self, prefix: str = "") -> dict[str, Any]:
        lower = prefix.lower().rstrip("/")
        with self.lock:
            files = {
                e.display: {
                    "rev": e.rev,
                    "size": e.size,
                    "revisions": sum(1 for r in self.revisions.values() if r.lower == e.lower),
                }
                for e in self.entries.values()
                if e.kind == "file" and (not lower or e.lower.startswith(lower + "/"))
            }
            folders = sorted(
                e.display
                for e in self.entries.values()
                if e.kind == "folder" and (not lower or e.lower.startswith(lower + "/"))
            )
            return {"files": files, "folders": folders, "open_sessions": len(self.sessions)}
