"""What is special to the S3 backends, against real SeaweedFS and moto servers."""

from __future__ import annotations

import base64
import gzip
import io
import json
import logging
import pickle
import threading
import traceback
import urllib.error
import urllib.parse
import urllib.request
import uuid

import boto3
import pytest
from botocore.config import Config
from django.core.exceptions import ImproperlyConfigured, SuspiciousFileOperation
from django.core.files.base import ContentFile
from django.test import override_settings

from storages.backends.s3 import S3ManifestStaticStorage, S3StaticStorage, S3Storage
from storages.backends.s3 import signing as s3_signing
from storages.backends.s3.errors import S3StorageError
from storages.backends.s3.options import calling_format_style, header_parameters
from storages.backends.s3boto import S3BotoStorage
from tests.servers.s3 import create_bucket, recorded_requests, start_seaweedfs

MIB = 1024 * 1024


@pytest.fixture
def storage(seaweed_options):
    return S3Storage(**seaweed_options)


def raw_client(server):
    return boto3.client("s3", **server.boto3_kwargs())


def fetch(url, data=None, method=None, headers=None):
    request = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:
            return answer.status, answer.read(), dict(answer.headers)
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read(), dict(exc.headers)


# --- requests per operation -------------------------------------------------


def test_full_read_is_one_get_and_open_checks_existence(storage):
    name = storage.save("doc.bin", ContentFile(b"x" * 300_000))
    with recorded_requests(storage) as operations, storage.open(name) as handle:
        assert b"".join(handle.chunks(chunk_size=64 * 1024)) == b"x" * 300_000
    assert operations == ["GetObject"]
    with recorded_requests(storage) as operations:
        assert storage.open(name).read() == b"x" * 300_000
    assert operations == ["GetObject"]
    with pytest.raises(FileNotFoundError, match=r"doc-missing\.bin"):
        storage.open("doc-missing.bin")


def test_ranged_reads_after_seek(storage):
    payload = bytes(range(256)) * 4096
    name = storage.save("ranged.bin", ContentFile(payload))
    with storage.open(name) as handle:
        handle.seek(100_000)
        assert handle.read(10) == payload[100_000:100_010]
        handle.seek(-5, io.SEEK_END)
        assert handle.read() == payload[-5:]
        handle.seek(len(payload) + 10)
        assert handle.read() == b""
        assert handle.size == len(payload)


def test_new_name_save_is_one_request(storage):
    with recorded_requests(storage) as operations:
        storage.save("one.txt", ContentFile(b"1"))
    assert operations == ["PutObject"]


def test_url_makes_no_request(storage):
    storage.save("u.txt", ContentFile(b"u"))
    storage.url("u.txt")  # the base is resolved once, locally
    with recorded_requests(storage) as operations:
        for _ in range(50):
            storage.url("u.txt")
        S3Storage(**{**_options(storage), "querystring_auth": False}).url("u.txt")
    assert operations == []


def _options(storage):
    return {
        "endpoint_url": storage.endpoint_url,
        "access_key": storage.access_key,
        "secret_key": storage.secret_key,
        "region_name": storage.region_name,
        "bucket_name": storage.bucket_name,
        "location": storage.location,
    }


# --- conditional create -----------------------------------------------------


@pytest.mark.parametrize("conditional", [True, False])
def test_second_save_gets_new_name(seaweed_options, conditional):
    storage = S3Storage(**seaweed_options, conditional_writes=conditional)
    first = storage.save("same.txt", ContentFile(b"first"))
    second = storage.save("same.txt", ContentFile(b"second"))
    assert first == "same.txt" and second != first
    assert second.startswith("same_") and second.endswith(".txt")
    assert storage.open(first).read() == b"first"
    assert storage.open(second).read() == b"second"


