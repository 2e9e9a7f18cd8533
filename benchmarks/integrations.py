"""Logging overhead of a PyTorch Lightning loop: stock TensorBoardLogger vs tblog.

The same tiny CPU model trains for ``--steps`` steps, logging ``--metrics``
scalars every step (``log_every_n_steps=1``), under four loggers:

* ``none``: ``logger=False``, the baseline (Lightning still runs ``self.log``);
* ``stock``: ``pytorch_lightning.loggers.TensorBoardLogger`` (torch's writer);
* ``tblog``: ``tblog.integrations.lightning.TBLogLogger``;
* ``patched``: the stock logger under ``tblog.patch()``.

Repetitions are interleaved (rep 1: none, stock, tblog, patched; rep 2: ...)
after a warm-up round. Each timed region is ``trainer.fit`` (including the
logger's final flush and close). Per step: wall and CPU (``process_time``, all
threads) overhead = (median - median of ``none``) / steps, and the time spent
inside the logger's methods (``log_metrics``, ``log_hyperparams``, ``save``,
``finalize``). Ratios are stock's / the other's. First, the steady-state
cost of one ``logger.log_metrics`` call (writer already open) is timed alone.
Every run's event files are read back with TensorBoard's loader and the
points counted.

    python benchmarks/integrations.py                  # 5 reps, 512 steps, 4 metrics
    python benchmarks/integrations.py --reps 9 --steps 1024 --json out.json
    python benchmarks/integrations.py --skip-fit      # only the log_metrics part
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

CONFIGS = ("none", "stock", "tblog", "patched")


def _setup(metrics: int) -> tuple[Any, Any]:
    """Import Lightning and build the module class and data (outside the timings)."""
    import logging

    import pytorch_lightning as pl
    import torch

    warnings.filterwarnings("ignore")
    logging.getLogger("pytorch_lightning").setLevel(logging.ERROR)
    logging.getLogger("lightning.pytorch").setLevel(logging.ERROR)
    torch.set_num_threads(1)

    class Tiny(pl.LightningModule):
        def __init__(self) -> None:
            super().__init__()
            self.net = torch.nn.Sequential(torch.nn.Linear(8, 16), torch.nn.ReLU(),
                                           torch.nn.Linear(16, 1))

        def training_step(self, batch: Any, batch_idx: int) -> Any:
            x, y = batch
            loss = torch.nn.functional.mse_loss(self.net(x), y)
            self.log("loss", loss)
            for i in range(1, metrics):
                self.log(f"metric_{i}", loss * i)
            return loss

        def configure_optimizers(self) -> Any:
            return torch.optim.SGD(self.parameters(), lr=0.01)

    return pl, Tiny


def _make_logger(config: str, root: str) -> tuple[Any, Callable[[], None]]:
    """The logger of ``config`` and a function that undoes its set-up."""
    import tblog

    if config == "none":
        return False, lambda: None
    if config == "tblog":
        from tblog.integrations.lightning import TBLogLogger

        return TBLogLogger(root, name="", version=0), lambda: None
    from pytorch_lightning.loggers import TensorBoardLogger

    if config == "patched":
        tblog.patch()
        return TensorBoardLogger(root, name="", version=0), tblog.unpatch
    return TensorBoardLogger(root, name="", version=0), lambda: None


class _Timed:
    """Wraps a logger's methods on the instance, adding the seconds spent in them."""

    METHODS = ("log_metrics", "log_hyperparams", "log_graph", "save", "finalize")

    def __init__(self, logger: Any) -> None:
        self.seconds = 0.0
        for name in self.METHODS:
            setattr(logger, name, self._wrap(getattr(logger, name)))

    def _wrap(self, method: Callable[..., Any]) -> Callable[..., Any]:
        def timed(*args: Any, **kwargs: Any) -> Any:
            start = time.perf_counter()
            try:
                return method(*args, **kwargs)
            finally:
                self.seconds += time.perf_counter() - start

        return timed


def run_once(pl: Any, tiny: Any, config: str, steps: int, batch: int) -> dict[str, float]:
    """One ``fit``: wall and CPU seconds, seconds inside the logger, points read back."""
    import torch

    torch.manual_seed(0)
    data = torch.utils.data.TensorDataset(torch.randn(steps * batch, 8),
                                          torch.randn(steps * batch, 1))
    loader = torch.utils.data.DataLoader(data, batch_size=batch)
    with tempfile.TemporaryDirectory(prefix=f"bench_{config}_") as root:
        logger, undo = _make_logger(config, root)
        try:
            timed = _Timed(logger) if logger else None
            trainer = pl.Trainer(max_epochs=1, logger=logger, log_every_n_steps=1,
                                 enable_checkpointing=False, enable_progress_bar=False,
                                 enable_model_summary=False, accelerator="cpu", devices=1)
            model = tiny()
            cpu, wall = time.process_time(), time.perf_counter()
            trainer.fit(model, loader)
            wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
            if config == "patched":
                import tblog

                assert isinstance(logger.experiment, tblog.SummaryWriter), "patch() not in effect"
        finally:
            undo()
        return {"wall": wall, "cpu": cpu, "in_logger": timed.seconds if timed else 0.0,
                "points": _count_points(root) if logger else 0}


