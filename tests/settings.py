"""Settings for the test suite; each test overrides the storage it exercises."""

import tempfile

SECRET_KEY = "tests-only-not-secret"
DEBUG = False
USE_TZ = True
INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    # storages before staticfiles: its collectstatic must win.
    "storages",
    "django.contrib.staticfiles",
    "tests.testapp",
]
DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}}
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
MEDIA_ROOT = tempfile.mkdtemp(prefix="storages-tests-media-")
MEDIA_URL = "/media/"
STATIC_URL = "/static/"
STATIC_ROOT = tempfile.mkdtemp(prefix="storages-tests-static-")
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
