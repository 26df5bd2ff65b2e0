"""A project written for django-storages 1.14.6's S3 backend, run on ours unchanged.

Configured the ways django-storages documents (global ``AWS_*`` settings with
their fallbacks and environment variables, ``STORAGES`` options, subclasses
with class attributes, ``storages.backends.s3boto3`` paths), against the real
SeaweedFS and moto servers. What stays deliberately different (overwrite off
by default, errors as ``OSError`` subclasses, ``.gz`` names not marked gzip) is
not tested here.
"""

from __future__ import annotations

import pickle
import urllib.error
import urllib.parse
import urllib.request
import uuid

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from django.core.exceptions import ImproperlyConfigured
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage, storages
from django.test import override_settings

from storages.backends import s3 as s3_package
from storages.backends.s3 import signing as s3_signing
from storages.backends.s3boto3 import (
    S3Boto3Storage,
    S3Boto3StorageFile,
    S3ManifestStaticStorage,
    S3StaticStorage,
)
from tests.contract import legacy_overrides
from tests.servers.s3 import create_bucket, watched_sends

MIB = 1024 * 1024


def django_storages_settings(server, bucket, location):
    """The global settings a django-storages project has for this server."""
    return {
        "AWS_STORAGE_BUCKET_NAME": bucket,
        "AWS_S3_ACCESS_KEY_ID": server.access_key,
        "AWS_S3_SECRET_ACCESS_KEY": server.secret_key,
        "AWS_S3_ENDPOINT_URL": server.endpoint_url,
        "AWS_S3_REGION_NAME": "us-east-1",
        "AWS_LOCATION": location,
    }


def raw_client(server):
    return boto3.client("s3", **server.boto3_kwargs())


def head(server, storage, name):
    return raw_client(server).head_object(Bucket=storage.bucket_name, Key=storage._key(name))


def fetch(url):
    try:
        with urllib.request.urlopen(url, timeout=10) as answer:
            return answer.status, answer.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


@pytest.fixture
def location():
    return f"compat-{uuid.uuid4().hex[:12]}"


# --- import paths -----------------------------------------------------------------


def test_default_file_storage_s3boto3_path_with_global_settings(
    seaweedfs_server, seaweedfs_bucket, location
):
    overrides = legacy_overrides(
        DEFAULT_FILE_STORAGE="storages.backends.s3boto3.S3Boto3Storage",
        **django_storages_settings(seaweedfs_server, seaweedfs_bucket, location),
    )
    with override_settings(**overrides):
        name = default_storage.save("reports/q1.txt", ContentFile(b"quarter"))
        assert type(default_storage._wrapped) is S3Boto3Storage
        assert default_storage.open(name).read() == b"quarter"
        stored = head(seaweedfs_server, default_storage._wrapped, name)
        assert stored["ContentLength"] == 7
        path, args, kwargs = default_storage._wrapped.deconstruct()
    assert path == "storages.backends.s3boto3.S3Boto3Storage"
    assert (args, kwargs) == ((), {})


def test_s3boto3_and_s3_modules_export_what_projects_import():
    assert S3Boto3StorageFile is s3_package.S3File
    for name in ("S3Storage", "S3StaticStorage", "S3ManifestStaticStorage", "S3File"):
        assert hasattr(s3_package, name)
    assert issubclass(S3Boto3Storage, s3_package.S3Storage)
    assert S3StaticStorage.__name__ == "S3StaticStorage"
    assert issubclass(S3ManifestStaticStorage, s3_package.S3ManifestStaticStorage)
    static = S3StaticStorage(bucket_name="static-bucket")
    assert static.deconstruct()[0] == "storages.backends.s3boto3.S3StaticStorage"
    assert static.querystring_auth is False
    assert "X-Amz" not in static.url("app.css")


# --- credentials: django-storages' settings, fallbacks and environment --------------


