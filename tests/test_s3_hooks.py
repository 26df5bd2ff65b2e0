"""Direct uploads step aside for anything that watches botocore's requests.

Under moto's in-process ``mock_aws`` (how most Django projects test S3 code)
nothing may leave the machine; a user's ``before-send`` handler must see every
request.
"""

from __future__ import annotations

import ipaddress
import socket

import boto3
import boto3.s3.transfer
import botocore.handlers
import pytest
from django.core.files.base import ContentFile

from storages.backends.s3 import S3Storage
from storages.backends.s3.direct import foreign_handlers
from tests.servers.s3 import recorded_requests

MIB = 1024 * 1024


def _loopback(host) -> bool:
    host = str(host)
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.split("%")[0]).is_loopback
    except ValueError:
        return False


@pytest.fixture
def network_watch(monkeypatch):
    """Addresses anything tried to resolve or connect to off this machine (then refused)."""
    reached: list[object] = []

    def refuse(host, what):
        if not _loopback(host):
            reached.append((what, host))
            raise OSError(f"test: no traffic off this machine ({what} {host})")

    real_connect = socket.socket.connect
    real_create = socket.create_connection
    real_getaddrinfo = socket.getaddrinfo

    def connect(self, address):
        if self.family in (socket.AF_INET, socket.AF_INET6):
            refuse(address[0], "connect")
        return real_connect(self, address)

    def create_connection(address, *args, **kwargs):
        refuse(address[0], "create_connection")
        return real_create(address, *args, **kwargs)

    def getaddrinfo(host, *args, **kwargs):
        refuse(host, "getaddrinfo")
        return real_getaddrinfo(host, *args, **kwargs)

    monkeypatch.setattr(socket.socket, "connect", connect)
    monkeypatch.setattr(socket, "create_connection", create_connection)
    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return reached


@pytest.fixture
def mock_aws():
    """moto's ``mock_aws``; botocore's built-in handler list is restored afterwards.

    Importing moto adds its stubber to botocore's built-in handlers, so every
    client made later would carry it (and skip direct uploads) in other tests.
    """
    saved = list(botocore.handlers.BUILTIN_HANDLERS)
    from moto import mock_aws

    try:
        with mock_aws():
            yield
    finally:
        botocore.handlers.BUILTIN_HANDLERS[:] = saved


def test_saves_under_mock_aws_stay_on_this_machine(mock_aws, network_watch):
    boto3.client("s3", region_name="us-east-1").create_bucket(Bucket="media-bucket")
    storage = S3Storage(
        bucket_name="media-bucket",
        access_key="testing",
        secret_key="testing",
        region_name="us-east-1",
        transfer_config=boto3.s3.transfer.TransferConfig(
            multipart_threshold=5 * MIB, multipart_chunksize=5 * MIB
        ),
    )
    names = [storage.save("docs/a.txt", ContentFile(b"alpha")) for _ in range(3)]
    names.append(storage.save("docs/b.bin", ContentFile(b"\x00" * (6 * MIB))))  # in parts
    with storage.open("docs/w.txt", "wb") as handle:
        handle.write(b"written")
    assert network_watch == []
    assert len(set(names)) == 4 and names[0] == "docs/a.txt"
    client = boto3.client("s3", region_name="us-east-1")
    listed = client.list_objects_v2(Bucket="media-bucket")["Contents"]
    assert sorted(entry["Key"] for entry in listed) == sorted([*names, "docs/w.txt"])
    body = client.get_object(Bucket="media-bucket", Key=names[1])["Body"].read()
    assert body == b"alpha"
    assert storage.open("docs/w.txt").read() == b"written"
    assert storage._direct_put() is None  # moto's stubber is a handler of its own


def test_user_before_send_handler_sees_every_request(seaweed_options):
    storage = S3Storage(**seaweed_options)
    storage.save("first.txt", ContentFile(b"1"))  # direct, while nothing else watches
    seen = []
    storage.connection.meta.events.register(
        "before-send.s3", lambda request, **kwargs: seen.append(request.method)
    )
    with recorded_requests(storage) as operations:
        storage.save("first.txt", ContentFile(b"2"))  # taken: 412, then a new name
        storage.save("second.txt", ContentFile(b"3"))
    assert operations.via == ["botocore"] * len(operations) and len(operations) == 3
    assert seen == ["PUT", "PUT", "PUT"]
    assert foreign_handlers(storage.connection.meta.events) != []


def test_handler_registered_on_the_session_turns_direct_uploads_off(seaweed_options):
    seen = []

    class Recording(S3Storage):
        def _make_session(self):
            session = super()._make_session()
            session.events.register("request-created.s3", lambda request, **kw: seen.append(1))
            return session

    storage = Recording(**seaweed_options)
    with recorded_requests(storage) as operations:
        storage.save("s.txt", ContentFile(b"s"))
    assert operations.via == ["botocore"] and seen == [1]


def test_plain_client_has_only_botocore_handlers(seaweed_options):
    storage = S3Storage(**seaweed_options)
    assert foreign_handlers(storage.connection.meta.events) == []
    with recorded_requests(storage) as operations:
        storage.save("plain.txt", ContentFile(b"p"))
    assert operations.via == ["direct"]
