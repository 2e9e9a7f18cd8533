"""Costs of tblog's experiment tracking (docs/tracking.md), in one process.

1. ``run.log`` of a 100-key dict vs 100 ``add_scalar`` calls of torch's
   ``SummaryWriter`` and of tblog's own, per logged step.
2. ``run.watch(model)`` at the default ``log_freq`` on an MLP (784-256-10, batch 64,
   SGD, one CPU thread) vs the same loop without it (both call ``run.log`` once
   per step) and vs the bare loop. A repetition is ``--train-steps`` (1000: one
   gradient record each) per variant on fresh models, run in chunks of 50 steps
   alternating the variants, so a change of load on a shared machine hits all
   three alike. Also: the cost of one record (a record at every step vs never).

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
    variants: dict[str, Callable[[int], float]], reps: int, steps: int, chunk: int,
    keep_first: bool = False,
) -> dict[str, list[float]]:
    """Like :func:`interleave`, but each repetition of ``steps`` steps is run as
    chunks of ``chunk`` steps, alternating the variants chunk by chunk, so that
    drifting load on a shared machine hits every variant alike. Seconds per step."""
    names = list(variants)
    times: dict[str, list[float]] = {name: [] for name in names}
    for round_ in range(reps + 1):  # round 0 warms up and is dropped (unless keep_first)
        total = dict.fromkeys(names, 0.0)
        for index in range(steps // chunk):
            shift = (round_ + index) % len(names)
            for name in names[shift:] + names[:shift]:
                total[name] += variants[name](chunk)
        if round_ or keep_first:
            for name in names:
                times[name].append(total[name] / steps)
    return times


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
    return summarize(times, "torch 100 x add_scalar", "us per step (100 values)", 1e6)


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

    def loop(model: torch.nn.Module, log: bool) -> Callable[[int], float]:
        optimizer = torch.optim.SGD(model.parameters(), lr=0.01)

        def go(count: int) -> float:
            start = time.perf_counter()
            for _ in range(count):
                optimizer.zero_grad()
                loss = loss_fn(model(inputs), targets)
                loss.backward()
                optimizer.step()
                if log:
                    run.log({"loss": loss.item()})
                else:
                    loss.item()
            return time.perf_counter() - start

        return go

    def fresh(watch: dict[str, int]) -> dict[str, Callable[[int], float]]:
        """New models every round (so no variant keeps a lucky or unlucky memory
        layout); a watched model records at its first forward, then every
        ``log_freq``: one record per 1000 steps, the default rate."""
        models = {name: mlp() for name in ("bare", "log", *watch)}
        for name, freq in watch.items():
            run.watch(models[name], log_freq=freq)
        return {name: loop(model, name != "bare") for name, model in models.items()}

    names = {"bare": "bare loop", "log": "loop + run.log", "watch": "loop + run.log + watch"}
    times: dict[str, list[float]] = {label: [] for label in names.values()}
    record_times: dict[str, list[float]] = {"every": [], "never": []}
    for round_ in range(reps + 1):  # round 0 warms up and is dropped
        variants = fresh({"watch": 1000})  # 1000 is watch()'s default log_freq
        one = interleave_chunks(variants, 0, train_steps, chunk=50, keep_first=True)
        # One record's cost (gradient histograms and norms of the 4 parameters): a
        # record at every step vs hooks that never record again.
        two = interleave_chunks(
            {k: v for k, v in fresh({"every": 1, "never": 10**9}).items() if k in record_times},
            0, 100, chunk=10, keep_first=True,
        )
        run.unwatch()
        if round_:
            for name, label in names.items():
                times[label].append(one[name][0])
            for name in record_times:
                record_times[name].append(two[name][0])
    run.finish()
    result = summarize(times, "bare loop", "us per training step", 1e6)
    log_median = statistics.median(times["loop + run.log"])
    watch_median = statistics.median(times["loop + run.log + watch"])
    result["watch overhead vs loop + run.log (%)"] = round(100 * (watch_median / log_median - 1), 2)
    record = statistics.median(record_times["every"]) - statistics.median(record_times["never"])
    result["one gradient record (ms)"] = round(record * 1e3, 2)
    result["one record / 1000 steps as % of loop + run.log"] = round(
        100 * record / 1000 / log_median, 2
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
