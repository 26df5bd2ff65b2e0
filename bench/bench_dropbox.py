"""Benchmark: DropboxStorage against the raw dropbox SDK and django-storages 1.14.6's
DropboxStorage, all on our Dropbox API test server (tests/dropbox_api, HTTPS on 127.0.0.1).

Run: ``.venv/bin/python -m bench.bench_dropbox [--small 300] [--mib 64] [--rounds 3]``.
Each workload runs in a fresh process (time of the work only, extra RSS); the
contenders alternate, a different one first in each round; the table gives
medians. django-storages runs in bench/.venv-django-storages (with the same
dropbox SDK installed there) when that virtualenv has it. Writes
docs/benchmarks/dropbox.rst.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

MIB = 1024 * 1024
SDK, OURS, THEIRS = "dropbox SDK 12.2", "storages", "django-storages 1.14.6"
WORKLOADS = {"small": "small saves", "big": "big save", "read": "big read"}
#: The raw SDK's upload blocks, as django-storages and our default use.
SDK_CHUNK = 4 * MIB


def _django() -> None:
    import django
    from django.conf import settings

    if not settings.configured:
        settings.configure(USE_TZ=True, INSTALLED_APPS=[])
        django.setup()


def _requests_counter(session) -> dict:
    counted = {"requests": 0}
    send = session.send

    def counting(request, **kwargs):
        counted["requests"] += 1
        return send(request, **kwargs)

    session.send = counting
    return counted


# --- workloads (run in the child processes) ---------------------------------------------


def setup(contender: str, token: str, root: str, **_: object) -> dict:
    if contender == THEIRS:
        from bench.common import use_installed_storages

        use_installed_storages()
    if contender == SDK:
        import dropbox

        client = dropbox.Dropbox(token, timeout=100)
        return {"client": client, "counted": _requests_counter(client._session), "root": root}
    _django()
    from storages.backends.dropbox import DropboxStorage

    storage = DropboxStorage(oauth2_access_token=token, root_path=root)
    return {"storage": storage, "counted": _requests_counter(storage.client._session), "root": root}


def small_saves(state: dict, count: int, **_: object) -> dict:
    payload = os.urandom(1024)
    if "client" in state:
        from dropbox.files import WriteMode

        for index in range(count):
            state["client"].files_upload(
                payload, f"{state['root']}/small/{index}.bin", mode=WriteMode.add
            )
    else:
        from django.core.files.base import ContentFile

        for index in range(count):
            state["storage"].save(f"small/{index}.bin", ContentFile(payload))
    return {"requests": state["counted"]["requests"], "files": count}


def big_save(state: dict, path: str, **_: object) -> dict:
    with open(path, "rb") as disk:
        if "client" in state:
            _sdk_upload(state["client"], disk, f"{state['root']}/big.bin")
        else:
            from django.core.files import File

            state["storage"].save("big.bin", File(disk, name="big.bin"))
    return {"requests": state["counted"]["requests"]}


def _sdk_upload(client, disk, path: str) -> None:
    """The SDK's documented upload-session loop, in 4 MiB blocks."""
    from dropbox.files import CommitInfo, UploadSessionCursor

    size = os.fstat(disk.fileno()).st_size
    session = client.files_upload_session_start(disk.read(SDK_CHUNK))
    cursor = UploadSessionCursor(session.session_id, disk.tell())
    commit = CommitInfo(path=path)
    while size - disk.tell() > SDK_CHUNK:
        client.files_upload_session_append_v2(disk.read(SDK_CHUNK), cursor)
        cursor.offset = disk.tell()
    client.files_upload_session_finish(disk.read(SDK_CHUNK), cursor, commit)


def big_read(state: dict, name: str, **_: object) -> dict:
    total = 0
    if "client" in state:
        _metadata, response = state["client"].files_download(f"{state['root']}/{name}")
        with response:
            for chunk in response.iter_content(MIB):
                total += len(chunk)
    else:
        with state["storage"].open(name, "rb") as handle:
            for chunk in handle.chunks(MIB):
                total += len(chunk)
    return {"requests": state["counted"]["requests"], "bytes": total}


# --- the run (parent process) --------------------------------------------------------------


def _theirs_python() -> str | None:
    import subprocess

    from bench.common import DJANGO_STORAGES_PYTHON

    if not DJANGO_STORAGES_PYTHON.exists():
        return None
    probe = subprocess.run(
        [str(DJANGO_STORAGES_PYTHON), "-c", "import dropbox, storages.backends.dropbox"],
        capture_output=True,
        cwd="/",
        check=False,
    )
    return str(DJANGO_STORAGES_PYTHON) if probe.returncode == 0 else None


def _load() -> str:
    with open("/proc/loadavg") as handle:
        return handle.read().split()[0]