def test_two_threads_racing_for_one_name_both_kept(storage):
    barrier = threading.Barrier(2)
    names = []

    def save(payload):
        barrier.wait(timeout=30)
        names.append(storage.save("race.txt", ContentFile(payload)))

    threads = [threading.Thread(target=save, args=(p,)) for p in (b"one", b"two")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(names)[0] == "race.txt" and len(set(names)) == 2
    assert {storage.open(name).read() for name in names} == {b"one", b"two"}


def test_conditional_create_of_a_taken_name_retries_without_a_check(storage):
    # Another writer got there between our name choice and the upload.
    storage.save("taken.txt", ContentFile(b"theirs"))
    with recorded_requests(storage) as operations:
        name = storage._save("taken.txt", ContentFile(b"ours"))
    assert name != "taken.txt"
    assert operations[0] == "PutObject" and operations[-1] == "PutObject"
    assert storage.open("taken.txt").read() == b"theirs"
    assert storage.open(name).read() == b"ours"


def test_conditional_create_of_a_taken_name_multipart(seaweed_options):
    storage = S3Storage(
        **seaweed_options,
        transfer_config=boto3.s3.transfer.TransferConfig(
            multipart_threshold=5 * MIB, multipart_chunksize=5 * MIB
        ),
    )
    storage.save("big.bin", ContentFile(b"a" * (11 * MIB)))
    name = storage._save("big.bin", ContentFile(b"b" * (11 * MIB)))
    assert name != "big.bin"
    assert storage.open("big.bin").read(5) == b"aaaaa"
    assert storage.size(name) == 11 * MIB and storage.open(name).read(5) == b"bbbbb"


def test_overwrite_on_replaces(seaweed_options):
    storage = S3Storage(**seaweed_options, file_overwrite=True)
    assert storage.save("o.txt", ContentFile(b"1")) == "o.txt"
    assert storage.save("o.txt", ContentFile(b"2")) == "o.txt"
    assert storage.open("o.txt").read() == b"2"


def test_open_x_refuses_existing_and_w_replaces(storage):
    storage.save("x.txt", ContentFile(b"old"))
    with pytest.raises(FileExistsError), storage.open("x.txt", "xb") as handle:
        handle.write(b"new")
    assert storage.open("x.txt").read() == b"old"
    with storage.open("x.txt", "w") as handle:
        handle.write("new")
    assert storage.open("x.txt").read() == b"new"


# --- multipart writes and failures ------------------------------------------


def small_parts(options, **extra):
    config = boto3.s3.transfer.TransferConfig(
        multipart_threshold=5 * MIB, multipart_chunksize=5 * MIB, max_concurrency=2
    )
    return S3Storage(**options, transfer_config=config, **extra)


def test_written_file_goes_out_in_parts(seaweed_options):
    storage = small_parts(seaweed_options, max_memory_size=MIB)
    with recorded_requests(storage) as operations, storage.open("parts.bin", "wb") as handle:
        for _ in range(12):
            handle.write(b"p" * MIB)
    assert operations == [
        "CreateMultipartUpload",
        "UploadPart",
        "UploadPart",
        "UploadPart",
        "CompleteMultipartUpload",
    ]
    assert storage.size("parts.bin") == 12 * MIB


def test_exception_inside_with_block_publishes_nothing(seaweedfs_server, seaweed_options):
    storage = small_parts(seaweed_options)
    with pytest.raises(RuntimeError), storage.open("abandoned.bin", "wb") as handle:
        handle.write(b"q" * (6 * MIB))  # one part is already uploaded
        raise RuntimeError("the producer failed")
    assert not storage.exists("abandoned.bin")
    uploads = raw_client(seaweedfs_server).list_multipart_uploads(
        Bucket=seaweed_options["bucket_name"], Prefix=seaweed_options["location"]
    )
    assert not uploads.get("Uploads")


class FailingContent(ContentFile):
    def chunks(self, chunk_size=None):
        yield b"x" * MIB
        raise OSError("connection reset by peer")

    def read(self, size=-1):
        if self.file.tell() >= 7 * MIB:
            raise OSError("connection reset by peer")
        return super().read(size)


def test_failed_multipart_save_is_aborted(seaweedfs_server, seaweed_options):
    storage = small_parts(seaweed_options)
    with pytest.raises(OSError, match="connection reset"):
        storage.save("failed.bin", FailingContent(b"z" * (20 * MIB)))
    assert not storage.exists("failed.bin")
    uploads = raw_client(seaweedfs_server).list_multipart_uploads(
        Bucket=seaweed_options["bucket_name"], Prefix=seaweed_options["location"]
    )
    assert not uploads.get("Uploads")


def test_server_stopped_mid_multipart_upload(tmp_path):
    server = start_seaweedfs(tmp_path / "weed")
    try:
        create_bucket(server, "restart")
        storage = small_parts(
            {**server.client_options(), "bucket_name": "restart"},
            client_config=Config(retries={"max_attempts": 1}, connect_timeout=2, read_timeout=10),
        )
        handle = storage.open("interrupted.bin", "wb")
        handle.write(b"r" * (6 * MIB))  # the first part is stored
        server.kill()
        with pytest.raises(OSError) as caught:
            handle.write(b"r" * (6 * MIB))
            handle.close()
        assert "s3://restart/interrupted.bin" in str(caught.value)
        server.restart()
        assert not storage.exists("interrupted.bin")
        assert storage.save("after.txt", ContentFile(b"back")) == "after.txt"
        assert storage.open("after.txt").read() == b"back"
    finally:
        server.stop()


# --- object parameters: ACL, headers, gzip ----------------------------------


def test_default_acl_is_private_and_setting_applies(moto_server, moto_options):
    client = raw_client(moto_server)
    bucket = moto_options["bucket_name"]

    def public(storage, name):
        key = storage._key(name)
        grants = client.get_object_acl(Bucket=bucket, Key=key)["Grants"]
        return any(grant["Grantee"].get("URI", "").endswith("/global/AllUsers") for grant in grants)

    private = S3Storage(**moto_options)
    assert not public(private, private.save("private.txt", ContentFile(b"p")))
    with override_settings(AWS_DEFAULT_ACL="public-read"):
        shared = S3Storage(**moto_options)
        assert public(shared, shared.save("public.txt", ContentFile(b"p")))
        assert public(shared, shared.save("big.bin", ContentFile(b"b" * (9 * MIB))))


def test_aws_headers_and_object_parameters_kept(seaweedfs_server, seaweed_options):
    headers = {
        "Expires": "Thu, 15 Apr 2010 20:00:00 GMT",
        "Cache-Control": "max-age=86400",
        "Content-Disposition": "attachment",
        "x-amz-meta-owner": "team",
    }
    with override_settings(AWS_HEADERS=headers):
        storage = S3Storage(**seaweed_options, object_parameters={"ContentLanguage": "fr"})
        names = [
            storage.save("h.txt", ContentFile(b"h")),
            storage.save("h.bin", ContentFile(b"h" * (9 * MIB))),
        ]
        with storage.open("w.txt", "w") as handle:
            handle.write("written")
        names.append("w.txt")
    client = raw_client(seaweedfs_server)
    for name in names:
        head = client.head_object(Bucket=storage.bucket_name, Key=storage._key(name))
        assert head["CacheControl"] == "max-age=86400"
        assert head["ContentDisposition"] == "attachment"
        assert head["ContentLanguage"] == "fr"
        assert head["Metadata"] == {"owner": "team"}
        assert head["ResponseMetadata"]["HTTPHeaders"]["expires"] == headers["Expires"]
    assert client.head_object(Bucket=storage.bucket_name, Key=storage._key("h.txt"))[
        "ContentType"
    ].startswith("text/plain")


def test_gzip_keeps_size_truthful(seaweedfs_server, seaweed_options):
    storage = S3Storage(**seaweed_options, gzip=True)
    css = b"body { color: red; }\n" * 5000
    name = storage.save("site.css", ContentFile(css))
    head = raw_client(seaweedfs_server).head_object(
        Bucket=storage.bucket_name, Key=storage._key(name)
    )
    assert head["ContentEncoding"] == "gzip"
    assert head["ContentLength"] < len(css) // 10
    assert storage.size(name) == len(css)
    assert storage.open(name).read() == css
    with storage.open(name) as handle:
        handle.seek(50_000)
        assert handle.read(21) == css[50_000:50_021]
    status, body, _ = fetch(storage.url(name))
    assert status == 200 and gzip.decompress(body) == css
    # Only the listed content types are compressed.
    plain = storage.save("data.bin", ContentFile(css))
    assert storage.size(plain) == len(css)
    head = raw_client(seaweedfs_server).head_object(
        Bucket=storage.bucket_name, Key=storage._key(plain)
    )
    assert "ContentEncoding" not in head


def test_gzip_multipart(seaweed_options):
    storage = small_parts(seaweed_options, gzip=True)
    payload = b"".join(b"%08d .a { margin: 0 }\n" % i for i in range(400_000))
    name = storage.save("big.css", ContentFile(payload))
    assert storage.size(name) == len(payload)
    assert storage.open(name).read() == payload


# --- URLs -------------------------------------------------------------------


def test_presigned_get_over_http(storage):
    name = storage.save("dir/signed file ü.txt", ContentFile(b"signed"))
    url = storage.url(name)
    assert "X-Amz-Signature=" in url
    status, body, _ = fetch(url)
    assert (status, body) == (200, b"signed")
    # SeaweedFS checks signatures: a forged one is refused.
    status, _, _ = fetch(url[:-4] + ("0000" if not url.endswith("0000") else "1111"))
    assert status == 403
    # Unsigned URLs of private objects are refused.
    unsigned = S3Storage(**_options(storage), querystring_auth=False).url(name)
    assert "X-Amz" not in unsigned and unsigned == url.split("?")[0]
    assert fetch(unsigned)[0] == 403
    # The botocore path (response parameters) works too.
    url = storage.url(name, parameters={"ResponseContentDisposition": "attachment"})
    status, body, headers = fetch(url)
    assert (status, body) == (200, b"signed")
    assert headers.get("Content-Disposition") == "attachment"


def test_fast_presigned_url_matches_botocore(storage, monkeypatch):
    import datetime

    import botocore.auth

    now = datetime.datetime(2030, 1, 2, 3, 4, 5)
    monkeypatch.setattr(botocore.auth, "get_current_datetime", lambda: now)
    epoch = now.replace(tzinfo=datetime.UTC).timestamp()
    monkeypatch.setattr(s3_signing, "_now", lambda: epoch)
    for name in ("a b/c+d~ü.txt", "plain.txt", "x/y=z&w?.bin"):
        ours = storage.url(name, expire=600)
        assert "X-Amz-Signature" in ours
        theirs = storage.connection.generate_presigned_url(
            "get_object",
            Params={"Bucket": storage.bucket_name, "Key": storage._key(name)},
            ExpiresIn=600,
        )
        assert ours.split("?")[0] == theirs.split("?")[0]
        assert dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(ours).query)) == dict(
            urllib.parse.parse_qsl(urllib.parse.urlsplit(theirs).query)
        )


