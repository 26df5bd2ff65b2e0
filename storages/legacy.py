"""Keep ``DEFAULT_FILE_STORAGE`` and ``STATICFILES_STORAGE`` working on Django 5.1+.

Django 4.2 still maps those two settings onto ``STORAGES`` itself; 5.1 removed
them. With ``storages`` installed we merge them back in, lazily, where Django
reads ``STORAGES``: the storage handler. The handler's class is swapped for a
subclass rather than the settings being rewritten, so ``override_settings`` of
any of the three names composes in both directions without state of ours.
"""

from __future__ import annotations

import warnings
from typing import Any

import django
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.files.storage import StorageHandler, storages
from django.core.signals import setting_changed
from django.utils.functional import cached_property, empty

LEGACY_ALIASES = {
    "DEFAULT_FILE_STORAGE": "default",
    "STATICFILES_STORAGE": "staticfiles",
}

DJANGO_HANDLES_LEGACY = django.VERSION < (5, 1)


class LegacyStorageSettingWarning(UserWarning):
    """``DEFAULT_FILE_STORAGE``/``STATICFILES_STORAGE`` used where Django dropped them."""


_warned: set[str] = set()


def legacy_settings() -> dict[str, str]:
    """Legacy setting name -> backend path, for those set in settings.py."""
    return {
        name: getattr(settings, name)
        for name in LEGACY_ALIASES
        if getattr(settings, name, None) and settings.is_overridden(name)
    }


def merged_storages() -> dict[str, Any]:
    """``settings.STORAGES`` with the legacy settings applied on top."""
    merged = dict(settings.STORAGES)
    legacy = legacy_settings()
    if legacy and settings.is_overridden("STORAGES"):
        raise ImproperlyConfigured(
            f"{' and '.join(sorted(legacy))} and STORAGES are both set: "
            "configure each storage once, preferably in STORAGES."
        )
    for name, backend in legacy.items():
        if name not in _warned:
            _warned.add(name)
            warnings.warn(
                f"{name} is not read by Django 5.1+; storages applied it to "
                f"STORAGES[{LEGACY_ALIASES[name]!r}]. Move it into STORAGES.",
                LegacyStorageSettingWarning,
                stacklevel=2,
            )
        merged[LEGACY_ALIASES[name]] = {"BACKEND": backend}
    return merged


class LegacyAwareStorageHandler(StorageHandler):
    @cached_property
    def backends(self) -> dict[str, Any]:
        if self._backends is None:
            self._backends = merged_storages()
        return self._backends


def reset_storages() -> None:
    """Forget built storages so the next access reads the settings again."""
    from django.contrib.staticfiles.storage import staticfiles_storage
    from django.core.files.storage import default_storage

    storages.__dict__.pop("backends", None)
    storages._backends = None
    storages._storages = {}
    default_storage._wrapped = empty
    staticfiles_storage._wrapped = empty


def _on_setting_changed(*, setting: str, **kwargs: Any) -> None:
    if setting in LEGACY_ALIASES:
        reset_storages()
        storages.backends  # noqa: B018 - surface a conflict where the setting changes


def install() -> None:
    """Bridge the legacy settings (Django 5.1+ only; 4.2 does it itself)."""
    if DJANGO_HANDLES_LEGACY or isinstance(storages, LegacyAwareStorageHandler):
        return
    storages.__class__ = LegacyAwareStorageHandler
    reset_storages()
    setting_changed.connect(_on_setting_changed, dispatch_uid="storages-legacy-settings")
    storages.backends  # noqa: B018 - report a conflict at start-up, not at first upload
