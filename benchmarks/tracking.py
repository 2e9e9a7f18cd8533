"""Costs of tblog's experiment tracking (docs/tracking.md), in one process.

1. ``run.log`` of a 100-key dict vs 100 ``add_scalar`` calls of torch's
   ``SummaryWriter`` and of tblog's own, per logged step; and ``run.log`` of one key.
2. ``run.watch(model)`` at the default ``log_freq`` on an MLP (784-256-10, batch 64,
   SGD, one CPU thread) vs the same loop without it (both call ``run.log`` once
   per step), and ``watch`` alone vs the bare loop; also the loop with one
   ``SummaryWriter.add_scalar`` per step, to compare with ``run.log``. A repetition
   is ``--train-steps`` (1000: one gradient record each) per variant on fresh
   models, run in chunks of 50 steps alternating the variants, so a change of
   load on a shared machine hits all of them alike, on two clocks: wall time and
   the process's CPU time (less disturbed by other processes). Also: the CPU
   cost of one record (a record at every step vs never).

Repetitions are interleaved (every variant once per round, the order rotating) and
the report gives medians and ratios of medians. Only the calls are timed, not the
final flush or close. Usage::

    python benchmarks/tracking.py [--reps 9] [--steps 200] [--train-steps 1000] [--json PATH]
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import torch
from torch.utils.tensorboard import SummaryWriter as TorchWriter

import tblog

KEYS = [f"metrics/key_{i:03d}" for i in range(100)]


def interleave(variants: dict[str, Callable[[], float]], reps: int) -> dict[str, list[float]]:
    """Run every variant once per round (rotating the order); seconds per call."""
    names = list(variants)
    times: dict[str, list[float]] = {name: [] for name in names}
    for round_ in range(reps + 1):  # round 0 warms up and is dropped
        order = names[round_ % len(names):] + names[: round_ % len(names)]
        for name in order:
            seconds = variants[name]()
            if round_:
                times[name].append(seconds)
    return times


def interleave_chunks(
    variants: dict[str, Callable[[int], tuple[float, float]]], steps: int, chunk: int
) -> dict[str, tuple[float, float]]:
    """One repetition of ``steps`` steps per variant, run as chunks of ``chunk``
    steps alternating the variants, so that drifting load on a shared machine hits
    every variant alike. Returns (wall, process CPU) seconds per step."""
    names = list(variants)
    wall = dict.fromkeys(names, 0.0)
    cpu = dict.fromkeys(names, 0.0)
    for index in range(steps // chunk):
        shift = index % len(names)
        for name in names[shift:] + names[:shift]:
            seconds, cpu_seconds = variants[name](chunk)
            wall[name] += seconds
            cpu[name] += cpu_seconds
    return {name: (wall[name] / steps, cpu[name] / steps) for name in names}


def log_100_keys(root: Path, reps: int, steps: int) -> dict[str, object]:
    run = tblog.init(project="bench", name="log", dir=str(root), system_interval=None,
                     capture_output=False)
    ours = tblog.SummaryWriter(str(root / "tblog_writer"))
    theirs = TorchWriter(str(root / "torch_writer"))
    counters = {"tblog": 0, "torch": 0}

    def run_log() -> float:
        values = [{key: float(i + j) for j, key in enumerate(KEYS)} for i in range(steps)]
        start = time.perf_counter()
        for data in values:
            run.log(data)
        return (time.perf_counter() - start) / steps

    def add_scalars(name: str, writer: object) -> Callable[[], float]:
        def go() -> float:
            first = counters[name]
            counters[name] += steps
            start = time.perf_counter()
            for step in range(first, first + steps):
                for j, key in enumerate(KEYS):
                    writer.add_scalar(key, float(step + j), step)
            return (time.perf_counter() - start) / steps

        return go

    def run_log_one() -> float:  # what the training loop below adds per step
        start = time.perf_counter()
        for i in range(steps * 100):
            run.log({"loss": 1.5 + i})
        return (time.perf_counter() - start) / (steps * 100)

    one_key = interleave({"tblog run.log(1 key)": run_log_one}, reps)
    times = interleave(
        {
            "tblog run.log(100 keys)": run_log,
            "tblog 100 x add_scalar": add_scalars("tblog", ours),
            "torch 100 x add_scalar": add_scalars("torch", theirs),
        },
        reps,
    )
    run.finish()
    ours.close()
    theirs.close()
    result = summarize(times, "torch 100 x add_scalar", "us per step (100 values)", 1e6)
    result["tblog run.log(1 key), us per call"] = round(
        statistics.median(one_key["tblog run.log(1 key)"]) * 1e6, 2
    )
    return result


def mlp() -> torch.nn.Module:
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(784, 256), torch.nn.ReLU(), torch.nn.Linear(256, 10))


def watch_overhead(root: Path, reps: int, train_steps: int) -> dict[str, object]:
    torch.set_num_threads(1)
    inputs = torch.randn(64, 784)
    targets = torch.randint(0, 10, (64,))
    loss_fn = torch.nn.CrossEntropyLoss()
    run = tblog.init(project="bench", name="watch", dir=str(root), system_interval=None,
                     capture_output=False)

    writer = tblog.SummaryWriter(str(root / "watch_add_scalar"))
    counter = [0]

    def loop(model: torch.nn.Module, log: str) -> Callable[[int], tuple[float, float]]:
        optimizer = torch.optim.SGD(model.parameters(), lr=0.01)

        def go(count: int) -> tuple[float, float]:
            start, start_cpu = time.perf_counter(), time.process_time()
            for _ in range(count):
                optimizer.zero_grad()
                loss = loss_fn(model(inputs), targets)
                loss.backward()
                optimizer.step()
                if log == "run.log":
                    run.log({"loss": loss.item()})
                elif log == "add_scalar":
                    writer.add_scalar("loss", loss.item(), counter[0])
                    counter[0] += 1
                else:
                    loss.item()
            return time.perf_counter() - start, time.process_time() - start_cpu

        return go

    def fresh(watch: dict[str, int]) -> dict[str, Callable[[int], tuple[float, float]]]:
        """New models every round (so no variant keeps a lucky or unlucky memory
        layout); a watched model records at its first forward, then every
        ``log_freq``: one record per 1000 steps, the default rate."""
        models = {name: mlp() for name in ("bare", "log", *watch)}
        for name, freq in watch.items():
            if name != "scalar":
                run.watch(models[name], log_freq=freq)
        kinds = {"bare": "", "watch_only": "", "scalar": "add_scalar"}
        return {name: loop(model, kinds.get(name, "run.log")) for name, model in models.items()}

    names = {
        "bare": "bare loop", "watch_only": "loop + watch", "scalar": "loop + tblog add_scalar",
        "log": "loop + run.log", "watch": "loop + run.log + watch",
    }
    clocks = ("wall", "process CPU")
    times = {clock: {label: [] for label in names.values()} for clock in clocks}
    records: dict[str, list[float]] = {"every": [], "never": []}
    for round_ in range(reps + 1):  # round 0 warms up and is dropped
        # 1000 is watch()'s default log_freq
        variants = fresh({"watch": 1000, "watch_only": 1000, "scalar": 0})
        one = interleave_chunks(variants, train_steps, 50)
        # One record's cost (gradient histograms and norms of the 4 parameters): a
        # record at every step vs hooks that never record again (process CPU time).
        variants = fresh({"every": 1, "never": 10**9})
        two = interleave_chunks({k: variants[k] for k in records}, 100, 10)
        run.unwatch()
        if round_:
            for index, clock in enumerate(clocks):
                for name, label in names.items():
                    times[clock][label].append(one[name][index])
            for name in records:
                records[name].append(two[name][1])
    run.finish()
    writer.close()
    result: dict[str, object] = {}
    for clock in clocks:
        part = summarize(times[clock], "bare loop", f"us per training step ({clock})", 1e6)
        log_median = statistics.median(times[clock]["loop + run.log"])
        watch_median = statistics.median(times[clock]["loop + run.log + watch"])
        part["watch overhead vs loop + run.log (%)"] = round(
            100 * (watch_median / log_median - 1), 2
        )
        bare_median = statistics.median(times[clock]["bare loop"])
        part["watch overhead vs bare loop (%)"] = round(
            100 * (statistics.median(times[clock]["loop + watch"]) / bare_median - 1), 2
        )
        result[clock] = part
    record = statistics.median(records["every"]) - statistics.median(records["never"])
    log_cpu = statistics.median(times["process CPU"]["loop + run.log"])
    result["one gradient record (ms, process CPU)"] = round(record * 1e3, 2)
    result["one record per 1000 steps, % of loop + run.log (process CPU)"] = round(
        100 * record / 1000 / log_cpu, 2
    )
    return result


def summarize(
    times: dict[str, list[float]], baseline: str, unit: str, scale: float
) -> dict[str, object]:
    base = statistics.median(times[baseline])
    return {
        "unit": unit,
        "reps": len(times[baseline]),
        "median": {name: round(statistics.median(t) * scale, 2) for name, t in times.items()},
        f"ratio {baseline} / variant": {
            name: round(base / statistics.median(t), 2) for name, t in times.items()
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=9)
    parser.add_argument("--steps", type=int, default=200, help="log steps per repetition")
    parser.add_argument("--train-steps", type=int, default=1000, help="training steps per rep")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        results = {
            "log_100_keys": log_100_keys(root, args.reps, args.steps),
            "watch_mlp": watch_overhead(root, args.reps, args.train_steps),
            "torch": torch.__version__,
            "threads": 1,
        }
    text = json.dumps(results, indent=2)
    print(text)
    if args.json:
        args.json.write_text(text + "\n")


if __name__ == "__main__":
    main()