def test_s3_specific_key_settings_win_over_the_generic_ones(
    seaweedfs_server, seaweedfs_bucket, location
):
    """SeaweedFS checks signatures: only the right pair of keys can save."""
    settings = django_storages_settings(seaweedfs_server, seaweedfs_bucket, location)
    with override_settings(
        **settings, AWS_ACCESS_KEY_ID="wrong-key", AWS_SECRET_ACCESS_KEY="wrong-secret"
    ):
        storage = S3Boto3Storage()
        assert storage.access_key == seaweedfs_server.access_key
        assert storage.save("a.txt", ContentFile(b"a")) == "a.txt"
    generic = {
        name: value
        for name, value in settings.items()
        if name not in ("AWS_S3_ACCESS_KEY_ID", "AWS_S3_SECRET_ACCESS_KEY")
    }
    with override_settings(
        **generic,
        AWS_ACCESS_KEY_ID=seaweedfs_server.access_key,
        AWS_SECRET_ACCESS_KEY=seaweedfs_server.secret_key,
    ):
        storage = S3Boto3Storage()
        assert storage.exists("a.txt")
        # A setting changed later is read again, as for the option's own setting.
        with override_settings(AWS_SECRET_ACCESS_KEY="changed-secret"):
            assert storage.secret_key == "changed-secret"
        assert storage.secret_key == seaweedfs_server.secret_key


def test_keys_from_the_environment_in_django_storages_order(
    seaweedfs_server, seaweedfs_bucket, location, monkeypatch
):
    settings = django_storages_settings(seaweedfs_server, seaweedfs_bucket, location)
    del settings["AWS_S3_ACCESS_KEY_ID"], settings["AWS_S3_SECRET_ACCESS_KEY"]
    monkeypatch.setenv("AWS_S3_ACCESS_KEY_ID", seaweedfs_server.access_key)
    monkeypatch.setenv("AWS_S3_SECRET_ACCESS_KEY", seaweedfs_server.secret_key)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "env-wrong-key")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "env-wrong-secret")
    with override_settings(**settings):
        storage = S3Boto3Storage()
        assert storage.save("env.txt", ContentFile(b"e")) == "env.txt"
        # A setting beats the environment.
        with override_settings(AWS_ACCESS_KEY_ID="setting-key"):
            assert S3Boto3Storage().access_key == "setting-key"


def test_session_token_settings_and_environment_order(monkeypatch):
    monkeypatch.setenv("AWS_SECURITY_TOKEN", "env-security")
    assert S3Boto3Storage(bucket_name="b").security_token == "env-security"
    monkeypatch.setenv("AWS_SESSION_TOKEN", "env-session")
    assert S3Boto3Storage(bucket_name="b").security_token == "env-session"
    with override_settings(AWS_SECURITY_TOKEN="setting-security"):
        assert S3Boto3Storage(bucket_name="b").security_token == "setting-security"
        with override_settings(AWS_SESSION_TOKEN="setting-session"):
            storage = S3Boto3Storage(bucket_name="b", access_key="AK", secret_key="SK")
            assert storage.security_token == "setting-session"
            storage.connection  # noqa: B018 - the client carries the token
            assert storage._session.get_credentials().token == "setting-session"
            assert "setting-session" not in repr(storage)


def test_session_profile_from_the_environment_is_used(
    seaweedfs_server, seaweedfs_bucket, location, tmp_path, monkeypatch
):
    credentials = tmp_path / "credentials"
    credentials.write_text(
        f"[seaweed]\naws_access_key_id = {seaweedfs_server.access_key}\n"
        f"aws_secret_access_key = {seaweedfs_server.secret_key}\n"
    )
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(credentials))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    monkeypatch.setenv("AWS_S3_SESSION_PROFILE", "seaweed")
    # Keys in the environment give way to the profile, as in django-storages.
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "env-wrong-key")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "env-wrong-secret")
    settings = django_storages_settings(seaweedfs_server, seaweedfs_bucket, location)
    del settings["AWS_S3_ACCESS_KEY_ID"], settings["AWS_S3_SECRET_ACCESS_KEY"]
    with override_settings(**settings):
        storage = S3Boto3Storage()
        assert storage.session_profile == "seaweed"
        assert storage.save("profile.txt", ContentFile(b"p")) == "profile.txt"
        with pytest.raises(ImproperlyConfigured, match="AWS_S3_SESSION_PROFILE"):
            S3Boto3Storage(access_key="AK", secret_key="SK")


