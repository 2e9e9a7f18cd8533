"""Bar charts of the benchmark ratios, for docs/benchmarks-overview.md.

    python scripts/benchmark_charts.py        # reads benchmarks/results*.json, writes docs/images/

Reads ``benchmarks/results.json`` (scalars, import) and ``benchmarks/results-kinds.json``
(every other kind), both written by ``benchmarks/run.py``, and draws for each one
horizontal bars of ``speedup_vs_torch`` (torch median time / library median time) per
workload and library, on a log scale with torch's 1x marked. Run it after a benchmark
run and commit the PNGs with the JSON. Needs matplotlib.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

CHARTS = {  # input JSON -> output PNG, title
    "benchmarks/results.json": ("benchmarks-scalars.png", "Scalars and import"),
    "benchmarks/results-kinds.json": ("benchmarks-kinds.png", "Every other kind"),
}
LABELS = {"torch": "torch.utils.tensorboard", "tbx": "tensorboardX", "tblog": "tblog"}
COLORS = {"torch": "#9e9e9e", "tbx": "#42a5f5", "tblog": "#f57c00"}


def load(path: Path) -> tuple[dict, list[str], dict[str, dict[str, float]]]:
    """Meta, workloads in file order, and workload -> library -> speedup vs torch."""
    data = json.loads(path.read_text(encoding="utf-8"))
    workloads: list[str] = []
    speedups: dict[str, dict[str, float]] = {}
    for row in data["results"]:
        if row.get("status") != "ok" or row.get("speedup_vs_torch") is None:
            raise SystemExit(f"{path}: {row['workload']} / {row['lib']} is {row.get('status')}")
        if row["workload"] not in speedups:
            workloads.append(row["workload"])
            speedups[row["workload"]] = {}
        speedups[row["workload"]][row["lib"]] = float(row["speedup_vs_torch"])
    return data["meta"], workloads, speedups


def draw(meta: dict, workloads: list[str], speedups: dict, title: str, out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import matplotlib.ticker

    libs = [lib for lib in ("tbx", "tblog") if lib in meta["libs"]]
    height = 0.8 / len(libs)
    figure, axes = plt.subplots(figsize=(9, 1.1 + 0.55 * len(workloads) * len(libs) / 2))
    for index, lib in enumerate(libs):
        ys = [w + (index - (len(libs) - 1) / 2) * height for w in range(len(workloads))]
        values = [speedups[w].get(lib, float("nan")) for w in workloads]
        # Bars start at torch's 1x: faster ones go right, slower ones left.
        bars = axes.barh(ys, [v - 1 for v in values], left=1, height=height * 0.9,
                         color=COLORS[lib], label=LABELS[lib])
        for bar, value in zip(bars, values, strict=True):
            faster = value >= 1
            axes.text(value * 1.04 if faster else value / 1.04,
                      bar.get_y() + bar.get_height() / 2, f"{value:.1f}x", va="center",
                      ha="left" if faster else "right", fontsize=8)
    axes.axvline(1.0, color=COLORS["torch"], linestyle="--", linewidth=1,
                 label=f"{LABELS['torch']} (1x)")
    axes.set_xscale("log")
    top = max(max(v.values()) for v in speedups.values())
    bottom = min(min(v.values()) for v in speedups.values())
    axes.set_xlim(min(0.5, bottom / 1.6), top * 2.2)
    axes.xaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda x, _: f"{x:g}x"))
    axes.set_yticks(range(len(workloads)), [f"{w}" for w in workloads], fontsize=9)
    axes.invert_yaxis()
    axes.set_xlabel("speedup vs torch.utils.tensorboard (torch median time / median time)")
    versions = meta.get("lib_versions", {})
    machine = meta.get("machine", {})
    axes.set_title(
        f"{title}: median of {meta.get('reps')} runs, {meta.get('date')}, "
        f"{machine.get('nproc')} CPUs, tblog {versions.get('tblog')}",
        fontsize=10,
    )
    axes.legend(loc="lower right", fontsize=8)
    axes.grid(axis="x", which="both", alpha=0.3)
    figure.tight_layout()
    figure.savefig(out, dpi=100)
    plt.close(figure)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "images")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    for source, (name, title) in CHARTS.items():
        meta, workloads, speedups = load(ROOT / source)
        draw(meta, workloads, speedups, title, args.out / name)
        print(f"{source} -> {args.out / name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