def micro(calls: int, reps: int, metrics: int) -> dict[str, list[float]]:
    """Steady-state seconds per ``logger.log_metrics`` call of ``metrics`` tensors plus
    ``epoch``, stock vs ``TBLogLogger`` (interleaved, after one warm-up call each)."""
    import torch
    from pytorch_lightning.loggers import TensorBoardLogger

    from tblog.integrations.lightning import TBLogLogger

    value = torch.tensor(0.5)
    values = {f"metric_{i}": value for i in range(metrics)} | {"epoch": 0.0}
    out: dict[str, list[float]] = {"stock": [], "tblog": []}
    for _ in range(reps):
        for name, cls in (("stock", TensorBoardLogger), ("tblog", TBLogLogger)):
            with tempfile.TemporaryDirectory(prefix=f"bench_micro_{name}_") as root:
                logger = cls(root, name="", version=0)
                logger.log_metrics(values, 0)  # creates the writer
                start = time.perf_counter()
                for step in range(1, calls + 1):
                    logger.log_metrics(values, step)
                out[name].append((time.perf_counter() - start) / calls)
                logger.finalize("success")
    return out


def _count_points(root: str) -> int:
    from tensorboard.backend.event_processing import event_accumulator

    total = 0
    for run_dir in {str(p.parent) for p in Path(root).rglob("*tfevents*")}:
        acc = event_accumulator.EventAccumulator(run_dir, size_guidance={"scalars": 0})
        acc.Reload()
        total += sum(len(acc.Scalars(tag)) for tag in acc.Tags()["scalars"])
    return total


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark, print the table; return 1 if a logger lost points."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--steps", type=int, default=512)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--metrics", type=int, default=4, help="self.log calls per step")
    parser.add_argument("--micro-calls", type=int, default=5000,
                        help="log_metrics calls per repetition of the steady-state part")
    parser.add_argument("--skip-fit", action="store_true", help="only the log_metrics part")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args(argv)

    pl, tiny = _setup(args.metrics)
    steady = micro(args.micro_calls, args.reps, args.metrics)
    steady_median = {name: statistics.median(values) for name, values in steady.items()}
    print(f"logger.log_metrics({args.metrics} tensors + epoch), steady state, "
          f"{args.micro_calls} calls x {args.reps} reps, median per call: stock "
          f"{steady_median['stock'] * 1e6:.1f} us, tblog {steady_median['tblog'] * 1e6:.1f} us, "
          f"ratio {steady_median['stock'] / steady_median['tblog']:.2f}")
    if args.skip_fit:
        if args.json:
            args.json.write_text(json.dumps({"args": vars(args) | {"json": str(args.json)},
                                             "log_metrics_s": steady}, indent=2))
        return 0
    results: dict[str, list[dict[str, float]]] = {config: [] for config in CONFIGS}
    # epoch (Lightning logs it each step) + the module's metrics, every step
    expected = args.steps * (args.metrics + 1)
    invalid = []
    for rep in range(args.warmup + args.reps):
        for config in CONFIGS:
            result = run_once(pl, tiny, config, args.steps, args.batch)
            if config != "none" and result["points"] != expected:
                invalid.append(f"{config}: {result['points']} points, expected {expected}")
            if rep >= args.warmup:
                results[config].append(result)
    median = {config: {key: statistics.median(r[key] for r in runs) for key in runs[0]}
              for config, runs in results.items()}
    per_step = {config: {"wall_overhead": (m["wall"] - median["none"]["wall"]) / args.steps,
                         "cpu_overhead": (m["cpu"] - median["none"]["cpu"]) / args.steps,
                         "in_logger": m["in_logger"] / args.steps}
                for config, m in median.items()}
    print(f"Lightning {pl.__version__}, {args.steps} steps x {args.metrics} metrics "
          f"(+ epoch), {args.reps} reps, medians, Python {platform.python_version()}, "
          f"{os.cpu_count()} CPUs")
    print("per step, microseconds; ratio = stock / this")
    header = ("logger", "fit wall s", "wall overhead", "ratio", "CPU overhead", "ratio",
              "in logger", "ratio")
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    for config in CONFIGS:
        cells = [config, f"{median[config]['wall']:.3f}"]
        for key in ("wall_overhead", "cpu_overhead", "in_logger"):
            value = per_step[config][key]
            cells.append(f"{value * 1e6:.1f}")
            stock = per_step["stock"][key]
            cells.append("" if config == "none" or value <= 0 else f"{stock / value:.2f}")
        print("| " + " | ".join(cells) + " |")
    for line in invalid:
        print("INVALID", line)
    if args.json:
        args.json.write_text(json.dumps({
            "args": vars(args) | {"json": str(args.json)}, "runs": results, "median": median,
            "per_step_s": per_step, "lightning": pl.__version__, "invalid": invalid,
            "log_metrics_s": steady,
        }, indent=2))
    return 1 if invalid else 0


if __name__ == "__main__":
    sys.exit(main())
