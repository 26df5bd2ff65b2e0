"""Async S3 from one loop: storages' native hooks against aiobotocore, obstore, boto3 in threads.

Run: ``.venv/bin/python -m bench.bench_async [--count 1000] [--rounds 5] [--mib 64]``.
Starts SeaweedFS on 127.0.0.1 like the tests and writes docs/benchmarks/async.rst.

Workloads (issue 18's "Done when"): ``--count`` concurrent reads of 16 KiB
objects and ``--count`` concurrent 1 KiB saves under distinct names with
overwrite off (a create-only ``If-None-Match: *`` upload for every
contender), all from one event loop (boto3: 16 threads); then a ``--mib`` MiB
async save and read with storages, for its extra RSS.

aiobotocore cannot be installed beside boto3 1.44 (it pins an older botocore),
so it and obstore 0.12 run in their own virtualenv, ``bench/.venv-aiobotocore``
(see ``_venv_recipe``). Every measurement runs in a fresh process; contenders
alternate within each round, the order rotating per round; the table shows the
median over rounds. The time is measured inside the child around the
concurrent calls only, after one warm-up request on the same client and loop
(client creation and the first connection are not part of it).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import tempfile
import time
import uuid
from pathlib import Path

from bench.common import BENCH_DIR, measure, ours_python, rst_table, write_results_page

MIB = 1024 * 1024
READ_SIZE = 16 * 1024
SAVE_SIZE = 1024
OTHER_PYTHON = BENCH_DIR / ".venv-aiobotocore" / "bin" / "python"
OURS = "storages (async)"
AIOBOTOCORE = "aiobotocore"
OBSTORE = "obstore 0.12"
THREADS = "boto3, 16 threads"
CONTENDERS = [OURS, AIOBOTOCORE, OBSTORE, THREADS]
#: Connections per client for the async contenders (aiohttp's default limit; ours uses it).
CONNECTIONS = 100


def _venv_recipe() -> str:
    return (
        "made with: python3.11 -m venv bench/.venv-aiobotocore && "
        "bench/.venv-aiobotocore/bin/pip install aiobotocore 'obstore==0.12.*'"
    )


# --- workloads (run in child processes) ------------------------------------------


def _names(count: int, tag: str) -> list[str]:
    return [f"{tag}/{i:05d}.bin" for i in range(count)]


async def _ours(reach: dict, workload: str, names: list[str], location: str) -> float:
    storage = _storage(reach, location)
    await storage.aexists("warm-up")
    payload = os.urandom(SAVE_SIZE)

    async def read(name: str) -> int:
        async with await storage.aopen(name) as f:
            return len(await f.read())

    started = time.perf_counter()
    if workload == "reads":
        sizes = await asyncio.gather(*(read(name) for name in names))
        assert sum(sizes) == READ_SIZE * len(names)
    else:
        stored = await asyncio.gather(*(storage.asave(name, payload) for name in names))
        assert stored == names
    return time.perf_counter() - started


async def _aiobotocore(reach: dict, workload: str, names: list[str], location: str) -> float:
    from aiobotocore.config import AioConfig
    from aiobotocore.session import get_session

    session = get_session()
    async with session.create_client(
        "s3",
        endpoint_url=reach["endpoint_url"],
        aws_access_key_id=reach["access_key"],
        aws_secret_access_key=reach["secret_key"],
        region_name="us-east-1",
        config=AioConfig(max_pool_connections=CONNECTIONS),
    ) as client:
        bucket = reach["bucket"]
        await client.list_objects_v2(Bucket=bucket, Prefix="warm-up", MaxKeys=1)
        payload = os.urandom(SAVE_SIZE)

        async def read(key: str) -> int:
            answer = await client.get_object(Bucket=bucket, Key=key)
            async with answer["Body"] as body:
                return len(await body.read())

        async def save(key: str) -> None:
            await client.put_object(Bucket=bucket, Key=key, Body=payload, IfNoneMatch="*")

        keys = [f"{location}/{name}" for name in names]
        started = time.perf_counter()
        if workload == "reads":
            sizes = await asyncio.gather(*(read(key) for key in keys))
            assert sum(sizes) == READ_SIZE * len(keys)
        else:
            await asyncio.gather(*(save(key) for key in keys))
        return time.perf_counter() - started


async def _obstore(reach: dict, workload: str, names: list[str], location: str) -> float:
    import obstore
    from obstore.store import S3Store

    store = S3Store(
        reach["bucket"],
        endpoint=reach["endpoint_url"],
        access_key_id=reach["access_key"],
        secret_access_key=reach["secret_key"],
        region="us-east-1",
        virtual_hosted_style_request=False,
        client_options={"allow_http": True},
    )
    await obstore.list_with_delimiter_async(store, "warm-up")
    payload = os.urandom(SAVE_SIZE)

    async def read(key: str) -> int:
        answer = await obstore.get_async(store, key)
        return len(await answer.bytes_async())

    keys = [f"{location}/{name}" for name in names]
    started = time.perf_counter()
    if workload == "reads":
        sizes = await asyncio.gather(*(read(key) for key in keys))
        assert sum(sizes) == READ_SIZE * len(keys)
    else:
        await asyncio.gather(
            *(obstore.put_async(store, key, payload, mode="create") for key in keys)
        )
    return time.perf_counter() - started


async def _threads(reach: dict, workload: str, names: list[str], location: str) -> float:
    import concurrent.futures

    import boto3
    from botocore.config import Config

    client = boto3.client(
        "s3",
        endpoint_url=reach["endpoint_url"],
        aws_access_key_id=reach["access_key"],
        aws_secret_access_key=reach["secret_key"],
        region_name="us-east-1",
        config=Config(max_pool_connections=16),
    )
    bucket = reach["bucket"]
    client.list_objects_v2(Bucket=bucket, Prefix="warm-up", MaxKeys=1)
    payload = os.urandom(SAVE_SIZE)

    def read(key: str) -> int:
        return len(client.get_object(Bucket=bucket, Key=key)["Body"].read())

    def save(key: str) -> None:
        client.put_object(Bucket=bucket, Key=key, Body=payload, IfNoneMatch="*")

    keys = [f"{location}/{name}" for name in names]
    loop = asyncio.get_running_loop()
    with concurrent.futures.ThreadPoolExecutor(16) as pool:
        started = time.perf_counter()
        work = read if workload == "reads" else save
        results = await asyncio.gather(*(loop.run_in_executor(pool, work, key) for key in keys))
        elapsed = time.perf_counter() - started
    if workload == "reads":
        assert sum(results) == READ_SIZE * len(keys)
    return elapsed


RUNNERS = {OURS: _ours, AIOBOTOCORE: _aiobotocore, OBSTORE: _obstore, THREADS: _threads}


def setup(reach: dict, path: str | None = None, **_kw):
    """Before the measured part: for the big file, a storage with its client and session ready."""
    if path is None:
        return None  # the concurrent workloads time themselves, after a warm-up
    storage = _storage(reach, f"bench-async-big-{uuid.uuid4().hex[:12]}")
    asyncio.run(storage.aexists("warm-up"))
    return storage


def _storage(reach: dict, location: str):
    import django
    from django.conf import settings

    if not settings.configured:
        settings.configure(USE_TZ=True, INSTALLED_APPS=[])
        django.setup()
    from storages.backends.s3 import S3Storage

    return S3Storage(
        endpoint_url=reach["endpoint_url"],
        access_key=reach["access_key"],
        secret_key=reach["secret_key"],
        bucket_name=reach["bucket"],
        region_name="us-east-1",
        location=location,
    )


def concurrent_calls(
    _state, contender: str, reach: dict, workload: str, count: int, tag: str, **_kw
):
    """One measurement: ``count`` concurrent reads (of ``tag``'s objects) or saves (new names)."""
    location = "bench-async"
    if workload == "saves":
        names = _names(count, f"saves-{uuid.uuid4().hex[:12]}")
    else:
        names = _names(count, tag)
    seconds = asyncio.run(RUNNERS[contender](reach, workload, names, location))
    return {"inner_seconds": seconds}


def big_file(storage, path: str, **_kw):
    """A big async save from a file on disk, then an async read of it, with storages."""
    import hashlib

    from django.core.files import File

    async def scenario() -> dict:
        await storage.aexists("warm-up")
        started = time.perf_counter()
        with open(path, "rb") as handle:
            name = await storage.asave("big.bin", File(handle))
        saved = time.perf_counter()
        digest = hashlib.sha256()
        async with await storage.aopen(name) as f:
            async for chunk in f:
                digest.update(chunk)
        read = time.perf_counter()
        return {"save_seconds": saved - started, "read_seconds": read - saved}

    return asyncio.run(scenario())


# --- the run -------------------------------------------------------------------------


def _seed_reads(reach: dict, count: int) -> str:
    """Store ``count`` 16 KiB objects for the read workload (with boto3); return their tag."""
    import concurrent.futures

    import boto3

    client = boto3.client(
        "s3",
        endpoint_url=reach["endpoint_url"],
        aws_access_key_id=reach["access_key"],
        aws_secret_access_key=reach["secret_key"],
        region_name="us-east-1",
    )
    tag = f"reads-{uuid.uuid4().hex[:12]}"
    body = os.urandom(READ_SIZE)
    with concurrent.futures.ThreadPoolExecutor(16) as pool:
        list(
            pool.map(
                lambda name: client.put_object(
                    Bucket=reach["bucket"], Key=f"bench-async/{name}", Body=body
                ),
                _names(count, tag),
            )
        )
    return tag


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--mib", type=int, default=64)
    parser.add_argument("--no-page", action="store_true", help="print only; keep the docs page")
    parser.add_argument(
        "--page-only", action="store_true", help="write the page again from the recorded runs"
    )
    args = parser.parse_args()
    if args.page_only:
        runs = _recorded_runs()
        write_results_page("async", "Async S3 (issue 18)", _page_of(runs[-1], runs))
        return
    contenders = list(CONTENDERS)
    if not OTHER_PYTHON.exists():
        print(f"No {OTHER_PYTHON}: aiobotocore and obstore are left out ({_venv_recipe()}).")
        contenders = [OURS, THREADS]

    from bench.common import start_bench_seaweedfs

    workdir = Path(tempfile.mkdtemp(prefix="bench-async-"))
    big_path = workdir / "big.bin"
    with big_path.open("wb") as out:
        block = os.urandom(MIB)
        for _ in range(args.mib):
            out.write(block)
    server, reach = start_bench_seaweedfs(workdir / "weed")
    load_before = os.getloadavg()[0]
    times: dict[tuple[str, str], list[float]] = {}
    big: list[dict] = []
    failures: list[str] = []
    try:
        tag = _seed_reads(reach, args.count)
        for round_number in range(args.rounds):
            shift = round_number % len(contenders)
            order = contenders[shift:] + contenders[:shift]
            for workload in ("reads", "saves"):
                for contender in order:
                    python = ours_python() if contender in (OURS, THREADS) else OTHER_PYTHON
                    result = _measured(
                        python,
                        "concurrent_calls",
                        contender=contender,
                        reach=reach,
                        workload=workload,
                        count=args.count,
                        tag=tag,
                    )
                    if result is None:
                        failures.append(f"round {round_number + 1} {workload} {contender}")
                        continue
                    seconds = result["extra"]["inner_seconds"]
                    times.setdefault((workload, contender), []).append(seconds)
                    print(f"round {round_number + 1} {workload:5} {contender:20} {seconds:.3f} s")
            result = measure(
                ours_python(),
                "bench.bench_async",
                "big_file",
                reach=reach,
                path=str(big_path),
                mib=args.mib,
            )
            big.append({**result["extra"], "extra_rss_mib": result["extra_rss_mib"]})
            print(f"round {round_number + 1} {args.mib} MiB: {big[-1]}")
    finally:
        server.stop()
    run = {
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "count": args.count,
        "rounds": args.rounds,
        "mib": args.mib,
        "contenders": contenders,
        "times": {f"{workload}|{contender}": v for (workload, contender), v in times.items()},
        "big": big,
        "loads": [load_before, os.getloadavg()[0]],
        "failures": failures,
    }
    runs = _recorded_runs()
    if not args.no_page:
        runs.append(run)
        RUNS_FILE.write_text(json.dumps(runs, indent=1) + "\n")
    page = _page_of(run, runs)
    print(page)
    if not args.no_page:
        write_results_page("async", "Async S3 (issue 18)", page)


#: Every full run of this benchmark on this machine (the page shows them all).
RUNS_FILE = BENCH_DIR / "async_runs.json"


def _recorded_runs() -> list[dict]:
    return json.loads(RUNS_FILE.read_text()) if RUNS_FILE.exists() else []


def _page_of(run: dict, runs: list[dict]) -> str:
    times = {tuple(key.split("|", 1)): value for key, value in run["times"].items()}
    args = argparse.Namespace(count=run["count"], rounds=run["rounds"], mib=run["mib"])
    page = _page(args, run["contenders"], times, run["big"], run["loads"], run["failures"])
    return page + _history(runs)


def _history(runs: list[dict]) -> str:
    """One line per recorded run: the medians' ratios, and how busy the machine was."""
    if len(runs) < 2:
        return ""
    rows = []
    for run in runs:
        median = {key: statistics.median(value) for key, value in run["times"].items()}
        row = [run["date"], f"{run['loads'][0]:.1f} / {run['loads'][1]:.1f}", str(run["rounds"])]
        for workload in ("reads", "saves"):
            ours = median[f"{workload}|{OURS}"]
            for contender in (AIOBOTOCORE, OBSTORE, THREADS):
                theirs = median.get(f"{workload}|{contender}")
                row.append("-" if theirs is None else f"{theirs / ours:.2f}x")
        rows.append(row)
    headers = ["run", "load before / after", "rounds"]
    headers += [
        f"{w} vs {c}" for w in ("reads", "saves") for c in ("aiobotocore", "obstore", "boto3")
    ]
    return f"""
Every full run recorded (``bench/async_runs.json``), newest last: the contender's
median over ours (higher is better for ours). The load average is the whole
machine's, and the ratios fall as it rises. Our reading (not a measured cause):
our client is one event-loop thread, which gets a smaller share of the 2 cores
when they are oversubscribed, while obstore's runtime and boto3's pool run
several threads:

{rst_table(headers, rows)}"""


def _measured(python, function: str, **kwargs):
    """:func:`bench.common.measure`, once more if the child failed (None if it failed twice)."""
    for attempt in (1, 2):
        try:
            return measure(python, "bench.bench_async", function, **kwargs)
        except RuntimeError as exc:
            print(f"attempt {attempt} of {function} {kwargs.get('contender', '')} failed: {exc}")
    return None


def _page(args, contenders, times, big, loads, failures) -> str:
    median = {key: statistics.median(values) for key, values in times.items()}
    rows = []
    for contender in contenders:
        row = [contender]
        for workload in ("reads", "saves"):
            ours = median[(workload, OURS)]
            theirs = median[(workload, contender)]
            row.append(f"{theirs:.3f} s")
            row.append("1.00x" if contender == OURS else f"{theirs / ours:.2f}x")
        rows.append(row)
    table = rst_table(["contender", "reads", "ours faster by", "saves", "ours faster by"], rows)
    big_rows = [
        [
            f"{args.mib} MiB",
            f"{statistics.median(b['save_seconds'] for b in big):.2f} s",
            f"{statistics.median(b['read_seconds'] for b in big):.2f} s",
            f"{statistics.median(b['extra_rss_mib'] for b in big):.1f} MiB",
            f"{max(b['extra_rss_mib'] for b in big):.1f} MiB",
        ]
    ]
    round_rows = [
        [f"{workload} {contender}", *(f"{seconds:.2f}" for seconds in times[(workload, contender)])]
        for workload in ("reads", "saves")
        for contender in contenders
        if (workload, contender) in times
    ]
    rounds_table = rst_table(
        ["workload, contender", *(f"round {i + 1}" for i in range(args.rounds))],
        [row + [""] * (args.rounds + 1 - len(row)) for row in round_rows],
    )
    big_table = rst_table(
        ["file", "async save", "async read", "extra RSS (median)", "extra RSS (max)"], big_rows
    )
    return f"""
Measured by ``bench/bench_async.py`` on SeaweedFS 4.48 on 127.0.0.1, from one event
loop: {args.count} concurrent reads of 16 KiB objects and {args.count} concurrent
1 KiB saves under distinct names with overwrite off (each a create-only upload,
``If-None-Match: *``). Median of {args.rounds} rounds; contenders alternate within
each round, the order rotating. A fresh process per measurement; the time is
taken around the concurrent calls only, after one warm-up request. "ours faster
by" is the contender's time over ours.

{table}
Contenders: ``storages.backends.s3.S3Storage``'s native async hooks (aiohttp,
SigV4 signed by ``storages``, 100 connections); aiobotocore (its own virtualenv:
it pins an older botocore; ``max_pool_connections=100``); obstore 0.12 (Rust,
``get_async``/``put_async(mode="create")``); boto3 in a pool of 16 threads
(``max_pool_connections=16``) driven from the loop with ``run_in_executor``.

Anchors measured earlier on this machine for the reads (issue 18): obstore 0.39 s,
aiobotocore 0.80-0.91 s, boto3 in 16 threads 1.39 s. Targets: ours at least 1.5x
aiobotocore and 2x boto3-in-threads on both workloads, at least 0.8x obstore on
reads (obstore's time over ours >= 0.8).

A {args.mib} MiB file saved from disk with ``asave`` (multipart, 8 MiB parts, 4 at
a time) and read back with ``async for chunk in await storage.aopen(name)``, in a
fresh process; extra RSS is the peak over the RSS before the work (target: under
64 MiB):

{big_table}
Load average of this shared 2-core machine: {loads[0]:.1f} before, {loads[1]:.1f} after.
{_failures(failures)}
Every round (seconds), for the spread behind the medians:

{rounds_table}
Where the time goes (profiled with cProfile and ``time.process_time`` around the
same workloads): the client CPU per request is about 0.35-0.45 ms for ours
(aiohttp's request and response objects are most of it; the SigV4 signature is
15 us, the name checks and object parameters about 60 us), about 1.4 ms for
boto3 (botocore's per-request machinery, under the GIL however many threads),
and far less for obstore's Rust client. The rest of the wall time is the
server: SeaweedFS shares the 2 cores with the client (and with other work on
this machine, as the load average says), so a client that needs less CPU leaves
more to the server. That is why ours is about even with obstore on reads and
behind it on create-only saves (the server's conditional create costs more than
a read, so the client's share decides less), and why single rounds vary by up
to 2x: the medians are the figures to compare.

Reproduce: ``.venv/bin/python -m bench.bench_async --count {args.count} --rounds
{args.rounds} --mib {args.mib}`` (needs ``bench/.venv-aiobotocore``: {_venv_recipe()}).
"""


def _failures(failures: list[str]) -> str:
    if not failures:
        return ""
    return "\nMeasurements lost (the child process failed twice): " + "; ".join(failures) + ".\n"


if __name__ == "__main__":
    main()
