"""GridFS and CouchDB: our backends against the raw clients on the same server.

Run: ``.venv/bin/python -m bench.bench_mongodb_couchdb [--mib N] [--small N] [--rounds R]``
(the issue's full sizes are ``--mib 100 --small 2000``). Starts SecantusDB (a
MongoDB wire server) and pouchdb-server (CouchDB's HTTP API) on 127.0.0.1 in
memory, as the tests do, and writes docs/benchmarks/mongodb_couchdb.rst.

The raw clients are pymongo's ``GridFSBucket`` and plain ``requests`` calls.
django-storages 1.14.6 has no GridFS or CouchDB backend any more, so it is not
a contender here. Each workload runs in a fresh process (peak RSS is its own);
contenders alternate within each round. This module is also the workload module
the child processes import.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import uuid
from pathlib import Path

CHUNK = 1024 * 1024
SMALL_SIZE = 1024
CONTENDERS = ["raw client", "storages"]


# --- workloads (run in child processes) ----------------------------------------------


def setup(contender: str, store: str, conf: dict, **_: object) -> None:
    """Imports and Django set-up, outside the timing (see bench/common.py)."""
    import django
    from django.conf import settings

    if not settings.configured:
        settings.configure(USE_TZ=True, MEDIA_URL="/media/", INSTALLED_APPS=[])
        django.setup()
    if store == "gridfs":
        import gridfs  # noqa: F401

        from storages.backends.mongodb import GridFSStorage  # noqa: F401
    else:
        import requests  # noqa: F401

        from storages.backends.couchdb import CouchDBStorage  # noqa: F401


def _storage(store: str, conf: dict):
    if store == "gridfs":
        from storages.backends.mongodb import GridFSStorage

        return GridFSStorage(uri=conf["uri"], database=conf["database"], bucket=conf["bucket"])
    from storages.backends.couchdb import CouchDBStorage

    # pouchdb-server takes long to digest big attachments: the raw calls wait 600 s too.
    return CouchDBStorage(server=conf["server"], database=conf["database"], timeout=600)


def _bucket(conf: dict):
    import gridfs
    import pymongo

    client = pymongo.MongoClient(conf["uri"])
    return gridfs.GridFSBucket(client[conf["database"]], conf["bucket"])


def _couch_url(conf: dict, name: str) -> str:
    from urllib.parse import quote

    return f"{conf['server']}/{conf['database']}/{quote(name, safe='')}/content"


def upload(_state, contender: str, store: str, conf: dict, name: str, source: str) -> dict:
    with open(source, "rb") as handle:
        if contender == "raw client":
            if store == "gridfs":
                _bucket(conf).upload_from_stream(name, handle)
            else:
                import requests

                response = requests.put(_couch_url(conf, name), data=handle, timeout=600)
                response.raise_for_status()
            return {}
        from django.core.files import File

        return {"name": _storage(store, conf).save(name, File(handle))}


def download(_state, contender: str, store: str, conf: dict, name: str) -> dict:
    count = 0
    if contender == "raw client":
        if store == "gridfs":
            stream = _bucket(conf).open_download_stream_by_name(name)
            while data := stream.read(CHUNK):
                count += len(data)
        else:
            import requests

            # Identity, as ours asks: pouchdb-server would gzip on the fly otherwise.
            identity = {"Accept-Encoding": "identity"}
            url = _couch_url(conf, name)
            with requests.get(url, stream=True, timeout=600, headers=identity) as response:
                response.raise_for_status()
                for data in response.iter_content(CHUNK):
                    count += len(data)
    else:
        with _storage(store, conf).open(name, "rb") as handle:
            for data in handle.chunks(CHUNK):
                count += len(data)
    return {"bytes": count}


def small_saves(_state, contender: str, store: str, conf: dict, prefix: str, count: int) -> dict:
    payload = b"s" * SMALL_SIZE
    if contender == "raw client":
        if store == "gridfs":
            bucket = _bucket(conf)
            for index in range(count):
                bucket.upload_from_stream(f"{prefix}/{index}.txt", payload)
        else:
            import requests

            session = requests.Session()
            for index in range(count):
                response = session.put(
                    _couch_url(conf, f"{prefix}/{index}.txt"), data=payload, timeout=60
                )
                response.raise_for_status()
        return {}
    from django.core.files.base import ContentFile

    storage = _storage(store, conf)
    for index in range(count):
        storage.save(f"{prefix}/{index}.txt", ContentFile(payload))
    return {}


# --- driver ------------------------------------------------------------------------------


def _servers(stack):
    from tests.servers.couchdb import pouchdb_server, pouchdb_url
    from tests.servers.mongodb import secantus_server, secantus_uri
    from tests.servers.process import free_port

    mongo_port, couch_port = free_port(), free_port()
    mongo = stack.enter_context(secantus_server(mongo_port))
    couch = stack.enter_context(pouchdb_server(couch_port))
    del mongo, couch
    return secantus_uri(mongo_port), pouchdb_url(couch_port)


def main(argv: list[str] | None = None) -> None:
    import contextlib

    import requests

    from bench.common import measure, ours_python, rst_table, write_results_page

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mib", type=int, default=32, help="big file size (issue: 100)")
    parser.add_argument("--small", type=int, default=500, help="small files (issue: 2000)")
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args(argv)

    python = ours_python()
    rows = []
    with contextlib.ExitStack() as stack, tempfile.TemporaryDirectory() as tmp:
        uri, couch = _servers(stack)
        source = Path(tmp) / "big.bin"
        with source.open("wb") as handle:
            for _ in range(args.mib):
                handle.write(os.urandom(CHUNK))
        stores = {
            "gridfs": {"uri": uri, "database": "bench", "bucket": "fs"},
            "couchdb": {"server": couch, "database": "bench"},
        }
        requests.put(f"{couch}/bench", timeout=60).raise_for_status()
        results: dict[tuple[str, str, str], list[dict]] = {}
        for round_index in range(args.rounds):
            order = CONTENDERS if round_index % 2 == 0 else CONTENDERS[::-1]
            for store, conf in stores.items():
                for contender in order:
                    common = {"contender": contender, "store": store, "conf": conf}
                    name = f"big-{uuid.uuid4().hex}.bin"
                    for label, function, kwargs in (
                        (f"upload {args.mib} MiB", "upload", {"name": name, "source": str(source)}),
                        (f"download {args.mib} MiB", "download", {"name": name}),
                        (
                            f"{args.small} x 1 KiB saves",
                            "small_saves",
                            {"prefix": uuid.uuid4().hex, "count": args.small},
                        ),
                    ):
                        result = measure(
                            python, "bench_mongodb_couchdb", function, **common, **kwargs
                        )
                        results.setdefault((store, label, contender), []).append(result)
                        print(
                            f"{store:8} {label:22} {contender:11} "
                            f"{result['seconds']:7.2f}s "
                            f"peak {result['peak_rss_kib'] / 1024:6.1f} MiB {result['extra']}",
                            file=sys.stderr,
                        )
        for (store, label, contender), runs in results.items():
            rows.append(
                [
                    "GridFS" if store == "gridfs" else "CouchDB",
                    label,
                    contender,
                    f"{statistics.median(r['seconds'] for r in runs):.2f}",
                    f"{max(r['peak_rss_kib'] for r in runs) / 1024:.1f}",
                    f"{max(r['extra_rss_mib'] for r in runs):.1f}",
                ]
            )
    body = f"""
