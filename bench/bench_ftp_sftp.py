"""FTP and SFTP: our backends against the raw clients and django-storages 1.14.6.

Run: ``.venv/bin/python -m bench.bench_ftp_sftp [--mib N] [--rounds R]`` (the
issue's full size is ``--mib 256``). Starts pyftpdlib (plain FTP) and OpenSSH's
sshd on 127.0.0.1, like the tests, and writes docs/benchmarks/ftp_sftp.rst.

Each upload and download runs in a fresh process (peak RSS is the workload's
own); contenders alternate within each round, the order rotating per round.
This module is also the workload module the child processes import.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import tempfile
import time
import uuid
from pathlib import Path

BLOCK = 256 * 1024
CONTENDERS = ["raw client", "storages", "django-storages 1.14.6"]


# --- workloads (run in child processes) ------------------------------------------


def _django(contender: str) -> None:
    if contender.startswith("django-storages"):
        from bench.common import use_installed_storages

        use_installed_storages()
    import django
    from django.conf import settings

    if not settings.configured:
        settings.configure(USE_TZ=True, MEDIA_URL="/media/", INSTALLED_APPS=[])
        django.setup()


def setup(contender: str, protocol: str, **_: object) -> None:
    """Imports and Django set-up, outside the timing (see bench/common.py)."""
    import ftplib  # noqa: F401

    import paramiko  # noqa: F401

    if contender != "raw client":
        _django(contender)
        _storage_class(contender, protocol)


def _storage_class(contender: str, protocol: str):
    if protocol == "ftp":
        from storages.backends.ftp import FTPStorage

        return FTPStorage
    if contender.startswith("django-storages"):
        from storages.backends.sftpstorage import SFTPStorage
    else:
        from storages.backends.sftp import SFTPStorage
    return SFTPStorage


def _storage(contender: str, protocol: str, conf: dict):
    _django(contender)
    if protocol == "ftp":
        from storages.backends.ftp import FTPStorage

        return FTPStorage(location=conf["location"], base_url="/media/")
    if contender.startswith("django-storages"):
        from storages.backends.sftpstorage import SFTPStorage
    else:
        from storages.backends.sftp import SFTPStorage
    return SFTPStorage(
        host=conf["host"],
        params=conf["params"],
        root_path=conf["root_path"],
        known_host_file=conf["known_hosts"],
    )


def _ftp(conf: dict):
    import ftplib

    ftp = ftplib.FTP()
    ftp.connect(conf["host"], conf["port"], timeout=60)
    ftp.login(conf["user"], conf["password"])
    return ftp


def _sftp(conf: dict):
    import paramiko

    client = paramiko.SSHClient()
    client.load_host_keys(conf["known_hosts"])
    client.set_missing_host_key_policy(paramiko.RejectPolicy())
    client.connect(conf["host"], **conf["params"])
    return client, client.open_sftp()


class _Sink:
    def __init__(self) -> None:
        self.count = 0

    def write(self, data: bytes) -> int:
        self.count += len(data)
        return len(data)


def upload(_state: None, contender: str, protocol: str, conf: dict, name: str, source: str) -> dict:
    with open(source, "rb") as handle:
        if contender == "raw client":
            if protocol == "ftp":
                ftp = _ftp(conf)
                ftp.storbinary(f"STOR {conf['raw_dir']}/{name}", handle, blocksize=BLOCK)
                ftp.quit()
            else:
                client, sftp = _sftp(conf)
                sftp.putfo(handle, f"{conf['root_path']}/{name}")
                client.close()
            return {}
        from django.core.files import File

        storage = _storage(contender, protocol, conf)
        stored = storage.save(name, File(handle))
    return {"name": stored}


def download(_state: None, contender: str, protocol: str, conf: dict, name: str) -> dict:
    sink = _Sink()
    if contender == "raw client":
        if protocol == "ftp":
            ftp = _ftp(conf)
            ftp.retrbinary(f"RETR {conf['raw_dir']}/{name}", sink.write, blocksize=BLOCK)
            ftp.quit()
        else:
            client, sftp = _sftp(conf)
            sftp.getfo(f"{conf['root_path']}/{name}", sink)
            client.close()
    else:
        storage = _storage(contender, protocol, conf)
        with storage.open(name, "rb") as handle:
            for chunk in handle.chunks(1024 * 1024):
                sink.write(chunk)
    return {"bytes": sink.count}


# --- driver -------------------------------------------------------------------


def _servers(work: Path):
    from tests.servers.ftp import FTP_PASSWORD, FTP_USER, start_pyftpdlib
    from tests.servers.process import LOOPBACK
    from tests.servers.sftp import make_sshd

    ftp_root = work / "ftp-root"
    (ftp_root / "bench").mkdir(parents=True)
    ftp_process, ftp_port = start_pyftpdlib(ftp_root, None)
    sshd = make_sshd(work / "sshd")
    (sshd.root / "bench").mkdir()
    confs = {
        "ftp": {
            "host": LOOPBACK,
            "port": ftp_port,
            "user": FTP_USER,
            "password": FTP_PASSWORD,
            "raw_dir": "/bench",
            "location": f"ftp://{FTP_USER}:{FTP_PASSWORD}@{LOOPBACK}:{ftp_port}/bench/",
        },
        "sftp": {
            "host": LOOPBACK,
            "params": sshd.params(),
            "root_path": str(sshd.root / "bench"),
            "known_hosts": str(sshd.known_hosts),
        },
    }
    return (
        confs,
        [ftp_process, sshd.process],
        {"ftp": ftp_root / "bench", "sftp": sshd.root / "bench"},
    )


def main() -> None:
    from bench.common import (
        DJANGO_STORAGES_PYTHON,
        measure,
        ours_python,
        rst_table,
        write_results_page,
    )

    parser = argparse.ArgumentParser()
    parser.add_argument("--mib", type=int, default=64, help="file size (the issue's: 256)")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--protocols", default="ftp,sftp")
    args = parser.parse_args()
    protocols = args.protocols.split(",")

    work = Path(tempfile.mkdtemp(prefix="bench-ftp-sftp-"))
    source = work / "source.bin"
    with source.open("wb") as out:
        for _ in range(args.mib):
            out.write(os.urandom(1024 * 1024))
    confs, processes, local_dirs = _servers(work)
    pythons = {
        "raw client": ours_python(),
        "storages": ours_python(),
        "django-storages 1.14.6": str(DJANGO_STORAGES_PYTHON),
    }
    results: dict[tuple[str, str, str], list[dict]] = {}
    try:
        for round_index in range(args.rounds):
            shift = round_index % len(CONTENDERS)
            for protocol in protocols:
                for contender in CONTENDERS[shift:] + CONTENDERS[:shift]:
                    name = f"f-{uuid.uuid4().hex[:8]}.bin"
                    conf = confs[protocol]
                    up = measure(
                        pythons[contender], "bench_ftp_sftp", "upload",
                        contender=contender, protocol=protocol, conf=conf, name=name,
                        source=str(source),
                    )  # fmt: skip
                    stored = up["extra"].get("name", name)
                    assert (local_dirs[protocol] / stored).stat().st_size == args.mib * 2**20
                    down = measure(
                        pythons[contender], "bench_ftp_sftp", "download",
                        contender=contender, protocol=protocol, conf=conf, name=stored,
                    )  # fmt: skip
                    assert down["extra"]["bytes"] == args.mib * 2**20
                    results.setdefault((protocol, contender, "up"), []).append(up)
                    results.setdefault((protocol, contender, "down"), []).append(down)
                    (local_dirs[protocol] / stored).unlink()
                    print(
                        f"{protocol} {contender}: up {up['seconds']:.2f}s "
                        f"+{up['extra_rss_mib']:.0f}MiB, down {down['seconds']:.2f}s "
                        f"+{down['extra_rss_mib']:.0f}MiB",
                        flush=True,
                    )
    finally:
        for process in processes:
            process.stop()
        shutil.rmtree(work, ignore_errors=True)

    def cell(protocol: str, contender: str, direction: str) -> str:
        runs = results[(protocol, contender, direction)]
        seconds = statistics.median(r["seconds"] for r in runs)
        rss = max(r["extra_rss_mib"] for r in runs)
        return f"{args.mib / seconds:.0f} MiB/s, +{rss:.0f} MiB RSS"

    rows = [
        [
            protocol.upper(),
            contender,
            cell(protocol, contender, "up"),
            cell(protocol, contender, "down"),
        ]
        for protocol in protocols
        for contender in CONTENDERS
    ]
    body = (
        f"One {args.mib} MiB file uploaded with ``save()`` and read back with\n"
        "``open()`` + ``chunks(1 MiB)``, against pyftpdlib (plain FTP) and OpenSSH's\n"
        "sshd (internal-sftp) on 127.0.0.1, started as in the tests. Each transfer\n"
        "runs in a fresh process, connection set-up included; throughput is the\n"
        f"median of {args.rounds} rounds with contenders alternating, RSS the largest peak\n"
        "growth seen. The raw clients are used well: ``ftplib`` ``storbinary`` /\n"
        "``retrbinary`` with 256 KiB blocks; paramiko ``putfo`` (pipelined) and\n"
        "``getfo`` (prefetch). django-storages 1.14.6 runs in its own virtualenv.\n"
        f"Measured {time.strftime('%Y-%m-%d')} on a {os.cpu_count()}-CPU machine shared\n"
        "with other work, so treat small differences as noise.\n\n"
        + rst_table(["Protocol", "Contender", "upload", "download"], rows)
    )
    page = write_results_page("ftp_sftp", "FTP and SFTP", body)
    print(body)
    print(f"written to {page}")


if __name__ == "__main__":
    main()