# --- options django-storages documents -----------------------------------------------


def test_every_documented_option_is_accepted_in_storages_options(seaweed_options):
    from boto3.s3.transfer import TransferConfig

    options = {
        **seaweed_options,
        "security_token": None,
        "object_parameters": {"CacheControl": "max-age=60"},
        "default_acl": None,
        "querystring_auth": True,
        "querystring_expire": 120,
        "max_memory_size": 0,
        "file_overwrite": True,
        "gzip": False,
        "gzip_content_types": ("text/css",),
        "use_ssl": True,
        "verify": None,
        "addressing_style": "path",
        "proxies": None,
        "signature_version": "s3v4",
        "transfer_config": TransferConfig(use_threads=False),
        "client_config": Config(retries={"max_attempts": 2}),
        "use_threads": False,
        "file_name_charset": "utf-8",
        "custom_domain": None,
        "url_protocol": "https:",
        "cloudfront_key_id": None,
        "cloudfront_key": None,
        "cloudfront_signer": None,
    }
    backend = {"BACKEND": "storages.backends.s3boto3.S3Boto3Storage", "OPTIONS": options}
    with override_settings(STORAGES={"default": backend}):
        storage = storages["default"]
        name = storage.save("opts.txt", ContentFile(b"o"))
        assert storage.open(name).read() == b"o"
        assert storage.transfer.concurrency == 1
        assert "X-Amz-Expires=120" in storage.url(name)
        assert pickle.loads(pickle.dumps(storage)).open(name).read() == b"o"


def test_subclass_class_attributes_as_django_storages_reads_them(
    seaweedfs_server, seaweedfs_bucket, location
):
    class MediaStorage(S3Boto3Storage):
        bucket_name = seaweedfs_bucket
        location = "ignored-by-option"
        default_content_type = "application/x-media"
        file_overwrite = True
        querystring_auth = False
        # django-storages' deprecated class attribute for client_config.
        config = Config(signature_version="s3v4", s3={"addressing_style": "path"})

    settings = django_storages_settings(seaweedfs_server, "not-this-bucket", "not-this")
    with override_settings(**settings):
        storage = MediaStorage(location=location)
        assert storage.bucket_name == seaweedfs_bucket and storage.location == location
        first = storage.save("blob", ContentFile(b"1"))
        assert storage.save("blob", ContentFile(b"2")) == first == "blob"
        assert head(seaweedfs_server, storage, "blob")["ContentType"] == "application/x-media"
        assert (
            storage.url("blob")
            == f"{seaweedfs_server.endpoint_url}/{seaweedfs_bucket}/{location}/blob"
        )
        assert storage.connection.meta.config.s3 == {"addressing_style": "path"}


def test_client_config_decides_what_it_sets(seaweed_options):
    storage = S3Boto3Storage(**seaweed_options, client_config=Config(signature_version="s3"))
    url = storage.url("legacy.txt")
    assert "AWSAccessKeyId=" in url and "X-Amz-Algorithm" not in url


