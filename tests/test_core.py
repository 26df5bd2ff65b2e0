"""The shared core: path safety, option handling, legacy settings, system checks."""

from __future__ import annotations

import os
import pickle
import re
import subprocess
import sys
import warnings

import django
import pytest
from django.core import checks
from django.core.exceptions import ImproperlyConfigured, SuspiciousFileOperation
from django.core.files.storage import default_storage, storages
from django.test import override_settings

from storages.base import BaseStorage
from storages.utils import clean_name, safe_join
from tests.contract import legacy_overrides


class TestSafeJoin:
    @pytest.mark.parametrize(
        ("location", "name", "expected"),
        [
            ("media", "a/b.txt", "media/a/b.txt"),
            ("media/", "a/./b.txt", "media/a/b.txt"),
            ("", "a/b.txt", "a/b.txt"),
            ("", "a/../b.txt", "b.txt"),
            ("/srv/media", "x.txt", "/srv/media/x.txt"),
            ("/", "x.txt", "/x.txt"),
            ("media", "", "media"),
            ("media", "dir\\file.txt", "media/dir/file.txt"),
            ("", "ünï/名前.txt", "ünï/名前.txt"),
        ],
    )
    def test_joins_inside(self, location, name, expected):
        assert safe_join(location, name) == expected

    @pytest.mark.parametrize("location", ["", "media", "/srv/media", "/"])
    @pytest.mark.parametrize(
        "name",
        ["..", "../x", "a/../../x", "/etc/passwd", "..\\x", "a\\..\\..\\x", "\\x", "x\x00y"],
    )
    def test_refuses_escape(self, location, name):
        with pytest.raises(SuspiciousFileOperation):
            safe_join(location, name)

    def test_sibling_with_common_prefix_is_outside(self):
        with pytest.raises(SuspiciousFileOperation):
            safe_join("media", "../media-private/x")

    def test_fast_path_agrees_with_full_cleaning(self):
        # Every name of up to 6 characters over an alphabet of the tricky ones:
        # whenever the fast test says "clean", full cleaning leaves it unchanged.
        from itertools import product

        from storages.utils import _clean_relative, is_clean

        alphabet = ["a", ".", "/", "\\", "\x00", "é"]
        checked = 0
        for length in range(7):
            for letters in product(alphabet, repeat=length):
                name = "".join(letters)
                if is_clean(name):
                    assert _clean_relative((name,)) == name, name
                    checked += 1
        assert checked > 1000

    def test_clean_name_keeps_trailing_slash(self):
        assert clean_name("a//b/") == "a/b/"
        assert clean_name("./") == ""
        assert clean_name("a\\b") == "a/b"


class DemoStorage(BaseStorage):
    secret_options = ("secret_key",)
    required_options = ("bucket_name",)
    transient_attributes = ("_client",)

    @classmethod
    def get_default_settings(cls):
        return {
            "bucket_name": ("DEMO_BUCKET", None),
            "secret_key": ("DEMO_SECRET", None),
            "location": ("DEMO_LOCATION", ""),
            "headers": (None, {}),
        }

    def configure(self):
        self.configured_location = self.location


class TestBaseStorage:
    def test_option_beats_setting_beats_default(self, settings):
        settings.DEMO_BUCKET = "from-settings"
        storage = DemoStorage(location="from-option")
        assert storage.bucket_name == "from-settings"
        assert storage.location == "from-option"
        assert storage.headers == {}

    def test_mutable_defaults_are_not_shared(self):
        first, second = DemoStorage(), DemoStorage()
        first.headers["X"] = "1"
        assert second.headers == {}

    def test_unknown_option_is_named(self):
        with pytest.raises(ImproperlyConfigured, match="DemoStorage has no option 'buckett'"):
            DemoStorage(buckett="x")

    def test_settings_are_read_lazily_and_follow_changes(self, settings):
        storage = DemoStorage()
        assert storage.location == ""
        settings.DEMO_LOCATION = "later"
        assert storage.location == "later"
        assert storage.configured_location == "later"

    def test_explicit_option_is_not_overridden_by_a_setting_change(self, settings):
        storage = DemoStorage(location="mine")
        settings.DEMO_LOCATION = "theirs"
        assert storage.location == "mine"

    def test_secrets_masked_in_repr(self):
        storage = DemoStorage(secret_key="wJalrXUtnFEMIK7MDENGbPxRfiCYEXAMPLEKEY")
        assert "wJalrXUtnFEMI" not in repr(storage)
        assert "secret_key='********'" in repr(storage)

    def test_pickle_drops_connections_and_keeps_options(self):
        storage = DemoStorage(bucket_name="b")
        storage._client = object()
        revived = pickle.loads(pickle.dumps(storage))
        assert revived.bucket_name == "b"
        assert not hasattr(revived, "_client")

    def test_deconstruct(self):
        path, args, kwargs = DemoStorage(bucket_name="b").deconstruct()
        assert path == "tests.test_core.DemoStorage"
        assert (args, kwargs) == ((), {"bucket_name": "b"})


LEGACY_NAME = "storages.backends.overwrite.OverwriteStorage"


