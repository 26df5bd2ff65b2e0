"""Azure Blob: our backend against the raw SDK and django-storages 1.14.6, on one Azurite.

Run: ``.venv/bin/python -m bench.bench_azure [--small N] [--mib N] [--urls N] [--rounds R]``
(the issue's sizes: ``--small 2000 --mib 256``). Starts Azurite on 127.0.0.1 as
the tests do and prints a table (median over rounds). django-storages runs in
bench/.venv-django-storages (which needs ``azure-storage-blob`` installed).

Every workload runs in a fresh process (so peak RSS is its own); contenders
alternate within each round. Requests are counted with the SDK's
``raw_request_hook``. This module is also the workload module the children import.
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

MIB = 1024 * 1024
READ_CHUNK = 256 * 1024
SDK = "azure-storage-blob"
OURS = "storages"
THEIRS = "django-storages 1.14.6"
CONTENDERS = [SDK, OURS, THEIRS]


# --- workloads (run in child processes) ------------------------------------------


class _Counter:
    def __init__(self) -> None:
        self.count = 0

    def __bool__(self) -> bool:
        return True

    def __call__(self, request) -> None:
        self.count += 1


def setup(
    contender: str,
    connection_string: str,
    container: str,
    location: str,
    static_dir: str | None = None,
    variant: str = "static",
    **_: object,
):
    counter = _Counter()
    if static_dir is not None:
        return _collect_setup(
            contender, connection_string, container, location, static_dir, variant
        )
    if contender == SDK:
        from azure.storage.blob import BlobServiceClient

        service = BlobServiceClient.from_connection_string(
            connection_string, raw_request_hook=counter
        )
        return {"client": service.get_container_client(container), "counter": counter}
    if contender == THEIRS:
        from bench.common import use_installed_storages

        use_installed_storages()
    import django
    from django.conf import settings

    if not settings.configured:
        settings.configure(USE_TZ=True, INSTALLED_APPS=[])
        django.setup()
    from storages.backends.azure_storage import AzureStorage

    storage = AzureStorage(
        connection_string=connection_string,
        azure_container=container,
        location=location,
        client_options={"raw_request_hook": counter},
        expiration_secs=3600,
    )
    _ = storage.client  # made outside the timing
    return {"storage": storage, "counter": counter}


def small_saves(state: dict, count: int, location: str, **_: object) -> dict:
    payload = os.urandom(1024)
    if "client" in state:
        for i in range(count):
            state["client"].upload_blob(f"{location}/small/{i}.txt", payload, overwrite=False)
    else:
        from django.core.files.base import ContentFile

        for i in range(count):
            state["storage"].save(f"small/{i}.txt", ContentFile(payload))
    return {"requests": state["counter"].count / count}


def big_save(state: dict, path: str, location: str, **_: object) -> dict:
    with open(path, "rb") as source:
        if "client" in state:
            state["client"].upload_blob(f"{location}/big.bin", source, overwrite=True)
        else:
            from django.core.files import File

            state["storage"].save("big.bin", File(source, name="big.bin"))
    return {"requests": state["counter"].count}


def big_read(state: dict, location: str, **_: object) -> dict:
    total = 0
    if "client" in state:
        for chunk in state["client"].download_blob(f"{location}/big.bin").chunks():
            total += len(chunk)
    else:
        with state["storage"].open("big.bin", "rb") as handle:
            for chunk in handle.chunks(READ_CHUNK):
                total += len(chunk)
    return {"requests": state["counter"].count, "bytes": total}


def url_cost(state: dict, count: int, **_: object) -> dict:
    names = [f"photos/{i:05d} ünï.jpg" for i in range(count)]
    if "client" in state:
        import datetime

        from azure.storage.blob import BlobSasPermissions, generate_blob_sas

        client = state["client"]
        key = client.credential.account_key
        started = time.perf_counter()
        for name in names:
            sas = generate_blob_sas(
                client.account_name,
                client.container_name,
                name,
                account_key=key,
                permission=BlobSasPermissions(read=True),
                expiry=datetime.datetime.now(datetime.UTC) + datetime.timedelta(hours=1),
            )
            _url = f"{client.get_blob_client(name).url}?{sas}"
    else:
        storage = state["storage"]
        storage.url(names[0])
        started = time.perf_counter()
        for name in names:
            storage.url(name)
    return {
        "per_call_us": (time.perf_counter() - started) / count * 1e6,
        "requests": state["counter"].count,
    }


def _collect_setup(
    contender: str,
    connection_string: str,
    container: str,
    location: str,
    static_dir: str,
    variant: str,
) -> dict:
    """Django configured for collectstatic into Azurite, with a request counter."""
    ours = contender == OURS
    if not ours:
        from bench.common import use_installed_storages

        use_installed_storages()
    import django
    from django.conf import settings

    counts: dict[str, int] = {}
    lock = threading.Lock()

    # django-storages gives no client options to a client made from a connection
    # string: count every HTTP request the SDK's transport sends, for both.
    from azure.core.pipeline.transport import RequestsTransport

    send = RequestsTransport.send

    def counting_send(self, request, **kwargs):
        kind = "LIST" if "comp=list" in request.url else request.method
        with lock:
            counts[kind] = counts.get(kind, 0) + 1
        return send(self, request, **kwargs)

    RequestsTransport.send = counting_send
    options = {
        "connection_string": connection_string,
        "azure_container": container,
        "location": location,
        "overwrite_files": True,
    }
    if ours:
        backend = "storages.backends.azure_storage." + (
            "AzureManifestStaticStorage" if variant == "manifest" else "AzureStaticStorage"
        )
        options.pop("overwrite_files")  # the static storages replace by default
    else:
        # django-storages ships no static variants: its AzureStorage (as its docs set
        # it up for static files), and Django's ManifestFilesMixin over it.
        backend = (
            "bench.bench_azure.TheirManifestStorage"
            if variant == "manifest"
            else "storages.backends.azure_storage.AzureStorage"
        )
    settings.configure(
        SECRET_KEY="bench",
        USE_TZ=True,
        INSTALLED_APPS=[
            *(["storages"] if ours else []),
            "django.contrib.staticfiles",
            "django.contrib.admin.apps.SimpleAdminConfig",
            "django.contrib.auth",
            "django.contrib.contenttypes",
        ],
        STATIC_URL="/static/",
        STATICFILES_DIRS=[static_dir],
        STORAGES={
            "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
            "staticfiles": {"BACKEND": backend, "OPTIONS": options},
        },
        CACHES={"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}},
    )
    django.setup()
    return {"counts": counts}


def __getattr__(name: str):
    if name == "TheirManifestStorage":  # made on demand, in django-storages' virtualenv
        from django.contrib.staticfiles.storage import ManifestFilesMixin

        from storages.backends.azure_storage import AzureStorage

        def read_manifest(self):
            # django-storages raises the SDK's ResourceNotFoundError for a missing blob,
            # where Django's read_manifest expects FileNotFoundError (a fresh container).
            from azure.core.exceptions import ResourceNotFoundError

            try:
                return ManifestFilesMixin.read_manifest(self)
            except ResourceNotFoundError:
                return None

        return type(
            "TheirManifestStorage",
            (ManifestFilesMixin, AzureStorage),
            {"read_manifest": read_manifest},
        )
    raise AttributeError(name)


def collect(state: dict, **_: object) -> dict:
    from django.core.management import call_command

    call_command("collectstatic", interactive=False, verbosity=0)
    counts = dict(state["counts"])
    return {"requests": sum(counts.values()), "by_kind": counts}


# --- driver -------------------------------------------------------------------------


def _python(contender: str) -> str:
    from bench.common import DJANGO_STORAGES_PYTHON, ours_python

    return str(DJANGO_STORAGES_PYTHON) if contender == THEIRS else ours_python()


def main(argv: list[str] | None = None) -> None:
    from bench.common import measure
    from tests.servers.azure import start_azurite

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", type=int, default=2000)
    parser.add_argument("--mib", type=int, default=256)
    parser.add_argument("--urls", type=int, default=2000)
    parser.add_argument("--files", type=int, default=2000, help="collectstatic files")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--variants", default="static,manifest", help="collectstatic storages")
    parser.add_argument("--skip", default="", help="workloads to leave out, comma-separated")
    parser.add_argument("--no-write", action="store_true", help="print, do not write the page")
    args = parser.parse_args(argv)
    skip = set(filter(None, args.skip.split(",")))
    server = start_azurite()
    results: dict[tuple[str, str], list[dict]] = {}
    load = [os.getloadavg()[0]]
    work = Path(tempfile.mkdtemp(prefix="bench-azure-"))
    try:
        total_files = 0
        if "collectstatic" not in skip:
            from bench.bench_collectstatic import admin_file_count, make_tree

            total_files = make_tree(work / "tree", args.files, admin_file_count())
            total_files += admin_file_count()
        big = work / "big.bin"
        with open(big, "wb") as handle:
            for _ in range(args.mib):
                handle.write(os.urandom(MIB))
        for round_index in range(args.rounds):
            order = CONTENDERS[round_index % 3 :] + CONTENDERS[: round_index % 3]
            for contender in order:
                reach = {
                    "contender": contender,
                    "connection_string": server.connection_string(),
                    "container": server.create_container(),
                    "location": f"b-{uuid.uuid4().hex[:8]}",
                }
                for workload, extra in (
                    ("small_saves", {"count": args.small}),
                    ("big_save", {"path": str(big)}),
                    ("big_read", {}),
                    ("url_cost", {"count": args.urls}),
                ):
                    if workload in skip:
                        continue
                    figures = measure(_python(contender), "bench_azure", workload, **reach, **extra)
                    results.setdefault((WORKLOAD_NAMES[workload], contender), []).append(figures)
                    _progress(round_index, WORKLOAD_NAMES[workload], contender, figures)
                if contender != SDK and "collectstatic" not in skip:
                    for variant in filter(None, args.variants.split(",")):
                        location = f"cs-{uuid.uuid4().hex[:8]}"
                        for run in ("cold", "unchanged re-run"):
                            figures = measure(
                                _python(contender),
                                "bench_azure",
                                "collect",
                                **{**reach, "location": location},
                                static_dir=str(work / "tree"),
                                variant=variant,
                            )
                            key = f"collectstatic {variant}, {run}"
                            results.setdefault((key, contender), []).append(figures)
                            _progress(round_index, key, contender, figures)
                # Azurite keeps blobs in memory: leave it as empty as it was.
                server.service_client().delete_container(reach["container"])
            load.append(os.getloadavg()[0])
    finally:
        server.stop()
        shutil.rmtree(work, ignore_errors=True)
    body = report(results, args, total_files, load)
    print(body)
    if not args.no_write:
        from bench.common import write_results_page

        page = write_results_page("azure", "Azure Blob Storage (Azurite)", body)
        print(f"wrote {page}")


WORKLOAD_NAMES = {
    "small_saves": "small saves",
    "big_save": "big save",
    "big_read": "big read",
    "url_cost": "url()",
}


def _progress(round_index: int, workload: str, contender: str, figures: dict) -> None:
    print(
        f"round {round_index + 1} {workload:34} {contender:24} {figures['seconds']:8.3f}s "
        f"{figures['extra_rss_mib']:7.1f} MiB {figures['extra'].get('requests')}",
        flush=True,
    )


def _median(runs: list[dict], key: str) -> float:
    return statistics.median(r[key] if key in r else r["extra"][key] for r in runs)


def _speed(workload: str, seconds: float, args: argparse.Namespace, files: int) -> str:
    if workload == "small saves":
        return f"{args.small / seconds:.0f} saves/s"
    if workload.startswith("big"):
        return f"{args.mib / seconds:.0f} MiB/s"
    if workload == "url()":
        return f"{seconds / args.urls * 1e6:.1f} µs per call"
    return f"{files / seconds:.0f} files/s"


def _requests(workload: str, runs: list[dict], args: argparse.Namespace, files: int) -> str:
    requests = _median(runs, "requests")
    if workload == "small saves":
        return f"{requests:.2f} per save"
    if workload.startswith("collectstatic"):
        kinds = sorted({k for r in runs for k in r["extra"]["by_kind"]})
        detail = ", ".join(
            f"{k} {statistics.median(r['extra']['by_kind'].get(k, 0) for r in runs):.0f}"
            for k in kinds
        )
        return f"{requests:.0f} ({requests / files:.3f} per file; {detail})"
    return f"{requests:.0f}"


def report(results: dict, args: argparse.Namespace, files: int, load: list[float]) -> str:
    from bench.common import rst_table

    order = [*WORKLOAD_NAMES.values()] + [
        f"collectstatic {v}, {r}"
        for v in ("static", "manifest")
        for r in ("cold", "unchanged re-run")
    ]
    rows = []
    for workload in order:
        for contender in CONTENDERS:
            runs = results.get((workload, contender))
            if not runs:
                continue
            seconds = [r["seconds"] for r in runs]
            rows.append(
                [
                    workload,
                    contender,
                    _speed(workload, statistics.median(seconds), args, files),
                    f"{statistics.median(seconds):.3f}",
                    f"{min(seconds):.3f}-{max(seconds):.3f}",
                    f"{_median(runs, 'extra_rss_mib'):.1f}",
                    _requests(workload, runs, args, files),
                ]
            )
    table = rst_table(
        [
            "workload",
            "contender",
            "speed",
            "seconds",
            "min-max seconds",
            "extra peak RSS (MiB)",
            "requests",
        ],
        rows,
    )
    ratios = []
    for workload in order:
        ours = results.get((workload, OURS))
        if not ours:
            continue
        mine = statistics.median(r["seconds"] for r in ours)
        for contender in (SDK, THEIRS):
            theirs = results.get((workload, contender))
            if not theirs:
                continue
            other = statistics.median(r["seconds"] for r in theirs)
            line = f"* {workload}: {other / mine:.2f}x {contender}'s speed"
            if workload.startswith("big") and contender == SDK:
                per_round = [
                    t["seconds"] / o["seconds"] for t, o in zip(theirs, ours, strict=False)
                ]
                line += (
                    " (ratio of the medians; per round: "
                    + ", ".join(f"{x:.2f}x" for x in per_round)
                    + f"; median of the per-round ratios {statistics.median(per_round):.2f}x)"
                )
            ratios.append(line)
    command = (
        f".venv/bin/python -m bench.bench_azure --small {args.small} --mib {args.mib} "
        f"--urls {args.urls} --files {args.files} --rounds {args.rounds} "
        f"--variants {args.variants}"
    )
    return (
        f"Measured by ``{command}`` against Azurite 3.35 (in memory) on 127.0.0.1; "
        "medians over the rounds, contenders alternating (the order rotates each round); "
        "min-max is the spread over the rounds. Small saves are 1 KiB each under distinct "
        "names; the big save is ``save()`` of ``File(open(path, 'rb'))`` (raw SDK: "
        "``ContainerClient.upload_blob(name, open(path, 'rb'))`` with its defaults); the big "
        "file is read through ``open()`` in 256 KiB chunks (raw SDK: "
        "``download_blob().chunks()``); "
        "url() is a read SAS URL. collectstatic: "
        f"{files} files (the Django admin's static files plus bench_collectstatic's generated "
        "tree), a cold run into a fresh prefix, then an unchanged re-run; ``static`` is our "
        "``AzureStaticStorage`` against django-storages' ``AzureStorage`` (overwrite on), "
        "``manifest`` our ``AzureManifestStaticStorage`` against Django's "
        "``ManifestFilesMixin`` over django-storages' ``AzureStorage``; ours runs our "
        "``collectstatic`` (``storages`` first in ``INSTALLED_APPS``), django-storages "
        "Django's. django-storages 1.14.6 runs in bench/.venv-django-storages (same Django "
        "5.2 and azure-storage-blob 12.31). Every workload is a fresh process; extra peak RSS "
        "is the peak minus the RSS after imports and set-up; requests are counted with the "
        "SDK's ``raw_request_hook`` (django-storages passes no client options to a client "
        "made from a connection string, so its requests show as 0 there), and for "
        "collectstatic at the SDK's HTTP transport, for both (a blob batch is one request).\n\n"
        "How noisy the machine was: 2 cores shared with other work; 1-minute load average "
        f"{load[0]:.2f} when the benchmark started, "
        f"{', '.join(f'{x:.2f}' for x in load[1:])} after each round (the benchmark itself and "
        "Azurite load it too). The min-max column shows the spread between rounds.\n\n"
        + table
        + "\n"
        + "Ratios (higher is better for storages):\n\n"
        + "\n".join(ratios)
        + "\n"
    )


if __name__ == "__main__":
    main()
