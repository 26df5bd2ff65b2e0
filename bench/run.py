"""Run every benchmark, one after another, and draw a plot for each results page.

Run: ``.venv/bin/python -m bench.run`` (needs ``pip install -r bench/requirements.txt``).

Each ``bench/bench_<name>.py`` runs with its default (quick) sizes, in its own
process, and writes ``docs/benchmarks/<name>.rst``; a module that fails is
reported and the others still run. Then every results page without a figure
gets ``docs/benchmarks/<name>.png``, drawn from the first table on the page,
and an ``.. image::`` line after that table. Options: ``--only a,b``,
``--skip a,b``, ``--list``, ``--plots-only`` (redraw from the pages as they are).
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import time
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
RESULTS = ROOT / "docs" / "benchmarks"
_NUMBER = re.compile(r"^-?[\d,]*\.?\d+")


def modules() -> list[str]:
    """``<name>`` of every ``bench/bench_<name>.py``."""
    return sorted(path.stem.removeprefix("bench_") for path in BENCH_DIR.glob("bench_*.py"))


def run_module(name: str) -> tuple[bool, float]:
    started = time.perf_counter()
    print(f"=== bench_{name}", flush=True)
    completed = subprocess.run([sys.executable, "-m", f"bench.bench_{name}"], cwd=ROOT, check=False)
    return completed.returncode == 0, time.perf_counter() - started


# --- plots from results pages -------------------------------------------------------


def first_table(text: str) -> tuple[list[str], list[list[str]], int] | None:
    """(headers, rows, index of the line after the table) of the first simple table."""
    lines = text.splitlines()
    rules = [i for i, line in enumerate(lines) if re.fullmatch(r"=+( +=+)+ *", line)]
    if len(rules) < 3:
        return None
    top, middle, bottom = rules[0], rules[1], rules[2]
    spans = [match.span() for match in re.finditer(r"=+", lines[top])]

    def cells(line: str) -> list[str]:
        out = []
        for index, (start, end) in enumerate(spans):
            stop = spans[index + 1][0] if index + 1 < len(spans) else len(line)
            out.append(line[start:stop].strip() if index + 1 < len(spans) else line[start:].strip())
            del end
        return out

    headers = cells(lines[top + 1]) if middle == top + 2 else [f"column {i}" for i in spans]
    rows = [cells(line) for line in lines[middle + 1 : bottom] if line.strip()]
    return headers, rows, bottom + 1


def number(cell: str) -> float | None:
    match = _NUMBER.match(cell.strip())
    if not match:
        return None
    try:
        return float(match.group(0).replace(",", ""))
    except ValueError:
        return None


def _unit(cell: str) -> str:
    """The word after the leading number ("s" in "0.48 s (4176 files/s)")."""
    rest = _NUMBER.sub("", cell.strip(), count=1).strip()
    return re.split(r"[\s,(]", rest, maxsplit=1)[0] if rest else ""


def plot_page(page: Path) -> Path | None:
    """Draw ``<page>.png`` from the page's first table; add the image to the page."""
    text = page.read_text()
    if ".. image::" in text:
        return None  # the benchmark draws its own figure
    table = first_table(text)
    if table is None:
        return None
    headers, rows, after = table
    numeric = [
        i
        for i in range(len(headers))
        if rows
        and all(number(row[i]) is not None for row in rows if i < len(row) and row[i])
        and any(i < len(row) and row[i] for row in rows)
    ]
    # Plot a column only if its cells share one unit ("12.3 s" and "45 MiB/s" do not mix).
    numeric = [i for i in numeric if len({_unit(row[i]) for row in rows if i < len(row)}) == 1]
    numeric = numeric[:4]
    if not numeric:
        return None
    labels = [
        " / ".join(cell for j, cell in enumerate(row) if j not in numeric and cell) for row in rows
    ]
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    height = max(2.5, 0.3 * len(rows) + 1.2)
    # Room for the longest row label at font size 7 (about 0.06 inch a character).
    label_width = max(3.0, 0.065 * max(len(label) for label in labels))
    fig, axes = plt.subplots(
        1, len(numeric), figsize=(4.2 * len(numeric) + label_width, height), sharey=True
    )
    axes = axes if len(numeric) > 1 else [axes]
    positions = list(range(len(rows)))
    for ax, column in zip(axes, numeric, strict=True):
        values = [number(row[column]) if column < len(row) else None for row in rows]
        ax.barh(positions, [v or 0 for v in values], color="tab:blue")
        unit = _unit(rows[0][column])
        ax.set_title(headers[column] + (f" ({unit})" if unit else ""), fontsize=9)
        ax.tick_params(axis="x", labelsize=8)
    axes[0].set_yticks(positions, labels, fontsize=7)
    axes[0].invert_yaxis()
    fig.tight_layout()
    # tight_layout leaves long row labels cut at the left edge: keep their width free.
    fig.subplots_adjust(left=label_width / (4.2 * len(numeric) + label_width))
    image = page.with_suffix(".png")
    fig.savefig(image, dpi=90)
    plt.close(fig)
    lines = text.splitlines()
    figure = ["", f".. image:: {image.name}", f"   :alt: {page.stem} results", ""]
    page.write_text("\n".join(lines[:after] + figure + lines[after:]) + "\n")
    return image


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--only", default="", help="comma-separated names (default: all)")
    parser.add_argument("--skip", default="", help="comma-separated names to leave out")
    parser.add_argument("--list", action="store_true", help="list the benchmarks and stop")
    parser.add_argument("--plots-only", action="store_true", help="only redraw the plots")
    args = parser.parse_args(argv)
    names = modules()
    if args.list:
        print("\n".join(names))
        return 0
    if args.only:
        names = [n for n in names if n in args.only.split(",")]
    names = [n for n in names if n not in args.skip.split(",")]
    failed = []
    if not args.plots_only:
        for name in names:
            ok, seconds = run_module(name)
            print(f"=== bench_{name}: {'ok' if ok else 'FAILED'} in {seconds:.0f} s", flush=True)
            if not ok:
                failed.append(name)
    for name in names:
        page = RESULTS / f"{name}.rst"
        if page.exists() and name not in failed:
            image = plot_page(page)
            if image is not None:
                print(f"plotted {image.relative_to(ROOT)}")
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
