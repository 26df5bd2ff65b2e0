"""Google Cloud Storage backend on fake-gcs-server: the contract, the shared scenarios,
signed URLs checked with google-auth, collectstatic, and django-storages-style setups.

Every storage here has explicit credentials (anonymous, or a throwaway service-account
key that only signs URLs) and the emulator's endpoint; tests/servers/gcs.py also sends
google-auth's metadata lookups to a closed loopback port. One test records every
socket connection to prove nothing leaves 127.0.0.1.
"""

from __future__ import annotations

import base64
import datetime
import gzip
import hashlib
import io
import json
import logging
import os
import pickle
import socket
import time
import urllib.request
from typing import Any
from urllib.parse import parse_qsl, quote, unquote, urlsplit

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.core.files.base import ContentFile, File
from django.test import override_settings
from google.api_core.retry import Retry

from storages.backends.gcloud import (
    GoogleCloudManifestStaticStorage,
    GoogleCloudStaticStorage,
    GoogleCloudStorage,
    GoogleCloudStorageError,
)
from storages.backends.gcloud.urls import SIGNED_URLS_KEPT, SignedUrls
from tests.concurrency import run_in_threads
from tests.scenarios import CommonScenarios, NamedSettingsContract
from tests.servers.process import free_port

SETTING_NAMES = {
    "bucket_name": "GS_BUCKET_NAME",
    "project_id": "GS_PROJECT_ID",
    "credentials": "GS_CREDENTIALS",
    "api_endpoint": "GS_API_ENDPOINT",
    "querystring_auth": "GS_QUERYSTRING_AUTH",
    "custom_endpoint": "GS_CUSTOM_ENDPOINT",
    "location": "GS_LOCATION",
}


@pytest.fixture
def options(gcs_server, gcs_bucket):
    return gcs_server.storage_options(gcs_bucket)


class TestGoogleCloudContract(NamedSettingsContract):
    backend = "storages.backends.gcloud.GoogleCloudStorage"
    setting_names = SETTING_NAMES
    # Above 8 MiB: the resumable upload path.
    large_size = 9 * 1024 * 1024 + 17


class TestGoogleCloudBehaviour(CommonScenarios):
    storage_path = "storages.backends.gcloud.GoogleCloudStorage"
    url_option = "custom_endpoint"
    seek_options = {"blob_chunk_size": 256 * 1024}


# --- helpers ---------------------------------------------------------------------------


def make(options, **extra):
    return GoogleCloudStorage(**{**options, **extra})


def blobs(storage):
    """Every object name in the storage's bucket, straight from the emulator."""
    return sorted(blob.name for blob in storage.client.list_blobs(storage.bucket_name))


class Responses:
    """Every HTTP answer the storage's client receives: (method, path, query, bytes)."""

    def __init__(self, storage):
        self.sent: list[tuple[str, str, str, int]] = []
        storage.client._http.hooks.setdefault("response", []).append(self)

    def __call__(self, response, *args, **kwargs):
        parts = urlsplit(response.request.url)
        size = int(response.headers.get("Content-Length") or 0)  # the body stays unread
        self.sent.append((response.request.method, unquote(parts.path), parts.query, size))
        return response


