"""The patterns docs/async.rst shows, run as written (a FileField saved through asave)."""

from __future__ import annotations

import asyncio
import hashlib

import pytest
from django.core.files.storage import storages
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import override_settings

from tests.testapp.models import MyStorage


@pytest.fixture
def local_default(tmp_path):
    config = {
        "default": {
            "BACKEND": "storages.backends.overwrite.OverwriteStorage",
            "OPTIONS": {"location": str(tmp_path)},
        },
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    with override_settings(STORAGES=config):
        yield storages["default"]


@pytest.mark.django_db(transaction=True)
def test_filefield_saved_through_asave_then_the_model(local_default):
    async def create_document(upload):
        document = MyStorage()
        field = MyStorage._meta.get_field("normal")
        name = field.generate_filename(document, upload.name)
        document.normal = await field.storage.asave(name, upload, max_length=field.max_length)
        await document.asave()
        return document.pk

    pk = asyncio.run(create_document(SimpleUploadedFile("a b.pdf", b"%PDF-1 hello")))
    stored = MyStorage.objects.get(pk=pk).normal
    assert stored.name == "tests/a_b.pdf"  # upload_to and get_valid_name applied
    with stored.open("rb") as handle:
        assert handle.read() == b"%PDF-1 hello"


def test_checksum_view_loop(local_default):
    payload = bytes(range(256)) * 1000
    name = local_default.save("data.bin", SimpleUploadedFile("data.bin", payload))

    async def checksum():
        digest = hashlib.sha256()
        async with await storages["default"].aopen(name) as f:
            async for chunk in f:
                digest.update(chunk)
        return digest.hexdigest()

    assert asyncio.run(checksum()) == hashlib.sha256(payload).hexdigest()
