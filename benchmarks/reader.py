"""Benchmark reading a logdir into a pandas DataFrame: tblog.read vs tbparse vs
TensorBoard's EventAccumulator (size_guidance 0: every point kept).

    python benchmarks/reader.py [--reps N] [--scale S] [--markdown PATH] [--json PATH]

One logdir of 1M scalars (100k steps x 10 tags, x``scale``) is written once with
tblog. Every measurement is a fresh subprocess (``--child LIB LOGDIR``) that imports
its library and pandas first, then times the read into a long DataFrame (run, tag,
step, wall_time, value) and prints one JSON line with the time, the peak RSS
(``ru_maxrss``), the RSS before reading, and the rows and value sum it got
(checked equal across libraries). Repetitions are interleaved after one warm-up
round; the report gives medians and ratios of medians. The children run a copy of
the working tree's ``src/`` taken at start.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import os
import platform
import resource
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
REPO_DIR = BENCH_DIR.parent
LIBS = ("tblog", "tblog_nocrc", "tbparse", "event_accumulator")
TAGS = 10
MIB = 1024 * 1024


def _rss_now() -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


def child(lib: str, logdir: str) -> None:
    """Import, then time one read into a DataFrame; print one JSON line."""
    import pandas as pd

    if lib.startswith("tblog"):
        import tblog
        import tblog.reader._runs  # noqa: F401 - the reader's modules, imported untimed

        def load() -> pd.DataFrame:
            return tblog.read(logdir, check_crc=lib == "tblog").scalars()
    elif lib == "tbparse":
        from tbparse import SummaryReader

        def load() -> pd.DataFrame:
            return SummaryReader(logdir, extra_columns={"wall_time"}).scalars
    else:
        from tensorboard.backend.event_processing import event_accumulator

        def load() -> pd.DataFrame:
            acc = event_accumulator.EventAccumulator(logdir, size_guidance={"scalars": 0})
            acc.Reload()
            rows = [(".", tag, e.step, e.wall_time, e.value)
                    for tag in acc.Tags()["scalars"] for e in acc.Scalars(tag)]
            return pd.DataFrame(rows, columns=["run", "tag", "step", "wall_time", "value"])

    before = _rss_now()
    start = time.perf_counter()
    frame = load()
    seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    print(json.dumps({"lib": lib, "seconds": seconds, "peak_rss_bytes": peak,
                      "rss_before_bytes": before, "rows": len(frame),
                      "value_sum": float(frame["value"].sum()),
                      "step_sum": int(frame["step"].sum())}), flush=True)


def child_env(src: Path) -> dict[str, str]:
    """Environment for children: ``src`` first on the path, ahead of any installed tblog."""
    return {**os.environ, "PYTHONPATH": os.pathsep.join(
        p for p in (str(src), os.environ.get("PYTHONPATH")) if p)}


def write_logdir(logdir: Path, steps: int, env: dict[str, str]) -> int:
    code = (
        "import sys, tblog\n"
        f"with tblog.SummaryWriter({str(logdir)!r}) as w:\n"
        f"    for step in range({steps}):\n"
        f"        for t in range({TAGS}):\n"
        "            w.add_scalar(f'metric/{t}', step * 0.001 + t, step)\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, env=env)
    return steps * TAGS


def versions() -> dict[str, str]:
    out = {}
    for name in ("tensorboard", "tbparse", "pandas", "numpy", "protobuf", "crc32c"):
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            out[name] = "missing"
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--child", nargs=2, metavar=("LIB", "LOGDIR"), help=argparse.SUPPRESS)
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--scale", type=float, default=1.0, help="x 1M scalars")
    parser.add_argument("--libs", default=",".join(LIBS))
    parser.add_argument("--markdown", type=Path, help="write the report here too")
    parser.add_argument("--json", type=Path, help="write the samples here")
    args = parser.parse_args()
    if args.child:
        child(*args.child)
        return 0
    libs = args.libs.split(",")
    samples: dict[str, list[dict]] = {lib: [] for lib in libs}
    with tempfile.TemporaryDirectory(prefix="tblog-reader-bench-") as tmp:
        # Every child runs the same tblog, even if src/ is edited during the run.
        src = Path(tmp, "src")
        shutil.copytree(REPO_DIR / "src", src, ignore=shutil.ignore_patterns("__pycache__"))
        env = child_env(src)
        logdir = Path(tmp, "logdir")
        points = write_logdir(logdir, int(100_000 * args.scale), env)
        size = sum(p.stat().st_size for p in logdir.rglob("*") if p.is_file())
        print(f"logdir: {points:,} scalars, {size / MIB:.1f} MiB", file=sys.stderr)
        for rep in range(-1, args.reps):
            for lib in libs:
                proc = subprocess.run(
                    [sys.executable, __file__, "--child", lib, str(logdir)],
                    capture_output=True, text=True, env=env, timeout=1800,
                )
                if proc.returncode != 0:
                    print(proc.stderr[-3000:], file=sys.stderr)
                    return 1
                result = json.loads(proc.stdout.strip().splitlines()[-1])
                label = "warm-up" if rep < 0 else f"rep {rep + 1}/{args.reps}"
                print(f"{label} {lib:>17}: {result['seconds']:.3f} s, "
                      f"peak {result['peak_rss_bytes'] / MIB:.0f} MiB, {result['rows']:,} rows",
                      file=sys.stderr, flush=True)
                if rep >= 0:
                    samples[lib].append(result)
    report = render(samples, points, size, args)
    print(report)
    if args.markdown:
        args.markdown.write_text(report)
    if args.json:
        args.json.write_text(json.dumps(samples, indent=1))
    checks = {(s["rows"], round(s["value_sum"], 3), s["step_sum"])
              for lib in libs for s in samples[lib]}
    return 0 if len(checks) == 1 else 1


def render(samples: dict[str, list[dict]], points: int, size: int,
           args: argparse.Namespace) -> str:
    medians = {lib: statistics.median(s["seconds"] for s in runs)
               for lib, runs in samples.items()}
    command = "python benchmarks/reader.py " + " ".join(
        shlex.quote(a) for a in sys.argv[1:])
    lines = [
        "# Benchmark: reading a logdir into a DataFrame",
        "",
        f"Command: `{command}` ({datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC, "
        f"{platform.python_implementation()} {platform.python_version()}, "
        f"{os.cpu_count()} CPUs, {platform.machine()}).",
        "",
        f"One logdir, one event file written by tblog: {points:,} scalars over {TAGS} tags "
        f"({size / MIB:.1f} MiB). Each library reads it into a long DataFrame in a fresh "
        f"process; {args.reps} interleaved repetitions after one warm-up, medians. "
        "Peak RSS is the child's `ru_maxrss` (interpreter, imports and data); "
        "\"added\" is peak minus the RSS just before the read.",
        "",
        "| reader | median s | vs tblog | peak RSS MiB | added MiB | rows |",
        "|---|---|---|---|---|---|",
    ]
    names = {"tblog": "`tblog.read(...).scalars()`",
             "tblog_nocrc": "`tblog.read(..., check_crc=False).scalars()`",
             "tbparse": "tbparse `SummaryReader(...).scalars`",
             "event_accumulator": "`EventAccumulator(size_guidance={'scalars': 0})` + DataFrame"}
    base = medians.get("tblog")
    for lib, runs in samples.items():
        peak = statistics.median(s["peak_rss_bytes"] for s in runs) / MIB
        added = statistics.median(s["peak_rss_bytes"] - s["rss_before_bytes"] for s in runs) / MIB
        ratio = f"{medians[lib] / base:.1f}x" if base else "-"
        lines.append(f"| {names.get(lib, lib)} | {medians[lib]:.3f} | {ratio} | {peak:.0f} | "
                     f"{added:.0f} | {runs[0]['rows']:,} |")
    lines += ["", "Versions: " + ", ".join(f"{k} {v}" for k, v in versions().items()) + ".", ""]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
