"""Helpers shared by the benchmarks: run a workload in a fresh process and measure it.

Each measured workload runs in its own Python process (so peak RSS belongs to
that workload alone): the child imports a module, calls a function with JSON
arguments, and prints one JSON line with wall time, peak RSS and the RSS it
started from. Benchmarks compare contenders by alternating their runs.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from tests.servers.s3 import S3Server

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
DOCS_RESULTS = ROOT / "docs" / "benchmarks"
#: django-storages 1.14.6 lives in its own virtualenv: it also imports as ``storages``.
DJANGO_STORAGES_PYTHON = BENCH_DIR / ".venv-django-storages" / "bin" / "python"

_CHILD = """
import importlib, json, sys, time
sys.path[:0] = {paths!r}

def status_kib(field):
    # VmHWM/VmRSS of this process's own memory; ru_maxrss would carry the
    # parent's high-water mark across fork and exec on Linux.
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0

module = importlib.import_module({module!r})
kwargs = json.loads(sys.argv[1])
setup = getattr(module, "setup", None)
state = setup(**kwargs) if setup else None
start_rss = status_kib("VmRSS")
started = time.perf_counter()
workload = getattr(module, {function!r})
extra = workload(state, **kwargs) if setup else workload(**kwargs)
elapsed = time.perf_counter() - started
peak = status_kib("VmHWM")
print(json.dumps({{"seconds": elapsed, "peak_rss_kib": peak, "start_rss_kib": start_rss,
                   "extra": extra if isinstance(extra, dict) else {{}}}}))
"""


def measure(
    python: str | os.PathLike[str],
    module: str,
    function: str,
    env: dict[str, str] | None = None,
    timeout: float = 1800,
    **kwargs: object,
) -> dict:
    """Run ``module.function(**kwargs)`` in a new ``python`` process; return its figures.

    If the module has ``setup(**kwargs)``, it runs first (outside the timing) and
    its result is passed to ``function`` as the first argument.
    """
    code = _CHILD.format(paths=[str(BENCH_DIR), str(ROOT)], module=module, function=function)
    started = time.perf_counter()
    completed = subprocess.run(
        [str(python), "-c", code, json.dumps(kwargs)],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
        check=False,
    )
    if completed.returncode != 0:
        raise RuntimeError(f"{module}.{function} failed:\n{completed.stderr[-4000:]}")
    result = json.loads(completed.stdout.strip().splitlines()[-1])
    result["process_seconds"] = time.perf_counter() - started
    result["extra_rss_mib"] = (result["peak_rss_kib"] - result["start_rss_kib"]) / 1024
    return result


def use_installed_storages() -> None:
    """In django-storages' virtualenv: import its ``storages``, not this project's.

    Both packages are called ``storages``; the repository root (on ``sys.path``
    for the benchmark modules) would otherwise win.
    """
    root = str(ROOT)
    sys.path[:] = [p for p in sys.path if p not in ("", root, os.getcwd())]
    for module in [m for m in sys.modules if m == "storages" or m.startswith("storages.")]:
        del sys.modules[module]


def ours_python() -> str:
    return sys.executable


def write_results_page(name: str, title: str, body: str) -> Path:
    """Write ``docs/benchmarks/<name>.rst`` (included by docs/benchmarks.rst)."""
    DOCS_RESULTS.mkdir(parents=True, exist_ok=True)
    page = DOCS_RESULTS / f"{name}.rst"
    page.write_text(f"{title}\n{'=' * len(title)}\n\n{body.rstrip()}\n")
    return page


def rst_table(headers: list[str], rows: list[list[object]]) -> str:
    """A simple reStructuredText grid of strings."""
    cells = [[str(c) for c in row] for row in [headers, *rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    rule = "  ".join("=" * w for w in widths)
    lines = [rule, "  ".join(c.ljust(w) for c, w in zip(cells[0], widths, strict=True)), rule]
    lines += ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) for row in cells[1:]]
    lines.append(rule)
    return "\n".join(lines) + "\n"


def start_bench_seaweedfs(directory: Path, bucket: str = "bench") -> tuple[S3Server, dict]:
    """SeaweedFS on 127.0.0.1 with ``bucket`` created, as the tests start it.

    Returns the server (``.stop()`` it) and the keyword arguments the S3
    workloads take to reach the bucket.
    """
    from tests.servers.s3 import start_seaweedfs_with_bucket

    server = start_seaweedfs_with_bucket(bucket, directory)
    reach = {
        "endpoint_url": server.endpoint_url,
        "access_key": server.access_key,
        "secret_key": server.secret_key,
        "bucket": bucket,
    }
    return server, reach


def count_http_requests() -> dict[str, int]:
    """Count every HTTP request sent on botocore's HTTP sessions (all clients, all threads).

    That is where botocore's requests and storages' direct uploads both pass. The
    counts are by kind: LIST for a bucket listing, else the HTTP method. Call it
    once in a workload's child process, before the work.
    """
    from urllib.parse import urlsplit

    import botocore.httpsession

    counts: dict[str, int] = {}
    lock = threading.Lock()
    send = botocore.httpsession.URLLib3Session.send

    def counting_send(self, request):
        query = urlsplit(request.url).query
        kind = (
            "LIST"
            if "list-type" in query
            or (
                request.method == "GET" and (urlsplit(request.url).path.rstrip("/").count("/") <= 1)
            )
            else request.method
        )
        with lock:
            counts[kind] = counts.get(kind, 0) + 1
        return send(self, request)

    botocore.httpsession.URLLib3Session.send = counting_send
    return counts
