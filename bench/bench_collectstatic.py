"""collectstatic into S3 (SeaweedFS): ours, Django's with django-storages, collectfasta.

Run: ``.venv/bin/python -m bench.bench_collectstatic [--files N] [--rounds R]``
(``--files 2000`` is the issue's size and the default: the Django admin's static
files plus a generated tree up to N files). For each contender and storage
(plain and manifest), a cold run into an empty prefix, then an unchanged re-run.
django-storages 1.14.6 and collectfasta 3.3.5 run in bench/.venv-django-storages
(collectfasta with COLLECTFASTA_THREADS=20). Writes docs/benchmarks/collectstatic.rst
and docs/benchmarks/collectstatic.png. This module is also the child workload.
"""

from __future__ import annotations

import argparse
import random
import shutil
import statistics
import tempfile
import uuid
from pathlib import Path

CONTENDERS = ["storages", "django-storages 1.14.6", "collectfasta 3.3.5 (20 threads)"]
VARIANTS = ["static", "manifest"]


# --- the workload (child process) ----------------------------------------------------


def setup(
    contender: str,
    variant: str,
    endpoint_url: str,
    access_key: str,
    secret_key: str,
    bucket: str,
    location: str,
    static_dir: str,
    **_: object,
) -> dict:
    ours = contender == "storages"
    if not ours:
        from bench.common import use_installed_storages

        use_installed_storages()
    import django
    from django.conf import settings

    options = {
        "bucket_name": bucket,
        "endpoint_url": endpoint_url,
        "access_key": access_key,
        "secret_key": secret_key,
        "region_name": "us-east-1",
        "location": location,
        "querystring_auth": False,
    }
    backend = (
        "storages.backends.s3.S3ManifestStaticStorage"
        if variant == "manifest"
        else ("storages.backends.s3.S3StaticStorage")
    )
    first = ["storages"] if ours else []
    extra: dict = {}
    if contender.startswith("collectfasta"):
        first = ["collectfasta"]
        extra = {
            "COLLECTFASTA_STRATEGY": "collectfasta.strategies.boto3."
            + ("Boto3ManifestMemoryStrategy" if variant == "manifest" else "Boto3Strategy"),
            "COLLECTFASTA_THREADS": 20,
        }
    settings.configure(
        SECRET_KEY="bench",
        USE_TZ=True,
        INSTALLED_APPS=[
            *first,
            "django.contrib.staticfiles",
            "django.contrib.admin.apps.SimpleAdminConfig",
            "django.contrib.auth",
            "django.contrib.contenttypes",
            *([] if ours or first else ["storages"]),
        ],
        STATIC_URL="/static/",
        STATICFILES_DIRS=[static_dir],
        STORAGES={
            "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
            "staticfiles": {"BACKEND": backend, "OPTIONS": options},
        },
        CACHES={"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}},
        **extra,
    )
    django.setup()
    from bench.common import count_http_requests

    return {"counts": count_http_requests()}


def collect(state: dict, **_: object) -> dict:
    from django.core.management import call_command

    call_command("collectstatic", interactive=False, verbosity=0)
    return {"requests": dict(state["counts"])}


# --- the tree ------------------------------------------------------------------------


def make_tree(root: Path, files: int, admin_files: int) -> int:
    """A generated static tree so that, with the admin's files, there are ``files`` files."""
    rng = random.Random(8)
    wanted = max(0, files - admin_files)
    images = max(1, wanted // 4)
    made = 0
    for i in range(images):
        path = root / "img" / f"d{i % 20}" / f"i{i}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(rng.randbytes(rng.randint(200, 20_000)))
        made += 1
    i = 0
    while made < wanted:
        if i % 2 == 0:
            path = root / "css" / f"d{i % 30}" / f"s{i}.css"
            refs = "".join(
                f'.c{j} {{ background: url("../../img/d{k % 20}/i{k}.png"); }}\n'
                for j, k in enumerate(rng.sample(range(images), min(3, images)))
            )
            text = refs + "body { margin: 0; }\n" * rng.randint(5, 200)
        else:
            path = root / "js" / f"d{i % 30}" / f"m{i}.js"
            text = f"export const v{i} = {i};\n" * rng.randint(5, 400)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        made += 1
        i += 1
    return made


def admin_file_count() -> int:
    import django

    admin = Path(django.__file__).parent / "contrib" / "admin" / "static"
    return sum(1 for path in admin.rglob("*") if path.is_file())


# --- the driver ----------------------------------------------------------------------


def _python(contender: str) -> str:
    from bench.common import DJANGO_STORAGES_PYTHON, ours_python

    return ours_python() if contender == "storages" else str(DJANGO_STORAGES_PYTHON)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--files", type=int, default=2000, help="files in all (default 2000)")
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--variants", default=",".join(VARIANTS), help="static,manifest")
    parser.add_argument("--no-write", action="store_true", help="print, do not write the page")
    args = parser.parse_args(argv)
    variants = [v for v in args.variants.split(",") if v]

    from bench.common import measure, start_bench_seaweedfs, write_results_page

    work = Path(tempfile.mkdtemp(prefix="bench-collectstatic-"))
    tree = work / "tree"
    generated = make_tree(tree, args.files, admin_file_count())
    total_files = generated + admin_file_count()
    server, reach = start_bench_seaweedfs(work / "weed")
    results: dict[tuple[str, str, str], list[dict]] = {}
    try:
        base = {**reach, "static_dir": str(tree)}
        for round_number in range(args.rounds):
            shift = round_number % len(CONTENDERS)
            for variant in variants:
                for contender in CONTENDERS[shift:] + CONTENDERS[:shift]:
                    location = f"cs-{uuid.uuid4().hex[:12]}"
                    for run in ("cold", "unchanged re-run"):
                        figures = measure(
                            _python(contender),
                            "bench_collectstatic",
                            "collect",
                            contender=contender,
                            variant=variant,
                            location=location,
                            **base,
                        )
                        results.setdefault((variant, run, contender), []).append(figures)
                        print(
                            f"round {round_number + 1} {variant:8} {run:16} {contender:32} "
                            f"{figures['seconds']:8.2f}s {figures['peak_rss_kib'] / 1024:6.0f} MiB "
                            f"{figures['extra']['requests']}",
                            flush=True,
                        )
    finally:
        server.stop()
        shutil.rmtree(work, ignore_errors=True)

    body = report(results, args, total_files, variants)
    print(body)
    if not args.no_write:
        page = write_results_page("collectstatic", "collectstatic into S3 (SeaweedFS)", body)
        plot(results, variants, page.with_suffix(".png"))
        print(f"wrote {page}")


def _median(values):
    return statistics.median(values) if values else float("nan")


def _requests(runs: list[dict]) -> dict[str, float]:
    kinds = sorted({kind for r in runs for kind in r["extra"]["requests"]})
    return {kind: _median([r["extra"]["requests"].get(kind, 0) for r in runs]) for kind in kinds}


def report(results: dict, args: argparse.Namespace, total_files: int, variants: list[str]) -> str:
    from bench.common import rst_table

    rows = []
    for variant in variants:
        for run in ("cold", "unchanged re-run"):
            for contender in CONTENDERS:
                runs = results.get((variant, run, contender))
                if not runs:
                    continue
                counts = _requests(runs)
                per_file = sum(v for k, v in counts.items() if k in ("HEAD", "GET"))
                rows.append(
                    [
                        f"{variant}, {run}",
                        contender,
                        f"{_median([r['seconds'] for r in runs]):.2f}",
                        f"{sum(counts.values()):.0f}",
                        ", ".join(f"{k} {v:.0f}" for k, v in counts.items()) or "-",
                        f"{per_file:.0f}",
                        f"{_median([r['peak_rss_kib'] for r in runs]) / 1024:.0f}",
                    ]
                )
    table = rst_table(
        [
            "workload",
            "contender",
            "seconds",
            "requests",
            "by kind",
            "per-file reads (HEAD/GET)",
            "peak RSS (MiB)",
        ],
        rows,
    )
    lines = [
        "Speed-ups of storages (the issue's targets: cold >= 5x and unchanged",
        "re-run >= 20x Django + django-storages; both faster than collectfasta):",
        "",
    ]
    for variant in variants:
        for run in ("cold", "unchanged re-run"):
            ours = results.get((variant, run, "storages"))
            if not ours:
                continue
            mine = _median([r["seconds"] for r in ours])
            for contender in CONTENDERS[1:]:
                theirs = results.get((variant, run, contender))
                if theirs:
                    ratio = _median([r["seconds"] for r in theirs]) / mine
                    lines.append(f"* {variant}, {run}: {ratio:.1f}x faster than {contender}")
    return (
        f"Measured by ``python -m bench.bench_collectstatic --files {args.files} "
        f"--rounds {args.rounds}``: {total_files} files (the Django admin's static files "
        "plus a generated tree of images, CSS that references them, and JS), collected "
        "into a fresh prefix of a SeaweedFS 4.48 bucket on 127.0.0.1 (cold), then again "
        "with nothing changed (unchanged re-run). ``static`` is ``S3StaticStorage``, "
        "``manifest`` is ``S3ManifestStaticStorage`` (each project's class of that name). "
        "storages runs its own ``collectstatic`` (16 workers); django-storages 1.14.6 runs "
        "Django's; collectfasta 3.3.5 runs its own with ``COLLECTFASTA_THREADS = 20`` and "
        "the boto3 strategy for the storage kind. Each run is a fresh process; requests are "
        "every HTTP request sent on botocore's HTTP sessions, which storages' direct "
        "uploads share (LIST is a bucket listing page; the one GET of a manifest "
        "storage is the manifest read when the storage is created). Seconds are the "
        "``call_command('collectstatic')`` call, after ``django.setup()``. "
        f"Median of {args.rounds} round(s), contenders alternating.\n\n"
        + table
        + "\n.. image:: collectstatic.png\n   :alt: collectstatic seconds per contender\n\n"
        + "\n".join(lines)
        + "\n"
    )


def plot(results: dict, variants: list[str], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    groups = [(v, r) for v in variants for r in ("cold", "unchanged re-run")]
    fig, ax = plt.subplots(figsize=(9, 4.5))
    width = 0.8 / len(CONTENDERS)
    for index, contender in enumerate(CONTENDERS):
        values = [
            _median([x["seconds"] for x in results.get((v, r, contender), [])]) for v, r in groups
        ]
        positions = [g + (index - (len(CONTENDERS) - 1) / 2) * width for g in range(len(groups))]
        bars = ax.bar(positions, values, width, label=contender)
        ax.bar_label(bars, fmt="%.1f", fontsize=7)
    ax.set_xticks(range(len(groups)), [f"{v}\n{r}" for v, r in groups])
    ax.set_yscale("log")
    ax.set_ylabel("seconds (log scale, lower is better)")
    ax.set_title("collectstatic into S3 (SeaweedFS)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


if __name__ == "__main__":
    main()
