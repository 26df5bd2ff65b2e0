"""The settings machinery every remote backend shares.

A backend declares its options once, in :meth:`BaseStorage.get_default_settings`,
as ``option -> (GLOBAL_SETTING_NAME or None, default)``. Constructor keyword
arguments (which is what ``STORAGES[alias]["OPTIONS"]`` becomes) win over class
attributes of a user's subclass (``bucket_name = "media"``, as django-storages
reads them), which win over global settings, which win over defaults. Nothing
is read at import time.

A subclass may also override ``get_default_settings(self)`` the django-storages
way: an instance method returning ``option -> value`` (starting from
``super().get_default_settings()``); the values it sets count as defaults.
"""

from __future__ import annotations

import copy
import inspect
import pathlib
import posixpath
from typing import Any, ClassVar

from django.core.exceptions import ImproperlyConfigured, SuspiciousFileOperation
from django.core.files.storage import Storage
from django.core.files.utils import validate_file_name
from django.core.signals import setting_changed
from django.utils.deconstruct import deconstructible

from storages.aio.mixin import AsyncStorageMixin
from storages.utils import name_as_given, setting

SettingSpec = tuple[str | None, Any]

MASK = "********"

NOT_SET = object()


def class_option(storage_cls: type, option: str) -> Any:
    """The value a user's subclass gives ``option`` as a class attribute, or ``NOT_SET``.

    Only classes outside this package count (ours declare options in
    ``get_default_settings``), and methods and properties are not values.
    """
    for klass in storage_cls.__mro__:
        if klass.__module__.split(".")[0] == "storages":
            continue
        value = vars(klass).get(option, NOT_SET)
        if value is NOT_SET:
            continue
        if inspect.isfunction(value) or isinstance(value, (property, classmethod, staticmethod)):
            return NOT_SET
        return value
    return NOT_SET


def unknown_options(storage_cls: type, options: dict[str, Any], known: dict[str, Any]) -> None:
    """Raise ImproperlyConfigured naming every option the backend does not have."""
    unknown = sorted(set(options) - set(known))
    if unknown:
        raise ImproperlyConfigured(
            f"{storage_cls.__name__} has no option {', '.join(map(repr, unknown))}; "
            f"known options: {', '.join(sorted(known))}."
        )