def main(argv: list[str] | None = None) -> None:
    from bench.common import measure, ours_python, write_results_page

    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--small", type=int, default=300, help="small files saved")
    parser.add_argument("--mib", type=int, default=64, help="size of the big file")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--no-write", action="store_true", help="print, do not write the page")
    args = parser.parse_args(argv)

    from tests.servers.dropbox import start_test_dropbox  # points the SDK here, first

    work = Path(tempfile.mkdtemp(prefix="bench-dropbox-"))
    server = start_test_dropbox(work / "server", page_size=2000)
    env = {
        **{k: os.environ[k] for k in os.environ if k.startswith("DROPBOX_API_")},
        "REQUESTS_CA_BUNDLE": str(server.bundle),
    }
    os.environ["REQUESTS_CA_BUNDLE"] = str(server.bundle)
    theirs = _theirs_python()
    pythons = {SDK: ours_python(), OURS: ours_python()}
    if theirs:
        pythons[THEIRS] = theirs
    contenders = list(pythons)
    big = work / "big.bin"
    with big.open("wb") as out:
        for _ in range(args.mib):
            out.write(os.urandom(MIB))
    import dropbox

    reader = dropbox.Dropbox(server.token)
    with big.open("rb") as disk:
        _sdk_upload(reader, disk, "/bench-read/big.bin")

    results: dict[tuple[str, str], list[dict]] = {}
    loads = [_load()]
    started = time.perf_counter()
    try:
        for round_index in range(args.rounds):
            order = (
                contenders[round_index % len(contenders) :]
                + contenders[: round_index % len(contenders)]
            )
            for workload in WORKLOADS:
                for contender in order:
                    root = "/bench-read" if workload == "read" else f"/bench-{uuid.uuid4().hex}"
                    figures = measure(
                        pythons[contender],
                        "bench_dropbox",
                        {"small": "small_saves", "big": "big_save", "read": "big_read"}[workload],
                        env=env,
                        contender=contender,
                        token=server.token,
                        root=root,
                        count=args.small,
                        path=str(big),
                        name="big.bin",
                    )
                    results.setdefault((workload, contender), []).append(figures)
                    print(workload, contender, f"{figures['seconds']:.3f}s", flush=True)
            loads.append(_load())
    finally:
        server.stop()
        import shutil

        shutil.rmtree(work, ignore_errors=True)
    elapsed = time.perf_counter() - started
    page = report(results, args, contenders, loads, elapsed)
    if args.no_write:
        print(page)
    else:
        print(write_results_page("dropbox", "Dropbox (our test server)", page))


def _median(values) -> float:
    values = list(values)
    return statistics.median(values) if values else float("nan")


def report(results, args, contenders, loads, elapsed) -> str:
    from bench.common import rst_table

    rows = []
    for workload, label in WORKLOADS.items():
        for contender in contenders:
            runs = results[(workload, contender)]
            seconds = _median(r["seconds"] for r in runs)
            if workload == "small":
                rate = f"{args.small / seconds:.0f} files/s"
                requests = f"{_median(r['extra']['requests'] for r in runs) / args.small:.2f}/file"
            else:
                rate = f"{args.mib / seconds:.0f} MiB/s"
                requests = f"{_median(r['extra']['requests'] for r in runs):.0f}"
            rss = f"{_median(r['extra_rss_mib'] for r in runs):.1f}"
            rows.append([label, contender, f"{seconds:.3f}", rate, rss, requests])
    table = rst_table(
        ["workload", "contender", "seconds", "rate", "extra RSS (MiB)", "requests"], rows
    )

    def ratio(workload: str, versus: str) -> str:
        if (workload, versus) not in results:
            return "n/a"
        ours = _median(r["seconds"] for r in results[(workload, OURS)])
        other = _median(r["seconds"] for r in results[(workload, versus)])
        return f"{other / ours:.2f}x"

    command = (
        f"``.venv/bin/python -m bench.bench_dropbox --small {args.small} --mib {args.mib} "
        f"--rounds {args.rounds}``"
    )
    summary = "\n".join(
        f"* {label}: {ratio(workload, SDK)} the raw SDK's speed"
        + (f", {ratio(workload, THEIRS)} django-storages'" if (workload, THEIRS) in results else "")
        for workload, label in WORKLOADS.items()
    )
    theirs_note = (
        "django-storages 1.14.6 ran in bench/.venv-django-storages with the same dropbox SDK "
        "(12.2.4)."
        if THEIRS in contenders
        else "django-storages was not measured: bench/.venv-django-storages has no dropbox SDK "
        "(``bench/.venv-django-storages/bin/pip install dropbox==12.2.4``)."
    )
    return f"""Measured by {command} on our Dropbox API test server (``tests/dropbox_api``:
HTTPS on 127.0.0.1 with a test CA, files on local disk), **not on Dropbox**: there is
no Dropbox emulator, and real Dropbox adds a network round trip (tens to hundreds of
milliseconds) to every request, so the request counts matter more there than these
seconds. {theirs_note} Each workload is a fresh process; the contenders alternate (a
different one first in each round); figures are medians of {args.rounds} rounds.
Seconds are the work only (clients are made before the clock starts); extra RSS is the
peak over the RSS the process had when the work began; requests are every HTTP request
the client's session sent.

Small saves are {args.small} files of 1 KiB under new names: the raw SDK sends one
``files/upload`` each; ours one create-only upload (``add`` mode, ``strict_conflict``);
django-storages asks ``files/get_metadata`` first (its name check), then uploads. The big
file is {args.mib} MiB from disk, in 4 MiB blocks for all three (the SDK's documented
upload-session loop). The big read streams it back in 1 MiB chunks; django-storages'
``DropboxFile`` downloads the whole file into memory first.

{table}
From the medians:

{summary}

The machine: 2 shared CPU cores, other work running beside; the 1-minute load average
was {", ".join(loads)} at the start and after each round. The whole run took
{elapsed / 60:.1f} minutes. The test server shares the CPUs with the clients, so
differences under about 30% are noise.
"""


if __name__ == "__main__":
    sys.exit(main())
