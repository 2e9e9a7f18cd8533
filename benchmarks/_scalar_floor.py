"""The least a writer can do for ``add_scalar`` with tblog's durability: a floor.

Run as a library of the runner (``--libs torch,floor,tblog --only scalars_200k``) to
see how much of tblog's time per scalar is the work any such writer must do on this
machine, measured in the same run: a tuple per call, tblog's hand-encoded record
(``tblog._scalar_event``, proven byte-equal to protobuf's encoding) and one
``os.write`` per ``max_queue`` records, the bound tblog keeps on what a crash loses
(docs/reliability.md). Everything else tblog does is left out: checking arguments,
steps and device tensors, the lock, the interrupt-safe bookkeeping of the buffer,
checking the file is still there, surfacing I/O errors, the flush thread. Not a
writer to use; only ``add_scalar(tag, float, int)`` and ``close()``.
"""

import os
import time

from tblog._names import file_version_event
from tblog._record import frame
from tblog._scalar_event import ScalarEventEncoder


class SummaryWriter:
    """Writes ``add_scalar`` records to one event file, one write per ``max_queue``."""

    def __init__(self, log_dir: str, max_queue: int = 10) -> None:
        os.makedirs(log_dir, exist_ok=True)
        path = os.path.join(log_dir, f"events.out.tfevents.{int(time.time())}.floor")
        self._fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        os.write(self._fd, frame(file_version_event(time.time())))
        self._record = ScalarEventEncoder().record
        self._lane: list[tuple[str, float, int, float]] = []
        self._max_queue = max_queue

    def add_scalar(self, tag: str, scalar_value: float, global_step: int) -> None:
        lane = self._lane
        lane.append((tag, scalar_value, global_step, time.time()))
        if len(lane) >= self._max_queue:
            self._write()

    def _write(self) -> None:
        record = self._record
        os.write(self._fd, b"".join([record(*entry) for entry in self._lane]))
        self._lane.clear()

    def close(self) -> None:
        self._write()
        os.close(self._fd)