``bench/bench_mongodb_couchdb.py``, run as ``python -m bench.bench_mongodb_couchdb
--mib {args.mib} --small {args.small} --rounds {args.rounds}``. Servers on 127.0.0.1, in
memory: SecantusDB 0.7.0b3 (a MongoDB wire-protocol server; no ``mongod`` installs
on this machine) and pouchdb-server 4.2 (CouchDB's HTTP API). "raw client" is
pymongo's ``GridFSBucket`` (``upload_from_stream``, ``open_download_stream_by_name``)
and plain ``requests`` attachment ``PUT``/``GET`` on the same servers; "storages" is
``GridFSStorage``/``CouchDBStorage`` through Django's ``save()``/``open()``.
django-storages 1.14.6 no longer has GridFS or CouchDB backends, so it is not
compared. Each cell is the median time over {args.rounds} rounds and the largest peak RSS
of a fresh process (its "extra" is above the RSS after imports and set-up).

The per-save extra work of ours for small files: Django's ``exists()`` check for
a free name (one query or one ``HEAD``), and for CouchDB a second request that
records the upload time. CouchDB uploads stream from the file (flat memory).
GridFS uploads use pymongo's own batching, up to 32 MiB of chunks per
``insert_many`` plus the driver's encoding copies: the extra RSS (about 140 MiB at
100 MiB) is the driver's, the same for the raw client and ours.

On SecantusDB every query and insert gets slower as the bucket grows (a
beta server; in an earlier run 2,000 raw ``GridFSBucket`` saves alone took
173 s), so the small-file GridFS figures measure the server more than the
clients; ours does one more query per save (``exists()``). pouchdb-server
spends about 40 s digesting a 100 MiB attachment whoever sends it.

{rst_table(["Store", "Workload", "Contender", "Seconds", "Peak RSS MiB", "Extra RSS MiB"], rows)}
"""
    page = write_results_page(
        "mongodb_couchdb", "GridFS and CouchDB against their raw clients", body
    )
    print(f"wrote {page}", file=sys.stderr)


if __name__ == "__main__":
    main()
