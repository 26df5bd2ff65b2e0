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


# --- coming from django-storages -------------------------------------------------

#: django-storages 1.14's default for each overwrite setting where ours differs.
DJANGO_STORAGES_OVERWRITE = {"AWS_S3_FILE_OVERWRITE": True, "GS_FILE_OVERWRITE": True}
#: Backend modules only django-storages has (beside ours under the same names).
DJANGO_STORAGES_MODULES = (
    "storages.backends.s3boto3",
    "storages.backends.sftpstorage",
    "storages.backends.azure_storage",
    "storages.backends.gcloud",
    "storages.backends.dropbox",
    "storages.backends.apache_libcloud",
)
#: The S3 settings of the original (2012) documentation; any other AWS_* is newer.
SEED_AWS_SETTINGS = {
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_STORAGE_BUCKET_NAME",
    "AWS_CALLING_FORMAT",
    "AWS_HEADERS",
}


def django_storages_era(backends: dict[str, dict[str, Any]]) -> bool:
    """Whether the project reads like a django-storages 1.14 one (paths or settings)."""
    from django.conf import settings

    if any(
        params.get("BACKEND", "").startswith(DJANGO_STORAGES_MODULES)
        for params in backends.values()
    ):
        return True
    return any(
        name.startswith(("AWS_", "GS_")) and name not in SEED_AWS_SETTINGS for name in dir(settings)
    )


def _overwrite_difference(alias: str, params: dict[str, Any]) -> checks.CheckMessage | None:
    from django.conf import settings

    from storages.base import NOT_SET, class_option

    try:
        storage_cls = import_string(params.get("BACKEND", ""))
    except (ImportError, ImproperlyConfigured):
        return None  # reported by check_storages
    if not (isinstance(storage_cls, type) and issubclass(storage_cls, BaseStorage)):
        return None
    table = storage_cls.option_table()
    option = storage_cls.overwrite_option or "file_overwrite"
    setting_name, default = table.get(option, (None, None))
    theirs = DJANGO_STORAGES_OVERWRITE.get(setting_name or "")
    if theirs is None or bool(default) == theirs:
        return None
    if (
        option in params.get("OPTIONS", {})
        or class_option(storage_cls, option) is not NOT_SET
        or hasattr(settings, setting_name)
    ):
        return None  # the project chose
    return checks.Warning(
        f"STORAGES[{alias!r}] ({params['BACKEND']}): saving a name that exists keeps both "
        f"files here (the new one under a new name); django-storages 1.14 replaced the file.",
        hint=f"Set {setting_name} (or OPTIONS[{option!r}]) to True to keep replacing files, "
        "or to False to keep both; see 'Coming from django-storages' in the docs.",
        id="storages.W020",
    )


@checks.register(checks.Tags.compatibility)
def check_django_storages_defaults(
    app_configs: Any = None, **kwargs: Any
) -> list[checks.CheckMessage]:
    from django.core.files.storage import storages

    try:
        configured = storages.backends
    except ImproperlyConfigured:
        return []  # reported by check_storages
    if not django_storages_era(configured):
        return []
    found = (_overwrite_difference(alias, params) for alias, params in configured.items())
    return [message for message in found if message is not None]