def test_presigned_put_upload_over_http(storage):
    url = storage.presigned_upload_url("uploads/direct.txt", content_type="text/plain")
    status, _, _ = fetch(
        url, data=b"from the browser", method="PUT", headers={"Content-Type": "text/plain"}
    )
    assert status == 200
    assert storage.open("uploads/direct.txt").read() == b"from the browser"


def test_presigned_post_upload_over_http(storage):
    form = storage.presigned_post("uploads/form.txt", max_size=1000)
    boundary = uuid.uuid4().hex
    parts = []
    for field, value in form["fields"].items():
        parts.append(
            f'--{boundary}\r\nContent-Disposition: form-data; name="{field}"\r\n\r\n{value}\r\n'
        )
    body = (
        "".join(parts).encode()
        + (
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="f.txt"\r\n'
            f"Content-Type: text/plain\r\n\r\n"
        ).encode()
        + b"posted content\r\n"
        + f"--{boundary}--\r\n".encode()
    )
    status, answer, _ = fetch(
        form["url"],
        data=body,
        method="POST",
        headers={"Content-Type": f"multipart/form-data; boundary={boundary}"},
    )
    assert status in (200, 201, 204), answer
    assert storage.open("uploads/form.txt").read() == b"posted content"


def test_custom_domain_and_protocol(seaweed_options):
    storage = S3Storage(**seaweed_options, custom_domain="cdn.example.com", url_protocol="http")
    assert storage.url("a b.txt") == f"http://cdn.example.com/{storage.location}/a%20b.txt"


