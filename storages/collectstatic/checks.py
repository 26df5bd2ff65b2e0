"""System check: our collectstatic only runs if ``storages`` comes before staticfiles.

Django runs the management command of the app listed first in INSTALLED_APPS.
"""

from __future__ import annotations

from typing import Any

from django.core import checks


def _static_backend() -> type | None:
    """The static files storage class, without building the storage."""
    from django.core.files.storage import storages
    from django.utils.module_loading import import_string

    try:
        backend = storages.backends.get("staticfiles", {}).get("BACKEND", "")
        return import_string(backend)
    except Exception:  # a broken configuration is reported by the other checks
        return None


@checks.register(checks.Tags.staticfiles)
def check_collectstatic_order(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    from django.apps import apps

    names = [config.name for config in apps.get_app_configs()]
    if "django.contrib.staticfiles" not in names or "storages" not in names:
        return []
    if names.index("storages") < names.index("django.contrib.staticfiles"):
        return []
    backend = _static_backend()
    from storages.base import BaseStorage

    if backend is None or not issubclass(backend, BaseStorage):
        return []
    return [
        checks.Warning(
            f"The static files storage is {backend.__name__} from storages, but "
            "'django.contrib.staticfiles' is listed before 'storages' in INSTALLED_APPS, "
            "so `manage.py collectstatic` runs Django's command: a request per file and "
            "unchanged files uploaded again.",
            hint="List 'storages' before 'django.contrib.staticfiles' in INSTALLED_APPS.",
            id="storages.W010",
        )
    ]
