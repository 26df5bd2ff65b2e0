"""storages.backends.s3.direct: small uploads signed here, sent on botocore's HTTP session.

Against SeaweedFS, which checks every signature, over plain HTTP and over TLS.
"""

from __future__ import annotations

import datetime

import pytest
from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.exceptions import ConnectionClosedError
from django.core.files.base import ContentFile

from storages.backends.s3 import S3StaticStorage, S3Storage
from storages.backends.s3 import signing as s3_signing
from storages.backends.s3.errors import S3StorageError
from storages.backends.s3.signing import SigV4Signer, UrlBase
from tests.servers.ftp import make_certificates
from tests.servers.s3 import (
    create_bucket,
    recorded_requests,
    sent_directly,
    start_seaweedfs,
    watched_sends,
)


@pytest.fixture
def storage(seaweed_options):
    return S3Storage(**seaweed_options)


def head(storage, name):
    return storage.connection.head_object(Bucket=storage.bucket_name, Key=storage._key(name))


# --- the direct path is taken, and the server accepts it ----------------------------


def test_small_save_is_one_direct_request_with_every_header(seaweed_options):
    storage = S3Storage(
        **seaweed_options,
        object_parameters={
            "CacheControl": "max-age=86400, public",
            "ContentDisposition": 'attachment; filename="report.txt"',
            "ContentLanguage": "en",
            "Metadata": {"owner": "alice", "purpose": "a  spaced   value"},
        },
    )
    with recorded_requests(storage) as operations:
        name = storage.save("report.txt", ContentFile(b"quarterly figures"))
    assert list(operations) == ["PutObject"] and operations.via == ["direct"]
    answer = head(storage, name)
    assert answer["ContentType"] == "text/plain"
    assert answer["CacheControl"] == "max-age=86400, public"
    assert answer["ContentDisposition"] == 'attachment; filename="report.txt"'
    assert answer["ContentLanguage"] == "en"
    assert answer["Metadata"] == {"owner": "alice", "purpose": "a  spaced   value"}
    assert storage.open(name).read() == b"quarterly figures"


@pytest.mark.parametrize(
    "name",
    [
        "plain.txt",
        "with space/and+plus.txt",
        "ünïcödé/日本語.txt",
        "reserved !$&'()*,;=@:[]{}.txt",
        "percent%20not-a-space%2F.txt",
        "tilde~under_score-dash.dots..txt",
    ],
)
def test_names_that_need_encoding_are_signed_correctly(storage, name):
    with recorded_requests(storage) as operations:
        stored = storage.save(name, ContentFile(name.encode()))
    assert stored == name and operations.via == ["direct"]
    assert storage.open(name).read() == name.encode()
    assert (
        name.rsplit("/", 1)[-1] in storage.listdir(name.rsplit("/", 1)[0] if "/" in name else "")[1]
    )


def test_taken_name_is_answered_by_the_direct_request(storage):
    storage.save("taken.txt", ContentFile(b"theirs"))
    with recorded_requests(storage) as operations:
        name = storage._save("taken.txt", ContentFile(b"ours"))
    assert name != "taken.txt"
    # The 412 was final (not sent again by botocore); then a free name is found and used.
    puts = [
        via
        for operation, via in zip(operations, operations.via, strict=True)
        if operation == "PutObject"
    ]
    assert operations[0] == operations[-1] == "PutObject" and puts == ["direct", "direct"]
    assert storage.open("taken.txt").read() == b"theirs"
    assert storage.open(name).read() == b"ours"


def test_small_file_written_with_open_is_published_directly(storage):
    with recorded_requests(storage) as operations:
        with storage.open("written.txt", "wb") as handle:
            handle.write(b"written ")
            handle.write(b"in pieces")
        with pytest.raises(FileExistsError), storage.open("written.txt", "xb") as handle:
            handle.write(b"must not replace")
    assert list(operations) == ["PutObject", "PutObject"]
    assert operations.via == ["direct", "direct"]
    assert storage.open("written.txt").read() == b"written in pieces"


def test_overwrite_sends_no_condition(seaweed_options):
    storage = S3Storage(**seaweed_options, file_overwrite=True)
    storage.save("o.txt", ContentFile(b"1"))
    with recorded_requests(storage) as operations:
        assert storage.save("o.txt", ContentFile(b"2")) == "o.txt"
    assert operations.via == ["direct"]
    assert storage.open("o.txt").read() == b"2"


def test_gzipped_content_goes_direct(seaweed_options):
    storage = S3StaticStorage(**seaweed_options, gzip=True)
    with recorded_requests(storage) as operations:
        name = storage.save("app.css", ContentFile(b"body { color: red }\n" * 200))
    assert operations.via == ["direct"]
    assert head(storage, name)["ContentEncoding"] == "gzip"
    assert storage.open(name).read() == b"body { color: red }\n" * 200