def test_get_object_parameters_override_calling_super(seaweedfs_server, seaweed_options):
    class DownloadStorage(S3Boto3Storage):
        def get_object_parameters(self, name):
            params = super().get_object_parameters(name)
            params["ContentDisposition"] = f'attachment; filename="{name.rsplit("/", 1)[-1]}"'
            return params

    storage = DownloadStorage(
        **seaweed_options, object_parameters={"CacheControl": "max-age=86400"}
    )
    name = storage.save("files/report.pdf", ContentFile(b"%PDF"))
    stored = head(seaweedfs_server, storage, name)
    assert stored["CacheControl"] == "max-age=86400"
    assert stored["ContentDisposition"] == 'attachment; filename="report.pdf"'
    assert stored["ContentType"] == "application/pdf"

    # The user's own dict, without super(): the global parameters are not added.
    class OwnParameters(S3Boto3Storage):
        def get_object_parameters(self, name):
            return {"ContentLanguage": "fr"}

    own = OwnParameters(**seaweed_options, object_parameters={"CacheControl": "no-cache"})
    stored = head(seaweedfs_server, own, own.save("fr.txt", ContentFile(b"bonjour")))
    assert stored["ContentLanguage"] == "fr" and "CacheControl" not in stored


# --- URLs ---------------------------------------------------------------------------


class RecordingSigner:
    def __init__(self):
        self.calls = []

    def generate_presigned_url(self, url, date_less_than=None):
        self.calls.append((url, date_less_than))
        return url + ("&" if "?" in url else "?") + "Signature=recorded"


def test_cloudfront_signer_option_and_querystring_auth(seaweed_options):
    signer = RecordingSigner()
    storage = S3Boto3Storage(
        **seaweed_options, custom_domain="cdn.example.com", cloudfront_signer=signer
    )
    url = storage.url("a b.jpg", parameters={"response-content-disposition": "inline"})
    resource = f"https://cdn.example.com/{storage.location}/a%20b.jpg"
    assert url == f"{resource}?response-content-disposition=inline&Signature=recorded"
    assert signer.calls[0][0] == f"{resource}?response-content-disposition=inline"
    unsigned = S3Boto3Storage(
        **seaweed_options,
        custom_domain="cdn.example.com",
        cloudfront_signer=signer,
        querystring_auth=False,
    )
    assert unsigned.url("x.jpg") == f"https://cdn.example.com/{unsigned.location}/x.jpg"
    assert len(signer.calls) == 1


def test_get_cloudfront_signer_is_asked_with_the_keys(seaweed_options):
    asked = []

    class SignedMedia(S3Boto3Storage):
        def get_cloudfront_signer(self, key_id, key):
            asked.append((key_id, key))
            return RecordingSigner()

    storage = SignedMedia(
        **seaweed_options,
        custom_domain="d1.cloudfront.net",
        cloudfront_key_id="KID123",
        cloudfront_key="-----BEGIN PRIVATE KEY-----",
    )
    assert storage.url("p.png").endswith("?Signature=recorded")
    storage.url("q.png")
    assert asked == [("KID123", "-----BEGIN PRIVATE KEY-----")]
    with pytest.raises(ImproperlyConfigured, match="together"):
        SignedMedia(**seaweed_options, cloudfront_key_id="KID123")
    off = SignedMedia(
        **seaweed_options,
        custom_domain="d1.cloudfront.net",
        cloudfront_key_id="KID123",
        cloudfront_key="k",
        cloudfront_signer=None,
    )
    assert off.url("p.png") == f"https://d1.cloudfront.net/{off.location}/p.png"


def test_url_protocol_none_means_https(seaweed_options):
    with override_settings(AWS_S3_URL_PROTOCOL=None):
        storage = S3Boto3Storage(**seaweed_options, custom_domain="cdn.example.com")
    assert storage.url("a.txt") == f"https://cdn.example.com/{storage.location}/a.txt"


def test_unsigned_urls_keep_parameters_when_querystring_auth_is_off(seaweed_options):
    storage = S3Boto3Storage(**seaweed_options, querystring_auth=False)
    url = storage.url("a.txt", parameters={"ResponseContentDisposition": "attachment"})
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(url).query)
    assert query == {"response-content-disposition": ["attachment"]}


# --- reading --------------------------------------------------------------------------


