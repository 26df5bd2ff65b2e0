"""Signed tokens: the field's rules (in the page) and upload tickets (back from the browser).

Both are signed with Django's ``signing`` (``SECRET_KEY``, a salt of their own)
and expire. The *field token* is rendered into the form: it tells the upload
views which storage, which ``upload_to`` and which limits apply, so the views
trust nothing else the browser sends. The *ticket* is issued when an upload
starts: the name the server chose, the declared size and type, the store's
upload id; the form sends it back, and only a ticket that verifies is
accepted as the file's name.
"""

from __future__ import annotations

import fnmatch
import hashlib
import json
from dataclasses import asdict, dataclass, field
from typing import Any

from django.core import signing
from django.core.exceptions import ImproperlyConfigured

from storages.utils import setting

FIELD_SALT = "storages.uploads.field"
TICKET_SALT = "storages.uploads.ticket"
#: How long a rendered form may be used to start uploads.
FIELD_TOKEN_AGE = 24 * 3600


def ticket_lifetime() -> int:
    """Seconds a ticket (and the URLs signed for it) stays valid: ``DIRECT_UPLOADS_EXPIRE``."""
    return int(setting("DIRECT_UPLOADS_EXPIRE", 3600))


class InvalidToken(ValueError):
    """A token whose signature does not verify, that expired, or that is for another field."""


@dataclass(frozen=True)
class FieldRules:
    """Where a field's browser uploads go and what they may be."""

    #: ``app_label.ModelName.field`` of a model's FileField, or "" with ``storage``.
    model_field: str = ""
    #: A ``STORAGES`` alias (when not a model field's storage).
    storage: str = ""
    upload_to: str = ""
    max_size: int = 0
    content_types: tuple[str, ...] = field(default_factory=tuple)
    max_length: int | None = None

    def key(self) -> str:
        """A digest of the rules: a ticket names the rules it was issued under."""
        text = json.dumps(asdict(self), sort_keys=True, default=list)
        return hashlib.sha256(text.encode()).hexdigest()[:32]

    def allows_type(self, content_type: str) -> bool:
        if not self.content_types:
            return True
        content_type = content_type.lower()
        return any(fnmatch.fnmatchcase(content_type, rule.lower()) for rule in self.content_types)

    def sign(self) -> str:
        return signing.dumps(asdict(self), salt=FIELD_SALT, compress=True)

    @classmethod
    def verify(cls, token: str) -> FieldRules:
        try:
            data = signing.loads(str(token), salt=FIELD_SALT, max_age=FIELD_TOKEN_AGE)
        except signing.SignatureExpired as exc:
            raise InvalidToken("the form is too old: reload the page") from exc
        except signing.BadSignature as exc:
            raise InvalidToken("the form's upload token does not verify") from exc
        try:
            return cls(**{**data, "content_types": tuple(data.get("content_types") or ())})
        except TypeError as exc:  # signed by another version of this code
            raise InvalidToken("the form's upload token is not ours: reload the page") from exc

    def get_storage(self) -> Any:
        """The storage these rules upload to."""
        if self.model_field:
            from django.apps import apps

            app_model, _, name = self.model_field.rpartition(".")
            return apps.get_model(app_model)._meta.get_field(name).storage
        from django.core.files.storage import storages

        if not self.storage:
            raise ImproperlyConfigured("A direct-upload field needs a model field or a storage")
        return storages[self.storage]


@dataclass(frozen=True)
class Ticket:
    """One upload: the name chosen here, what was declared, and the store's upload id."""

    rules: str  # FieldRules.key()
    name: str
    size: int
    content_type: str
    protocol: str
    upload: str = ""
    part_size: int = 0

    def sign(self) -> str:
        return signing.dumps(asdict(self), salt=TICKET_SALT, compress=True)

    @classmethod
    def verify(
        cls, token: str, rules: FieldRules | None = None, protocol: str | None = None
    ) -> Ticket:
        """The ticket in ``token``; InvalidToken if tampered with, expired or not for ``rules``."""
        try:
            data = signing.loads(str(token), salt=TICKET_SALT, max_age=ticket_lifetime())
        except signing.SignatureExpired as exc:
            raise InvalidToken(
                "the upload took too long and expired: upload the file again"
            ) from exc
        except signing.BadSignature as exc:
            raise InvalidToken("the upload's ticket does not verify") from exc
        try:
            ticket = cls(**data)
        except TypeError as exc:  # signed by another version of this code
            raise InvalidToken("the upload's ticket is not one of ours") from exc
        if rules is not None and ticket.rules != rules.key():
            raise InvalidToken("the upload was made for another field")
        if protocol is not None and ticket.protocol != protocol:
            raise InvalidToken(f"the upload does not go in {protocol}")
        return ticket

    def part_lengths(self) -> dict[int, int]:
        """``{part number: length}`` of the declared size cut in ``part_size`` parts."""
        size, part = self.size, max(1, self.part_size)
        count = -(-size // part)  # an empty file has no parts
        return {n: min(part, size - (n - 1) * part) for n in range(1, count + 1)}