def test_large_uploads_stay_multipart_through_botocore(seaweed_options):
    import boto3

    config = boto3.s3.transfer.TransferConfig(
        multipart_threshold=5 << 20, multipart_chunksize=5 << 20
    )
    storage = S3Storage(**seaweed_options, transfer_config=config)
    with recorded_requests(storage) as operations:
        storage.save("big.bin", ContentFile(b"b" * (6 << 20)))
    assert operations[0] == "CreateMultipartUpload" and set(operations.via) == {"botocore"}


# --- what goes through botocore instead -------------------------------------------


def test_parameters_botocore_rewrites_go_through_botocore(seaweed_options):
    expires = datetime.datetime(2030, 1, 2, 3, 4, 5, tzinfo=datetime.UTC)
    storage = S3Storage(**seaweed_options, object_parameters={"Expires": expires})
    with recorded_requests(storage) as operations:
        name = storage.save("expiring.txt", ContentFile(b"e"))
    assert operations.via == ["botocore"]
    assert storage.open(name).read() == b"e"


def test_non_ascii_metadata_is_left_to_botocore_which_refuses_it(seaweed_options):
    storage = S3Storage(**seaweed_options, object_parameters={"Metadata": {"city": "Zürich"}})
    with recorded_requests(storage) as operations, pytest.raises(S3StorageError, match="ASCII"):
        storage.save("meta.txt", ContentFile(b"m"))
    assert list(operations) == []  # refused before anything was sent


def test_turned_off_by_the_setting(seaweed_options):
    storage = S3Storage(**seaweed_options, direct_uploads=False)
    with recorded_requests(storage) as operations:
        storage.save("off.txt", ContentFile(b"o"))
    assert operations.via == ["botocore"]
    assert storage._direct_put() is None


def test_not_used_without_signature_version_4(seaweed_options):
    assert S3Storage(**seaweed_options, signature_version="s3")._direct_put() is None


def test_refused_request_is_sent_again_by_botocore_and_fails_cleanly(seaweed_options):
    storage = S3Storage(**{**seaweed_options, "secret_key": "wrong-secret-must-not-leak"})
    with recorded_requests(storage) as operations, pytest.raises(S3StorageError) as caught:
        storage.save("refused.txt", ContentFile(b"r"))
    assert operations.via[0] == "direct" and "botocore" in operations.via[1:]
    assert "wrong-secret-must-not-leak" not in str(caught.value)
    assert "SignatureDoesNotMatch" in str(caught.value) or "AccessDenied" in str(caught.value)


def test_dropped_connection_is_retried_by_botocore(storage):
    dropped = []

    def drop_direct(request):
        if sent_directly(request):
            dropped.append(request.url)
            raise ConnectionClosedError(endpoint_url=request.url)

    with watched_sends(storage, drop_direct):
        name = storage.save("retried.txt", ContentFile(b"still stored"))
    assert len(dropped) == 1
    assert storage.open(name).read() == b"still stored"


def test_body_damaged_on_the_way_is_refused_then_sent_again(storage):
    damaged = []

    def damage_direct(request):
        if sent_directly(request):
            damaged.append(request.url)
            request.body = request.body.replace(b"good", b"evil")

    with watched_sends(storage, damage_direct):
        name = storage.save("checked.txt", ContentFile(b"good bytes"))
    assert len(damaged) == 1
    assert storage.open(name).read() == b"good bytes"


def test_server_gone_is_a_clear_error(seaweed_options):
    server = start_seaweedfs()
    create_bucket(server, "gone")
    storage = S3Storage(
        **{**seaweed_options, "endpoint_url": server.endpoint_url, "bucket_name": "gone"},
        client_config=__import__("botocore.config").config.Config(
            retries={"max_attempts": 1}, connect_timeout=2
        ),
    )
    storage.save("first.txt", ContentFile(b"1"))
    server.discard()
    with pytest.raises(S3StorageError, match=r"Could not save s3://gone/"):
        storage.save("second.txt", ContentFile(b"2"))


# --- TLS: verified with the configured CA, refused with another --------------------


@pytest.fixture(scope="module")
def tls_server(tmp_path_factory):
    certs = make_certificates(tmp_path_factory.mktemp("s3-certs"))
    server = start_seaweedfs(tmp_path_factory.mktemp("seaweedfs-tls"), certs=certs)
    yield server, certs
    server.discard()


def test_direct_upload_over_verified_tls(tls_server):
    server, certs = tls_server
    import boto3

    boto3.client("s3", verify=certs["ca"], **server.boto3_kwargs()).create_bucket(Bucket="tls")
    storage = S3Storage(**server.client_options(), bucket_name="tls", verify=certs["ca"])
    assert storage.endpoint_url.startswith("https://")
    with recorded_requests(storage) as operations:
        name = storage.save("secure.txt", ContentFile(b"over TLS"))
    assert operations.via == ["direct"]
    assert storage.open(name).read() == b"over TLS"

    untrusting = S3Storage(**server.client_options(), bucket_name="tls", verify=certs["other_ca"])
    with recorded_requests(untrusting) as operations, pytest.raises(S3StorageError, match="SSL"):
        untrusting.save("refused.txt", ContentFile(b"no"))
    assert operations.via[0] == "direct"
    assert storage.exists("secure.txt") and not storage.exists("refused.txt")


