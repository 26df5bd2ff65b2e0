"""Benchmark: CloudFilesStorage vs raw python-swiftclient on one real Swift, and
MogileFSStorage vs the bare protocol (tracker commands + HTTP) on the test tracker.

Run: ``.venv/bin/python -m bench.bench_swift_mogilefs [--size-mib 32] [--rounds 3]``.
Each workload runs in a fresh process (time, peak RSS); contenders alternate.
Writes docs/benchmarks/swift_mogilefs.rst.
"""

from __future__ import annotations

import argparse
import io
import os
import statistics
import sys
import uuid

from bench.common import measure, ours_python, rst_table, write_results_page

MIB = 1024 * 1024


def _django() -> None:
    import django
    from django.conf import settings

    if not settings.configured:
        settings.configure(USE_TZ=True, INSTALLED_APPS=[], MEDIA_URL="/media/")
        django.setup()


def _hwm_kib() -> int:
    """This process's peak RSS (VmHWM). Unlike ru_maxrss it is not inherited across exec."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return 0


def _extra(base: int) -> dict:
    return {"extra_mib": (_hwm_kib() - base) / 1024}


class _Zeros(io.RawIOBase):
    """``size`` bytes generated on the fly: the payload never sits in memory."""

    def __init__(self, size: int) -> None:
        self.size, self.pos = size, 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self.pos

    def seek(self, offset: int, whence: int = 0) -> int:
        self.pos = offset + (self.size if whence == 2 else self.pos if whence == 1 else 0)
        return self.pos

    def readinto(self, buffer) -> int:
        count = max(0, min(len(buffer), self.size - self.pos))
        buffer[:count] = bytes(count)
        self.pos += count
        return count


# Swift workloads.
def swift_ours(auth_url: str, container: str, size: int, segment: int) -> dict:
    _django()

    from storages.backends.mosso import CloudFilesStorage

    base = _hwm_kib()
    storage = CloudFilesStorage(
        username="test:tester", api_key="testing", auth_url=auth_url, auth_version="1",
        container=container, auto_create_container=True, segment_size=segment,
    )  # fmt: skip
    _round_trip(storage, size)
    return _extra(base)


def _round_trip(storage, size: int) -> None:
    """Save ``size`` zero bytes through the storage, read them back in chunks, delete."""
    from django.core.files import File

    name = storage.save(f"bench/{uuid.uuid4().hex}", File(_Zeros(size)))
    total = 0
    with storage.open(name, "rb") as handle:
        for chunk in handle.chunks(256 * 1024):
            total += len(chunk)
    storage.delete(name)
    assert total == size


def swift_raw(auth_url: str, container: str, size: int, segment: int) -> dict:
    from swiftclient import client

    base = _hwm_kib()
    url, token = client.get_auth(auth_url, "test:tester", "testing")
    conn = client.Connection(preauthurl=url, preauthtoken=token)
    conn.put_container(container)
    name = f"bench/{uuid.uuid4().hex}"
    conn.put_object(container, name, contents=_Zeros(size), content_length=size,
                    chunk_size=256 * 1024)  # fmt: skip
    _headers, body = conn.get_object(container, name, resp_chunk_size=256 * 1024)
    total = sum(len(chunk) for chunk in body)
    conn.delete_object(container, name)
    assert total == size
    return _extra(base)


# MogileFS workloads.
def mogile_ours(trackers: list[str], domain: str, size: int) -> dict:
    _django()

    from storages.backends.mogilefs import MogileFSStorage

    base = _hwm_kib()
    storage = MogileFSStorage(domain=domain, trackers=trackers)
    _round_trip(storage, size)
    return _extra(base)


def mogile_raw(trackers: list[str], domain: str, size: int) -> dict:
    from storages.backends.mogilefs.tracker import TrackerClient, http_get, http_put

    base = _hwm_kib()
    client = TrackerClient(domain, trackers)
    key = f"bench/{uuid.uuid4().hex}"
    fid, dests = client.create_open(key)
    http_put(dests[0][1], _Zeros(size), size, 30)
    client.create_close(key, fid, dests[0][0], dests[0][1], size)
    total = sum(len(c) for c in http_get(client.get_paths(key)[0], 0, 30))
    client.delete(key)
    assert total == size
    return _extra(base)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mib", type=int, default=32)
    parser.add_argument("--segment-mib", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    sys.path.insert(0, os.getcwd())
    from tests.servers.mogilefs import start_cluster
    from tests.servers.swift import start_swift

    size = args.size_mib * MIB
    swift = start_swift()
    cluster = start_cluster(nodes=1, trackers=1)
    module = "bench.bench_swift_mogilefs"
    results: dict[str, list[dict]] = {}
    try:
        domain = "bench"
        cluster.command(f"create_domain domain={domain}")
        cases = {
            "Swift: CloudFilesStorage, one object": (
                "swift_ours", {"auth_url": swift.auth_url, "container": "bench",
                               "size": size, "segment": 4 * size}),
            "Swift: CloudFilesStorage, SLO segments": (
                "swift_ours", {"auth_url": swift.auth_url, "container": "bench",
                               "size": size, "segment": args.segment_mib * MIB}),
            "Swift: raw swiftclient put/get": (
                "swift_raw", {"auth_url": swift.auth_url, "container": "bench",
                              "size": size, "segment": 0}),
            "MogileFS: MogileFSStorage": (
                "mogile_ours", {"trackers": cluster.trackers, "domain": domain, "size": size}),
            "MogileFS: bare protocol (tracker + HTTP)": (
                "mogile_raw", {"trackers": cluster.trackers, "domain": domain, "size": size}),
        }  # fmt: skip
        for _round in range(args.rounds):
            for label, (function, kwargs) in cases.items():
                results.setdefault(label, []).append(
                    measure(ours_python(), module, function, **kwargs)
                )
    finally:
        cluster.stop()
        swift.stop()
    rows = []
    for label, runs in results.items():
        seconds = statistics.median(r["seconds"] for r in runs)
        extra = statistics.median(r["extra"]["extra_mib"] for r in runs)
        rows.append([label, f"{seconds:.2f}", f"{2 * args.size_mib / seconds:.0f}", f"{extra:.1f}"])
    body = (
        f"Upload then streamed download of one {args.size_mib} MiB file on 127.0.0.1 "
        f"(median of {args.rounds} alternating rounds, each in a fresh process; segments "
        f"of {args.segment_mib} MiB for the SLO row). Swift 2.38 with tempauth as in the "
        "tests; MogileFS is the test tracker and storage node "
        "(``tests/servers/mogile_fake.py``), so its figures compare clients, not servers. "
        "django-storages 1.14 has neither backend, so the baselines are the raw clients. "
        "Extra RSS is the rise of the process's peak resident memory (VmHWM) during the "
        "transfer, after the libraries are imported.\n\n"
        + rst_table(["workload", "seconds", "MiB/s", "extra RSS MiB"], rows)
        + f"\nRun: ``.venv/bin/python -m bench.bench_swift_mogilefs --size-mib "
        f"{args.size_mib} --rounds {args.rounds}``.\n"
    )
    page = write_results_page("swift_mogilefs", "Swift and MogileFS", body)
    print(page.read_text())


if __name__ == "__main__":
    main()
