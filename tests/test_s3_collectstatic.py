"""collectstatic into a bucket: the seed's STATICFILES_STORAGE style, STORAGES, and the manifest."""

from __future__ import annotations

import io
import os
import time
import uuid
import warnings

import boto3
import pytest
from django.contrib.staticfiles.storage import staticfiles_storage
from django.core.management import call_command
from django.test import override_settings

from storages.backends.s3boto import S3BotoStorage
from tests.servers.s3 import create_bucket
from tests.test_s3_backend import fetch


@pytest.fixture(scope="session")
def static_bucket(seaweedfs_server):
    create_bucket(seaweedfs_server, "static")
    return "static"


@pytest.fixture
def static_dir(tmp_path):
    root = tmp_path / "static-src"
    (root / "css").mkdir(parents=True)
    (root / "img").mkdir()
    (root / "css" / "site.css").write_text('body { background: url("../img/logo.png"); }\n')
    (root / "img" / "logo.png").write_bytes(b"\x89PNG not really")
    (root / "app.js").write_text("console.log('hi');\n")
    return root


@pytest.fixture
def location():
    return f"s-{uuid.uuid4().hex}"


def keys(server, bucket, prefix):
    client = boto3.client("s3", **server.boto3_kwargs())
    answer = client.list_objects_v2(Bucket=bucket, Prefix=prefix + "/")
    return sorted(entry["Key"][len(prefix) + 1 :] for entry in answer.get("Contents", ()))


def collect() -> str:
    out = io.StringIO()
    call_command("collectstatic", interactive=False, verbosity=1, stdout=out)
    return out.getvalue()


def test_seed_style_staticfiles_storage_setting(
    seaweedfs_server, static_bucket, static_dir, location
):
    settings = {
        "STATICFILES_STORAGE": "storages.backends.s3boto.S3BotoStorage",
        "STATICFILES_DIRS": [str(static_dir)],
        "AWS_STORAGE_BUCKET_NAME": static_bucket,
        "AWS_S3_ENDPOINT_URL": seaweedfs_server.endpoint_url,
        "AWS_ACCESS_KEY_ID": seaweedfs_server.access_key,
        "AWS_SECRET_ACCESS_KEY": seaweedfs_server.secret_key,
        "AWS_S3_REGION_NAME": "us-east-1",
        "AWS_LOCATION": location,
        "AWS_HEADERS": {"Cache-Control": "max-age=86400"},
    }
    with warnings.catch_warnings(), override_settings(**settings):
        # (Django 5.1+ warns once that storages bridged the legacy setting.)
        warnings.simplefilter("ignore", UserWarning)
        staticfiles_storage.exists("anything")  # resolve the lazy object
        assert type(staticfiles_storage._wrapped) is S3BotoStorage
        # The project's three files and the storages app's own upload script.
        assert "4 static files copied" in collect()
        assert keys(seaweedfs_server, static_bucket, location) == [
            "app.js",
            "css/site.css",
            "img/logo.png",
            "storages/direct_uploads.js",
        ]
        url = staticfiles_storage.url("css/site.css")
        status, body, headers = fetch(url)
        assert status == 200 and b"logo.png" in body
        assert headers.get("Cache-Control") == "max-age=86400"
        # A second run finds every file up to date and copies nothing.
        assert "0 static files copied" in collect()


def test_storages_staticfiles(seaweedfs_server, static_bucket, static_dir, location):
    options = {
        **seaweedfs_server.client_options(),
        "bucket_name": static_bucket,
        "location": location,
    }
    storages = {
        "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
        "staticfiles": {"BACKEND": "storages.backends.s3.S3StaticStorage", "OPTIONS": options},
    }
    with override_settings(STORAGES=storages, STATICFILES_DIRS=[str(static_dir)]):
        assert "4 static files copied" in collect()  # with storages/direct_uploads.js
        url = staticfiles_storage.url("app.js")
        assert url == f"{seaweedfs_server.endpoint_url}/{static_bucket}/{location}/app.js"
        (static_dir / "app.js").write_text("console.log('changed');\n")
        # S3 times have one-second resolution: make the change unmistakably newer.
        later = time.time() + 5
        os.utime(static_dir / "app.js", (later, later))
        assert "1 static file copied" in collect()
        assert staticfiles_storage.open("app.js").read() == b"console.log('changed');\n"


def test_manifest_static_storage(seaweedfs_server, static_bucket, static_dir, location):
    options = {
        **seaweedfs_server.client_options(),
        "bucket_name": static_bucket,
        "location": location,
        "querystring_auth": True,
    }
    storages = {
        "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
        "staticfiles": {
            "BACKEND": "storages.backends.s3boto.S3BotoManifestStaticStorage",
            "OPTIONS": options,
        },
    }
    with override_settings(STORAGES=storages, STATICFILES_DIRS=[str(static_dir)]):
        output = collect()
        assert "4 static files copied" in output and "post-processed" in output
        stored = keys(seaweedfs_server, static_bucket, location)
        assert "staticfiles.json" in stored
        hashed_css = next(k for k in stored if k.startswith("css/site.") and k != "css/site.css")
        hashed_logo = next(k for k in stored if k.startswith("img/logo.") and k != "img/logo.png")
        url = staticfiles_storage.url("css/site.css")
        assert hashed_css in url
        status, body, _ = fetch(url)
        assert status == 200 and hashed_logo.split("/")[-1].encode() in body
    # A fresh storage reads the manifest back from the bucket.
    with override_settings(STORAGES=storages, STATICFILES_DIRS=[str(static_dir)]):
        assert hashed_css in staticfiles_storage.url("css/site.css")
