"""Apache Libcloud: our LibCloudStorage against the raw Libcloud S3 driver and
django-storages 1.14.6's LibCloudStorage, on one SeaweedFS.

Run: ``.venv/bin/python -m bench.bench_libcloud [--small N] [--mib N] [--rounds R]``.
Starts SeaweedFS on 127.0.0.1 as the tests do and prints a table (median over
rounds). django-storages runs in bench/.venv-django-storages, which needs
``apache-libcloud`` installed there (``bench/.venv-django-storages/bin/pip
install apache-libcloud``).

Every workload runs in a fresh process (so peak RSS is its own); contenders
alternate within each round, each on a bucket of its own. Requests are counted
on Libcloud's HTTP connection class, which all three contenders send through.
django-storages passes no host or port to the driver, so its storage gets a
driver for the same endpoint built the same way as the raw one (its own code
then does all the work). This module is also the workload module the children
import.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import tempfile
import threading
import time
import uuid
from pathlib import Path
from urllib.parse import urlsplit

MIB = 1024 * 1024
READ_CHUNK = 256 * 1024
RAW = "libcloud S3 driver"
OURS = "storages"
THEIRS = "django-storages 1.14.6"
CONTENDERS = [RAW, OURS, THEIRS]
SMALL_SIZE = 1024


# --- workloads (run in child processes) ------------------------------------------


def _count_requests() -> dict[str, int]:
    """Count every HTTP request Libcloud sends (all drivers, all threads)."""
    from libcloud.http import LibcloudConnection

    counts = {"requests": 0}
    lock = threading.Lock()

    def counted(method):
        def counting(self, *args, **kwargs):
            with lock:
                counts["requests"] += 1
            return method(self, *args, **kwargs)

        return counting

    # request() sends the plain requests, prepared_request() the streamed ones.
    LibcloudConnection.request = counted(LibcloudConnection.request)
    LibcloudConnection.prepared_request = counted(LibcloudConnection.prepared_request)
    return counts


def _raw_driver(endpoint_url: str, access_key: str, secret_key: str):
    from libcloud.storage.providers import get_driver
    from libcloud.storage.types import Provider

    endpoint = urlsplit(endpoint_url)
    return get_driver(Provider.S3)(
        access_key,
        secret_key,
        host=endpoint.hostname,
        port=endpoint.port,
        secure=endpoint.scheme == "https",
        region="us-east-1",
    )


def setup(
    contender: str, endpoint_url: str, access_key: str, secret_key: str, bucket: str, **_: object
) -> dict:
    counts = _count_requests()
    if contender == RAW:
        driver = _raw_driver(endpoint_url, access_key, secret_key)
        container = driver.get_container(bucket)  # connected outside the timing
        counts["requests"] = 0
        return {"driver": driver, "container": container, "counts": counts}
    if contender == THEIRS:
        from bench.common import use_installed_storages

        use_installed_storages()
    endpoint = urlsplit(endpoint_url)
    entry = {
        "type": "libcloud.storage.types.Provider.S3",
        "user": access_key,
        "key": secret_key,
        "bucket": bucket,
        "region": "us-east-1",
    }
    if contender == OURS:
        entry.update(host=endpoint.hostname, port=endpoint.port, secure=False)
    import django
    from django.conf import settings

    if not settings.configured:
        settings.configure(USE_TZ=True, INSTALLED_APPS=[], LIBCLOUD_PROVIDERS={"bench": entry})
        django.setup()
    from storages.backends.apache_libcloud import LibCloudStorage

    storage = LibCloudStorage("bench")
    if contender == THEIRS:
        storage.driver = _raw_driver(endpoint_url, access_key, secret_key)
    # Connected outside the timing, as the raw driver's get_container() is.
    storage.exists("warm-up")
    counts["requests"] = 0
    return {"storage": storage, "counts": counts}


def small_saves(state: dict, count: int, **_: object) -> dict:
    payload = os.urandom(SMALL_SIZE)
    if "driver" in state:
        driver, container = state["driver"], state["container"]
        for i in range(count):
            driver.upload_object_via_stream(iter([payload]), container, f"small/{i}.txt")
    else:
        from django.core.files.base import ContentFile

        for i in range(count):
            state["storage"].save(f"small/{i}.txt", ContentFile(payload))
    return {"requests": state["counts"]["requests"] / count}


def big_save(state: dict, path: str, **_: object) -> dict:
    with open(path, "rb") as source:
        if "driver" in state:
            chunks = iter(lambda: source.read(READ_CHUNK), b"")
            state["driver"].upload_object_via_stream(chunks, state["container"], "big.bin")
        else:
            from django.core.files import File

            state["storage"].save("big.bin", File(source, name="big.bin"))
    return {"requests": state["counts"]["requests"]}


def big_read(state: dict, **_: object) -> dict:
    """Read ``read.bin`` (put there by the parent, the same object for everyone)."""
    total = 0
    if "driver" in state:
        obj = state["driver"].get_object(state["container"].name, "read.bin")
        for chunk in state["driver"].download_object_as_stream(obj, chunk_size=READ_CHUNK):
            total += len(chunk)
    else:
        with state["storage"].open("read.bin", "rb") as handle:
            for chunk in handle.chunks(READ_CHUNK):
                total += len(chunk)
    return {"requests": state["counts"]["requests"], "bytes": total}


# --- the run -------------------------------------------------------------------------


def _python(contender: str) -> str:
    from bench.common import DJANGO_STORAGES_PYTHON, ours_python

    if contender != THEIRS:
        return ours_python()
    if not DJANGO_STORAGES_PYTHON.exists():
        raise SystemExit(
            f"{DJANGO_STORAGES_PYTHON} is missing: python -m venv bench/.venv-django-storages && "
            "bench/.venv-django-storages/bin/pip install django-storages==1.14.6 apache-libcloud"
        )
    return str(DJANGO_STORAGES_PYTHON)


def _fresh_bucket(server, read_file: Path) -> str:
    """A new bucket that already takes writes (SeaweedFS answers 500 to the first
    writes into a bucket it is still setting up, and only our backend retries)."""
    import boto3

    from tests.servers.s3 import create_bucket

    name = f"bench-{uuid.uuid4().hex[:10]}"
    create_bucket(server, name)
    client = boto3.client("s3", **server.boto3_kwargs())
    for _attempt in range(50):
        try:
            client.put_object(Bucket=name, Key="warm-up", Body=b"")
            client.delete_object(Bucket=name, Key="warm-up")
            break
        except Exception:  # not ready yet
            time.sleep(0.1)
    else:
        raise RuntimeError(f"bucket {name} never took a write")
    client.upload_file(str(read_file), name, "read.bin")
    return name


def _progress(round_index: int, workload: str, contender: str, figures: dict) -> None:
    print(
        f"round {round_index + 1}: {workload:<24} {contender:<24} "
        f"{figures['seconds']:8.3f} s  +{figures['extra_rss_mib']:7.1f} MiB  "
        f"{figures['extra'].get('requests', '')}",
        flush=True,
    )


WORKLOADS = {
    "small_saves": "small saves",
    "big_save": "big save (from disk)",
    "big_read": "big read (chunks)",
}


def _mib(args: argparse.Namespace, contender: str, workload: str, runs=None) -> float:
    """The MiB a workload moved: django-storages' big save is a smaller file, and its
    read stops after Libcloud's first chunk (what it read is what counts)."""
    if workload == WORKLOADS["small_saves"]:
        return 1
    if workload == WORKLOADS["big_read"] and runs:
        return min(r["extra"]["bytes"] for r in runs) / MIB
    return args.theirs_mib if (contender, workload) == (THEIRS, WORKLOADS["big_save"]) else args.mib


