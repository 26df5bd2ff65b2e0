"""The serving view in front of each store that has no HTTP of its own.

``storages.views.serve`` is tested in depth on the database backend
(tests/test_views.py); here the same view serves real GridFS, CouchDB and
MogileFS files, with ranges, conditional requests and perlbal's hand-off.
"""

from __future__ import annotations

import uuid

import pytest
from django.core.files.base import ContentFile
from django.test.client import RequestFactory

from storages.backends.couchdb import CouchDBStorage
from storages.backends.mogilefs import MogileFSStorage
from storages.backends.mongodb import GridFSStorage
from storages.views import serve
from tests.test_mogilefs import new_domain

PAYLOAD = bytes(range(256)) * 1024  # 256 KiB: more than one streamed chunk


@pytest.fixture(params=["gridfs", "couchdb", "mogilefs"])
def storage(request):
    if request.param == "gridfs":
        uri = request.getfixturevalue("mongodb_uri")
        return GridFSStorage(
            uri=uri,
            database="storages_tests",
            bucket=f"v{uuid.uuid4().hex[:10]}",
            client_options={"serverSelectionTimeoutMS": 10000},
        )
    if request.param == "couchdb":
        server = request.getfixturevalue("couchdb_url")
        return CouchDBStorage(
            server=server, database=f"v{uuid.uuid4().hex[:10]}", create_database=True
        )
    cluster = request.getfixturevalue("mogilefs_cluster")
    return MogileFSStorage(domain=new_domain(cluster), trackers=cluster.trackers)


def body(response) -> bytes:
    return b"".join(response.streaming_content)


def test_full_get_range_and_not_modified(storage):
    name = storage.save("served/data.bin", ContentFile(PAYLOAD))
    factory = RequestFactory()

    response = serve(factory.get("/f/" + name), name, storage=storage)
    assert response.status_code == 200
    assert int(response["Content-Length"]) == len(PAYLOAD)
    assert body(response) == PAYLOAD
    etag = response["ETag"]

    response = serve(factory.get("/f/", HTTP_RANGE="bytes=1000-1999"), name, storage=storage)
    assert response.status_code == 206
    assert response["Content-Range"] == f"bytes 1000-1999/{len(PAYLOAD)}"
    assert body(response) == PAYLOAD[1000:2000]

    response = serve(factory.get("/f/", HTTP_IF_NONE_MATCH=etag), name, storage=storage)
    assert response.status_code == 304


def test_unknown_and_unsafe_names_are_404(storage):
    from django.http import Http404

    factory = RequestFactory()
    for name in ("served/missing.bin", "../escape", "/etc/passwd"):
        with pytest.raises(Http404):
            serve(factory.get("/f/x"), name, storage=storage)


def test_mogilefs_perlbal_handoff(mogilefs_cluster):
    storage = MogileFSStorage(
        domain=new_domain(mogilefs_cluster), trackers=mogilefs_cluster.trackers
    )
    name = storage.save("avatar.png", ContentFile(b"not really a png"))
    response = serve(RequestFactory().get("/f/"), name, storage=storage, handoff="x-reproxy-url")
    urls = response["X-Reproxy-URL"].split()
    assert urls == storage.paths(name)
    assert all(url.startswith("http://127.0.0.1:") for url in urls)
