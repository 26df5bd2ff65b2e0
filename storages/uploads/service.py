"""Browser uploads over any storage that can sign them.

A storage takes part by offering these methods (S3 and Azure do, in their
``browser`` modules); this module never imports a backend:

``browser_upload_start(name, *, size, content_type, expire, origin)``
    What the browser sends where: ``{"protocol": "post", "url", "fields"}``
    (one form POST the store checks), ``{"protocol": "parts", "upload",
    "part_size"}`` (parts, each PUT to a URL from ``browser_part_urls``) or
    ``{"protocol": "session", "url", "part_size"}`` (chunks PUT in order to a
    resumable session, GCS).
``browser_stored_parts(name, *, upload)``
    ``{part number: (size, store's id)}`` of the parts the store holds.
``browser_part_urls(name, *, upload, lengths, expire)``
    ``[{"n", "url", "method", "headers"}]``: one signed request per part.
``browser_upload_complete(name, *, upload, lengths, content_type)``
    Join the parts into the file; ``ValueError`` if they are not the ones declared.
``browser_upload_abort(name, *, upload)``, ``browser_unfinished_uploads(prefix)``
    Used by ``storage_abandoned``.
"""

from __future__ import annotations

from typing import Any

from storages.uploads.naming import is_within, static_prefix, upload_name
from storages.uploads.tickets import FieldRules, InvalidToken, Ticket, ticket_lifetime

DEFAULT_TYPE = "application/octet-stream"


class Refused(ValueError):
    """An upload the rules do not allow (the message is for the person uploading)."""


class Unsupported(Refused):
    """The storage cannot sign browser uploads (the page then sends the file through Django)."""


def supports_browser_uploads(storage: Any) -> bool:
    return callable(getattr(storage, "browser_upload_start", None))


def start(
    rules: FieldRules, filename: str, size: Any, content_type: str, origin: str | None = None
) -> dict[str, Any]:
    """Choose the name, check the limits, ask the store how to send it; return the plan."""
    try:
        size = int(size)
    except (TypeError, ValueError):
        raise Refused("the file's size is missing") from None
    if size < 0:
        raise Refused("the file's size is missing")
    if rules.max_size and size > rules.max_size:
        raise Refused(f"the file is larger than the {rules.max_size:,} bytes allowed")
    content_type = str(content_type or DEFAULT_TYPE).strip().lower()
    if not rules.allows_type(content_type) or not content_type.isascii() or "\n" in content_type:
        raise Refused(f"files of type {content_type!r} are not allowed here")
    storage = rules.get_storage()
    if not supports_browser_uploads(storage):
        raise Unsupported("this storage takes no direct uploads")
    name = storage.generate_filename(upload_name(rules.upload_to, filename, rules.max_length))
    plan = storage.browser_upload_start(
        name, size=size, content_type=content_type, expire=ticket_lifetime(), origin=origin
    )
    ticket = Ticket(
        rules=rules.key(),
        name=name,
        size=size,
        content_type=content_type,
        protocol=plan["protocol"],
        upload=plan.get("upload", ""),
        part_size=int(plan.get("part_size") or 0),
    )
    answer = {key: value for key, value in plan.items() if key != "upload"}
    return {**answer, "ticket": ticket.sign(), "name": name}


def missing_parts(rules: FieldRules, token: str) -> dict[str, Any]:
    """Signed requests for the parts the store does not hold yet (all of them at first)."""
    ticket = Ticket.verify(token, rules, "parts")
    storage = rules.get_storage()
    stored = storage.browser_stored_parts(ticket.name, upload=ticket.upload)
    lengths = ticket.part_lengths()
    missing = {n: length for n, length in lengths.items() if stored.get(n, (None,))[0] != length}
    parts = storage.browser_part_urls(
        ticket.name, upload=ticket.upload, lengths=missing, expire=ticket_lifetime()
    )
    return {"parts": parts, "part_size": ticket.part_size, "stored": len(lengths) - len(missing)}


def check(rules: FieldRules, token: str) -> dict[str, Any]:
    """Whether the store holds the file, with the declared size (its own answer may be hidden
    from the page: a store without a CORS rule for the site takes a form POST all the same)."""
    ticket = Ticket.verify(token, rules)
    try:
        stored = rules.get_storage().size(ticket.name) == ticket.size
    except FileNotFoundError:
        stored = False
    return {"stored": stored}


def complete(rules: FieldRules, token: str) -> dict[str, Any]:
    """Join the parts (the store checks they are the declared ones)."""
    ticket = Ticket.verify(token, rules, "parts")
    storage = rules.get_storage()
    try:
        storage.browser_upload_complete(
            ticket.name,
            upload=ticket.upload,
            lengths=ticket.part_lengths(),
            content_type=ticket.content_type,
        )
    except ValueError as exc:
        raise Refused(f"the upload is incomplete ({exc})") from exc
    return {"name": ticket.name}


def accepted_name(rules: FieldRules, token: str) -> str:
    """The stored name a submitted ticket stands for, once every rule holds; else Refused.

    Signature and age, issued for these rules, under the field's prefix, stored
    with exactly the declared size, within the limit. A stored file that breaks
    a limit is deleted (it is ours: a fresh name under the prefix).
    """
    try:
        ticket = Ticket.verify(token, rules)
    except InvalidToken as exc:
        raise Refused(str(exc)) from exc
    storage = rules.get_storage()
    prefix = static_prefix(rules.upload_to)
    if not is_within(ticket.name, prefix):
        raise Refused("the upload is outside this field's directory")
    try:
        size = storage.size(ticket.name)
    except FileNotFoundError:
        raise Refused("the upload did not finish: choose the file again") from None
    if size != ticket.size or (rules.max_size and size > rules.max_size):
        storage.delete(ticket.name)
        raise Refused("the stored file is not the one declared")
    return ticket.name
