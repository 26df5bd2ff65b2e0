"""Real S3 servers on 127.0.0.1: SeaweedFS (``weed mini``) and moto's server.

The start functions are plain Python, usable outside pytest (the demo uses
:func:`start_seaweedfs`); the fixtures below wrap them for the test session.

    server, endpoint_url, access_key, secret_key = start_seaweedfs(tmpdir)
    ...
    server.stop()
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import sys
import tempfile
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.servers.process import LOOPBACK, ServerProcess, free_port, port_answers

ACCESS_KEY = "storagestestkey"
SECRET_KEY = "storages-test-secret-do-not-leak"


def _program(name: str) -> str:
    """A console script from this interpreter's environment, else from PATH."""
    beside = Path(sys.executable).parent / name
    if beside.exists():
        return str(beside)
    found = shutil.which(name)
    if found is None:
        raise FileNotFoundError(
            f"{name!r} is not installed; pip install -r deps/pip/s3.txt (the test command does)"
        )
    return found


def _http_answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1):
            return True
    except urllib.error.HTTPError:
        return True  # any HTTP answer (403 for an anonymous call) means it serves
    except OSError:
        return False


@dataclass
class S3Server:
    """A running S3 server and how to reach it."""

    process: ServerProcess
    endpoint_url: str
    access_key: str
    secret_key: str

    def __iter__(self):
        # Allows ``server, endpoint_url, access_key, secret_key = start_seaweedfs(...)``.
        return iter((self.process, self.endpoint_url, self.access_key, self.secret_key))

    def stop(self) -> None:
        self.process.stop()

    def kill(self) -> None:
        self.process.kill()

    def discard(self) -> None:
        """Stop a server whose data is thrown away: no clean shutdown to wait for.

        ``weed mini`` takes 2-3 s to shut down cleanly (10 s, the whole grace,
        now and then); the tests' servers are never reused once stopped.
        """
        self.process.kill()

    def restart(self) -> None:
        """Start the same command again (same ports, same data directory)."""
        self.process.start()

    def boto3_kwargs(self) -> dict[str, str]:
        """Keyword arguments for ``boto3.client("s3", ...)``."""
        return {
            "endpoint_url": self.endpoint_url,
            "aws_access_key_id": self.access_key,
            "aws_secret_access_key": self.secret_key,
            "region_name": "us-east-1",
        }

    def storage_options(self, bucket: str) -> dict[str, str]:
        """Options for a storage on ``bucket``, under a key prefix of its own.

        A fresh prefix rather than a fresh bucket: a new bucket is a new
        SeaweedFS collection, which is slow to create.
        """
        return {
            **self.client_options(),
            "bucket_name": bucket,
            "location": f"t-{uuid.uuid4().hex}",
        }

    def client_options(self) -> dict[str, str]:
        """The storage options (``STORAGES[...]["OPTIONS"]``) that reach this server."""
        return {
            "endpoint_url": self.endpoint_url,
            "access_key": self.access_key,
            "secret_key": self.secret_key,
            "region_name": "us-east-1",
        }


def seaweedfs_command(
    data_dir: str | os.PathLike[str],
    access_key: str,
    secret_key: str,
    certs: dict[str, str] | None = None,
) -> tuple[list[str], str]:
    """The ``weed mini`` command line (every port chosen free) and its S3 endpoint.

    With ``certs`` (tests.servers.ftp.make_certificates), S3 is also served over
    TLS on a port of its own, and that https endpoint is the one returned.
    """
    data_dir = Path(data_dir)
    data_dir.mkdir(parents=True, exist_ok=True)
    identities = {
        "identities": [
            {
                "name": "storages",
                "credentials": [{"accessKey": access_key, "secretKey": secret_key}],
                "actions": ["Admin", "Read", "Write", "List", "Tagging"],
            }
        ]
    }
    config = data_dir / "s3-identities.json"
    config.write_text(json.dumps(identities))
    ports = {
        name: free_port()
        for name in (
            "master.port",
            "master.port.grpc",
            "volume.port",
            "volume.port.grpc",
            "filer.port",
            "filer.port.grpc",
            "s3.port",
            "s3.port.grpc",
            "admin.port",
            "admin.port.grpc",
        )
    }
    command = [
        _program("weed"),
        "mini",
        f"-dir={data_dir}",
        f"-ip={LOOPBACK}",
        f"-ip.bind={LOOPBACK}",
        *(f"-{name}={port}" for name, port in ports.items()),
        f"-s3.config={config}",
        "-admin.ui=false",
        "-webdav=false",
        "-master.telemetry=false",
        # Off: their fixed default ports (8181, 9101) would collide between servers.
        "-s3.port.iceberg=0",
        "-s3.port.lance=0",
    ]
    if certs:
        https_port = free_port()
        command += [
            f"-s3.port.https={https_port}",
            f"-s3.cert.file={certs['cert']}",
            f"-s3.key.file={certs['key']}",
        ]
        return command, f"https://{LOOPBACK}:{https_port}"
    return command, f"http://{LOOPBACK}:{ports['s3.port']}"


def start_seaweedfs(
    data_dir: str | os.PathLike[str] | None = None,
    *,
    access_key: str = ACCESS_KEY,
    secret_key: str = SECRET_KEY,
    certs: dict[str, str] | None = None,
    timeout: float = 60.0,
) -> S3Server:
    """Start SeaweedFS's all-in-one server with an S3 gateway; return when it answers."""
    data_dir = data_dir or tempfile.mkdtemp(prefix="storages-seaweedfs-")
    command, endpoint_url = seaweedfs_command(data_dir, access_key, secret_key, certs)
    if certs:  # the plain port answers HTTP; the TLS one is checked for a listener
        plain_url = f"http://{LOOPBACK}:{command_port(command, 's3.port')}"
        tls_port = int(command_port(command, "s3.port.https"))

        def ready() -> bool:
            return _http_answers(plain_url) and port_answers(tls_port)
    else:

        def ready() -> bool:
            return _http_answers(endpoint_url)

    process = ServerProcess("seaweedfs", command, ready=ready, timeout=timeout)
    process.start()
    return S3Server(process, endpoint_url, access_key, secret_key)