def test_cloudfront_signed_url_verifies_with_public_key(seaweed_options):
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import padding, rsa

    private_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = private_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    with override_settings(AWS_CLOUDFRONT_KEY_ID="K2JCJMDEHXQW5F", AWS_CLOUDFRONT_KEY=pem):
        storage = S3Storage(**seaweed_options, custom_domain="d111.cloudfront.net")
        url = storage.url("img/photo.jpg", expire=120)
        assert pem not in repr(storage) and "K2JCJMDEHXQW5F" in repr(storage)
    resource, query = url.split("?")
    assert resource == f"https://d111.cloudfront.net/{storage.location}/img/photo.jpg"
    params = dict(urllib.parse.parse_qsl(query))
    assert params["Key-Pair-Id"] == "K2JCJMDEHXQW5F"
    policy = json.dumps(
        {
            "Statement": [
                {
                    "Resource": resource,
                    "Condition": {"DateLessThan": {"AWS:EpochTime": int(params["Expires"])}},
                }
            ]
        },
        separators=(",", ":"),
    )
    signature = base64.b64decode(
        params["Signature"].replace("-", "+").replace("_", "=").replace("~", "/")
    )
    private_key.public_key().verify(signature, policy.encode(), padding.PKCS1v15(), hashes.SHA1())


