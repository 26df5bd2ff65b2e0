"""The Dropbox API v2 routes the backend calls, one function each, with Dropbox's errors.

A route gets a :class:`Call` (its JSON argument, the request body for upload
routes, the store) and returns the JSON result, or a :class:`Download` for
download routes. Route errors are :class:`ApiFailure` (409 + tagged error);
the error unions follow the SDK's (``UploadError``, ``UploadSessionFinishError``,
``GetMetadataError``, ``DeleteError``, ...).
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from tests.dropbox_api.state import (
    MAX_CALL_BODY,
    ApiFailure,
    BadInput,
    Entry,
    Received,
    Store,
    file_hash,
    lookup_error,
    tag,
)

#: How long a temporary link works (Dropbox: four hours).
LINK_LIFETIME = 4 * 3600


@dataclass
class Call:
    store: Store
    arg: dict[str, Any]
    body: BinaryIO | None = None
    length: int = 0
    #: "https://host:port" of this server, for the links it hands out
    origin: str = ""
    page_size: int = 2000


@dataclass
class Download:
    entry: Entry
    blob: Path


# --- helpers -------------------------------------------------------------------------


def _received(call: Call) -> Received:
    if call.length > MAX_CALL_BODY:
        raise ApiFailure(tag("payload_too_large"))
    assert call.body is not None
    received = call.store.receive(call.body, call.length)
    _check_hash(call, received)
    return received


def _check_hash(call: Call, received: Received) -> None:
    expected = call.arg.get("content_hash")
    if expected and expected != received.content_hash:
        received.path.unlink(missing_ok=True)
        raise ApiFailure(tag("content_hash_mismatch"))


def _lookup(call: Call, path: str, *, wrap: str = "path") -> Entry:
    try:
        entry = call.store.find(path)
    except ApiFailure as failure:
        raise ApiFailure(tag(wrap, failure.error)) from None
    if entry is None:
        raise ApiFailure(tag(wrap, lookup_error("not_found")))
    return entry


def _commit(call: Call, commit: dict[str, Any], received: Received) -> Entry:
    return call.store.commit(
        commit["path"],
        received,
        commit.get("mode", "add"),
        autorename=bool(commit.get("autorename")),
        strict_conflict=bool(commit.get("strict_conflict")),
        client_modified=commit.get("client_modified"),
    )


# --- uploads -------------------------------------------------------------------------


def upload(call: Call) -> dict[str, Any]:
    received = _received(call)
    try:
        return _commit(call, call.arg, received).metadata()
    except ApiFailure as failure:
        # The data stays in an upload session the client may finish elsewhere.
        session = call.store.new_session(received.path, received.size, closed=True)
        raise ApiFailure(
            tag("path", None, reason=failure.error, upload_session_id=session.id)
        ) from None


def upload_session_start(call: Call) -> dict[str, Any]:
    if call.arg.get("session_type", {}).get(".tag", "sequential") != "sequential":
        raise ApiFailure(tag("other"))
    received = _received(call)
    session = call.store.new_session(
        received.path, received.size, closed=bool(call.arg.get("close"))
    )
    return {"session_id": session.id}


def upload_session_append_v2(call: Call) -> None:
    if call.length > MAX_CALL_BODY:
        raise ApiFailure(tag("payload_too_large"))
    with call.store.appending(call.arg.get("cursor", {})) as session:
        if session.closed:
            raise ApiFailure(tag("closed"))
        assert call.body is not None
        received = call.store.receive(call.body, call.length, into=session.spool)
        expected = call.arg.get("content_hash")
        if expected and expected != received.content_hash:
            raise ApiFailure(tag("content_hash_mismatch"))  # appending() takes the data out
        session.offset += received.size
        session.closed = bool(call.arg.get("close"))
    return None


def upload_session_finish(call: Call) -> dict[str, Any]:
    if call.length > MAX_CALL_BODY:
        raise ApiFailure(tag("payload_too_large"))
    store = call.store
    try:
        appending = store.appending(call.arg.get("cursor", {}))
        session = appending.__enter__()
    except ApiFailure as failure:
        raise ApiFailure(tag("lookup_failed", failure.error)) from None
    try:
        if call.length and session.closed:
            raise ApiFailure(tag("lookup_failed", tag("closed")))
        assert call.body is not None
        received = store.receive(call.body, call.length, into=session.spool)
        if call.arg.get("content_hash") and call.arg["content_hash"] != received.content_hash:
            raise ApiFailure(tag("content_hash_mismatch"))
    except BaseException as exc:
        appending.__exit__(type(exc), exc, exc.__traceback__)
        raise
    # The data is in the session now; a refused commit keeps it there for a retry
    # with an empty body (as Dropbox's UploadSessionFinishError.path says).
    session.offset += received.size
    appending.__exit__(None, None, None)
    whole = Received(session.spool, session.offset, file_hash(session.spool))
    try:
        entry = _commit(call, call.arg.get("commit", {}), whole)
    except ApiFailure as failure:
        raise ApiFailure(tag("path", failure.error)) from None
    store.forget_session(session)
    return entry.metadata()


# --- reads -----------------------------------------------------------------------------


def get_metadata(call: Call) -> dict[str, Any]:
    path = call.arg.get("path", "")
    if path == "":
        raise BadInput(
            'Error in call to API function "files/get_metadata": request body: '
            "path: The root folder is unsupported."
        )
    return _lookup(call, path).metadata()


def download(call: Call) -> Download:
    entry = _lookup(call, call.arg.get("path", ""))
    if entry.kind != "file":
        raise ApiFailure(tag("path", lookup_error("not_file")))
    return Download(entry, call.store.blob(entry.rev))


def get_temporary_link(call: Call) -> dict[str, Any]:
    entry = _lookup(call, call.arg.get("path", ""))
    if entry.kind != "file":
        raise ApiFailure(tag("path", lookup_error("not_file")))
    token = secrets.token_urlsafe(24)
    with call.store.lock:
        call.store.links[token] = f"{entry.rev} {time.time() + LINK_LIFETIME}"
    return {"metadata": entry.metadata(), "link": f"{call.origin}/apitl/1/{token}"}


def linked(store: Store, token: str) -> Download | None:
    """The file a temporary link still points to (the revision it was made for)."""
    with store.lock:
        value = store.links.get(token)
    if value is None:
        return None
    rev, expires = value.split()
    if time.time() > float(expires) or rev not in store.revisions:
        return None
    return Download(store.revisions[rev], store.blob(rev))


def list_folder(call: Call) -> dict[str, Any]:
    store = call.store
    path = call.arg.get("path", "")
    try:
        folder = store.find(path, root_ok=True)
    except ApiFailure as failure:
        raise ApiFailure(tag("path", failure.error)) from None
    if folder is None:
        raise ApiFailure(tag("path", lookup_error("not_found")))
    if folder.kind != "folder":
        raise ApiFailure(tag("path", lookup_error("not_folder")))
    with store.lock:
        if call.arg.get("recursive"):
            prefix = folder.lower + "/"
            found = [e for k, e in store.entries.items() if k.startswith(prefix)]
        else:
            found = store.children(folder.lower)
        entries = [entry.metadata() for entry in found]
    limit = min(int(call.arg.get("limit") or call.page_size), call.page_size)
    return _page(store, entries, limit)


def _page(store: Store, entries: list[dict[str, Any]], limit: int) -> dict[str, Any]:
    cursor = "AA" + secrets.token_urlsafe(24)
    page, rest = entries[:limit], entries[limit:]
    with store.lock:
        store.cursors[cursor] = rest
    return {"entries": page, "cursor": cursor, "has_more": bool(rest)}


def list_folder_continue(call: Call) -> dict[str, Any]:
    store = call.store
    with store.lock:
        rest = store.cursors.pop(call.arg.get("cursor", ""), None)
    if rest is None:
        raise BadInput('Error in call to API function "files/list_folder/continue": Invalid cursor')
    return _page(store, rest, call.page_size)


# --- deletes ----------------------------------------------------------------------------


def delete_v2(call: Call) -> dict[str, Any]:
    entry = _lookup(call, call.arg.get("path", ""), wrap="path_lookup")
    parent_rev = call.arg.get("parent_rev")
    if parent_rev and (entry.kind != "file" or entry.rev != parent_rev):
        raise ApiFailure(tag("path_write", tag("conflict", tag("file"))))
    call.store.delete(entry)
    return {"metadata": entry.metadata()}


RPC, UPLOAD, DOWNLOAD = "rpc", "upload", "download"

#: route -> (style, function)
ROUTES: dict[str, tuple[str, Callable[[Call], Any]]] = {
    "files/upload": (UPLOAD, upload),
    "files/upload_session/start": (UPLOAD, upload_session_start),
    "files/upload_session/append_v2": (UPLOAD, upload_session_append_v2),
    "files/upload_session/finish": (UPLOAD, upload_session_finish),
    "files/download": (DOWNLOAD, download),
    "files/get_metadata": (RPC, get_metadata),
    "files/get_temporary_link": (RPC, get_temporary_link),
    "files/list_folder": (RPC, list_folder),
    "files/list_folder/continue": (RPC, list_folder_continue),
    "files/delete_v2": (RPC, delete_v2),
}
