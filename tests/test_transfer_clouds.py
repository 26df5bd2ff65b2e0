"""storage_copy, storage_sync --delete and storage_verify between the clouds.

S3 (SeaweedFS), Azure Blob (Azurite) and Google Cloud Storage (fake-gcs-server),
all on 127.0.0.1, through the management commands as a user runs them: each
storage is a ``STORAGES`` alias with the options its docs give. The tree has
unicode and nested names and one file above every backend's single-request
limit (8 MiB), so the multipart / block / resumable upload paths are crossed.

Each direction checks: the destination holds exactly the source's names and
bytes; a re-run uploads nothing (every file is skipped: the copy resumes);
storage_verify agrees, and finds a planted difference; storage_sync --delete
makes a mirror; and no socket connects anywhere but 127.0.0.1.
"""

from __future__ import annotations

import io
import os
import socket
import threading
from typing import Any

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import storages
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import override_settings

pytest.importorskip("boto3")
pytest.importorskip("azure.storage.blob")
pytest.importorskip("google.cloud.storage")

MIB = 1024 * 1024
BACKENDS = {
    "s3": "storages.backends.s3.S3Storage",
    "azure": "storages.backends.azure_storage.AzureStorage",
    "gcs": "storages.backends.gcloud.GoogleCloudStorage",
}
#: (source, destination): the directions that matter, each cloud once on each side.
DIRECTIONS = [("s3", "azure"), ("azure", "gcs"), ("gcs", "s3")]


def tree() -> dict[str, bytes]:
    return {
        "top.txt": b"top\n",
        "empty.txt": b"",
        "ünïcødé/résumé été.txt": "déjà vu ✓\n".encode(),
        "文件/目录/数据.json": b'{"k": "\xe5\x80\xbc"}',
        "a/b/c/d/deep name (1).css": b"body { margin: 0 }\n" * 50,
        "media/big.bin": os.urandom(9 * MIB + 123),
    }


@pytest.fixture
def connections(monkeypatch):
    """Every address a socket connects to (in any thread) while the test runs."""
    seen: list[Any] = []
    lock = threading.Lock()
    real_connect = socket.socket.connect

    def connect(sock, address):
        with lock:
            seen.append(address)
        return real_connect(sock, address)

    monkeypatch.setattr(socket.socket, "connect", connect)
    return seen


@pytest.fixture
def uploads(monkeypatch):
    """Count of HTTP requests that write (PUT/POST), for all three SDKs.

    boto3 (botocore), azure-core and google-auth (requests) all send through
    urllib3's ``HTTPConnectionPool.urlopen``.
    """
    import urllib3.connectionpool

    counts = {"writes": 0, "all": 0}
    lock = threading.Lock()
    real_urlopen = urllib3.connectionpool.HTTPConnectionPool.urlopen

    def urlopen(self, method, url, *args, **kwargs):
        with lock:
            counts["all"] += 1
            if method.upper() in ("PUT", "POST", "PATCH"):
                counts["writes"] += 1
        return real_urlopen(self, method, url, *args, **kwargs)

    monkeypatch.setattr(urllib3.connectionpool.HTTPConnectionPool, "urlopen", urlopen)
    return counts


@pytest.fixture
def cloud_options(seaweedfs_server, seaweedfs_bucket, azurite_server, gcs_server):
    """A factory: fresh, empty ``OPTIONS`` on one of the three clouds."""

    def make(cloud: str) -> dict[str, Any]:
        if cloud == "s3":
            return seaweedfs_server.storage_options(seaweedfs_bucket)
        if cloud == "azure":
            return {
                "connection_string": azurite_server.connection_string(),
                "azure_container": azurite_server.create_container(),
            }
        return {**gcs_server.storage_options(gcs_server.create_bucket()), "location": "in/here"}

    return make


def run(command: str, *args: str) -> str:
    out = io.StringIO()
    workers = () if command == "storage_verify" else ("--workers", "4")
    call_command(command, *args, *workers, stdout=out, stderr=io.StringIO())
    return out.getvalue()


def contents(storage) -> dict[str, bytes]:
    from storages.transfer.tree import walk

    result = {}
    for name in walk(storage):
        with storage.open(name, "rb") as handle:
            result[name] = handle.read()
    return result


@pytest.mark.parametrize(("source", "destination"), DIRECTIONS, ids=lambda c: c)
def test_copy_sync_verify_between_clouds(source, destination, cloud_options, uploads, connections):
    files = tree()
    settings_storages = {
        "default": {"BACKEND": "django.core.files.storage.InMemoryStorage"},
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
        "src": {"BACKEND": BACKENDS[source], "OPTIONS": cloud_options(source)},
        "dst": {"BACKEND": BACKENDS[destination], "OPTIONS": cloud_options(destination)},
    }
    with override_settings(STORAGES=settings_storages):
        src, dst = storages["src"], storages["dst"]
        for name, data in files.items():
            assert src.save(name, ContentFile(data)) == name

        before = uploads["writes"]
        summary = run("storage_copy", "src", "dst")
        assert f"copied {len(files)}" in summary, summary
        assert uploads["writes"] - before >= len(files)  # the counter sees the uploads
        assert contents(dst) == files

        # A re-run finds every file in place: nothing is uploaded.
        before = uploads["writes"]
        summary = run("storage_copy", "src", "dst")
        assert summary.strip().startswith(f"skipped {len(files)}"), summary
        assert "copied" not in summary
        assert uploads["writes"] == before

        assert "identical" in run("storage_verify", "src", "dst")

        # The source changes: one file goes, one changes; the destination has an extra.
        src.delete("top.txt")
        src.delete("a/b/c/d/deep name (1).css")
        src.save("a/b/c/d/deep name (1).css", ContentFile(b"changed"))
        dst.save("extra/ünï.txt", ContentFile(b"not in the source"))
        with pytest.raises(CommandError):
            run("storage_verify", "src", "dst")

        summary = run("storage_sync", "src", "dst", "--delete")
        assert "copied 1" in summary and "deleted 2" in summary, summary
        expected = {**files, "a/b/c/d/deep name (1).css": b"changed"}
        del expected["top.txt"]
        assert contents(dst) == expected
        assert "identical" in run("storage_verify", "src", "dst")

        before = uploads["writes"]
        summary = run("storage_sync", "src", "dst", "--delete")
        assert "copied" not in summary and "deleted" not in summary, summary
        assert uploads["writes"] == before

    assert connections
    hosts = {address[0] for address in connections if isinstance(address, tuple)}
    assert hosts == {"127.0.0.1"}, hosts
