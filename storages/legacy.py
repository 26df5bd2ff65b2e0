"""Keep ``DEFAULT_FILE_STORAGE`` and ``STATICFILES_STORAGE`` working on Django 5.1+.

Django 4.2 still maps those two settings onto ``STORAGES`` itself (with a bug
that drops ``OPTIONS`` under ``override_settings``); 5.1 removed them. With
``storages`` installed we merge them in, lazily, where Django reads
``STORAGES``: the storage handler. The handler's class is swapped for a
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
        if settings.is_overridden(name) and getattr(settings, name, None)
    }


def merged_storages() -> dict[str, Any]:
    """``settings.STORAGES`` with the legacy settings applied on top.

    A legacy setting naming the backend ``STORAGES`` already has for its alias
    keeps that entry and its ``OPTIONS`` (Django 4.2's ``override_settings``
    sets both names together and would otherwise lose the options).
    """
    merged = dict(settings.STORAGES)
    legacy = legacy_settings()
    if legacy and not DJANGO_HANDLES_LEGACY and settings.is_overridden("STORAGES"):
        raise ImproperlyConfigured(
            f"{' and '.join(sorted(legacy))} and STORAGES are both set: "
            "configure each storage once, preferably in STORAGES."
        )
    for name, backend in legacy.items():
        alias = LEGACY_ALIASES[name]
        if merged.get(alias, {}).get("BACKEND") == backend:
            continue
        if not DJANGO_HANDLES_LEGACY and name not in _warned:
            _warned.add(name)
            warnings.warn(
                f"{name} is not read by Django 5.1+; storages applied it to "
                f"STORAGES[{alias!r}]. Move it into STORAGES.",
                LegacyStorageSettingWarning,
                stacklevel=2,
            )
        merged[alias] = {"BACKEND": backend}
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
    """Route every read of ``STORAGES`` through :func:`merged_storages`.

    Also rebuild the storages when a legacy setting changes (``override_settings``
    in tests): Django only does that for ``STORAGES``.
    """
    setting_changed.connect(_on_setting_changed, dispatch_uid="storages-legacy-settings")
    if isinstance(storages, LegacyAwareStorageHandler):
        return
    storages.__class__ = LegacyAwareStorageHandler
    reset_storages()
    storages.backends  # noqa: B018 - report a conflict at start-up, not at first upload
