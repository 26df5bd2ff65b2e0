"""A small project that keeps its uploads and static files in storages' backends.

The storage is chosen by environment so the demo can point it at an embedded
server; with nothing set, everything stays on local disk under ``example/var``.
"""

from __future__ import annotations

import os
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("EXAMPLE_VAR_DIR", BASE_DIR / "var"))
VAR_DIR.mkdir(parents=True, exist_ok=True)  # the SQLite file and local media live here

SECRET_KEY = os.environ.get("EXAMPLE_SECRET_KEY", "example-only-not-a-secret")
DEBUG = os.environ.get("EXAMPLE_DEBUG", "1") == "1"
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    # storages before staticfiles: its collectstatic must win.
    "storages",
    "django.contrib.staticfiles",
    "gallery",
]
MIDDLEWARE = [
    "exampleproject.request_log.RequestSizeLog",
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]
ROOT_URLCONF = "exampleproject.urls"
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ]
        },
    }
]
WSGI_APPLICATION = "exampleproject.wsgi.application"
DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": VAR_DIR / "db.sqlite3"}}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
USE_TZ = True
TIME_ZONE = "UTC"

MEDIA_ROOT = VAR_DIR / "media"
MEDIA_URL = "/media/"
STATIC_ROOT = VAR_DIR / "static"
STATIC_URL = "/static/"

S3_ENDPOINT = os.environ.get("EXAMPLE_S3_ENDPOINT")

if S3_ENDPOINT:
    # The demo's embedded S3 server (SeaweedFS on 127.0.0.1): uploads and static
    # files go to one bucket, under media/ and static/.
    S3_OPTIONS = {
        "endpoint_url": S3_ENDPOINT,
        "access_key": os.environ["EXAMPLE_S3_ACCESS_KEY"],
        "secret_key": os.environ["EXAMPLE_S3_SECRET_KEY"],
        "bucket_name": os.environ.get("EXAMPLE_S3_BUCKET", "example"),
        "region_name": "us-east-1",
    }
    STORAGES = {
        "default": {
            "BACKEND": "storages.backends.s3.S3Storage",
            "OPTIONS": {**S3_OPTIONS, "location": "media"},
        },
        "images": {
            "BACKEND": "storages.backends.s3.S3Storage",
            "OPTIONS": {**S3_OPTIONS, "location": "media"},
        },
        "staticfiles": {
            "BACKEND": "storages.backends.s3.S3ManifestStaticStorage",
            "OPTIONS": {**S3_OPTIONS, "location": "static"},
        },
    }
elif os.environ.get("EXAMPLE_AZURE_CONNECTION_STRING"):
    # Uploads on Azure Blob Storage (an Azurite on 127.0.0.1 in the end-to-end test);
    # static files stay on local disk, served by runserver.
    AZURE_OPTIONS = {
        "connection_string": os.environ["EXAMPLE_AZURE_CONNECTION_STRING"],
        "azure_container": os.environ.get("EXAMPLE_AZURE_CONTAINER", "example"),
        "location": "media",
        "expiration_secs": 3600,
    }
    STORAGES = {
        "default": {
            "BACKEND": "storages.backends.azure_storage.AzureStorage",
            "OPTIONS": AZURE_OPTIONS,
        },
        "images": {
            "BACKEND": "storages.backends.azure_storage.AzureStorage",
            "OPTIONS": AZURE_OPTIONS,
        },
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
elif os.environ.get("EXAMPLE_GCS_ENDPOINT"):
    # Uploads on Google Cloud Storage (a fake-gcs-server on 127.0.0.1 in the end-to-end
    # test: anonymous, so plain URLs); static files stay on local disk.
    from google.auth.credentials import AnonymousCredentials

    GCS_OPTIONS = {
        "bucket_name": os.environ.get("EXAMPLE_GCS_BUCKET", "example"),
        "project_id": "example",
        "credentials": AnonymousCredentials(),
        "api_endpoint": os.environ["EXAMPLE_GCS_ENDPOINT"],
        "custom_endpoint": os.environ["EXAMPLE_GCS_ENDPOINT"] + "/example",
        "querystring_auth": False,
        "location": "media",
    }
    STORAGES = {
        "default": {
            "BACKEND": "storages.backends.gcloud.GoogleCloudStorage",
            "OPTIONS": GCS_OPTIONS,
        },
        "images": {
            "BACKEND": "storages.backends.gcloud.GoogleCloudStorage",
            "OPTIONS": GCS_OPTIONS,
        },
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
else:
    STORAGES = {
        # Uploads keep their names: a new upload of the same name replaces the old one.
        "default": {"BACKEND": "storages.backends.overwrite.OverwriteStorage"},
        # Pictures are named by their real image format.
        "images": {"BACKEND": "storages.backends.image.ImageStorage"},
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.ManifestStaticFilesStorage"},
    }

if os.environ.get("EXAMPLE_LOCAL_STATIC") == "1":
    # Static files from the apps' directories, served by runserver (no collectstatic).
    STORAGES["staticfiles"] = {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}

# The attachment's largest size (the browser sends it straight to the store).
DIRECT_UPLOADS_MAX_SIZE = int(os.environ.get("EXAMPLE_MAX_UPLOAD", 64 * 1024 * 1024))