def test_bad_cloudfront_key_is_reported_without_echoing_it(seaweed_options):
    storage = S3Storage(
        **seaweed_options,
        custom_domain="d.cloudfront.net",
        cloudfront_key_id="KID",
        cloudfront_key="not-a-pem-secret-material",
    )
    with pytest.raises(ImproperlyConfigured) as caught:
        storage.url("x")
    assert "not-a-pem-secret-material" not in str(caught.value)


# --- errors never carry secrets ---------------------------------------------


def test_secrets_absent_from_errors_repr_and_logs(seaweedfs_server, seaweed_options, caplog):
    secret = "wrong-secret-Zq8vX2"
    options = {**seaweed_options, "secret_key": secret, "security_token": "tok-Secret-77"}
    storage = S3Storage(**options)
    caplog.set_level(logging.DEBUG, logger="storages")
    failures = []
    for call in (
        lambda: storage.save("s.txt", ContentFile(b"s")),
        lambda: storage.open("s.txt"),
        lambda: storage.size("s.txt"),
        lambda: storage.listdir(""),
        lambda: storage.delete("s.txt"),
    ):
        with pytest.raises(OSError) as caught:
            call()
        failures.append(caught.value)
    unreachable = S3Storage(
        **{**options, "endpoint_url": "http://127.0.0.1:9"},
        client_config=Config(retries={"max_attempts": 1}, connect_timeout=1),
    )
    with pytest.raises(S3StorageError) as caught:
        unreachable.save("s.txt", ContentFile(b"s"))
    failures.append(caught.value)
    for failure in failures:
        assert isinstance(failure, OSError)
        text = "".join(traceback.format_exception(failure))
        assert secret not in text and "tok-Secret-77" not in text
        assert "s3://" in str(failure)
    assert secret not in repr(storage) and "tok-Secret-77" not in repr(storage)
    assert secret not in caplog.text


def test_missing_object_and_bucket_errors_name_bucket_and_key(seaweed_options, moto_options):
    storage = S3Storage(**seaweed_options)
    with pytest.raises(FileNotFoundError, match=r"s3://shared/t-\w+/nope\.txt"):
        storage.size("nope.txt")
    # (SeaweedFS creates a missing bucket on upload for an admin; moto refuses.)
    other = S3Storage(**{**moto_options, "bucket_name": "no-such-bucket-here"})
    with pytest.raises(OSError, match="no-such-bucket-here"):
        other.save("a.txt", ContentFile(b"a"))


def test_delete_many_is_one_request_per_thousand_names(storage):
    for name in ("a.txt", "d/b.txt", "d/e/c.txt"):
        storage.save(name, ContentFile(b"x"))
    with recorded_requests(storage) as operations:
        storage.delete_many(["a.txt", "d/b.txt", "d/e/c.txt", "never-there.txt"])
    assert list(operations) == ["DeleteObjects"]
    assert list(storage.list_stored()) == []
    missing = [f"missing/{index}.txt" for index in range(1001)]
    with recorded_requests(storage) as operations:
        storage.delete_many(missing)
    assert list(operations) == ["DeleteObjects", "DeleteObjects"]


def test_delete_many_refuses_unsafe_names_before_sending(storage):
    with recorded_requests(storage) as operations, pytest.raises(SuspiciousFileOperation):
        storage.delete_many(["fine.txt", "../escape.txt"])
    assert list(operations) == []


# --- listing, existence, copy and move --------------------------------------


def test_exists_for_directory_prefix_and_listdir(storage):
    storage.save("d/e/f.txt", ContentFile(b"f"))
    assert storage.exists("d") and storage.exists("d/") and storage.exists("d/e")
    assert not storage.exists("d/e/f")
    assert storage.listdir("d") == (["e"], [])


def test_listdir_paginates(moto_server, moto_options):
    storage = S3Storage(**moto_options)
    client = raw_client(moto_server)
    for i in range(1005):
        client.put_object(Bucket=storage.bucket_name, Key=storage._key(f"many/{i:04d}"), Body=b"")
    directories, files = storage.listdir("many")
    assert directories == [] and len(files) == 1005


def test_copy_and_move_are_server_side(storage):
    storage.save("src.txt", ContentFile(b"copy me"))
    with recorded_requests(storage) as operations:
        assert storage.copy("src.txt", "copied.txt") == "copied.txt"
    assert "GetObject" not in operations and "PutObject" not in operations
    assert storage.move("copied.txt", "moved/here.txt") == "moved/here.txt"
    assert not storage.exists("copied.txt")
    assert storage.open("moved/here.txt").read() == b"copy me"


