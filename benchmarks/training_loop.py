"""Logging overhead inside a real training loop: bare, torch, tensorboardX, tblog.

Usage: python benchmarks/training_loop.py [--steps 3000] [--reps 5] [--profile]

A 784-256-10 MLP trains on random batches of 64 on one CPU thread; each step
logs 3 scalars (loss, accuracy, learning rate), and every 100 steps 4 weight
histograms. Each repetition runs every variant once, in a fresh subprocess, in
turn (bare, user, torch, tbx, tblog), after one warm-up round; the report gives
the median ms per step and each writer's overhead over the bare loop, as a
percent of the bare step. ``user`` is the loop with the user's side of logging
(the accuracy, ``loss.item()``) but no writer: the difference between it and a
writer is what the library costs. ``--profile`` instead profiles tblog's logging calls in this
process (cProfile, top functions by own time).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

VARIANTS = {"bare": None, "user": "", "torch": "torch.utils.tensorboard",
            "tbx": "tensorboardX", "tblog": "tblog"}


def run_loop(module: str | None, steps: int, logdir: str) -> tuple[float, float]:
    """(ms per step, ms per step inside the logging calls) of the loop logging with
    ``module``'s SummaryWriter (None: no logging; "": the user's side only)."""
    import torch

    torch.set_num_threads(1)
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(784, 256), torch.nn.ReLU(),
                                torch.nn.Linear(256, 10))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
    batches = [(torch.randn(64, 784), torch.randint(0, 10, (64,))) for _ in range(16)]
    writer = None
    if module:
        __import__(module)
        writer = sys.modules[module].SummaryWriter(logdir)
    logging = 0.0
    start = time.perf_counter()
    for step in range(steps):
        inputs, targets = batches[step % len(batches)]
        optimizer.zero_grad(set_to_none=True)
        logits = model(inputs)
        loss = torch.nn.functional.cross_entropy(logits, targets)
        loss.backward()
        optimizer.step()
        if module is not None:
            accuracy = (logits.argmax(1) == targets).float().mean()
            began = time.perf_counter()
            loss_value, accuracy_value = loss.item(), accuracy.item()
            if writer is None:  # the user's side of logging only
                logging += time.perf_counter() - began
                continue
            writer.add_scalar("train/loss", loss_value, step)
            writer.add_scalar("train/accuracy", accuracy_value, step)
            writer.add_scalar("train/lr", 0.01, step)
            if step % 100 == 0:
                for name, parameter in model.named_parameters():
                    writer.add_histogram(f"weights/{name}", parameter.detach(), step)
            logging += time.perf_counter() - began
    if writer is not None:
        began = time.perf_counter()
        writer.close()
        logging += time.perf_counter() - began
    return (time.perf_counter() - start) / steps * 1e3, logging / steps * 1e3


def profile_tblog(steps: int, logdir: str) -> None:
    """Where tblog's time goes inside the loop: timers around its parts."""
    import collections

    import tblog
    from tblog._event_writer import EventWriter
    from tblog._local_file import LocalFile

    spent: collections.Counter[str] = collections.Counter()

    def timed(cls: type, name: str, label: str) -> None:
        original = getattr(cls, name)

        def wrapper(*args: object, **kwargs: object) -> object:
            began = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                spent[label] += time.perf_counter() - began

        setattr(cls, name, wrapper)

    timed(tblog.SummaryWriter, "add_scalar", "add_scalar calls (all)")
    timed(EventWriter, "_settle_lane", "  lane settles (lock, encode, write)")
    timed(EventWriter, "_take_lane", "    encoding the lane (10 scalars)")
    timed(LocalFile, "write", "    os.write of the buffer")
    timed(tblog.SummaryWriter, "add_histogram", "add_histogram calls")
    timed(tblog.SummaryWriter, "close", "close()")
    step_ms, logging_ms = run_loop("tblog", steps, logdir)
    print(f"{steps} steps: {step_ms:.4f} ms per step, {logging_ms * 1e3:.1f} us in logging "
          "(with loss.item() and accuracy.item())")
    for label, seconds in spent.items():
        print(f"{label:40} {seconds / steps * 1e6:8.2f} us per step")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=3000)
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        with tempfile.TemporaryDirectory() as logdir:
            print(json.dumps(run_loop(VARIANTS[args.child], args.steps, logdir)))
        return 0
    if args.profile:
        with tempfile.TemporaryDirectory() as logdir:
            profile_tblog(args.steps, logdir)
        return 0
    times: dict[str, list[float]] = {name: [] for name in VARIANTS}
    inside: dict[str, list[float]] = {name: [] for name in VARIANTS}
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    for rep in range(args.reps + 1):
        for name in VARIANTS:
            out = subprocess.run(
                [sys.executable, __file__, "--child", name, "--steps", str(args.steps)],
                check=True, capture_output=True, text=True, env=env, timeout=900,
            ).stdout
            if rep:  # round 0 warms up
                step_ms, logging_ms = json.loads(out.strip().splitlines()[-1])
                times[name].append(step_ms)
                inside[name].append(logging_ms)
    bare = statistics.median(times["bare"])
    user = statistics.median(times["user"])
    print(f"{args.steps} steps x {args.reps} reps (medians), one CPU thread")
    print("overhead = step time - bare step time; 'in calls' = time inside the logging")
    print("calls and close(), per step; 'vs user' = step time - the user variant's")
    print(f"{'variant':8} {'ms/step':>9} {'overhead':>10} {'% of bare':>10} "
          f"{'in calls':>9} {'% of bare':>10} {'vs user':>9}")
    for name, values in times.items():
        ms, calls = statistics.median(values), statistics.median(inside[name])
        print(f"{name:8} {ms:9.4f} {ms - bare:+10.4f} {(ms - bare) / bare:+10.1%} "
              f"{calls:9.4f} {calls / bare:+10.1%} {(ms - user) / bare:+9.1%}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