def report(results: dict, args: argparse.Namespace, load: list[float]) -> str:
    from bench.common import rst_table

    rows = []
    for workload in WORKLOADS.values():
        raw = results.get((workload, RAW))
        base = None
        if raw:
            base = statistics.median(r["seconds"] for r in raw) / _mib(args, RAW, workload, raw)
        for contender in CONTENDERS:
            runs = results.get((workload, contender))
            if not runs:
                continue
            seconds = statistics.median(r["seconds"] for r in runs)
            requests = statistics.median(r["extra"]["requests"] for r in runs)
            seconds_per_mib = seconds / _mib(args, contender, workload, runs)
            read = ""
            if workload == "small saves":
                shown = f"{seconds / args.small * 1e3:.2f} ms/file"
            else:
                mib = _mib(args, contender, workload, runs)
                shown = f"{mib / seconds:.1f} MiB/s ({mib:g} MiB, {seconds:.2f} s)"
                if workload == "big read (chunks)":
                    got = min(r["extra"]["bytes"] for r in runs)
                    read = "all" if got == args.mib * MIB else f"{got / MIB:.1f} MiB"
            rows.append(
                [
                    workload,
                    contender,
                    shown,
                    f"{seconds_per_mib / base:.2f}x" if base else "",
                    f"{statistics.median(r['extra_rss_mib'] for r in runs):.1f}",
                    f"{requests:g}",
                    read,
                ]
            )
    table = rst_table(
        ["workload", "contender", "median", "time vs raw", "+RSS MiB", "requests", "bytes read"],
        rows,
    )
    per_round = [
        [workload, contender, *(f"{r['seconds']:.2f}" for r in results[(workload, contender)])]
        for workload in WORKLOADS.values()
        for contender in CONTENDERS
        if (workload, contender) in results
    ]
    rounds_table = rst_table(
        ["workload", "contender", *(f"round {i + 1}" for i in range(args.rounds))], per_round
    )
    return f"""Libcloud's S3 driver, our ``LibCloudStorage`` and django-storages 1.14.6's
``LibCloudStorage``, all on Libcloud 3.9.1's S3 driver, against one SeaweedFS
on 127.0.0.1 (HTTP), on this machine (2 shared cores; load average
{min(load):.1f}-{max(load):.1f} during the run). Medians of {args.rounds} rounds; the
contenders alternate within each round, every workload in a fresh process.

"time vs raw" compares time per MiB moved (per file for small saves).

* small saves: {args.small} files of {SMALL_SIZE} bytes, one after another
  (``save()``, or the raw driver's ``upload_object_via_stream``); requests per file;
* big save: one {args.mib} MiB file from disk (``save(File(...))``); for
  django-storages a {args.theirs_mib} MiB one (see below), so compare MiB/s;
* big read: one {args.mib} MiB object (the same bytes for everyone) read in
  {READ_CHUNK // 1024} KiB chunks; "bytes read" says whether all of it came back.

"+RSS MiB" is the peak resident memory the workload added to its process.

{table}
What the figures say:

* a small save here is one HEAD (the name is free) and one create-only PUT
  (``If-None-Match: *``); the raw driver sends every stream as a multipart
  upload (3 requests, and no check of the name), django-storages adds a HEAD
  of the bucket for ``exists()``, another for ``_get_bucket()`` and the HEAD of
  the object to the same multipart upload;
* the big save is Libcloud's own multipart parts (5 MiB, one at a time) for
  all three; ours adds the HEAD and the create-only commit. django-storages
  hands Libcloud ``iter(file)``, which is the file's *lines* (about one per
  256 bytes of binary data); Libcloud concatenates them into each 5 MiB part,
  copying the part so far for every line: its time grows with the square of
  the size (16 MiB took 110 s here), hence the smaller file;
* django-storages reads with one ``next()`` of ``download_object_as_stream``,
  which is Libcloud's first chunk (5 MiB on the S3 driver): the rest of a
  bigger file is silently missing; what it read is held in one ``BytesIO``.
  Its MiB/s are of the 5 MiB it read. Ours is one HEAD of the object and one
  ranged GET streamed in chunks; the raw driver's ``get_object`` HEADs the
  bucket too. The raw driver's generator hands out Libcloud's chunks as they
  arrive (5 MiB each: ``download_object_as_stream`` ignores the chunk size it
  is given), while a Django file's ``chunks(256 KiB)`` copies every byte once
  more into the reads it asks for: that copy, on a loaded machine, is the
  difference in the big read.

Every round's seconds, in the order the rounds ran (this machine is shared
with other work, so single runs vary; the medians above are of these):

{rounds_table}
Reproduce::

    bench/.venv-django-storages/bin/pip install apache-libcloud
    .venv/bin/python -m bench.bench_libcloud --small {args.small} --mib {args.mib} \\
        --theirs-mib {args.theirs_mib} --rounds {args.rounds}
"""


