"""A django-storages 1.14 project, moved to us unchanged: options, helpers, warnings.

Backend-specific behaviour is in ``test_django_storages_compat_s3.py`` (S3) and
``test_django_storages_compat_remote.py`` (FTP, SFTP); here: what every backend
shares (options as class attributes of a subclass, ``get_default_settings(self)``
overrides), the helpers of ``storages.utils``, and the system check that
announces the overwrite default.
"""

from __future__ import annotations

import io
import uuid

import boto3
import pytest
from django.core import checks
from django.core.exceptions import ImproperlyConfigured, SuspiciousFileOperation
from django.core.files.base import ContentFile
from django.core.files.storage import storages
from django.core.management import call_command
from django.test import override_settings
from django.utils.module_loading import import_string

from storages import utils
from storages.backends.database import DatabaseStorage
from storages.backends.s3 import S3Storage
from tests.servers.s3 import create_bucket

# --- options as class attributes ------------------------------------------------


class MediaStorage(S3Storage):
    """The subclass django-storages' docs show: bucket and prefix as class attributes."""

    bucket_name = "media-bucket"
    location = "media"
    default_acl = "private"
    querystring_expire = 60


@pytest.fixture(scope="module")
def media_bucket(seaweedfs_server):
    create_bucket(seaweedfs_server, "media-bucket")
    create_bucket(seaweedfs_server, "global-bucket")
    return "media-bucket"


def keys(server, bucket: str, prefix: str = "") -> list[str]:
    client = boto3.client("s3", **server.boto3_kwargs())
    listing = client.list_objects_v2(Bucket=bucket, Prefix=prefix)
    return sorted(entry["Key"] for entry in listing.get("Contents", ()))


def test_subclass_attributes_choose_the_bucket_and_prefix(seaweedfs_server, media_bucket):
    overrides = {
        "AWS_STORAGE_BUCKET_NAME": "global-bucket",
        "AWS_LOCATION": "global",
        "AWS_S3_ENDPOINT_URL": seaweedfs_server.endpoint_url,
        "AWS_ACCESS_KEY_ID": seaweedfs_server.access_key,
        "AWS_SECRET_ACCESS_KEY": seaweedfs_server.secret_key,
        "AWS_S3_REGION_NAME": "us-east-1",
    }
    with override_settings(**overrides):
        storage = MediaStorage()
        name = storage.save(f"{uuid.uuid4().hex}.txt", ContentFile(b"to media"))
        assert storage.bucket_name == "media-bucket" and storage.location == "media"
        assert storage.querystring_expire == 60
        assert "X-Amz-Expires=60" in storage.url(name)
    assert f"media/{name}" in keys(seaweedfs_server, "media-bucket", "media/")
    assert keys(seaweedfs_server, "global-bucket") == []


def test_precedence_option_class_attribute_setting_default(settings):
    settings.AWS_STORAGE_BUCKET_NAME = "from-settings"
    settings.AWS_QUERYSTRING_EXPIRE = 99
    storage = MediaStorage(location="from-option")
    assert storage.location == "from-option"  # option beats class attribute
    assert storage.bucket_name == "media-bucket"  # class attribute beats setting
    assert storage.querystring_expire == 60
    assert S3Storage().bucket_name == "from-settings"  # our classes read settings
    assert S3Storage().querystring_auth is True  # and defaults


def test_setting_changes_leave_class_attributes_alone(settings):
    storage = MediaStorage()
    settings.AWS_STORAGE_BUCKET_NAME = "changed"
    settings.AWS_LOCATION = "changed"
    assert (storage.bucket_name, storage.location) == ("media-bucket", "media")


class OldStyleDefaults(S3Storage):
    """django-storages' way: an instance method returning values."""

    def get_default_settings(self):
        defaults = super().get_default_settings()
        defaults["bucket_name"] = "old-style-bucket"
        defaults["gzip_content_types"] = ("text/css", "text/plain")  # a 2-tuple value
        return defaults


def test_get_default_settings_as_an_instance_method(settings):
    settings.AWS_S3_CUSTOM_DOMAIN = "cdn.example.com"
    storage = OldStyleDefaults()
    assert storage.bucket_name == "old-style-bucket"
    assert storage.gzip_content_types == ("text/css", "text/plain")
    assert storage.custom_domain == "cdn.example.com"  # the rest still read settings
    assert OldStyleDefaults(bucket_name="given").bucket_name == "given"
    assert OldStyleDefaults.missing_options({}) == []


@pytest.mark.parametrize(
    ("path", "required", "option", "value"),
    [
        ("storages.backends.s3.S3Storage", {}, "custom_domain", "cdn.example.com"),
        ("storages.backends.database.DatabaseStorage", {}, "db_table", "custom_files"),
        ("storages.backends.ftp.FTPStorage", {}, "location", "ftp://u:p@127.0.0.1:21/x/"),
        ("storages.backends.sftp.SFTPStorage", {}, "root_path", "/srv/media"),
        ("storages.backends.mongodb.GridFSStorage", {"database": "d"}, "bucket", "photos"),
        ("storages.backends.couchdb.CouchDBStorage", {"database": "d"}, "timeout", 5),
        (
            "storages.backends.mosso.CloudFilesStorage",
            {"username": "u", "api_key": "k"},
            "container",
            "media",
        ),
        (
            "storages.backends.mogilefs.MogileFSStorage",
            {"trackers": ["127.0.0.1:7001"]},
            "domain",
            "media",
        ),
    ],
)
def test_every_backend_takes_options_as_class_attributes(path, required, option, value):
    subclass = type("Custom", (import_string(path),), {option: value, "__module__": __name__})
    assert getattr(subclass(**required), option) == value
    assert option not in subclass.missing_options(required)


