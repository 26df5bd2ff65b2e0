"""System checks: misconfigured storages are reported by ``manage.py check``."""

from __future__ import annotations

from typing import Any

from django.core import checks
from django.core.exceptions import ImproperlyConfigured
from django.utils.module_loading import import_string

from storages.base import BaseStorage, unknown_options


def _check_alias(alias: str, params: dict[str, Any]) -> list[checks.CheckMessage]:
    backend = params.get("BACKEND", "")
    options = params.get("OPTIONS", {})
    where = f"STORAGES[{alias!r}]"
    try:
        storage_cls = import_string(backend)
    except ImproperlyConfigured as exc:  # a backend whose client library is missing
        return [checks.Error(f"{where}: {exc}", id="storages.E003")]
    except ImportError as exc:
        return [checks.Error(f"{where}: cannot import {backend!r} ({exc}).", id="storages.E001")]
    if not (isinstance(storage_cls, type) and issubclass(storage_cls, BaseStorage)):
        return []
    spec = storage_cls.option_table()
    try:
        unknown_options(storage_cls, options, spec)
    except ImproperlyConfigured as exc:
        return [checks.Error(f"{where}: {exc}", id="storages.E004")]
    return [
        checks.Error(
            f"{where}: {backend} needs {option!r} "
            f"(OPTIONS[{option!r}]"
            + (f" or settings.{spec[option][0]})" if spec[option][0] else ")"),
            id="storages.E002",
        )
        for option in storage_cls.missing_options(options)
    ]


@checks.register(checks.Tags.compatibility)
def check_storages(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    from django.core.files.storage import storages

    try:
        configured = storages.backends
    except ImproperlyConfigured as exc:
        return [checks.Error(str(exc), id="storages.E000")]
    errors: list[checks.CheckMessage] = []
    for alias, params in configured.items():
        errors.extend(_check_alias(alias, params))
    return errors
