"""Benchmark tblog against torch.utils.tensorboard and tensorboardX.

Every measurement runs in a fresh subprocess (_child.py) with its own temporary logdir.
Repetitions are interleaved across libraries, medians are reported, and every logdir is
read back with TensorBoard's loader to check that no library dropped data.

    python benchmarks/run.py [--reps N] [--only WORKLOAD ...] [--libs tblog,torch,tbx]
                             [--quick]

See benchmarks/README.md.
"""

import argparse
import importlib.metadata
import json
import os
import platform
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from libraries import BASELINE, LIBRARIES
from workloads import WORKLOADS

BENCH_DIR = Path(__file__).resolve().parent
REPO_DIR = BENCH_DIR.parent
CHILD = BENCH_DIR / "_child.py"
QUICK_SCALE = 0.1
DEFAULT_LIBS = ("torch", "tbx", "tblog")
MIB = 1024 * 1024


@dataclass
class Sample:
    """One measurement: one workload, one library, one fresh process."""

    rep: int
    seconds: float | None = None
    import_seconds: float | None = None
    peak_rss_bytes: int | None = None
    values_logged: int | None = None
    values_written: int | None = None
    event_files: int | None = None
    error: str | None = None


@dataclass
class Cell:
    """All measurements of one (workload, library) pair."""

    workload: str
    lib: str
    samples: list[Sample] = field(default_factory=list)
    version: str | None = None
    module_file: str | None = None

    @property
    def first_failure(self) -> Sample | None:
        return next((s for s in self.samples if s.error is not None), None)

    def ok_samples(self) -> list[Sample]:
        return [s for s in self.samples if s.error is None]

    def median_seconds(self) -> float | None:
        times = [s.seconds for s in self.ok_samples() if s.seconds is not None]
        return statistics.median(times) if times else None


# --------------------------------------------------------------------------- running


def count_summary_values(logdir: Path) -> tuple[int, int]:
    """(summary values, event files) found under ``logdir``, read as TensorBoard would.

    Uses ``LegacyEventFileLoader``: it checks record CRCs like ``EventFileLoader`` but
    skips the read-time data-compat migration, which is ~5x slower and doesn't change
    the number of values.  A corrupt or truncated record ends the file early, which
    then shows up as missing values.
    """
    from tensorboard.backend.event_processing.event_file_loader import (
        LegacyEventFileLoader,
    )

    values = files = 0
    for path in sorted(logdir.rglob("*")):
        if path.is_file() and "tfevents" in path.name:  # what TensorBoard reads
            files += 1
            for event in LegacyEventFileLoader(str(path)).Load():
                values += len(event.summary.value)
    return values, files


def snapshot_src(tmp_root: Path) -> Path:
    """Copy the working tree's src/ so that every child runs the same tblog, even if
    someone edits src/ during the run."""
    snapshot = tmp_root / "src"
    shutil.copytree(REPO_DIR / "src", snapshot, ignore=shutil.ignore_patterns("__pycache__"))
    return snapshot