def main(argv: list[str] | None = None) -> None:
    from bench.common import measure
    from tests.servers.s3 import start_seaweedfs

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", type=int, default=500)
    parser.add_argument("--mib", type=int, default=128)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--theirs-mib",
        type=int,
        default=4,
        help="django-storages' big save (it slows down with the square of the size)",
    )
    parser.add_argument("--no-write", action="store_true", help="print, do not write the page")
    args = parser.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="bench-libcloud-"))
    server = start_seaweedfs(work / "seaweedfs")
    results: dict[tuple[str, str], list[dict]] = {}
    load = [os.getloadavg()[0]]
    try:
        big, small_big = work / "big.bin", work / "theirs-big.bin"
        with open(big, "wb") as handle:
            for _ in range(args.mib):
                handle.write(os.urandom(MIB))
        with open(big, "rb") as source, open(small_big, "wb") as handle:
            handle.write(source.read(args.theirs_mib * MIB))
        for round_index in range(args.rounds):
            order = CONTENDERS[round_index % 3 :] + CONTENDERS[: round_index % 3]
            for contender in order:
                reach = {
                    "contender": contender,
                    "endpoint_url": server.endpoint_url,
                    "access_key": server.access_key,
                    "secret_key": server.secret_key,
                    "bucket": _fresh_bucket(server, big),
                }
                for workload, extra in (
                    ("small_saves", {"count": args.small}),
                    ("big_save", {"path": str(big if contender != THEIRS else small_big)}),
                    ("big_read", {}),
                ):
                    figures = measure(
                        _python(contender), "bench_libcloud", workload, **reach, **extra
                    )
                    results.setdefault((WORKLOADS[workload], contender), []).append(figures)
                    _progress(round_index, WORKLOADS[workload], contender, figures)
            load.append(os.getloadavg()[0])
    finally:
        server.stop()
        shutil.rmtree(work, ignore_errors=True)
    body = report(results, args, load)
    print(body)
    if not args.no_write:
        from bench.common import write_results_page

        page = write_results_page("libcloud", "Apache Libcloud (SeaweedFS)", body)
        print(f"wrote {page}")


if __name__ == "__main__":
    main()