@pytest.fixture(scope="module")
def service_account_info():
    """A throwaway service-account key; its token URI is a closed loopback port."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    public = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return {
        "type": "service_account",
        "project_id": "storages-test",
        "private_key_id": "0123456789abcdef-not-a-real-key-id",
        "private_key": pem,
        "client_email": "signer@storages-test.iam.gserviceaccount.com",
        "client_id": "1234567890",
        "token_uri": f"http://127.0.0.1:{free_port()}/token",
        "_public_pem": public,
    }


def key_info(info):
    return {k: v for k, v in info.items() if not k.startswith("_")}


# --- uploads: atomic create, multipart and resumable, failures --------------------------


class TestUploads:
    def test_second_save_takes_the_next_name_by_a_conditional_create(self, options):
        storage = make(options)
        assert storage.save("same.txt", ContentFile(b"one")) == "same.txt"
        responses = Responses(storage)
        second = storage.save("same.txt", ContentFile(b"two"))
        assert second != "same.txt" and second.startswith("same_") and second.endswith(".txt")
        # No existence check: a refused create (412), then the create of the new name.
        uploads = [r for r in responses.sent if r[1].startswith("/upload/")]
        assert len(uploads) == 2 and all("ifGenerationMatch=0" in r[2] for r in uploads)
        assert all("uploadType=multipart" in r[2] for r in uploads)
        assert blobs(storage) == sorted(["same.txt", second])
        assert storage.open("same.txt").read() == b"one"
        assert storage.open(second).read() == b"two"

    def test_concurrent_saves_of_one_name_keep_every_file(self, options):
        storage = make(options)

        def save(index):
            return storage.save("race/one.txt", ContentFile(f"writer {index}".encode()))

        names = run_in_threads(save, 8)
        assert len(set(names)) == 8
        assert {storage.open(n).read() for n in names} == {f"writer {i}".encode() for i in range(8)}
        assert blobs(storage) == sorted(names)

    def test_overwrite_on_replaces_without_a_precondition(self, options):
        storage = make(options, file_overwrite=True)
        storage.save("o.txt", ContentFile(b"one"))
        responses = Responses(storage)
        assert storage.save("o.txt", ContentFile(b"two")) == "o.txt"
        assert not any("ifGenerationMatch" in r[2] for r in responses.sent)
        assert storage.open("o.txt").read() == b"two"

    def test_large_save_is_resumable_in_bounded_chunks(self, options):
        storage = make(options, blob_chunk_size=1024 * 1024)
        payload = os.urandom(9 * 1024 * 1024 + 5)
        responses = Responses(storage)
        assert storage.save("big.bin", ContentFile(payload)) == "big.bin"
        uploads = [r for r in responses.sent if r[1].startswith("/upload/")]
        assert "uploadType=resumable" in uploads[0][2]
        assert "ifGenerationMatch=0" in uploads[0][2]  # real GCS enforces it here too
        assert len(uploads) == 1 + 10  # the session, then 1 MiB chunks
        assert storage.open("big.bin").read() == payload

    def test_resumable_upload_failing_midway_leaves_nothing(self, options):
        storage = make(options, blob_chunk_size=1024 * 1024)
        storage.save("other.txt", ContentFile(b"o"))

        class FailingLater(io.BytesIO):
            def read(self, size=-1):
                if self.tell() > 3 * 1024 * 1024:
                    raise OSError("disk went away")
                return super().read(size)

        content = File(FailingLater(os.urandom(10 * 1024 * 1024)), name="x")
        with pytest.raises(OSError, match="disk went away"):
            storage.save("broken.bin", content)
        assert not storage.exists("broken.bin")
        assert blobs(storage) == ["other.txt"]

    def test_object_parameters_acl_and_content_type(self, options):
        storage = make(
            options,
            object_parameters={"cache_control": "max-age=60", "metadata": {"k": "v"}},
        )
        name = storage.save("css/site.css", ContentFile(b"body{}"))
        blob = storage.bucket.get_blob(name)
        assert blob.content_type == "text/css"
        assert blob.cache_control == "max-age=60"
        assert blob.metadata == {"k": "v"}
        assert blob.md5_hash == base64.b64encode(hashlib.md5(b"body{}").digest()).decode()


# --- reads: ranges of one generation ---------------------------------------------------


class TestReads:
    def test_seek_reads_only_the_ranges_needed(self, options):
        storage = make(options, blob_chunk_size=256 * 1024)
        payload = os.urandom(3 * 1024 * 1024)
        storage.save("r.bin", ContentFile(payload))
        responses = Responses(storage)
        with storage.open("r.bin") as handle:
            handle.seek(len(payload) - 100)
            assert handle.read() == payload[-100:]
            handle.seek(10)
            assert handle.read(5) == payload[10:15]
        downloaded = sum(size for method, path, _q, size in responses.sent if "/o/" in path)
        assert downloaded <= 2 * 256 * 1024 + 4096  # two ranges, not the 3 MiB

    def test_reader_keeps_the_generation_it_opened(self, options):
        storage = make(options, file_overwrite=True, blob_chunk_size=256 * 1024)
        first = os.urandom(600 * 1024)
        storage.save("g.bin", ContentFile(first))
        with storage.open("g.bin") as handle:
            head = handle.read(1000)
            storage.save("g.bin", ContentFile(os.urandom(600 * 1024)))
            # The next range asks for the generation opened: gone, so the read fails
            # instead of splicing the new version's bytes onto the old ones.
            with pytest.raises(OSError):
                handle.read()
        assert head == first[:1000]

    def test_missing_and_other_errors(self, options, gcs_server):
        storage = make(options)
        with pytest.raises(FileNotFoundError, match=r"missing\.txt"):
            storage.open("missing.txt")
        with pytest.raises(FileNotFoundError):
            storage.get_modified_time("missing.txt")
        quick = Retry(initial=0.05, maximum=0.1, timeout=0.3)
        broken = make(options, api_endpoint=f"http://127.0.0.1:{free_port()}", retry=quick)
        with pytest.raises(GoogleCloudStorageError) as info:
            broken.size("a.txt")
        assert "a.txt" in str(info.value) and options["bucket_name"] in str(info.value)
        gone = make(options, bucket_name="no-such-bucket-here")
        with pytest.raises(OSError, match="no-such-bucket-here"):
            gone.save("x.txt", ContentFile(b"x"))


# --- URLs: no request; V4 signatures checked with google-auth ---------------------------


def canonical_v4(url: str, host: str) -> tuple[str, bytes, dict[str, str]]:
    """``(string to sign, signature, query)`` of a V4 signed GET URL, rebuilt from the URL."""
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query, keep_blank_values=True))
    signature = bytes.fromhex(query.pop("X-Goog-Signature"))
    canonical_query = "&".join(
        f"{quote(k, safe='')}={quote(v, safe='')}" for k, v in sorted(query.items())
    )
    canonical_request = "\n".join(
        ["GET", parts.path, canonical_query, f"host:{host}\n", "host", "UNSIGNED-PAYLOAD"]
    )
    scope = query["X-Goog-Credential"].split("/", 1)[1]
    string_to_sign = "\n".join(
        [
            "GOOG4-RSA-SHA256",
            query["X-Goog-Date"],
            scope,
            hashlib.sha256(canonical_request.encode()).hexdigest(),
        ]
    )
    return string_to_sign, signature, query


class TestUrls:
    def test_plain_url_makes_no_request(self, options, connections):
        storage = make(options)
        assert storage.url("a b/c.txt") == (
            f"https://storage.googleapis.com/{options['bucket_name']}/a%20b/c.txt"
        )
        located = make(options, location="media", custom_endpoint="https://cdn.example.com/")
        assert located.url("x.txt") == "https://cdn.example.com/media/x.txt"
        assert connections == []

    def test_signed_url_is_verified_by_google_auth(
        self, options, service_account_info, connections
    ):
        from google.auth import crypt

        storage = make(
            options,
            credentials=key_info(service_account_info),
            querystring_auth=True,
            location="private",
        )
        url = storage.url("reports/q1 2024.pdf")
        assert connections == []  # signed here, with the key: no request at all
        parts = urlsplit(url)
        assert (parts.scheme, parts.netloc) == ("https", "storage.googleapis.com")
        assert parts.path == f"/{options['bucket_name']}/private/reports/q1%202024.pdf"
        string_to_sign, signature, query = canonical_v4(url, "storage.googleapis.com")
        assert query["X-Goog-Algorithm"] == "GOOG4-RSA-SHA256"
        assert query["X-Goog-Expires"] == "86400"
        assert query["X-Goog-Credential"].startswith(service_account_info["client_email"] + "/")
        verifier = crypt.RSAVerifier.from_string(service_account_info["_public_pem"])
        assert verifier.verify(string_to_sign.encode(), signature)
        # One character changed in what was signed: the signature no longer holds.
        tampered = string_to_sign[:-1] + ("0" if string_to_sign[-1] != "0" else "1")
        assert not verifier.verify(tampered.encode(), signature)
        # The same signer google-auth gives the key makes the same signature (PKCS#1 v1.5).
        signer = crypt.RSASigner.from_service_account_info(key_info(service_account_info))
        assert signer.sign(string_to_sign.encode()) == signature

    def test_signed_url_options(self, options, service_account_info):
        storage = make(
            options,
            credentials=key_info(service_account_info),
            querystring_auth=True,
            expiration=datetime.timedelta(minutes=5),
            custom_endpoint="https://media.example.com",
        )
        url = storage.url("f.txt", parameters={"response_disposition": "attachment"})
        parts = urlsplit(url)
        assert parts.netloc == "media.example.com" and parts.path == "/f.txt"
        string_to_sign, signature, query = canonical_v4(url, "media.example.com")
        assert query["X-Goog-Expires"] == "300"
        assert query["response-content-disposition"] == "attachment"
        verifier = crypt_verifier(service_account_info)
        assert verifier.verify(string_to_sign.encode(), signature)
        # A public object's URL is plain, as with django-storages.
        public = make(options, credentials=key_info(service_account_info), default_acl="publicRead")
        assert "X-Goog-Signature" not in public.url("f.txt")

    def test_signed_url_is_served_by_the_emulator(self, options, gcs_server, service_account_info):
        storage = make(options, credentials=key_info(service_account_info), querystring_auth=True)
        make(options).save("served.txt", ContentFile(b"served"))
        parts = urlsplit(storage.url("served.txt"))
        # Sent to the emulator under Google's host name. It serves the object (it checks
        # no signature: the test above checks that).
        request = urllib.request.Request(
            f"{gcs_server.url}{parts.path}?{parts.query}",
            headers={"Host": "storage.googleapis.com"},
        )
        with urllib.request.urlopen(request, timeout=5) as answer:
            assert answer.read() == b"served"

    def test_anonymous_credentials_cannot_sign(self, options):
        storage = make(options, querystring_auth=True)
        with pytest.raises(ImproperlyConfigured, match="GS_IAM_SIGN_BLOB"):
            storage.url("x.txt")

    def test_iam_sign_blob_without_an_email_is_refused(self, options):
        # The IAM SignBlob call itself cannot be tested here: no IAM emulator exists.
        storage = make(options, querystring_auth=True, iam_sign_blob=True)
        storage.client._credentials.token = "t"
        with pytest.raises(ImproperlyConfigured, match="GS_SA_EMAIL"):
            storage.url("x.txt")


def crypt_verifier(info):
    from google.auth import crypt

    return crypt.RSAVerifier.from_string(info["_public_pem"])


# --- secrets and where connections go ---------------------------------------------------


@pytest.fixture
def connections(monkeypatch):
    """Every address a socket connects to while the test runs."""
    seen: list[Any] = []
    real_connect = socket.socket.connect

    def connect(sock, address):
        seen.append(address)
        return real_connect(sock, address)

    monkeypatch.setattr(socket.socket, "connect", connect)
    return seen


class TestSecretsAndNetwork:
    def test_key_never_shown_when_its_token_cannot_be_had(
        self, options, service_account_info, caplog
    ):
        # fake-gcs-server accepts any credential (and none): a refused login cannot be
        # shown by the server. A key whose token endpoint is closed fails before it.
        caplog.set_level(logging.DEBUG)
        info = key_info(service_account_info)
        storage = make(options, credentials=info, retry=Retry(initial=0.05, timeout=0.3))
        with pytest.raises(GoogleCloudStorageError) as failed:
            storage.save("s.txt", ContentFile(b"s"))
        secrets = [info["private_key"], info["private_key_id"]]
        secrets += [line for line in info["private_key"].splitlines() if len(line) > 40][:3]
        texts = [str(failed.value), repr(storage), caplog.text, str(failed.value.__cause__)]
        for text in texts:
            for secret in secrets:
                assert secret not in text
        assert "s.txt" in str(failed.value) and options["bucket_name"] in str(failed.value)
        assert "credentials" in str(failed.value)
        assert "credentials='********'" in repr(storage)

    def test_no_connection_leaves_loopback(self, options, connections, monkeypatch, tmp_path):
        storage = make(options)
        name = storage.save("n/one.txt", ContentFile(b"one"))
        storage.open(name).read()
        storage.listdir("n")
        storage.url(name)
        list(storage.list_stored())
        storage.delete(name)
        # No credentials at all: google-auth looks for them (files, then the metadata
        # server, which tests/servers/gcs.py points at a closed loopback port).
        monkeypatch.delenv("GOOGLE_APPLICATION_CREDENTIALS", raising=False)
        monkeypatch.setenv("CLOUDSDK_CONFIG", str(tmp_path))
        bare = make(options, credentials=None, retry=Retry(initial=0.05, timeout=0.3))
        with pytest.raises(OSError):
            bare.exists("x.txt")
        assert connections
        hosts = {address[0] for address in connections if isinstance(address, tuple)}
        assert hosts == {"127.0.0.1"}, hosts


# --- collectstatic into the emulator ---------------------------------------------------


class TestCollectstatic:
    @pytest.fixture
    def static_dir(self, tmp_path):
        root = tmp_path / "static-src"
        files = {
            "css/site.css": 'body { background: url("../img/logo.png"); }\n',
            "img/logo.png": "\x89PNG not really",
            "app.js": "console.log('hi');\n",
            "js/vendor/lib.js": "var lib = 1;\n",
        }
        for name, text in files.items():
            (root / name).parent.mkdir(parents=True, exist_ok=True)
            (root / name).write_text(text)
        return root

    def collect(self, options, static_dir, backend):
        from django.contrib.staticfiles.storage import staticfiles_storage
        from django.core.management import call_command

        from storages.management.commands.collectstatic import real_storage

        overrides = override_settings(
            STORAGES={
                "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
                "staticfiles": {"BACKEND": backend, "OPTIONS": {**options, "location": "static"}},
            },
            STATICFILES_DIRS=[str(static_dir)],
            STATICFILES_FINDERS=["django.contrib.staticfiles.finders.FileSystemFinder"],
        )
        with overrides:
            storage = real_storage(staticfiles_storage)
            responses = Responses(storage)
            out = io.StringIO()
            call_command("collectstatic", interactive=False, verbosity=1, stdout=out)
            return out.getvalue(), responses, storage

    def test_unchanged_rerun_is_one_listing(self, options, static_dir):
        backend = "storages.backends.gcloud.GoogleCloudStaticStorage"
        out, responses, storage = self.collect(options, static_dir, backend)
        assert "4 static files copied." in out
        assert blobs(storage) == [
            "static/app.js",
            "static/css/site.css",
            "static/img/logo.png",
            "static/js/vendor/lib.js",
        ]
        later = time.time() + 10
        for path in static_dir.rglob("*"):
            os.utime(path, (later, later))  # new mtimes alone change nothing
        out, responses, _storage = self.collect(options, static_dir, backend)
        assert "0 static files copied, 4 unmodified." in out
        assert [r[0] for r in responses.sent] == ["GET"]  # the one listing
        (static_dir / "app.js").write_text("console.log('bye');\n")
        out, responses, _storage = self.collect(options, static_dir, backend)
        assert "1 static file copied, 3 unmodified." in out
        uploads = [r for r in responses.sent if r[1].startswith("/upload/")]
        assert len(uploads) == 1

    def test_manifest_storage(self, options, static_dir):
        backend = "storages.backends.gcloud.GoogleCloudManifestStaticStorage"
        out, _responses, storage = self.collect(options, static_dir, backend)
        assert "4 static files copied" in out and "post-processed" in out
        stored = blobs(storage)
        assert "static/staticfiles.json" in stored and len(stored) == 9
        manifest = json.loads(storage.open("staticfiles.json").read())
        assert storage.url("css/site.css").endswith(manifest["paths"]["css/site.css"])
        out, responses, _storage = self.collect(options, static_dir, backend)
        assert "0 static files copied, 4 unmodified." in out
        assert not [r for r in responses.sent if r[1].startswith("/upload/")]


# --- configured the django-storages way ------------------------------------------------


class TestDjangoStoragesConfiguration:
    def test_subclass_with_class_attributes(self, gcs_server, gcs_bucket):
        from google.auth.credentials import AnonymousCredentials

        class MediaStorage(GoogleCloudStorage):
            bucket_name = gcs_bucket
            location = "media"
            file_overwrite = True
            querystring_auth = False
            credentials = AnonymousCredentials()

        with override_settings(GS_API_ENDPOINT=gcs_server.url, GS_PROJECT_ID="storages-test"):
            storage = MediaStorage()
            assert storage.save("a.txt", ContentFile(b"1")) == "a.txt"
            assert storage.save("a.txt", ContentFile(b"2")) == "a.txt"  # replaced, as asked
            assert storage.open("a.txt").read() == b"2"
            assert blobs(storage) == ["media/a.txt"]
            assert storage.url("a.txt").endswith(f"/{gcs_bucket}/media/a.txt")

    def test_global_settings_and_their_defaults(self, gcs_server, gcs_bucket):
        from google.auth.credentials import AnonymousCredentials

        with override_settings(
            GS_BUCKET_NAME=gcs_bucket,
            GS_CREDENTIALS=AnonymousCredentials(),
            GS_API_ENDPOINT=gcs_server.url,
            GS_DEFAULT_ACL="publicRead",
            GS_EXPIRATION=datetime.timedelta(hours=1),
            GS_MAX_MEMORY_SIZE=1024,
        ):
            storage = GoogleCloudStorage()
            assert storage.default_acl == "publicRead" and storage.max_memory_size == 1024
            assert storage.querystring_auth is True and storage.file_overwrite is False
            assert storage.blob_chunk_size is None and storage.iam_sign_blob is False
            # publicRead: a plain URL although querystring auth is on.
            assert storage.url("p.txt") == f"https://storage.googleapis.com/{gcs_bucket}/p.txt"
            with storage.open("w.txt", "wb") as handle:
                handle.write(b"x" * 5000)  # past max_memory_size: spooled to disk
            assert storage.size("w.txt") == 5000

    def test_get_default_settings_override_and_object_parameters(self, options):
        class Tuned(GoogleCloudStorage):
            def get_object_parameters(self, name):
                params = super().get_object_parameters(name)
                if name.endswith(".txt"):
                    params["content_disposition"] = "attachment"
                return params

        storage = Tuned(**options)
        name = storage.save("doc.txt", ContentFile(b"d"))
        assert storage.bucket.get_blob(name).content_disposition == "attachment"

    def test_static_variants_defaults_and_paths(self, options):
        static = GoogleCloudStaticStorage(**{**options, "querystring_auth": None})
        del static  # built without a request
        assert GoogleCloudStaticStorage.resolve_options({})["file_overwrite"] is True
        assert GoogleCloudStaticStorage.resolve_options({})["querystring_auth"] is False
        assert GoogleCloudStorage.resolve_options({})["file_overwrite"] is False
        path = GoogleCloudManifestStaticStorage(**options).deconstruct()[0]
        assert path == "storages.backends.gcloud.GoogleCloudManifestStaticStorage"

    def test_bad_settings_are_refused(self, options):
        with pytest.raises(ImproperlyConfigured, match="leading slash"):
            make(options, location="/media")
        with pytest.raises(ImproperlyConfigured, match="256 KiB"):
            make(options, blob_chunk_size=1000)
        with pytest.raises(ImproperlyConfigured, match="no option 'bucket'"):
            GoogleCloudStorage(bucket="x")

    def test_overwrite_default_is_announced(self, gcs_bucket):
        from django.core.checks import run_checks

        storages_setting = {
            "default": {
                "BACKEND": "storages.backends.gcloud.GoogleCloudStorage",
                "OPTIONS": {"bucket_name": gcs_bucket},
            },
            "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
        }
        with override_settings(STORAGES=storages_setting):
            ids = {message.id for message in run_checks()}
        assert "storages.W020" in ids


class TestGzip:
    def test_gzipped_types_are_compressed_and_read_back_by_ranges(self, options):
        storage = make(options, gzip=True, blob_chunk_size=256 * 1024)
        css = b"body { color: red; }\n" * 40_000  # 840 KB, compresses to a few KB
        name = storage.save("css/big.css", ContentFile(css))
        blob = storage.bucket.get_blob(f"{name}")
        assert blob.content_encoding == "gzip" and blob.size < len(css) // 20
        assert gzip.decompress(blob.download_as_bytes(raw_download=True)) == css
        assert storage.size(name) == len(css)
        with storage.open(name) as handle:
            handle.seek(500_000)
            assert handle.read(30) == css[500_000:500_030]
            handle.seek(0)
            assert handle.read() == css
        assert storage.stores_verbatim("css/big.css") is False
        # Other types are stored as they are.
        plain = storage.save("a.bin", ContentFile(b"\x00" * 100))
        assert storage.bucket.get_blob(plain).content_encoding is None
        assert storage.stores_verbatim("a.bin") is True


class TestTransferCommands:
    def test_copy_from_local_disk_then_resume_and_verify(self, options, tmp_path):
        from django.core.files.storage import FileSystemStorage, storages
        from django.core.management import call_command

        local = FileSystemStorage(location=str(tmp_path / "src"))
        for name, data in {
            "a.txt": b"alpha",
            "docs/b.txt": b"bravo!",
            "ü/名前.bin": b"\x00" * 300,
        }.items():
            local.save(name, ContentFile(data))
        setting = {
            "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
            "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
            "src": {
                "BACKEND": "django.core.files.storage.FileSystemStorage",
                "OPTIONS": {"location": str(tmp_path / "src")},
            },
            "gcs": {"BACKEND": "storages.backends.gcloud.GoogleCloudStorage", "OPTIONS": options},
        }

        def run(*args):
            out = io.StringIO()
            call_command(*args, stdout=out, stderr=io.StringIO())
            return out.getvalue()

        with override_settings(STORAGES=setting):
            assert "copied 3" in run("storage_copy", "src", "gcs")
            remote = storages["gcs"]
            assert remote.open("ü/名前.bin").read() == b"\x00" * 300
            remote.delete("docs/b.txt")  # as if the first run had been cut short
            out = run("storage_copy", "src", "gcs")
            assert "copied 1" in out and "skipped 2" in out
            run("storage_verify", "src", "gcs")
        assert blobs(remote) == ["a.txt", "docs/b.txt", "ü/名前.bin"]


class TestExtras:
    def test_list_stored_copy_move_and_delete_many(self, options):
        storage = make(options, location="loc")
        storage.save("a.txt", ContentFile(b"alpha"))
        storage.save("d/b.txt", ContentFile(b"bravo"))
        make(options).save("outside.txt", ContentFile(b"not under loc"))
        entries = {name: (size, md5) for name, size, _when, md5 in storage.list_stored()}
        assert entries == {
            "a.txt": (5, hashlib.md5(b"alpha").hexdigest()),
            "d/b.txt": (5, hashlib.md5(b"bravo").hexdigest()),
        }
        assert storage.copy("a.txt", "c/copy.txt") == "c/copy.txt"
        assert storage.move("d/b.txt", "d/moved.txt") == "d/moved.txt"
        assert storage.open("c/copy.txt").read() == b"alpha"
        assert not storage.exists("d/b.txt") and storage.exists("d")
        storage.delete_many(["a.txt", "c/copy.txt", "never-there.txt"])
        assert blobs(storage) == ["loc/d/moved.txt", "outside.txt"]

    def test_pickles_with_a_service_account_key(self, options, service_account_info):
        storage = make(options, credentials=key_info(service_account_info), querystring_auth=True)
        url = storage.url("x.txt")
        revived = pickle.loads(pickle.dumps(storage))
        assert "_client" not in revived.__dict__ and "_credentials" not in revived.__dict__
        assert urlsplit(revived.url("x.txt")).path == urlsplit(url).path


# --- signed URLs reused for a tenth of their lifetime ------------------------------------


class Clock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def signing(options, info, clock=None, size=None, **extra):
    """A key-signing storage, its count of RSA signatures, and its hand-moved clock."""
    storage = make(options, credentials=key_info(info), querystring_auth=True, **extra)
    credentials = storage.client._credentials
    real_sign = credentials.sign_bytes
    signed: list[bytes] = []

    def sign_bytes(message):
        signed.append(message)
        return real_sign(message)

    credentials.sign_bytes = sign_bytes
    clock = clock or Clock()
    storage.__dict__["_signed_url_cache"] = SignedUrls(size=size or SIGNED_URLS_KEPT, clock=clock)
    return storage, signed, clock


class TestUrlReuse:
    def test_repeated_url_is_signed_once_and_still_verifies(self, options, service_account_info):
        storage, signed, clock = signing(options, service_account_info)
        first = storage.url("avatars/me.png")
        clock.now += 3600
        assert [storage.url("avatars/me.png") for _ in range(5)] == [first] * 5
        assert len(signed) == 1
        string_to_sign, signature, query = canonical_v4(first, "storage.googleapis.com")
        assert crypt_verifier(service_account_info).verify(string_to_sign.encode(), signature)
        assert query["X-Goog-Expires"] == "86400"
        other = storage.url("avatars/you.png")
        assert other != first and len(signed) == 2

    def test_url_older_than_a_tenth_of_its_lifetime_is_signed_anew(
        self, options, service_account_info
    ):
        storage, signed, clock = signing(
            options, service_account_info, expiration=datetime.timedelta(seconds=1000)
        )
        storage.url("f.txt")
        # Reused while at least 90% of the 1000 s is left, counting X-Goog-Date's
        # rounding down to the second: 99 s after the first call, not 100.
        clock.now += 98.9
        storage.url("f.txt")
        assert len(signed) == 1
        clock.now += 0.2
        storage.url("f.txt")
        assert len(signed) == 2
        # The new one starts its own window.
        clock.now += 50
        storage.url("f.txt")
        assert len(signed) == 2

    def test_a_lifetime_too_short_for_the_window_is_never_reused(
        self, options, service_account_info
    ):
        storage, signed, _clock = signing(
            options, service_account_info, expiration=datetime.timedelta(seconds=5)
        )
        storage.url("f.txt")
        storage.url("f.txt")
        assert len(signed) == 2

    def test_parameters_key_the_reuse_or_bypass_it(self, options, service_account_info):
        storage, signed, _clock = signing(options, service_account_info)
        plain = storage.url("f.txt")
        attachment = storage.url("f.txt", {"response_disposition": "attachment"})
        again = storage.url("f.txt", parameters={"response_disposition": "attachment"})
        short = storage.url("f.txt", {"expiration": datetime.timedelta(minutes=5)})
        put = storage.url("f.txt", {"method": "PUT", "headers": {"x-goog-meta-a": "1"}})
        assert len({plain, attachment, short, put}) == 4 and again == attachment
        assert storage.url("f.txt", {"method": "PUT", "headers": {"x-goog-meta-a": "1"}}) == put
        assert storage.url("f.txt") == plain
        assert urlsplit(short).query.count("X-Goog-Expires=300") == 1
        assert len(signed) == 4
        # Equal in Python, not in the URL ("1" and "True").
        one = storage.url("f.txt", {"query_parameters": {"v": 1}})
        assert storage.url("f.txt", {"query_parameters": {"v": True}}) != one
        assert len(signed) == 6
        # A deadline, a V2 URL and a signer of the caller's: signed on every call.
        deadline = datetime.datetime.now(datetime.UTC) + datetime.timedelta(hours=1)
        for parameters in (
            {"expiration": deadline},
            {"version": "v2"},
            {"credentials": storage.client._credentials},
        ):
            before = len(signed)
            storage.url("f.txt", dict(parameters))
            storage.url("f.txt", dict(parameters))
            assert len(signed) == before + 2, parameters

    def test_unsafe_names_are_refused_before_the_cache(self, options, service_account_info):
        from django.core.exceptions import SuspiciousFileOperation

        storage, signed, _clock = signing(options, service_account_info)
        storage.url("b.txt")
        for unsafe in ("a/../b.txt", "../b.txt", "/b.txt", "b.txt/..", "a\x00b.txt"):
            with pytest.raises(SuspiciousFileOperation):
                storage.save(unsafe, ContentFile(b"x"))
            with pytest.raises(SuspiciousFileOperation):
                storage.url(unsafe)
        assert len(signed) == 1 and len(storage._signed_urls) == 1

    def test_the_cache_is_bounded_least_recently_used_first(self, options, service_account_info):
        storage, signed, _clock = signing(options, service_account_info, size=3)
        for name in ("1", "2", "3", "1", "4"):  # "2" is the least recently used
            storage.url(f"{name}.txt")
        assert len(storage._signed_urls) == 3 and len(signed) == 4
        storage.url("1.txt")
        assert len(signed) == 4
        storage.url("2.txt")
        assert len(signed) == 5 and len(storage._signed_urls) == 3

    def test_settings_changes_pickling_and_other_credentials_drop_it(
        self, options, service_account_info
    ):
        storage, signed, _clock = signing(options, service_account_info)
        storage.url("f.txt")
        with override_settings(GS_EXPIRATION=datetime.timedelta(minutes=10)):
            assert "_signed_url_cache" not in storage.__dict__
            assert "X-Goog-Expires=600&" in storage.url("f.txt")
        assert "_signed_url_cache" not in storage.__dict__
        storage.url("f.txt")
        assert len(storage._signed_urls) == 1  # a lock inside: it would not pickle
        revived = pickle.loads(pickle.dumps(storage))
        assert "_signed_url_cache" not in revived.__dict__
        # A URL is reused only for the credentials that signed it.
        storage, signed, _clock = signing(options, service_account_info)
        storage.url("f.txt")
        other = storage.client._credentials.with_quota_project("other")
        other_signed: list[bytes] = []
        real_sign = other.sign_bytes
        other.sign_bytes = lambda message: other_signed.append(message) or real_sign(message)
        storage.client._credentials = other
        storage.url("f.txt")
        storage.url("f.txt")
        assert len(signed) == 1 and len(other_signed) == 1 and len(storage._signed_urls) == 1

    def test_reuse_can_be_turned_off_or_shortened(self, options, service_account_info):
        with override_settings(GS_URL_REUSE=False):
            storage, signed, _clock = signing(options, service_account_info)
            storage.url("f.txt")
            storage.url("f.txt")
            assert len(signed) == 2 and len(storage._signed_urls) == 0
        storage, signed, clock = signing(options, service_account_info, url_reuse=0.5)
        storage.url("f.txt")
        clock.now += 86400 * 0.5 - 2
        storage.url("f.txt")
        assert len(signed) == 1
        for bad in (1, 1.5, -0.1, "yes"):
            with pytest.raises(ImproperlyConfigured, match="GS_URL_REUSE"):
                make(options, url_reuse=bad)

    def test_iam_sign_blob_signatures_are_reused(self, options, service_account_info, monkeypatch):
        # No IAM emulator: SignBlob is answered here, by the account's key (what IAM
        # does), so the URL still verifies; each call stands for one request to IAM.
        from google.auth import crypt
        from google.cloud.storage import _signing

        key = crypt.RSASigner.from_service_account_info(key_info(service_account_info))
        calls: list[tuple[str, str]] = []

        def sign_blob(message, access_token, service_account_email, universe_domain=None):
            calls.append((access_token, service_account_email))
            return base64.b64encode(key.sign(_signing._helpers._to_bytes(message)))

        monkeypatch.setattr(_signing, "_sign_message", sign_blob)
        email = service_account_info["client_email"]
        storage, signed, clock = signing(
            options, service_account_info, iam_sign_blob=True, sa_email=email
        )
        credentials = storage.client._credentials
        credentials.token = "token-1"
        refreshed: list[bool] = []
        credentials.refresh = lambda request: refreshed.append(True)
        url = storage.url("private/report.pdf")
        clock.now += 600
        assert storage.url("private/report.pdf") == url
        assert calls == [("token-1", email)] and signed == [] and refreshed == []
        string_to_sign, signature, _query = canonical_v4(url, "storage.googleapis.com")
        assert crypt_verifier(service_account_info).verify(string_to_sign.encode(), signature)
        clock.now += 86400
        storage.url("private/report.pdf")
        assert len(calls) == 2
