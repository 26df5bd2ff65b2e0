"""Uploads that nobody submitted: found under the fields' upload prefixes, and removed.

Two kinds, each older than a given age (by default the ticket lifetime, so an
upload that may still be submitted is never touched):

* **unfinished**: parts staged in the store and never joined into a file
  (S3 multipart uploads, Azure uncommitted blocks), from the storage's
  ``browser_unfinished_uploads(prefix)``;
* **unreferenced**: files under a field's prefix, named as browser uploads
  are named (``<stem>_<12 random letters and digits>.<ext>``), that no row of
  any model's ``FileField`` names.
"""

from __future__ import annotations

import datetime
import posixpath
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from django.apps import apps
from django.db import models
from django.utils import timezone

from storages.uploads.naming import RANDOM_LENGTH, is_within, static_prefix

#: The random part :func:`storages.uploads.naming.upload_name` puts before the extension.
OURS = re.compile(rf"_[a-z0-9]{{{RANDOM_LENGTH}}}$")


@dataclass
class Abandoned:
    kind: str  # "unfinished" or "unreferenced"
    field: str
    name: str
    when: datetime.datetime | None
    upload: str = ""
    storage: Any = None

    def remove(self) -> None:
        if self.kind == "unfinished":
            self.storage.browser_upload_abort(self.name, upload=self.upload)
        else:
            self.storage.delete(self.name)


def model_field(label: str) -> Any:
    app_model, _, name = label.rpartition(".")
    try:
        return apps.get_model(app_model)._meta.get_field(name)
    except (LookupError, ValueError) as exc:
        raise LookupError(f"{label!r} is not a model field (app_label.Model.field)") from exc


def referenced_names() -> set[str]:
    """Every name any model's FileField holds (any storage: a name is kept if anything names it)."""
    names: set[str] = set()
    for model in apps.get_models():
        for field in model._meta.concrete_fields:
            if isinstance(field, models.FileField):
                values = model._default_manager.exclude(**{field.attname: ""}).values_list(
                    field.attname, flat=True
                )
                names.update(value for value in values.iterator() if value)
    return names


def walk(storage: Any, directory: str) -> Iterator[str]:
    """Every file name under ``directory`` (recursively, through ``listdir``)."""
    try:
        directories, files = storage.listdir(directory)
    except FileNotFoundError:
        return
    for name in files:
        yield posixpath.join(directory, name) if directory else name
    for sub in directories:
        yield from walk(storage, posixpath.join(directory, sub) if directory else sub)


def looks_like_ours(name: str) -> bool:
    return bool(OURS.search(posixpath.splitext(posixpath.basename(name))[0]))


def _aware(moment: datetime.datetime | None) -> datetime.datetime | None:
    if moment is not None and timezone.is_naive(moment):
        return timezone.make_aware(moment, datetime.UTC)
    return moment


def find(labels: Iterable[str], older_than: float) -> list[Abandoned]:
    """The abandoned uploads of the fields ``labels`` (``app_label.Model.field``)."""
    cutoff = timezone.now() - datetime.timedelta(seconds=older_than)
    referenced = referenced_names()
    found: list[Abandoned] = []
    for label in labels:
        field = model_field(label)
        storage = field.storage
        prefix = static_prefix(field.upload_to) if not callable(field.upload_to) else ""
        if not prefix:
            continue  # no directory of its own: nothing here is safely ours
        unfinished = getattr(storage, "browser_unfinished_uploads", None)
        if unfinished is not None:
            for name, upload, started in unfinished(prefix):
                started = _aware(started)
                if is_within(name, prefix) and (started is None or started <= cutoff):
                    found.append(Abandoned("unfinished", label, name, started, upload, storage))
        for name in walk(storage, prefix):
            if name in referenced or not looks_like_ours(name):
                continue
            modified = _aware(storage.get_modified_time(name))
            if modified <= cutoff:
                found.append(Abandoned("unreferenced", label, name, modified, "", storage))
    return found