# --- configuration ----------------------------------------------------------


def test_checksum_setting_for_older_s3_compatibles(seaweed_options):
    storage = S3Storage(**seaweed_options, checksums="when_required")
    config = storage.connection.meta.config
    assert config.request_checksum_calculation == "when_required"
    assert config.response_checksum_validation == "when_required"
    with recorded_requests(storage):
        name = storage.save("c.txt", ContentFile(b"c"))
    assert storage.open(name).read() == b"c"
    with pytest.raises(ImproperlyConfigured, match="AWS_S3_CHECKSUMS"):
        S3Storage(**seaweed_options, checksums="sometimes")


@pytest.mark.parametrize(
    ("value", "style", "bucket_host"),
    [
        ("SUBDOMAIN", "virtual", False),
        ("CallingFormat.PATH", "path", False),
        ("boto.s3.connection.OrdinaryCallingFormat", "path", False),
        ("boto.s3.connection.SubdomainCallingFormat", "virtual", False),
        ("VHostCallingFormat", "virtual", True),
        (1, "path", False),
        (2, "virtual", False),
        (3, "virtual", True),
    ],
)
def test_calling_formats_map_to_addressing_styles(value, style, bucket_host):
    assert calling_format_style(value) == (style, bucket_host)


def test_calling_format_setting(seaweed_options):
    with override_settings(AWS_CALLING_FORMAT="OrdinaryCallingFormat"):
        storage = S3Storage(**seaweed_options)
        assert storage.addressing_style == "path"
        assert storage.connection.meta.config.s3["addressing_style"] == "path"
    with pytest.raises(ImproperlyConfigured, match="AWS_CALLING_FORMAT"):
        S3Storage(**seaweed_options, calling_format="telepathy")


def test_header_names_become_boto3_parameters():
    assert header_parameters(
        {
            "Cache-Control": "max-age=1",
            "x-amz-storage-class": "STANDARD",
            "x-amz-acl": "private",
            "X-Amz-Meta-Who": "me",
            "ContentLanguage": "en",
        }
    ) == {
        "CacheControl": "max-age=1",
        "StorageClass": "STANDARD",
        "ACL": "private",
        "ContentLanguage": "en",
        "Metadata": {"who": "me"},
    }


def test_settings_and_options(seaweed_options):
    with override_settings(AWS_QUERYSTRING_EXPIRE=60, AWS_LOCATION="from-settings"):
        storage = S3Storage(bucket_name="b")
        assert storage.querystring_expire == 60 and storage.location == "from-settings"
    with pytest.raises(ImproperlyConfigured, match="no option 'bucket'"):
        S3Storage(bucket="x")
    static = S3StaticStorage(**seaweed_options)
    assert static.querystring_auth is False and static.file_overwrite is True
    path, _args, kwargs = S3BotoStorage(bucket_name="b").deconstruct()
    assert path == "storages.backends.s3boto.S3BotoStorage" and kwargs == {"bucket_name": "b"}


def test_storage_pickles_after_use_and_makes_a_new_client(storage):
    name = storage.save("p.txt", ContentFile(b"p"))
    storage.url(name)
    revived = pickle.loads(pickle.dumps(storage))
    assert "_client" not in revived.__dict__
    assert revived.open(name).read() == b"p"
    assert revived.connection is revived.connection


def test_one_client_shared_by_threads(storage):
    clients = []
    barrier = threading.Barrier(8)

    def grab():
        barrier.wait(timeout=30)
        clients.append(storage.connection)

    threads = [threading.Thread(target=grab) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert len({id(client) for client in clients}) == 1


def test_manifest_storage_reads_no_manifest_when_missing(seaweed_options):
    storage = S3ManifestStaticStorage(**seaweed_options)
    assert storage.hashed_files == {}


def test_writer_dropped_without_close_publishes_nothing(seaweedfs_server, seaweed_options):
    import gc

    storage = small_parts(seaweed_options)
    handle = storage.open("dropped.bin", "wb")
    handle.write(b"d" * (6 * MIB))
    del handle
    gc.collect()
    assert not storage.exists("dropped.bin")
    uploads = raw_client(seaweedfs_server).list_multipart_uploads(
        Bucket=seaweed_options["bucket_name"], Prefix=seaweed_options["location"]
    )
    assert not uploads.get("Uploads")