class TestLegacySettings:
    def test_default_file_storage_configures_default_storage(self, tmp_path):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            legacy = legacy_overrides(DEFAULT_FILE_STORAGE=LEGACY_NAME, MEDIA_ROOT=str(tmp_path))
            with override_settings(**legacy):
                assert type(storages["default"]).__name__ == "OverwriteStorage"
                assert default_storage.save("a.txt", _content(b"1")) == "a.txt"
                assert default_storage.save("a.txt", _content(b"2")) == "a.txt"
        assert type(storages["default"]).__name__ == "FileSystemStorage"

    def test_staticfiles_storage_configures_collectstatic(self, tmp_path):
        from django.contrib.staticfiles.storage import staticfiles_storage

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            legacy = legacy_overrides(STATICFILES_STORAGE=LEGACY_NAME, STATIC_ROOT=str(tmp_path))
            with override_settings(**legacy):
                assert type(staticfiles_storage._wrapped).__name__ in ("OverwriteStorage", "object")
                assert staticfiles_storage.save("s.css", _content(b"x")) == "s.css"
                assert type(staticfiles_storage._wrapped).__name__ == "OverwriteStorage"

    def test_warns_once_per_setting(self, tmp_path):
        from storages import legacy

        if django.VERSION < (5, 1):  # Django 4.2 maps and warns about these itself
            deprecated = pytest.warns(
                (DeprecationWarning, PendingDeprecationWarning), match="DEFAULT_FILE_STORAGE"
            )
            legacy_setting = override_settings(
                **legacy_overrides(DEFAULT_FILE_STORAGE=LEGACY_NAME, MEDIA_ROOT=str(tmp_path))
            )
            with deprecated, legacy_setting:
                assert type(storages["default"]).__name__ == "OverwriteStorage"
            return
        legacy._warned.discard("DEFAULT_FILE_STORAGE")
        legacy_setting = override_settings(
            DEFAULT_FILE_STORAGE=LEGACY_NAME, MEDIA_ROOT=str(tmp_path)
        )
        warned = pytest.warns(legacy.LegacyStorageSettingWarning, match="DEFAULT_FILE_STORAGE")
        with warned, legacy_setting:
            storages["default"]
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            with override_settings(DEFAULT_FILE_STORAGE=LEGACY_NAME, MEDIA_ROOT=str(tmp_path)):
                storages["default"]

    def test_settings_module_with_legacy_names(self, tmp_path):
        result = run_project(tmp_path, f"DEFAULT_FILE_STORAGE = {LEGACY_NAME!r}\n")
        assert result.returncode == 0, result.stderr
        assert result.stdout.strip() == "OverwriteStorage"

    def test_both_styles_at_once_is_an_error(self, tmp_path):
        both = (
            f"DEFAULT_FILE_STORAGE = {LEGACY_NAME!r}\n"
            f"STORAGES = {{'default': {{'BACKEND': {LEGACY_NAME!r}}}}}\n"
        )
        result = run_project(tmp_path, both)
        assert result.returncode != 0
        assert "ImproperlyConfigured" in result.stderr
        assert re.search(r"mutually exclusive|both set", result.stderr)


def run_project(tmp_path, extra_settings: str) -> subprocess.CompletedProcess:
    """Start Django with a settings module of our own and report the default storage."""
    (tmp_path / "legacy_settings.py").write_text(
        "SECRET_KEY = 'x'\n"
        "INSTALLED_APPS = ['django.contrib.staticfiles', 'storages']\n"
        f"MEDIA_ROOT = {str(tmp_path / 'media')!r}\n" + extra_settings
    )
    code = (
        "import django; django.setup()\n"
        "from django.core.files.storage import default_storage\n"
        "default_storage.exists('x'); print(type(default_storage._wrapped).__name__)\n"
    )
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "legacy_settings",
        "PYTHONPATH": os.pathsep.join([str(tmp_path), os.getcwd()]),
        "PYTHONWARNINGS": "ignore",
    }
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=60
    )


def _content(data: bytes):
    from django.core.files.base import ContentFile

    return ContentFile(data)


class TestSystemChecks:
    def run(self, storages_setting):
        from storages.checks import check_storages

        with override_settings(STORAGES=storages_setting):
            return check_storages()

    def test_clean_configuration_passes(self):
        assert self.run({"default": {"BACKEND": LEGACY_NAME}}) == []

    def test_unknown_backend_path(self):
        errors = self.run({"default": {"BACKEND": "storages.backends.nothere.NoStorage"}})
        assert [e.id for e in errors] == ["storages.E001"]
        assert "storages.backends.nothere.NoStorage" in errors[0].msg

    def test_missing_required_setting(self):
        errors = self.run({"default": {"BACKEND": "tests.test_core.DemoStorage"}})
        assert [e.id for e in errors] == ["storages.E002"]
        assert "'bucket_name'" in errors[0].msg and "DEMO_BUCKET" in errors[0].msg

    def test_unknown_option(self):
        params = {"BACKEND": "tests.test_core.DemoStorage", "OPTIONS": {"bucket": "x"}}
        errors = self.run({"default": params})
        assert [e.id for e in errors] == ["storages.E004"]

    def test_missing_extra_is_named(self, monkeypatch):
        import sys

        monkeypatch.setitem(sys.modules, "tests.fake_backend", None)
        from storages.utils import require

        with pytest.raises(ImproperlyConfigured, match=r"pip install 'storages\[s3\]'"):
            require("a_module_that_is_not_installed", "s3")

    def test_registered_with_django(self):
        assert "check_storages" in {c.__name__ for c in checks.registry.registry.get_checks()}
