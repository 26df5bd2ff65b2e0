"""``LIBCLOUD_PROVIDERS`` entries: their keys, the driver each one builds, its masking.

An entry is a dict. The keys django-storages 1.14 reads: ``type`` (a
``libcloud.storage.types.Provider`` path such as
``"libcloud.storage.types.Provider.S3"``, or the ``Provider`` value itself),
``user`` and ``key`` (the driver's first two arguments: access key and secret;
for the LOCAL driver the base directory and nothing), ``bucket`` (the
container) and the optional ``region`` and ``project``. Ours: ``host``,
``port``, ``secure`` (an S3-compatible endpoint), ``timeout`` (seconds per
request) and ``driver_options`` (any further keyword arguments of the driver).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

from django.core.exceptions import ImproperlyConfigured

from storages.backends.apache_libcloud.errors import MASK, scrub
from storages.utils import require

PROVIDER_PATH = "libcloud.storage.types.Provider"
#: Entry keys handed to the driver as keyword arguments when present.
DRIVER_KEYWORDS = ("region", "project", "host", "port", "secure")
KNOWN_KEYS = frozenset(
    ("type", "user", "key", "bucket", "timeout", "driver_options", *DRIVER_KEYWORDS)
)
#: Entry (and driver_options) keys whose values are secrets.
SECRET_KEYS = frozenset(("key", "secret", "token", "password", "secret_key", "access_secret"))
#: Seconds a request may take when the entry gives no ``timeout``.
DEFAULT_TIMEOUT = 60


def provider_type(value: Any) -> str:
    """The ``Provider`` constant an entry's ``type`` names.

    django-storages' dotted path, a ``Provider`` attribute name (``"S3"``) or a
    ``Provider`` value (``"s3"``, what ``Provider.S3`` is in Libcloud 3).
    """
    types = require("libcloud.storage.types", "libcloud")
    provider = types.Provider
    text = str(value)
    if "." in text:
        module_path, _, tag = text.rpartition(".")
        if module_path != PROVIDER_PATH:
            raise ValueError(f"Invalid module path {module_path!r}: use {PROVIDER_PATH}.<NAME>")
        text = tag
    if isinstance(getattr(provider, text, None), str):
        return getattr(provider, text)
    values = {value for attr in dir(provider) if isinstance(value := getattr(provider, attr), str)}
    if text in values:
        return text
    raise ValueError(f"Libcloud has no storage provider {value!r}")


def check_entry(provider_name: str, entry: Any) -> Mapping[str, Any]:
    """The entry, once it is a dict with a type and a bucket and no unknown keys."""
    if not isinstance(entry, Mapping) or not entry:
        raise ImproperlyConfigured(f"LIBCLOUD_PROVIDERS {provider_name} not defined or invalid")
    unknown = sorted(set(entry) - KNOWN_KEYS)
    if unknown:
        raise ImproperlyConfigured(
            f"LIBCLOUD_PROVIDERS[{provider_name!r}] has no key "
            f"{', '.join(map(repr, unknown))}; known keys: {', '.join(sorted(KNOWN_KEYS))}."
        )
    for required in ("type", "bucket"):
        if not entry.get(required):
            raise ImproperlyConfigured(
                f"LIBCLOUD_PROVIDERS[{provider_name!r}] needs a {required!r}."
            )
    return entry


def secrets_of(entry: Mapping[str, Any] | None) -> tuple[str, ...]:
    """Every secret value of an entry, to mask wherever text might carry it."""
    if not entry:
        return ()
    found = [entry.get(name) for name in SECRET_KEYS]
    found += [
        value
        for name, value in dict(entry.get("driver_options") or {}).items()
        if name in SECRET_KEYS
    ]
    return tuple(str(value) for value in found if value)


def masked(entry: Any) -> Any:
    """An entry (or the whole LIBCLOUD_PROVIDERS dict) as ``repr`` may show it."""
    if not isinstance(entry, Mapping):
        return entry
    shown = {}
    for name, value in entry.items():
        if name in SECRET_KEYS and value:
            shown[name] = MASK
        elif isinstance(value, Mapping):
            shown[name] = masked(value)
        else:
            shown[name] = value
    return shown


def build_driver(provider_name: str, entry: Mapping[str, Any]) -> Any:
    """The Libcloud storage driver an entry describes (no request is made)."""
    providers = require("libcloud.storage.providers", "libcloud")
    secrets = secrets_of(entry)
    kind = entry.get("type")
    try:
        driver_cls = providers.get_driver(provider_type(kind))
        keywords = {name: entry[name] for name in DRIVER_KEYWORDS if name in entry}
        keywords.update(dict(entry.get("driver_options") or {}))
        driver = driver_cls(entry.get("user"), entry.get("key"), **keywords)
    except ImproperlyConfigured:
        raise
    except Exception as exc:
        detail = scrub(f"{type(exc).__name__}: {exc}", secrets)
        raise ImproperlyConfigured(
            f"Unable to create libcloud driver type {kind} for LIBCLOUD_PROVIDERS"
            f"[{provider_name!r}]: {detail}"
        ) from None
    # Read when the connection is first opened, so every driver gets it.
    driver.connection.timeout = entry.get("timeout") or DEFAULT_TIMEOUT
    return driver


def store_identity(entry: Mapping[str, Any]) -> str:
    """A stable, secret-free id of the store an entry reaches (for name locks)."""
    parts = [str(entry.get(name)) for name in ("type", "user", "host", "port", "bucket")]
    return hashlib.sha256("\x00".join(parts).encode()).hexdigest()
