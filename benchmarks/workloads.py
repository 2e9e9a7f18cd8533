"""Benchmark workloads: a registry of small, library-agnostic logging jobs.

A workload is a function ``fn(SummaryWriter, logdir, scale) -> run`` registered with
:func:`workload`.  Everything ``fn`` does before returning is untimed setup (building
inputs, importing helpers); the returned zero-argument ``run`` callable is what gets
timed.  ``run`` must construct its writer on ``logdir``, log, ``close()`` it, and return
the number of summary values it logged; the runner checks that exactly that many values
reached the event files.

``SummaryWriter`` is the class of the library under test, so a workload must stick to
the API shared by ``torch.utils.tensorboard``, ``tensorboardX`` and ``tblog`` (pass the
logdir positionally: torch calls it ``log_dir``, tensorboardX ``logdir``).  ``scale``
multiplies the problem size (``--quick`` uses 0.1); use :func:`scaled`.

The child imports this module only after it has timed ``import <lib>``, so module-level
imports here don't distort the ``import_first_writer`` workload.

To add a workload::

    @workload("text_1k", "1k add_text() calls, then close()")
    def text_1k(summary_writer: WriterClass, logdir: str, scale: float) -> Run:
        n = scaled(1_000, scale)

        def run() -> int:
            writer = summary_writer(logdir)
            for step in range(n):
                writer.add_text("notes", f"step {step}", step)
            writer.close()
            return n

        return run
"""

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

WriterClass = Callable[..., Any]
"""A ``SummaryWriter`` class (torch's, tensorboardX's or tblog's)."""

Run = Callable[[], int]
"""The timed part of a workload; returns the number of summary values logged."""

WorkloadFn = Callable[[WriterClass, str, float], Run]


@dataclass(frozen=True)
class Workload:
    name: str
    fn: WorkloadFn
    description: str
    includes_import: bool = False
    """Add the time of the child's cold ``import <lib>`` to the time of ``run()``."""


WORKLOADS: dict[str, Workload] = {}


def workload(
    name: str, description: str, *, includes_import: bool = False
) -> Callable[[WorkloadFn], WorkloadFn]:
    """Register ``fn`` in :data:`WORKLOADS` under ``name``."""

    def register(fn: WorkloadFn) -> WorkloadFn:
        if name in WORKLOADS:
            raise ValueError(f"duplicate workload name {name!r}")
        WORKLOADS[name] = Workload(name, fn, description, includes_import)
        return fn

    return register


def scaled(n: int, scale: float) -> int:
    """``n`` scaled by ``scale``, at least 1."""
    return max(1, round(n * scale))


TAGS = [f"loss/{i}" for i in range(10)]


def _values(n: int) -> list[float]:
    return [math.sin(i * 1e-3) + i * 1e-6 for i in range(n)]


@workload(
    "scalars_200k",
    "200k `add_scalar(tag, float, step)` over 10 tags, then `close()`",
)
def scalars_200k(summary_writer: WriterClass, logdir: str, scale: float) -> Run:
    values = _values(scaled(200_000, scale))

    def run() -> int:
        writer = summary_writer(logdir)
        for step, value in enumerate(values):
            writer.add_scalar(TAGS[step % 10], value, step)
        writer.close()
        return len(values)

    return run


@workload(
    "tensor_scalars_50k",
    "50k `add_scalar(tag, torch.tensor(x), step)` of 0-d float32 tensors (created "
    "before timing) over 10 tags, then `close()`",
)
def tensor_scalars_50k(summary_writer: WriterClass, logdir: str, scale: float) -> Run:
    import torch

    tensors = [torch.tensor(value) for value in _values(scaled(50_000, scale))]

    def run() -> int:
        writer = summary_writer(logdir)
        for step, tensor in enumerate(tensors):
            writer.add_scalar(TAGS[step % 10], tensor, step)
        writer.close()
        return len(tensors)

    return run


@workload(
    "import_first_writer",
    "`from <lib> import SummaryWriter` + construct a writer + one `add_scalar` + "
    "`close()`, timed from before the import in a fresh interpreter",
    includes_import=True,
)
def import_first_writer(summary_writer: WriterClass, logdir: str, scale: float) -> Run:
    def run() -> int:
        writer = summary_writer(logdir)
        writer.add_scalar("loss", 1.0, 0)
        writer.close()
        return 1

    return run
