"""Scalars on an accelerator (CUDA, MPS): kept on the device, copied to the host in batches.

``float(tensor)`` / ``tensor.item()`` on a GPU tensor waits for every kernel
queued before it: one device synchronisation per ``add_scalar``, which stalls
the training loop's pipeline. ``SummaryWriter`` instead keeps each one-element
device tensor (a reference, no copy) with its tag, step and wall time, and
copies a batch of them to the host in one transfer: when ``batch`` values are
pending, before any other record of the same writer is written (so the file
keeps the order of the calls), on ``flush()``/``close()``, at interpreter exit,
and at the next ``add_scalar`` once the oldest value waited ``flush_secs``.

The bound: at most ``batch`` tensors per writer are held; values still pending
when the process is killed (SIGKILL, or SIGTERM, whose handler flushes only what
reached the event writer) are lost, at most ``batch - 1`` of them.
``SummaryWriter(device_scalar_batch=1)`` copies each value at once, as torch does.
"""

from __future__ import annotations

import atexit
import contextlib
import threading
import time
import weakref
from collections.abc import Callable
from typing import Any

DEFAULT_BATCH = 256

Flush = Callable[[list[tuple[str, float, int, float]]], None]


class DeviceScalarBatch:
    """Pending device scalars of one writer, in call order."""

    def __init__(self, batch: int, max_wait: float, write: Flush) -> None:
        self.batch = batch
        self.max_wait = max_wait
        self._write = write  # gets (tag, value, step, wall_time) tuples, in order
        self._tags: list[str] = []
        self.pending: list[Any] = []  # the tensors; empty when nothing waits
        self._steps: list[int] = []
        self._wall_times: list[float] = []
        self._deadline = 0.0

    def __len__(self) -> int:
        return len(self.pending)

    def add(self, tag: str, tensor: Any, step: int, wall_time: float) -> None:
        """Keep ``tensor`` (one element, on a device); drain when the batch is full or old."""
        if not self.pending:
            self._deadline = time.monotonic() + self.max_wait
            _pending.add(self)
        self._tags.append(tag)
        self.pending.append(tensor.detach().reshape(()))
        self._steps.append(step)
        self._wall_times.append(wall_time)
        if len(self.pending) >= self.batch or time.monotonic() >= self._deadline:
            self.drain()

    def drain(self) -> None:
        """Copy every pending value to the host (one transfer per device) and write them."""
        if not self.pending:
            return
        import torch

        tensors, self.pending = self.pending, []
        tags, steps, wall_times = self._tags, self._steps, self._wall_times
        self._tags, self._steps, self._wall_times = [], [], []
        _pending.discard(self)
        values: list[float] = [0.0] * len(tensors)
        by_device: dict[Any, list[int]] = {}
        for index, tensor in enumerate(tensors):
            by_device.setdefault(tensor.device, []).append(index)
        for indices in by_device.values():
            # float32 is what a scalar event stores; MPS has no float64.
            stacked = torch.stack([tensors[i].to(torch.float32) for i in indices])
            for index, value in zip(indices, stacked.cpu().tolist(), strict=True):
                values[index] = value
        self._write(list(zip(tags, values, steps, wall_times, strict=True)))


class _Pending:
    """Batches holding values, drained at interpreter exit before the event writers close."""

    def __init__(self) -> None:
        self._batches: weakref.WeakSet[DeviceScalarBatch] = weakref.WeakSet()
        self._hooked = False

    def add(self, batch: DeviceScalarBatch) -> None:
        self._batches.add(batch)
        if not self._hooked:
            # Registered on first use, after the event writers' exit hooks: both
            # threading's exit hooks and atexit run the latest registered first.
            self._hooked = True
            register = getattr(threading, "_register_atexit", atexit.register)
            with contextlib.suppress(RuntimeError):  # already shutting down
                register(self.drain_all)

    def discard(self, batch: DeviceScalarBatch) -> None:
        self._batches.discard(batch)

    def drain_all(self) -> None:
        for batch in list(self._batches):
            with contextlib.suppress(Exception):  # at exit: keep draining the others
                batch.drain()


_pending = _Pending()