def start_seaweedfs_with_bucket(
    bucket: str,
    data_dir: str | os.PathLike[str] | None = None,
    *,
    prepare: Callable[[S3Server], object] | None = None,
    **options: Any,
) -> S3Server:
    """:func:`start_seaweedfs`, then create ``bucket`` (and ``prepare(server)``).

    A failure while setting up stops the server again.
    """
    server = start_seaweedfs(data_dir, **options)
    try:
        create_bucket(server, bucket)
        if prepare is not None:
            prepare(server)
    except BaseException:
        server.stop()
        raise
    return server


def command_port(command: list[str], option: str) -> str:
    """The value of ``-option=value`` in a command line."""
    prefix = f"-{option}="
    return next(arg[len(prefix) :] for arg in command if arg.startswith(prefix))


def start_moto(*, timeout: float = 60.0) -> S3Server:
    """Start moto's S3 server (it accepts any key and checks no signature)."""
    port = free_port()
    endpoint_url = f"http://{LOOPBACK}:{port}"
    process = ServerProcess(
        "moto",
        [_program("moto_server"), "-H", LOOPBACK, "-p", str(port)],
        ready=lambda: _http_answers(f"{endpoint_url}/moto-api/"),
        timeout=timeout,
    )
    process.start()
    return S3Server(process, endpoint_url, "motokey", "moto-secret-do-not-leak")


def create_bucket(server: S3Server, bucket: str) -> None:
    import boto3

    client = boto3.client("s3", **server.boto3_kwargs())
    client.create_bucket(Bucket=bucket)


# --- watching what a storage sends ----------------------------------------------


class RecordedRequests(list):
    """Operation names in order; ``via[i]`` says who sent request i ("direct" or "botocore")."""

    def __init__(self) -> None:
        super().__init__()
        self.via: list[str] = []


def operation_of(request) -> str:
    """The S3 operation an HTTP request performs (botocore's name for it)."""
    from urllib.parse import parse_qs, urlsplit

    query = parse_qs(urlsplit(request.url).query, keep_blank_values=True)
    method = request.method
    if "uploadId" in query:
        return {
            "PUT": "UploadPart",
            "POST": "CompleteMultipartUpload",
            "DELETE": "AbortMultipartUpload",
        }.get(method, "ListParts")
    if "uploads" in query:
        return "CreateMultipartUpload"
    if "list-type" in query:
        return "ListObjectsV2"
    if "delete" in query and method == "POST":
        return "DeleteObjects"
    if method == "PUT" and any(name.lower() == "x-amz-copy-source" for name in request.headers):
        return "CopyObject"
    return {"GET": "GetObject", "HEAD": "HeadObject", "PUT": "PutObject"}.get(
        method, "DeleteObject" if method == "DELETE" else method
    )


@contextlib.contextmanager
def watched_sends(storage, watch):
    """Call ``watch(request)`` before each HTTP request the storage sends.

    Hooked on its client's HTTP session, where botocore's requests and
    storages.backends.s3.direct's uploads both pass; ``watch`` may raise to fail a request.
    """
    http_session = storage.connection._endpoint.http_session
    send = http_session.send
    outer = http_session.__dict__.get("send")  # watches nest

    def watched(request):
        watch(request)
        return send(request)

    http_session.send = watched
    try:
        yield
    finally:
        if outer is None:
            del http_session.send
        else:
            http_session.send = outer


def sent_directly(request) -> bool:
    """Whether our s3.direct sent ``request`` (its User-Agent says so), not botocore."""
    from storages.backends.s3.direct import USER_AGENT

    agent = request.headers.get("user-agent") or request.headers.get("User-Agent") or ""
    return str(agent) == USER_AGENT


@contextlib.contextmanager
def recorded_requests(storage):
    """The S3 operations the storage sends over HTTP, in order (see :func:`watched_sends`)."""
    operations = RecordedRequests()

    def record(request):
        operations.append(operation_of(request))
        operations.via.append("direct" if sent_directly(request) else "botocore")

    with watched_sends(storage, record):
        yield operations


# --- fixtures ---------------------------------------------------------------------


@pytest.fixture(scope="session")
def seaweedfs_server(tmp_path_factory):
    server = start_seaweedfs(tmp_path_factory.mktemp("seaweedfs"))
    yield server
    server.discard()


@pytest.fixture(scope="session")
def seaweedfs_bucket(seaweedfs_server):
    create_bucket(seaweedfs_server, "shared")
    return "shared"


@pytest.fixture(scope="session")
def moto_bucket(moto_server):
    create_bucket(moto_server, "shared")
    return "shared"


@pytest.fixture
def seaweed_options(seaweedfs_server, seaweedfs_bucket):
    """Options for a storage on the shared SeaweedFS bucket, under a fresh prefix."""
    return seaweedfs_server.storage_options(seaweedfs_bucket)


@pytest.fixture
def moto_options(moto_server, moto_bucket):
    """Options for a storage on the shared moto bucket, under a fresh prefix."""
    return moto_server.storage_options(moto_bucket)


@pytest.fixture(scope="session")
def moto_server():
    server = start_moto()
    yield server
    server.stop()
