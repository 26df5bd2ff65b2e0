"""S3 names: taken names cost no existence checks; names that clean to nothing are refused.

On SeaweedFS, counting the HTTP requests the storage sends.
"""

from __future__ import annotations

import pytest
from django.core.exceptions import SuspiciousFileOperation
from django.core.files.base import ContentFile

from storages.backends.s3 import S3Storage
from tests.servers.s3 import recorded_requests

EMPTY_NAMES = ["", ".", "a/..", "./"]


@pytest.fixture
def storage(seaweed_options):
    return S3Storage(**seaweed_options)


# --- same-name saves: the conditional create is the existence check ------------------


def test_same_name_saves_cost_two_requests_each(storage):
    storage.save("small/f.txt", ContentFile(b"0" * 1024))
    saves = 20
    with recorded_requests(storage) as operations:
        names = [storage.save("small/f.txt", ContentFile(b"x" * 1024)) for _ in range(saves)]
    assert len(set(names)) == saves and "small/f.txt" not in names
    assert all(n.startswith("small/f_") and n.endswith(".txt") for n in names)
    # A refused conditional PUT (412), then a PUT of a new candidate: no HEADs.
    assert set(operations) == {"PutObject"}
    assert len(operations) / saves <= 2.1
    assert storage.open("small/f.txt").read() == b"0" * 1024


def test_same_name_save_honours_max_length(storage):
    storage.save("dir/longname.txt", ContentFile(b"first"), max_length=20)
    with recorded_requests(storage) as operations:
        name = storage.save("dir/longname.txt", ContentFile(b"second"), max_length=20)
    assert len(name) <= 20 and name.startswith("dir/") and name.endswith(".txt")
    assert list(operations) == ["PutObject", "PutObject"]
    assert storage.open(name).read() == b"second"


def test_too_long_name_is_cut_without_an_existence_check(storage):
    with recorded_requests(storage) as operations:
        name = storage.save("dir/averyveryverylongname.txt", ContentFile(b"z"), max_length=24)
    assert len(name) <= 24 and name.startswith("dir/avery") and name.endswith(".txt")
    assert list(operations) == ["PutObject"]
    with pytest.raises(SuspiciousFileOperation):
        storage.save("dir/averyveryverylongname.txt", ContentFile(b"z"), max_length=8)


# --- names that clean to nothing ------------------------------------------------------

FILE_METHODS = {
    "open": lambda s, n: s.open(n),
    "open for writing": lambda s, n: s.open(n, "wb"),
    "save": lambda s, n: s.save(n, ContentFile(b"x")),
    "delete": lambda s, n: s.delete(n),
    "size": lambda s, n: s.size(n),
    "url": lambda s, n: s.url(n),
    "get_modified_time": lambda s, n: s.get_modified_time(n),
}


@pytest.mark.parametrize("name", EMPTY_NAMES)
@pytest.mark.parametrize("method", list(FILE_METHODS))
@pytest.mark.parametrize("location", ["", "prefix"])
def test_name_that_names_no_file_is_refused_before_any_request(
    seaweed_options, method, name, location
):
    if location:  # a fresh prefix, else the bucket's root
        location = seaweed_options["location"]
    storage = S3Storage(**{**seaweed_options, "location": location})
    storage.save("kept.txt", ContentFile(b"kept"))
    with recorded_requests(storage) as operations, pytest.raises(SuspiciousFileOperation):
        FILE_METHODS[method](storage, name)
    assert list(operations) == []
    # The root still lists, and exists (Django's collectstatic --clear asks) without a request.
    with recorded_requests(storage) as operations:
        assert storage.exists(name) is True
    assert list(operations) == []
    assert "kept.txt" in storage.listdir("")[1]
