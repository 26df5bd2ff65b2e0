"""Google Cloud Storage: our backend against the raw SDK and django-storages 1.14.6, on one
fake-gcs-server.

Run: ``.venv/bin/python -m bench.bench_gcloud [--small N] [--mib N] [--urls N] [--rounds R]``
(the issue's sizes: ``--small 2000 --mib 256``). Starts fake-gcs-server on 127.0.0.1
as the tests do and prints a table (median over rounds). django-storages runs in
bench/.venv-django-storages (which needs ``google-cloud-storage`` installed).

Every workload runs in a fresh process (so peak RSS is its own); contenders
alternate within each round. Requests are counted on the client's HTTP session.
Signed URLs use a throwaway service-account key made for the run (the emulator
checks no signature; signing is local for all three contenders).
This module is also the workload module the children import.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import statistics
import tempfile
import time
import uuid

MIB = 1024 * 1024
READ_CHUNK = 256 * 1024
SDK = "google-cloud-storage"
OURS = "storages"
THEIRS = "django-storages 1.14.6"
CONTENDERS = [SDK, OURS, THEIRS]


# --- workloads (run in child processes) ------------------------------------------


class _Counter:
    def __init__(self) -> None:
        self.count = 0

    def __call__(self, response, *args, **kwargs):
        self.count += 1
        return response


def _count(client) -> _Counter:
    counter = _Counter()
    client._http.hooks.setdefault("response", []).append(counter)
    return counter


def _key_credentials(key_path: str):
    from google.oauth2 import service_account

    return service_account.Credentials.from_service_account_file(key_path)


def setup(contender: str, endpoint: str, bucket: str, location: str, key_path: str, **_: object):
    from google.auth.credentials import AnonymousCredentials

    if contender == SDK:
        from google.cloud import storage

        client = storage.Client(
            project="bench",
            credentials=AnonymousCredentials(),
            client_options={"api_endpoint": endpoint},
        )
        return {
            "bucket": client.bucket(bucket),
            "counter": _count(client),
            "signer": _key_credentials(key_path),
        }
    if contender == THEIRS:
        from bench.common import use_installed_storages

        use_installed_storages()
        # django-storages has no endpoint option: the library's emulator variable.
        os.environ["STORAGE_EMULATOR_HOST"] = endpoint
    import django
    from django.conf import settings

    if not settings.configured:
        settings.configure(USE_TZ=True, INSTALLED_APPS=[])
        django.setup()
    from storages.backends.gcloud import GoogleCloudStorage

    options = {
        "bucket_name": bucket,
        "project_id": "bench",
        "location": location,
        "file_overwrite": False,  # both keep every file (theirs checks, ours creates)
        "expiration": datetime.timedelta(hours=1),
    }
    if contender == OURS:
        options["api_endpoint"] = endpoint
    storage = GoogleCloudStorage(credentials=AnonymousCredentials(), **options)
    signing = GoogleCloudStorage(credentials=_key_credentials(key_path), **options)
    counter = _count(storage.client)  # made outside the timing
    _ = signing.bucket
    return {"storage": storage, "signing": signing, "counter": counter}


def small_saves(state: dict, count: int, location: str, **_: object) -> dict:
    import io

    payload = os.urandom(1024)
    if "bucket" in state:
        for i in range(count):
            blob = state["bucket"].blob(f"{location}/small/{i}.txt")
            blob.upload_from_file(io.BytesIO(payload), size=len(payload), if_generation_match=0)
    else:
        from django.core.files.base import ContentFile

        for i in range(count):
            state["storage"].save(f"small/{i}.txt", ContentFile(payload))
    return {"requests": state["counter"].count / count}


def big_save(state: dict, path: str, location: str, **_: object) -> dict:
    with open(path, "rb") as source:
        if "bucket" in state:
            blob = state["bucket"].blob(f"{location}/big.bin", chunk_size=8 * MIB)
            blob.upload_from_file(source, size=os.path.getsize(path))
        else:
            from django.core.files import File

            state["storage"].save("big.bin", File(source, name="big.bin"))
    return {"requests": state["counter"].count}


def big_read(state: dict, location: str, **_: object) -> dict:
    total = 0
    if "bucket" in state:
        with state["bucket"].blob(f"{location}/big.bin").open("rb", chunk_size=8 * MIB) as handle:
            while chunk := handle.read(READ_CHUNK):
                total += len(chunk)
    else:
        with state["storage"].open("big.bin", "rb") as handle:
            for chunk in handle.chunks(READ_CHUNK):
                total += len(chunk)
    return {"requests": state["counter"].count, "bytes": total}


def url_cost(state: dict, count: int, location: str, **_: object) -> dict:
    names = [f"photos/{i:05d} ünï.jpg" for i in range(count)]
    if "bucket" in state:
        bucket, signer = state["bucket"], state["signer"]
        started = time.perf_counter()
        for name in names:
            bucket.blob(f"{location}/{name}").generate_signed_url(
                version="v4",
                expiration=datetime.timedelta(hours=1),
                credentials=signer,
                api_access_endpoint="https://storage.googleapis.com",
            )
    else:
        storage = state["signing"]
        storage.url(names[0])
        started = time.perf_counter()
        for name in names:
            storage.url(name)
    return {
        "per_call_us": (time.perf_counter() - started) / count * 1e6,
        "requests": state["counter"].count,
    }


# --- driver -------------------------------------------------------------------------


def _write_key(directory: str) -> str:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    path = os.path.join(directory, "bench-key.json")
    with open(path, "w") as handle:
        json.dump(
            {
                "type": "service_account",
                "project_id": "bench",
                "private_key_id": "bench",
                "private_key": pem,
                "client_email": "bench@bench.iam.gserviceaccount.com",
                "client_id": "1",
                # Never used (signing is local); a closed loopback port if it were.
                "token_uri": "http://127.0.0.1:9/token",
            },
            handle,
        )
    return path


def main(argv: list[str] | None = None) -> None:
    from bench.common import DJANGO_STORAGES_PYTHON, measure, ours_python
    from tests.servers.gcs import no_metadata_server_environment, start_fake_gcs

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", type=int, default=2000)
    parser.add_argument("--mib", type=int, default=256)
    parser.add_argument("--urls", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)
    env = no_metadata_server_environment()
    os.environ.update(env)
    server = start_fake_gcs()
    results: dict[tuple[str, str], list[dict]] = {}
    try:
        with tempfile.TemporaryDirectory() as scratch:
            key_path = _write_key(scratch)
            big = os.path.join(scratch, "big.bin")
            with open(big, "wb") as handle:
                for _ in range(args.mib):
                    handle.write(os.urandom(MIB))
            for round_index in range(args.rounds):
                order = CONTENDERS[round_index % 3 :] + CONTENDERS[: round_index % 3]
                for contender in order:
                    python = DJANGO_STORAGES_PYTHON if contender == THEIRS else ours_python()
                    reach = {
                        "contender": contender,
                        "endpoint": server.url,
                        "bucket": server.create_bucket(),
                        "location": f"b-{uuid.uuid4().hex[:8]}",
                        "key_path": key_path,
                    }
                    for workload, extra in (
                        ("small_saves", {"count": args.small}),
                        ("big_save", {"path": big}),
                        ("big_read", {}),
                        ("url_cost", {"count": args.urls}),
                    ):
                        figures = measure(
                            python, "bench_gcloud", workload, env=env, **reach, **extra
                        )
                        results.setdefault((workload, contender), []).append(figures)
    finally:
        server.process.stop()
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