def child_env(src: Path) -> dict[str, str]:
    """Environment for children: ``src`` first on the path, ahead of any installed tblog."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(src), env.get("PYTHONPATH")) if p)
    return env


def run_child(
    cell: Cell,
    rep: int,
    scale: float,
    tmp_root: Path,
    env: dict[str, str],
    timeout: float,
    verify: bool,
) -> Sample:
    sample = Sample(rep)
    logdir = Path(tempfile.mkdtemp(prefix=f"{cell.workload}-{cell.lib}-", dir=tmp_root))
    command = [sys.executable, str(CHILD), cell.lib, cell.workload, str(logdir), str(scale)]
    try:
        proc = subprocess.run(
            command,
            capture_output=True,
            text=True,
            timeout=timeout,
            env=env,
            cwd=tmp_root,
        )
        lines = proc.stdout.strip().splitlines()
        if proc.returncode != 0 or not lines:
            tail = (proc.stderr or proc.stdout).strip().splitlines()[-15:]
            sample.error = f"exit status {proc.returncode}: " + "\n".join(tail)
            return sample
        result = json.loads(lines[-1])
        sample.seconds = result["seconds"]
        sample.import_seconds = result["import_seconds"]
        sample.peak_rss_bytes = result["peak_rss_bytes"]
        sample.values_logged = result["values_logged"]
        cell.version = result["version"]
        cell.module_file = result["module_file"]
        if verify:
            sample.values_written, sample.event_files = count_summary_values(logdir)
    except subprocess.TimeoutExpired:
        sample.error = f"timed out after {timeout:g} s"
    except Exception as exc:  # a broken child or event file: report, don't abort
        sample.error = f"{type(exc).__name__}: {exc}"
    finally:
        shutil.rmtree(logdir, ignore_errors=True)
    return sample


def describe(sample: Sample) -> str:
    if sample.error is not None:
        return "FAILED: " + sample.error.splitlines()[-1]
    assert sample.seconds is not None and sample.peak_rss_bytes is not None
    text = f"{format_seconds(sample.seconds)}, {sample.peak_rss_bytes / MIB:.0f} MiB"
    if sample.values_written is not None:
        text += f", {sample.values_written:,}/{sample.values_logged:,} values"
    return text


def run_all(
    workloads: Sequence[str],
    libs: Sequence[str],
    reps: int,
    warmup: int,
    scale: float,
    timeout: float,
) -> list[Cell]:
    """Run every workload ``warmup + reps`` times, interleaving the libraries."""
    cells = [Cell(w, lib) for w in workloads for lib in libs]
    with tempfile.TemporaryDirectory(prefix="tblog-bench-") as tmp:
        tmp_root = Path(tmp)
        env = child_env(snapshot_src(tmp_root))
        for name in workloads:
            row = [c for c in cells if c.workload == name]
            for rep in range(-warmup, reps):
                label = (
                    f"warmup {rep + warmup + 1}/{warmup}" if rep < 0 else f"rep {rep + 1}/{reps}"
                )
                for cell in row:
                    if cell.first_failure:
                        continue  # don't retry a broken library reps times
                    sample = run_child(cell, rep, scale, tmp_root, env, timeout, verify=rep >= 0)
                    log(f"[{name}] {label} {cell.lib:>5}: {describe(sample)}")
                    if rep >= 0 or sample.error is not None:
                        cell.samples.append(sample)
    return cells


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- analysis


def workload_status(cells: Sequence[Cell]) -> dict[str, str]:
    """Per library of one workload: "ok", "FAILED: ..." or "MISMATCH: ..."."""
    logged = {s.values_logged for c in cells for s in c.ok_samples()}
    expected = logged.pop() if len(logged) == 1 else None
    status: dict[str, str] = {}
    for cell in cells:
        failed = cell.first_failure
        written = sorted({s.values_written for s in cell.ok_samples()}, key=lambda v: v or 0)
        if failed is not None:
            status[cell.lib] = "FAILED: " + (failed.error or "").splitlines()[-1]
        elif expected is None:
            status[cell.lib] = f"MISMATCH: libraries logged different counts {sorted(logged)}"
        elif written != [expected]:
            shown = ", ".join(f"{w:,}" if w is not None else "?" for w in written)
            status[cell.lib] = f"MISMATCH: wrote {shown} of {expected:,} values"
        else:
            status[cell.lib] = "ok"
    return status


def summarize(cells: Sequence[Cell]) -> list[dict[str, Any]]:
    rows = []
    for name in dict.fromkeys(c.workload for c in cells):
        row = [c for c in cells if c.workload == name]
        status = workload_status(row)
        baseline = next((c.median_seconds() for c in row if c.lib == BASELINE), None)
        for cell in row:
            ok = cell.ok_samples()
            median = cell.median_seconds()
            times = [s.seconds for s in ok if s.seconds is not None]
            rss = [s.peak_rss_bytes / MIB for s in ok if s.peak_rss_bytes is not None]
            rows.append(
                {
                    "workload": name,
                    "description": WORKLOADS[name].description,
                    "lib": cell.lib,
                    "version": cell.version,
                    "median_s": median,
                    "min_s": min(times, default=None),
                    "max_s": max(times, default=None),
                    "median_peak_rss_mib": statistics.median(rss) if rss else None,
                    "speedup_vs_torch": (
                        baseline / median if baseline is not None and median else None
                    ),
                    "values_logged": next((s.values_logged for s in ok), None),
                    "status": status[cell.lib],
                    "samples": [asdict(s) for s in cell.samples],
                }
            )
    return rows


# --------------------------------------------------------------------------- reporting


def format_seconds(seconds: float | None) -> str:
    if seconds is None:
        return "–"
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms" if seconds >= 0.01 else f"{seconds * 1000:.2f} ms"
    return f"{seconds:.2f} s"


def format_range(low: float | None, high: float | None) -> str:
    if low is None or high is None:
        return "–"
    return f"{format_seconds(low)} – {format_seconds(high)}"


def format_speedup(speedup: float | None) -> str:
    return "–" if speedup is None else f"{speedup:.2f}×"


def machine_info() -> dict[str, Any]:
    cpu = platform.processor() or platform.machine()
    memory = None
    try:
        cpuinfo = Path("/proc/cpuinfo").read_text()
        cpu = next(
            line.split(":", 1)[1].strip()
            for line in cpuinfo.splitlines()
            if line.startswith("model name")
        )
        meminfo = Path("/proc/meminfo").read_text().split()
        memory = f"{int(meminfo[meminfo.index('MemTotal:') + 1]) / MIB:.0f} GiB"
    except (OSError, StopIteration, ValueError):
        pass
    nproc = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return {
        "nproc": nproc,
        "cpu": cpu,
        "memory": memory,
        "platform": platform.platform(),
        "python": platform.python_version(),
    }


def package_versions(names: Iterable[str]) -> dict[str, str | None]:
    versions: dict[str, str | None] = {}
    for name in names:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def git_revision() -> str | None:
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=REPO_DIR,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--", "src"],
            cwd=REPO_DIR,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None
    return head + (" (src/ modified)" if dirty else "")


def lib_label(lib: str, versions: dict[str, str | None]) -> str:
    version = versions.get(lib)
    return f"{LIBRARIES[lib]} {version}" if version else LIBRARIES[lib]


def render_markdown(meta: dict[str, Any], rows: Sequence[dict[str, Any]]) -> str:
    libs: list[str] = meta["libs"]
    versions: dict[str, str | None] = meta["lib_versions"]
    machine = meta["machine"]
    tensorboard = meta["package_versions"].get("tensorboard")
    workloads = list(dict.fromkeys(r["workload"] for r in rows))
    problems = [r for r in rows if r["status"] != "ok"]
    scale_note = f" at scale {meta['scale']:g} (`--quick`)" if meta["scale"] != 1 else ""

    out = [
        "# Benchmarks",
        "",
        f"_Generated by `{meta['command']}` on {meta['date']}{scale_note}; do not edit by hand._",
        "",
    ]
    if problems:
        out += [
            "> **WARNING: some results are invalid** — a library failed or did not write "
            "every value it was given, so its timing is meaningless:",
            ">",
            *(f"> - `{r['workload']}` / {r['lib']}: {r['status']}" for r in problems),
            "",
        ]
    out += [
        "## Method",
        "",
        f"- Libraries: {', '.join(lib_label(lib, versions) for lib in libs)}"
        + (
            f" (torch.utils.tensorboard writes via tensorboard {tensorboard})."
            if tensorboard
            else "."
        ),
        "- Every measurement runs in a fresh Python subprocess (`benchmarks/_child.py`) "
        "writing to its own temporary logdir, deleted afterwards.",
        f"- Repetitions are interleaved across libraries (rep 1: {', '.join(libs)}; "
        f"rep 2: …) after {meta['warmup']} discarded warm-up round(s), so drift in machine "
        "load hits every library alike.",
        "- The clock runs inside the child around the workload only — from constructing "
        "the writer through `close()`, with inputs built beforehand — except that "
        "`import_first_writer` adds the cold `from <lib> import SummaryWriter`, timed "
        "before the child imports anything beyond the interpreter's startup modules.",
        f"- Time: median of {meta['reps']} repetitions (min–max also shown). Peak RSS: "
        "the child's `ru_maxrss` at exit (the whole process: interpreter, imports, "
        "inputs), median over repetitions.",
        "- Speedup = torch median / library median; above 1 means faster than "
        "`torch.utils.tensorboard`.",
        "- Check: after each repetition the logdir is read back with TensorBoard's own "
        "CRC-checking loader and its summary values counted; `ok` means every repetition "
        "wrote exactly the values it logged.",
        f"- Machine: {machine['nproc']} CPUs (`nproc`), {machine['cpu']}, "
        f"{machine['memory']} RAM, {machine['platform']}, Python {machine['python']}"
        + (f"; tblog at {meta['git_revision']}." if meta.get("git_revision") else "."),
        "- **The machines are shared and noisy: absolute times vary from run to run. "
        "Only ratios within one run are meaningful.**",
        "",
        "## Summary: speedup vs torch.utils.tensorboard (median time)",
        "",
        "| Workload | " + " | ".join(LIBRARIES[lib] for lib in libs) + " |",
        "|---|" + "---:|" * len(libs),
    ]
    by_key = {(r["workload"], r["lib"]): r for r in rows}
    for name in workloads:
        cells = []
        for lib in libs:
            row = by_key[(name, lib)]
            cell = format_speedup(row["speedup_vs_torch"])
            cells.append(cell if row["status"] == "ok" else f"**{cell} ⚠ INVALID**")
        out.append(f"| `{name}` | " + " | ".join(cells) + " |")

    out += ["", "## Details", ""]
    for name in workloads:
        out += [
            f"### `{name}`",
            "",
            WORKLOADS[name].description + ".",
            "",
            "| Library | Median | Min – max | Peak RSS (MiB) | Speedup vs torch | Values | Check |",
            "|---|---:|---:|---:|---:|---:|---|",
        ]
        for lib in libs:
            r = by_key[(name, lib)]
            rss = r["median_peak_rss_mib"]
            check = "ok" if r["status"] == "ok" else f"**⚠ {r['status']}**"
            values = f"{r['values_logged']:,}" if r["values_logged"] is not None else "–"
            out.append(
                f"| {lib_label(lib, versions)} | {format_seconds(r['median_s'])} "
                f"| {format_range(r['min_s'], r['max_s'])} "
                f"| {'–' if rss is None else f'{rss:.0f}'} "
                f"| {format_speedup(r['speedup_vs_torch'])} | {values} | {check} |"
            )
        out.append("")
    return "\n".join(out)


# --------------------------------------------------------------------------- CLI


def parse_libs(text: str) -> list[str]:
    libs = [lib.strip() for lib in text.split(",") if lib.strip()]
    unknown = [lib for lib in libs if lib not in LIBRARIES]
    if unknown or not libs or len(set(libs)) != len(libs):
        raise argparse.ArgumentTypeError(
            f"expected a comma-separated subset of {','.join(LIBRARIES)}, got {text!r}"
        )
    return libs


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--reps", type=int, default=5, help="timed repetitions (default 5)")
    parser.add_argument(
        "--warmup", type=int, default=1, help="discarded warm-up rounds (default 1)"
    )
    parser.add_argument(
        "--only",
        nargs="+",
        choices=list(WORKLOADS),
        metavar="WORKLOAD",
        help=f"workloads to run (default: all of {', '.join(WORKLOADS)})",
    )
    parser.add_argument(
        "--libs",
        type=parse_libs,
        default=list(DEFAULT_LIBS),
        help="comma-separated libraries, in per-repetition order (default torch,tbx,tblog)",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help=f"smoke run: workload sizes x{QUICK_SCALE:g}, outputs under benchmarks/results/",
    )
    parser.add_argument("--timeout", type=float, default=900, help="per-child seconds")
    parser.add_argument("--json", type=Path, help="default benchmarks/results.json")
    parser.add_argument("--markdown", type=Path, help="default docs/benchmarks.md")
    args = parser.parse_args(argv)
    if args.reps < 1 or args.warmup < 0:
        parser.error("--reps must be >= 1 and --warmup >= 0")
    out_dir, stem = (BENCH_DIR / "results", "quick") if args.quick else (BENCH_DIR, "results")
    args.json = args.json or out_dir / f"{stem}.json"
    args.markdown = args.markdown or (
        out_dir / f"{stem}.md" if args.quick else REPO_DIR / "docs" / "benchmarks.md"
    )
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    workloads = args.only or list(WORKLOADS)
    scale = QUICK_SCALE if args.quick else 1.0
    started = datetime.now(timezone.utc)
    revision = git_revision()  # of the src/ snapshot the children will run

    cells = run_all(workloads, args.libs, args.reps, args.warmup, scale, args.timeout)
    rows = summarize(cells)

    meta = {
        "command": shlex.join(["python", "benchmarks/run.py", *sys.argv[1:]]),
        "date": started.strftime("%Y-%m-%d %H:%M UTC"),
        "reps": args.reps,
        "warmup": args.warmup,
        "scale": scale,
        "libs": args.libs,
        "lib_versions": {
            lib: next((c.version for c in cells if c.lib == lib and c.version), None)
            for lib in args.libs
        },
        "lib_modules": {c.lib: c.module_file for c in cells if c.module_file},
        "package_versions": package_versions(
            ["tblog", "torch", "tensorboard", "tensorboardX", "numpy", "protobuf"]
        ),
        "git_revision": revision,
        "machine": machine_info(),
    }
    for path in (args.json, args.markdown):
        path.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps({"meta": meta, "results": rows}, indent=2) + "\n")
    args.markdown.write_text(render_markdown(meta, rows))
    log(f"wrote {args.json} and {args.markdown}")

    problems = [r for r in rows if r["status"] != "ok"]
    for r in problems:
        log(f"!!! {r['workload']} / {r['lib']}: {r['status']}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