def test_database_class_attribute_beats_db_files(settings):
    settings.DB_FILES = {"db_table": "from_settings"}
    custom = type("Custom", (DatabaseStorage,), {"db_table": "from_class"})
    assert custom().db_table == "from_class"
    assert DatabaseStorage().db_table == "from_settings"


# --- storages.utils helpers ------------------------------------------------------


def test_utils_helpers_behave_as_django_storages():
    assert utils.setting("NOT_A_SETTING", "fallback") == "fallback"
    assert utils.clean_name("a\\b\\c.txt") == "a/b/c.txt"
    assert utils.clean_name("a/b/") == "a/b/"
    assert utils.clean_name(".") == ""
    assert utils.safe_join("media", "a/b.txt") == "media/a/b.txt"
    assert utils.safe_join("", "a.txt") == "a.txt"
    for caught in (ValueError, SuspiciousFileOperation):
        with pytest.raises(caught):
            utils.safe_join("media", "../escape.txt")
    assert utils.to_bytes("é") == "é".encode()
    array = bytearray(b"x")
    assert utils.to_bytes(array) is array
    assert utils.to_bytes(3) == b"3"


def test_lookup_env_and_check_location(monkeypatch):
    monkeypatch.setenv("SECOND", "two")
    monkeypatch.setenv("FIRST", "")
    assert utils.lookup_env(["FIRST", "SECOND"]) == "two"
    assert utils.lookup_env(["NOT_SET_ANYWHERE"]) is None

    class Located:
        location = "/media"

    with pytest.raises(ImproperlyConfigured, match="'media' instead"):
        utils.check_location(Located())
    Located.location = "media"
    utils.check_location(Located())


def test_get_available_overwrite_name():
    assert utils.get_available_overwrite_name("a/name.txt", None) == "a/name.txt"
    assert utils.get_available_overwrite_name("a/longname.txt", 10) == "a/long.txt"
    with pytest.raises(SuspiciousFileOperation, match="truncate away"):
        utils.get_available_overwrite_name("a/b.txt", 3)
    with pytest.raises(SuspiciousFileOperation, match="traversal"):
        utils.get_available_overwrite_name("../a/b.txt", None)


def test_is_seekable_and_read_bytes_wrapper():
    assert utils.is_seekable(io.BytesIO(b"x"))
    assert utils.is_seekable(object())  # no seekable(): assumed, as django-storages

    class Pipe(io.RawIOBase):
        def seekable(self):
            return False

    assert not utils.is_seekable(Pipe())
    wrapped = utils.ReadBytesWrapper(io.StringIO("héllo"))
    assert wrapped.read(2) == b"h\xc3\xa9"
    assert wrapped.read() == b"llo"
    assert utils.ReadBytesWrapper(io.StringIO("é"), encoding="latin-1").read() == b"\xe9"
    assert utils.ReadBytesWrapper(io.BytesIO(b"raw")).read() == b"raw"
    assert wrapped.readable()
    wrapped.close()
    assert wrapped.closed


# --- the overwrite default, announced --------------------------------------------


def w020(**overrides):
    with override_settings(**overrides):
        storages._backends = None  # Django caches the configured backends
        try:
            found = checks.run_checks(tags=[checks.Tags.compatibility])
        finally:
            storages._backends = None
    return [message for message in found if message.id == "storages.W020"]


S3_DEFAULT = {
    "default": {"BACKEND": "storages.backends.s3.S3Storage", "OPTIONS": {"bucket_name": "b"}},
    "staticfiles": {
        "BACKEND": "storages.backends.s3.S3StaticStorage",
        "OPTIONS": {"bucket_name": "static"},
    },
}


def test_overwrite_warning_for_a_django_storages_project():
    warnings = w020(STORAGES=S3_DEFAULT, AWS_S3_REGION_NAME="eu-west-1")
    assert len(warnings) == 1  # the static storage replaces files, as theirs did
    assert "STORAGES['default']" in warnings[0].msg
    assert "AWS_S3_FILE_OVERWRITE" in warnings[0].hint


@pytest.mark.parametrize(
    "overrides",
    [
        {"AWS_S3_FILE_OVERWRITE": False},  # chosen explicitly
        {"AWS_S3_FILE_OVERWRITE": True},
    ],
)
def test_overwrite_warning_goes_when_the_project_chose(overrides):
    assert w020(STORAGES=S3_DEFAULT, AWS_S3_REGION_NAME="eu-west-1", **overrides) == []


def test_overwrite_warning_is_silenced_the_django_way():
    def check_output(**overrides) -> str:
        out, err = io.StringIO(), io.StringIO()
        with override_settings(STORAGES=S3_DEFAULT, AWS_S3_REGION_NAME="eu-west-1", **overrides):
            storages._backends = None
            try:
                call_command("check", stdout=out, stderr=err)
            finally:
                storages._backends = None
        return out.getvalue() + err.getvalue()

    assert "storages.W020" in check_output()
    assert "storages.W020" not in check_output(SILENCED_SYSTEM_CHECKS=["storages.W020"])


def test_no_overwrite_warning_for_the_original_settings_or_a_chosen_option():
    assert w020(STORAGES=S3_DEFAULT) == []  # only the 2012 names: not their project
    chosen = {
        **S3_DEFAULT,
        "default": {
            "BACKEND": "storages.backends.s3.S3Storage",
            "OPTIONS": {"bucket_name": "b", "file_overwrite": False},
        },
    }
    assert w020(STORAGES=chosen, AWS_S3_REGION_NAME="eu-west-1") == []
