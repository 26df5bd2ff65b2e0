"""S3 multipart saves: files on disk are sent from the disk, other content in reused buffers.

On SeaweedFS, with 5 MiB parts (the smallest S3 takes) so the tests stay quick.
"""

from __future__ import annotations

import io
import os

import boto3
import pytest
from django.core.files import File
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import TemporaryUploadedFile

from storages.backends.s3 import S3Storage
from storages.backends.s3 import transfer as s3_transfer
from tests.servers.s3 import recorded_requests, watched_sends

MIB = 1024 * 1024


def small_parts(options, concurrency=2, **extra):
    config = boto3.s3.transfer.TransferConfig(
        multipart_threshold=5 * MIB, multipart_chunksize=5 * MIB, max_concurrency=concurrency
    )
    return S3Storage(**options, transfer_config=config, **extra)


def part_bodies(storage):
    """The body objects of the UploadPart requests the storage sends."""
    bodies = []

    def watch(request):
        if "uploadId=" in request.url and request.method == "PUT":
            bodies.append(request.body)

    return bodies, watched_sends(storage, watch)


@pytest.fixture
def payload():
    return os.urandom(MIB) * 12 + b"tail"


def test_file_on_disk_is_sent_from_the_disk(seaweed_options, tmp_path, payload):
    path = tmp_path / "big.bin"
    path.write_bytes(payload)
    storage = small_parts(seaweed_options)
    bodies, watching = part_bodies(storage)
    with watching, recorded_requests(storage) as operations, path.open("rb") as source:
        name = storage.save("disk.bin", File(source, name="disk.bin"))
    assert operations.count("UploadPart") == 3
    assert all(isinstance(body, s3_transfer.FilePart) for body in bodies) and len(bodies) == 3
    assert storage.open(name).read() == payload


def test_uploaded_file_on_disk_is_sent_from_the_disk(seaweed_options, payload):
    upload = TemporaryUploadedFile("photo.jpg", "image/jpeg", len(payload), None)
    upload.write(payload)
    upload.seek(0)
    storage = small_parts(seaweed_options)
    bodies, watching = part_bodies(storage)
    with watching:
        name = storage.save("upload.jpg", upload)
    assert all(isinstance(body, s3_transfer.FilePart) for body in bodies) and len(bodies) == 3
    assert storage.open(name).read() == payload
    upload.close()


def test_file_on_disk_from_its_current_position_and_a_taken_name(seaweed_options, tmp_path):
    path = tmp_path / "offset.bin"
    path.write_bytes(b"h" * 100 + b"b" * (11 * MIB))
    storage = small_parts(seaweed_options)
    storage.save("taken.bin", ContentFile(b"theirs"))
    with path.open("rb") as source:
        source.seek(100)
        name = storage._save("taken.bin", File(source, name="taken.bin"))
    assert name != "taken.bin" and storage.open("taken.bin").read() == b"theirs"
    # The retry under a new name starts again from the start of the content.
    assert storage.open(name).read() == b"h" * 100 + b"b" * (11 * MIB)


def test_text_mode_and_wrappers_with_their_own_read_are_read_through_read(
    seaweed_options, tmp_path
):
    path = tmp_path / "text.txt"
    path.write_bytes(b"line\r\n" * (2 * MIB))

    class Shouting(File):
        def read(self, size=-1):
            return self.file.read(size).upper()

    storage = small_parts(seaweed_options)
    bodies, watching = part_bodies(storage)
    with watching, path.open("rb") as source:
        name = storage.save("shout.txt", Shouting(source, name="shout.txt"))
    assert storage.open(name).read() == b"LINE\r\n" * (2 * MIB)
    assert not any(isinstance(body, s3_transfer.FilePart) for body in bodies)


def test_content_in_memory_goes_out_in_a_few_reused_buffers(seaweed_options, monkeypatch):
    made = []
    original = s3_transfer.BufferPool.take

    def take(pool):
        buffer = original(pool)
        if id(buffer) not in made:
            made.append(id(buffer))
        return buffer

    monkeypatch.setattr(s3_transfer.BufferPool, "take", take)
    payload = os.urandom(MIB) * 31
    storage = small_parts(seaweed_options, concurrency=2)
    with recorded_requests(storage) as operations:
        name = storage.save("memory.bin", ContentFile(payload))
    assert operations.count("UploadPart") == 7
    assert len(made) <= 2  # at most one buffer per part in flight, reused
    assert storage.open(name).read() == payload


def test_one_pass_stream_in_parts(seaweed_options):
    class OnePass(io.RawIOBase):
        def __init__(self, data):
            self.data = io.BytesIO(data)

        def readable(self):
            return True

        def readinto(self, buffer):
            return self.data.readinto(memoryview(buffer)[:70_000])  # short reads

    payload = os.urandom(MIB) * 11
    storage = small_parts(seaweed_options)
    name = storage.save("stream.bin", File(OnePass(payload), name="stream.bin"))
    assert storage.open(name).read() == payload