# --- the signature itself: the same as botocore's for the same request --------------


@pytest.mark.parametrize("token", [None, "session-token/with+special=chars"])
@pytest.mark.parametrize(
    ("base_url", "key"),
    [
        ("http://127.0.0.1:9000/bucket/storages-url-probe", "a/b c+d.txt"),
        ("https://bucket.s3.eu-west-1.amazonaws.com/storages-url-probe", "ü/~x*y(z).bin"),
    ],
)
def test_signature_matches_botocore(monkeypatch, token, base_url, key):
    moment = datetime.datetime(2026, 11, 25, 12, 30, 45, tzinfo=datetime.UTC)
    monkeypatch.setattr(s3_signing, "_now", lambda: moment.timestamp())
    monkeypatch.setattr("botocore.auth.get_current_datetime", lambda: moment)
    credentials = Credentials("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", token)
    signer = SigV4Signer(UrlBase(base_url), "eu-west-1", credentials)
    body = b"some bytes"
    headers = {
        "Content-Type": "text/plain",
        "Cache-Control": "max-age=60,  public",
        "x-amz-meta-owner": "alice",
        "If-None-Match": "*",
    }
    import hashlib

    payload_hash = hashlib.sha256(body).hexdigest()
    path, ours = signer.sign_headers("PUT", key, headers, payload_hash)

    theirs = AWSRequest(
        method="PUT", url=signer.base.origin + path, data=body, headers=dict(headers)
    )
    theirs.headers["X-Amz-Content-SHA256"] = payload_hash
    # botocore signs over https without the payload hash unless told to; tell it.
    theirs.context["payload_signing_enabled"] = True
    S3SigV4Auth(credentials, "s3", "eu-west-1").add_auth(theirs)
    assert ours["authorization"] == theirs.headers["Authorization"]
    assert ours["x-amz-date"] == theirs.headers["X-Amz-Date"]


# --- where direct uploads go: where botocore sends them ---------------------------


def refuse_any_send(request):
    raise AssertionError(f"nothing may be sent, but a request went to {request.url}")


@pytest.mark.parametrize(
    ("options", "origin", "region"),
    [
        # AWS: botocore presigns GETs on the global host but uploads to the regional one.
        (
            {"bucket_name": "mybucket", "region_name": "eu-west-1"},
            "https://mybucket.s3.eu-west-1.amazonaws.com",
            "eu-west-1",
        ),
        (
            {"bucket_name": "mybucket", "region_name": "eu-west-1", "addressing_style": "path"},
            "https://s3.eu-west-1.amazonaws.com",
            "eu-west-1",
        ),
        (
            {"bucket_name": "b1", "endpoint_url": "http://127.0.0.1:9", "region_name": "xx-1"},
            "http://127.0.0.1:9",
            "xx-1",
        ),
    ],
)
def test_direct_uploads_go_where_botocore_sends_them(options, origin, region):
    storage = S3Storage(access_key="AKIDEXAMPLE", secret_key="not-a-real-secret", **options)
    with watched_sends(storage, refuse_any_send):  # the target is worked out locally
        direct = storage._direct_put()
    assert direct is not None
    assert direct.signer.base.origin == origin
    assert direct.signer.region == region


def test_turned_off_after_uploads_keep_being_refused(seaweed_options, caplog):
    storage = S3Storage(**{**seaweed_options, "secret_key": "wrong-secret-must-not-leak"})
    for attempt in range(3):
        with recorded_requests(storage) as operations, pytest.raises(S3StorageError):
            storage.save(f"refused-{attempt}.txt", ContentFile(b"r"))
        assert operations.via[0] == "direct"
    assert "turned off" in caplog.text and "wrong-secret-must-not-leak" not in caplog.text
    with recorded_requests(storage) as operations, pytest.raises(S3StorageError):
        storage.save("refused-again.txt", ContentFile(b"r"))
    assert set(operations.via) == {"botocore"}


def test_concurrent_first_uploads_probe_once_and_send_no_probe(seaweed_options):
    from botocore.exceptions import ClientError

    from tests.concurrency import run_in_threads

    storage = S3Storage(**seaweed_options)
    with recorded_requests(storage) as operations:
        names = run_in_threads(
            lambda index: storage.save(f"first/{index}.txt", ContentFile(b"f")), 8
        )
    assert sorted(names) == sorted(f"first/{index}.txt" for index in range(8))
    assert list(operations) == ["PutObject"] * 8 and set(operations.via) == {"direct"}
    with pytest.raises(ClientError):
        storage.connection.head_object(Bucket=storage.bucket_name, Key=s3_signing.PROBE_KEY)