@deconstructible
class BaseStorage(AsyncStorageMixin, Storage):
    """A Storage whose attributes come from options, then settings, then defaults.

    Its async twins (``asave``, ``aopen``, ...) come from ``AsyncStorageMixin``.
    """

    #: Options whose values are secrets: masked in ``repr`` and never logged.
    secret_options: ClassVar[tuple[str, ...]] = ()
    #: Options that must end up with a value; the system check reports them.
    required_options: ClassVar[tuple[str, ...]] = ()
    #: Attributes holding live connections; dropped when the storage is pickled.
    transient_attributes: ClassVar[tuple[str, ...]] = ()
    #: The option that makes a save replace a file of the same name (None: none does).
    overwrite_option: ClassVar[str | None] = None

    def __init__(self, **options: Any) -> None:
        unknown_options(type(self), options, self.option_table())
        self._options = options
        self._apply_settings()
        setting_changed.connect(self._on_setting_changed)

    @classmethod
    def get_default_settings(cls) -> dict[str, SettingSpec]:
        """``option -> (global setting name or None, default)``."""
        return {}

    def get_available_name(self, name: str, max_length: int | None = None) -> str:
        if self.overwrite_option and getattr(self, self.overwrite_option):
            # The save replaces: keep the name (as the store will hold it).
            name = self.replaced_name(name)
            validate_file_name(name, allow_relative_path=True)
            return name_as_given(name, max_length)
        return super().get_available_name(name, max_length=max_length)

    def _next_candidate(self, name: str, max_length: int | None) -> tuple[str, str]:
        """``(base, candidate)``: the next name to try for ``name``, as Django picks it.

        ``get_alternative_name`` of the name's root, the root cut so the
        candidate fits ``max_length``; ``base`` is the (cut) name later
        candidates are made from. No request: for stores with a create-only
        upload, which is the existence check.
        """
        directory, file_name = posixpath.split(name)
        extension = "".join(pathlib.PurePosixPath(file_name).suffixes)
        root = file_name.removesuffix(extension)
        candidate = posixpath.join(directory, self.get_alternative_name(root, extension))
        excess = len(candidate) - max_length if max_length is not None else 0
        if excess > 0:
            root = root[:-excess]
            if not root:
                raise SuspiciousFileOperation(
                    f"Storage can not find an available filename for {name!r}. Please make "
                    "sure that the corresponding file field allows sufficient max_length."
                )
            candidate = posixpath.join(directory, self.get_alternative_name(root, extension))
        return posixpath.join(directory, root + extension), candidate

    def replaced_name(self, name: str) -> str:
        """The name a replacing save stores ``name`` under (a store may normalise it)."""
        return name

    @classmethod
    def option_table(cls) -> dict[str, SettingSpec]:
        """``option -> (setting or None, default)``, whichever way the class declares it."""
        declared = _classmethod_settings(cls)
        if isinstance(inspect.getattr_static(cls, "get_default_settings"), classmethod):
            return declared
        # A django-storages-style override: an instance method giving values.
        try:
            given = cls.get_default_settings(cls.__new__(cls))
        except Exception:  # it needs a configured instance: keep what we declare
            return declared
        return {
            option: value if declared.get(option) == value else (None, value)
            for option, value in given.items()
        }

    @classmethod
    def resolve_options(cls, options: dict[str, Any]) -> dict[str, Any]:
        """The effective value of every option, without building a storage."""
        resolved = {}
        for option, (setting_name, default) in cls.option_table().items():
            if option in options:
                resolved[option] = options[option]
            elif (declared := class_option(cls, option)) is not NOT_SET:
                resolved[option] = copy.copy(declared)
            elif setting_name is not None:
                resolved[option] = setting(setting_name, copy.copy(default))
            else:
                resolved[option] = copy.copy(default)
        return resolved

    @classmethod
    def missing_options(cls, options: dict[str, Any]) -> list[str]:
        """Required options that have no value once settings are applied."""
        resolved = cls.resolve_options(options)
        return [name for name in cls.required_options if resolved.get(name) in (None, "")]

    def _apply_settings(self) -> None:
        for option, value in self.resolve_options(self._options).items():
            setattr(self, option, value)
        self._reset_connection()
        self.configure()

    def configure(self) -> None:
        """Validate and derive attributes once options are set (override in backends)."""

    def _reset_connection(self) -> None:
        for name in self.transient_attributes:
            self.__dict__.pop(name, None)

    def _on_setting_changed(self, *, setting: str, **kwargs: Any) -> None:
        sourced = {
            name
            for option, (name, _default) in self.option_table().items()
            if option not in self._options and class_option(type(self), option) is NOT_SET
        }
        if setting in sourced:
            self._apply_settings()

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        for name in self.transient_attributes:
            state.pop(name, None)
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        setting_changed.connect(self._on_setting_changed)

    def __repr__(self) -> str:
        shown = [
            f"{option}={self._shown_option(option, getattr(self, option, None))!r}"
            for option in self.option_table()
        ]
        return f"<{type(self).__name__} {' '.join(shown)}>"

    def _shown_option(self, option: str, value: Any) -> Any:
        """An option's value as ``repr`` shows it: secrets masked (a store may mask more)."""
        return MASK if option in self.secret_options and value else value


def _classmethod_settings(storage_cls: type) -> dict[str, SettingSpec]:
    """What the nearest ``get_default_settings`` classmethod (ours) declares."""
    for klass in storage_cls.__mro__:
        method = vars(klass).get("get_default_settings")
        if isinstance(method, classmethod):
            return method.__func__(storage_cls)
    return {}
