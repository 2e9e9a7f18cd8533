"""Paired benchmark of tblog at two git revisions: is a change slower on any workload?

Usage::

    python benchmarks/compare_commits.py BASE [NEW] [--reps 5] [--scale 1.0] [--only a,b]

``BASE`` and ``NEW`` are git revisions (``NEW`` defaults to the working tree). Each
side's ``src/`` is exported to a temporary directory; every measurement is a
fresh ``benchmarks/_child.py tblog WORKLOAD ...`` child with that copy first on
``PYTHONPATH``, repetitions interleaved (base, new, base, new, ...) after one
warm-up each, so both sides see the same machine load. Prints the median
seconds per side and ``base / new`` (above 1: the new revision is faster).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

from workloads import WORKLOADS  # noqa: E402

DEFAULT = ("scalars_200k", "tensor_scalars_50k", "text_10k", "histogram_small",
           "histogram_1m", "images_200x512", "pr_curve_100k", "import_first_writer")


def export_src(revision: str | None, into: Path) -> Path:
    """``src/`` of ``revision`` (None: the working tree) copied under ``into``."""
    into.mkdir(parents=True)
    if revision is None:
        subprocess.run(["cp", "-r", str(ROOT / "src"), str(into)], check=True)
    else:
        archive = subprocess.run(["git", "-C", str(ROOT), "archive", revision, "src"],
                                 check=True, capture_output=True).stdout
        subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)
    return into / "src"


def measure(src: Path, workload: str, scale: float, scratch: Path) -> dict:
    logdir = tempfile.mkdtemp(dir=scratch)
    env = {**os.environ, "PYTHONPATH": f"{src}{os.pathsep}{HERE}"}
    out = subprocess.run(
        [sys.executable, str(HERE / "_child.py"), "tblog", workload, logdir, str(scale)],
        check=True, capture_output=True, text=True, env=env, timeout=900,
    ).stdout
    subprocess.run(["rm", "-rf", logdir], check=True)
    return json.loads(out.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("base")
    parser.add_argument("new", nargs="?")
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--only", default=",".join(DEFAULT))
    args = parser.parse_args()
    names = args.only.split(",")
    unknown = [name for name in names if name not in WORKLOADS]
    if unknown:
        parser.error(f"unknown workloads: {unknown}; known: {sorted(WORKLOADS)}")
    with tempfile.TemporaryDirectory(prefix="tblog-compare-") as tmp:
        scratch = Path(tmp)
        sides = {"base": export_src(args.base, scratch / "base"),
                 "new": export_src(args.new, scratch / "new")}
        print(f"base={args.base} new={args.new or 'working tree'} reps={args.reps} "
              f"scale={args.scale}")
        print(f"{'workload':24} {'base s':>9} {'new s':>9} {'base/new':>9}")
        for name in names:
            times: dict[str, list[float]] = {"base": [], "new": []}
            for rep in range(args.reps + 1):  # the first round is a discarded warm-up
                for side, src in sides.items():
                    seconds = measure(src, name, args.scale, scratch)["seconds"]
                    if rep:
                        times[side].append(seconds)
            base, new = (statistics.median(times[side]) for side in ("base", "new"))
            print(f"{name:24} {base:9.4f} {new:9.4f} {base / new:9.2f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
