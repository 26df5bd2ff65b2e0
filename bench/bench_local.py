"""Local-disk backends against Django's FileSystemStorage and plain file writes.

Run: ``.venv/bin/python -m bench.bench_local [--small N] [--big-mib M] [--rounds R]``.
Writes docs/benchmarks/local.rst.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import tempfile

from bench.common import measure, ours_python, rst_table, write_results_page


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--small", type=int, default=2000)
    parser.add_argument("--big-mib", type=int, default=256)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()

    work = tempfile.mkdtemp(prefix="bench-local-")
    source = os.path.join(work, "source.bin")
    with open(source, "wb") as out:
        for _ in range(args.big_mib):
            out.write(os.urandom(1024 * 1024))

    contenders = ["django-filesystem", "storages-safe", "storages-overwrite"]
    results: dict[tuple[str, str], list[dict]] = {}
    python = ours_python()
    for round_index in range(args.rounds):
        # Alternate, and rotate who goes first: disk write-back favours some slots.
        shift = round_index % len(contenders)
        for contender in contenders[shift:] + contenders[:shift]:
            root = tempfile.mkdtemp(dir=work)
            runs = [
                ("small", "small_saves", {"count": args.small}),
                ("big_save", "big_save", {"source": source}),
                ("big_read", "big_read", {}),
            ]
            for label, function, kwargs in runs:
                os.sync()  # start each workload with no dirty pages from the last one
                result = measure(
                    python, "local_workloads", function, contender=contender, root=root, **kwargs
                )
                results.setdefault((contender, label), []).append(result)
            shutil.rmtree(root)
        root = tempfile.mkdtemp(dir=work)
        os.sync()
        raw = measure(python, "local_workloads", "raw_big_write", root=root, source=source)
        results.setdefault(("raw open()/write()", "big_save"), []).append(raw)
        shutil.rmtree(root)
    shutil.rmtree(work)

    def cell(contender: str, label: str, size_mib: float | None = None) -> str:
        runs = results.get((contender, label))
        if not runs:
            return "-"
        seconds = statistics.median(r["seconds"] for r in runs)
        rss = max(r["extra_rss_mib"] for r in runs)
        if size_mib:
            return f"{seconds:.2f} s ({size_mib / seconds:.0f} MiB/s, +{rss:.1f} MiB RSS)"
        return f"{seconds:.2f} s ({args.small / seconds:.0f} files/s)"

    rows = [
        [
            contender,
            cell(contender, "small"),
            cell(contender, "big_save", args.big_mib),
            cell(contender, "big_read", args.big_mib),
        ]
        for contender in [*contenders, "raw open()/write()"]
    ]
    body = (
        f"{args.small} saves of 2 KiB files into 50 directories, then one save and one\n"
        f"full read through ``open()`` of a {args.big_mib} MiB file; median of {args.rounds}\n"
        "rounds, contenders alternating, each workload in a fresh process. RSS is the\n"
        "peak growth during the workload. ``storages-safe`` is the base of the three\n"
        "local backends: each save writes a temporary file, fsyncs it and links it\n"
        "into place, which is what costs time against Django's direct write.\n\n"
        + rst_table(
            ["Contender", "small saves", f"{args.big_mib} MiB save", f"{args.big_mib} MiB read"],
            rows,
        )
    )
    page = write_results_page("local", "Local disk", body)
    print(body)
    print(f"written to {page}")


if __name__ == "__main__":
    main()
