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
import statistics
import tempfile
import time
import uuid

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


def setup(contender: str, connection_string: str, container: str, location: str, **_: object):
    counter = _Counter()
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


# --- driver -------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> None:
    from bench.common import DJANGO_STORAGES_PYTHON, measure, ours_python
    from tests.servers.azure import start_azurite

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", type=int, default=2000)
    parser.add_argument("--mib", type=int, default=256)
    parser.add_argument("--urls", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)
    server = start_azurite()
    results: dict[tuple[str, str], list[dict]] = {}
    try:
        with tempfile.NamedTemporaryFile(suffix=".bin") as big:
            for _ in range(args.mib):
                big.write(os.urandom(MIB))
            big.flush()
            for round_index in range(args.rounds):
                order = CONTENDERS[round_index % 3 :] + CONTENDERS[: round_index % 3]
                for contender in order:
                    python = DJANGO_STORAGES_PYTHON if contender == THEIRS else ours_python()
                    reach = {
                        "contender": contender,
                        "connection_string": server.connection_string(),
                        "container": server.create_container(),
                        "location": f"b-{uuid.uuid4().hex[:8]}",
                    }
                    for workload, extra in (
                        ("small_saves", {"count": args.small}),
                        ("big_save", {"path": big.name}),
                        ("big_read", {}),
                        ("url_cost", {"count": args.urls}),
                    ):
                        figures = measure(python, "bench_azure", workload, **reach, **extra)
                        results.setdefault((workload, contender), []).append(figures)
                    # Azurite keeps blobs in memory: leave it as empty as it was.
                    server.service_client().delete_container(reach["container"])
    finally:
        server.stop()
    print(f"{'workload':12} {'contender':24} {'seconds':>9} {'extra RSS MiB':>14} {'requests':>9}")
    for (workload, contender), runs in sorted(results.items()):
        seconds = statistics.median(r["seconds"] for r in runs)
        rss = statistics.median(r["extra_rss_mib"] for r in runs)
        requests = statistics.median(r["extra"].get("requests", 0) for r in runs)
        per_call = runs[0]["extra"].get("per_call_us")
        note = f"  ({per_call:.1f} us/url)" if per_call else ""
        print(f"{workload:12} {contender:24} {seconds:9.3f} {rss:14.1f} {requests:9.2f}{note}")


if __name__ == "__main__":
    main()