def test_text_mode_reads_with_universal_newlines_like_open(storage_on_seaweed, tmp_path):
    payload = "one\r\ntwo\rthree\nfour é\r\n".encode()
    (tmp_path / "local.txt").write_bytes(payload)
    with open(tmp_path / "local.txt", encoding="utf-8") as local:
        expected_text = local.read()
        local.seek(0)
        expected_lines = local.readlines()
    name = storage_on_seaweed.save("lines.txt", ContentFile(payload))
    with storage_on_seaweed.open(name, "r") as handle:
        assert handle.read() == expected_text == "one\ntwo\nthree\nfour é\n"
    with storage_on_seaweed.open(name, "r") as handle:
        assert handle.readlines() == expected_lines
    with storage_on_seaweed.open(name, "rb") as handle:
        assert handle.read() == payload


@pytest.fixture
def storage_on_seaweed(seaweed_options):
    return S3Boto3Storage(**seaweed_options)


def test_sse_c_parameters_are_sent_on_get_head_and_every_part(seaweedfs_server, seaweed_options):
    """SeaweedFS refuses to read an SSE-C object without its key (moto does not check)."""
    from boto3.s3.transfer import TransferConfig

    customer_key = uuid.uuid4().hex.encode()  # 32 bytes
    storage = S3Boto3Storage(
        **seaweed_options,
        object_parameters={"SSECustomerAlgorithm": "AES256", "SSECustomerKey": customer_key},
        transfer_config=TransferConfig(multipart_threshold=5 * MIB, multipart_chunksize=5 * MIB),
    )
    small = storage.save("sse/small.txt", ContentFile(b"classified"))
    big_payload = bytes(range(256)) * (6 * MIB // 256)
    big = storage.save("sse/big.bin", ContentFile(big_payload))
    with storage.open("sse/written.bin", "wb") as handle:
        handle.write(b"w" * (5 * MIB + 10))
    with pytest.raises(ClientError):  # the key is really needed
        raw_client(seaweedfs_server).get_object(Bucket=storage.bucket_name, Key=storage._key(small))
    assert storage.exists(small) and storage.exists(big)
    assert storage.size(small) == 10 and storage.size(big) == len(big_payload)
    assert storage.get_modified_time(small).tzinfo is not None
    assert storage.open(small).read() == b"classified"
    with storage.open(big) as handle:
        handle.seek(5 * MIB)
        assert handle.read(100) == big_payload[5 * MIB : 5 * MIB + 100]
        assert handle.size == len(big_payload)
    assert storage.size("sse/written.bin") == 5 * MIB + 10


# --- objects of ours ---------------------------------------------------------------------


def test_bucket_property_and_connection_meta_client(seaweed_options):
    storage = S3Boto3Storage(**seaweed_options)
    name = storage.save("b/one.txt", ContentFile(b"1"))
    bucket = storage.bucket
    assert type(bucket).__name__ == "s3.Bucket" and bucket.name == storage.bucket_name
    assert storage.bucket is bucket and bucket.meta.client is storage.connection
    keys = [entry.key for entry in bucket.objects.filter(Prefix=storage.location + "/")]
    assert keys == [f"{storage.location}/{name}"]
    assert bucket.Object(f"{storage.location}/{name}").get()["Body"].read() == b"1"
    assert storage.connection.meta.client is storage.connection
    assert pickle.loads(pickle.dumps(storage)).bucket.name == storage.bucket_name


@pytest.mark.parametrize("server_name", ["seaweedfs_server", "moto_server"])
def test_a_full_session_leaves_exactly_the_users_keys(request, server_name):
    """No placeholder object is created, nor any request for one even prepared.

    Every request botocore prepares passes its ``before-send`` event (where
    instrumentation and in-process fakes such as moto's ``mock_aws`` act) and
    every request sent passes the HTTP session: neither may ever name a key the
    user did not ask for.
    """
    server = request.getfixturevalue(server_name)
    bucket = f"compat-{uuid.uuid4().hex[:10]}"
    create_bucket(server, bucket)
    storage = S3Boto3Storage(**server.client_options(), bucket_name=bucket, location="media")
    prepared, sent = [], []
    storage.connection.meta.events.register(
        "before-send.s3", lambda request, **kwargs: prepared.append(request.url)
    )
    with watched_sends(storage, lambda request: sent.append(request.url)):
        first = storage.save("docs/a.txt", ContentFile(b"a"))
        second = storage.save("docs/a.txt", ContentFile(b"again"))
        with storage.open("docs/w.txt", "w") as handle:
            handle.write("written\n")
        signed = storage.url(first)
        storage.url(first, parameters={"ResponseContentDisposition": "attachment"})
        S3StaticStorage(**server.client_options(), bucket_name=bucket).url("static.css")
        assert fetch(signed) == (200, b"a")
        assert storage.open(second, "r").read() == "again"
        assert storage.exists(first) and not storage.exists("docs/never.txt")
        assert storage.size("docs/w.txt") == 8
        directories, files = storage.listdir("docs")
        assert (directories, sorted(files)) == ([], sorted(["a.txt", second[5:], "w.txt"]))
        storage.get_modified_time(first)
        list(storage.bucket.objects.all())
        storage.delete(second)
    listed = raw_client(server).list_objects_v2(Bucket=bucket).get("Contents", [])
    assert sorted(entry["Key"] for entry in listed) == ["media/docs/a.txt", "media/docs/w.txt"]
    assert prepared and sent
    for url in prepared + sent:
        path = urllib.parse.urlsplit(url).path
        assert s3_signing.PROBE_KEY not in path, url
        assert path.rstrip("/") in (f"/{bucket}", "") or "/media/" in path, url


# --- errors django-storages users catch ----------------------------------------------------


def test_store_failures_are_client_errors_and_oserrors(moto_server, moto_options):
    storage = S3Boto3Storage(**{**moto_options, "bucket_name": "compat-no-such-bucket"})
    try:
        storage.save("x.txt", ContentFile(b"x"))
    except ClientError as exc:  # the django-storages way
        assert exc.response["Error"]["Code"] == "NoSuchBucket"
        assert exc.response["ResponseMetadata"]["HTTPStatusCode"] == 404
        assert isinstance(exc, OSError) and "compat-no-such-bucket" in str(exc)
        assert exc.operation_name == "PutObject"
    else:
        pytest.fail("saving into a missing bucket must fail")
    present = S3Boto3Storage(**moto_options)
    try:
        present.get_modified_time("missing.txt")
    except ClientError as exc:
        assert exc.response["ResponseMetadata"]["HTTPStatusCode"] == 404
        assert isinstance(exc, FileNotFoundError)
    else:
        pytest.fail("a missing file has no modified time")


def test_client_errors_carry_no_secret(seaweedfs_server, seaweed_options):
    secret, token = "compat-wrong-secret-81", "compat-token-secret-93"
    storage = S3Boto3Storage(**{**seaweed_options, "secret_key": secret, "security_token": token})
    with pytest.raises(ClientError) as caught:
        storage.save("s.txt", ContentFile(b"s"))
    failure = caught.value
    assert isinstance(failure, OSError)
    shown = " ".join([str(failure), repr(failure), repr(failure.response), repr(storage)])
    assert secret not in shown and token not in shown
    assert set(failure.response) == {"Error", "ResponseMetadata"}
    again = pickle.loads(pickle.dumps(failure))
    assert isinstance(again, ClientError) and str(again) == str(failure)


def test_write_mode_text_and_binary_as_documented(storage_on_seaweed):
    """django-storages' documented session: open("w"), write text, read it back."""
    storage = storage_on_seaweed
    assert not storage.exists("storage_test")
    handle = storage.open("storage_test", "w")
    handle.write("storage contents")
    handle.close()
    assert storage.exists("storage_test")
    handle = storage.open("storage_test", "r")
    assert handle.read() == "storage contents"
    handle.close()
    assert isinstance(handle, S3Boto3StorageFile)
    storage.delete("storage_test")
    assert not storage.exists("storage_test")
