"""``FileWriter``: one run directory's event file, with torch's ``FileWriter`` API.

It owns the storage backend's event writer (``tblog._storage``) and adds what
torch's API has on top: ``add_event``/``add_summary`` of proto messages (tblog's,
tensorboard's, torch's or tensorboardX's: the wire format is the same),
checked raw records, and ``reopen``. ``SummaryWriter`` keeps one per run.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable
from typing import Protocol

from tblog import _convert, _wire
from tblog._storage import check_event_record, open_event_writer


class _Message(Protocol):
    """Any protobuf message (tblog's or another package's generated class)."""

    def SerializeToString(self) -> bytes: ...  # noqa: N802 (protobuf's name)


def _serialized(message: _Message | bytes, what: str) -> bytes:
    if isinstance(message, (bytes, bytearray)):
        return bytes(message)
    serialize = getattr(message, "SerializeToString", None)
    if serialize is None:
        raise TypeError(
            f"{what} must be a protobuf message or its serialized bytes, "
            f"got {type(message).__name__}"
        )
    return serialize()


class FileWriter:
    """Writes events to one event file in ``log_dir`` (torch's API).

    Args:
        log_dir: directory (or ``s3://``... URL) of the run; created if missing.
        max_queue: events buffered before they are written to the OS.
        flush_secs: at most this many seconds between a write and the OS.
        filename_suffix: appended to the event file name.
    """

    def __init__(
        self,
        log_dir: str | os.PathLike[str],
        max_queue: int = 10,
        flush_secs: float = 120,
        filename_suffix: str = "",
    ) -> None:
        self._log_dir = os.fspath(log_dir)
        self._settings = (max_queue, flush_secs, filename_suffix)
        self.event_writer = open_event_writer(self._log_dir, *self._settings)

    def get_logdir(self) -> str:
        """The run directory this writer writes into."""
        return self._log_dir

    @property
    def closed(self) -> bool:
        """Whether ``close()`` was called (logging then needs ``reopen()``)."""
        return self.event_writer.closed

    def add_event(
        self, event: _Message, step: int | None = None, walltime: float | None = None
    ) -> None:
        """Write an ``Event`` message, setting its time and step.

        Args:
            event: an ``Event`` of tblog's, tensorboard's, torch's or tensorboardX's
                protos (modified in place, as torch does).
            step: replaces the event's step when given.
            walltime: seconds since the epoch; default now.
        """
        event.wall_time = time.time() if walltime is None else _convert.to_walltime(walltime)
        if step is not None:
            event.step = _convert.to_step(step)
        self.event_writer.add_record(check_event_record(_serialized(event, "event")))

    def add_summary(
        self,
        summary: _Message | bytes,
        global_step: int | None = None,
        walltime: float | None = None,
    ) -> None:
        """Write a ``Summary`` in an event at ``global_step`` (0 when None).

        Args:
            summary: a ``Summary`` message of any package's protos, or its bytes.
            global_step: the event's step.
            walltime: seconds since the epoch; default now.
        """
        data = _serialized(summary, "summary")
        step = 0 if global_step is None else _convert.to_step(global_step)
        wall_time = time.time() if walltime is None else _convert.to_walltime(walltime)
        self.event_writer.add_record(check_event_record(_wire.summary_event(wall_time, step, data)))

    def add_record(self, data: bytes) -> None:
        """Write an already serialized ``Event``.

        Raises:
            TypeError: ``data`` is not bytes.
            ValueError: ``data`` does not parse as an ``Event`` or its
                ``wall_time`` is not finite (either would stop TensorBoard).
        """
        self.event_writer.add_record(check_event_record(data))

    def add_deferred(self, make_record: Callable[[], bytes]) -> None:
        """Write an ``Event`` serialized by ``make_record`` on a worker thread.

        For records whose encoding releases the GIL (PNG, GIF): the caller goes
        on while it runs; records keep their order in the file. What it returns
        is checked as ``add_record`` checks; a failure is raised by the next
        call that writes.
        """
        self.event_writer.add_deferred(lambda: check_event_record(make_record()))

    def write_file(self, relative: str, data: bytes | Iterable[bytes]) -> None:
        """Store a side file (projector data, configs) under the run directory;
        ``data`` may be chunks, streamed to a local file.

        Raises:
            ValueError: ``relative`` would leave the run directory.
        """
        self.event_writer.write_file(relative, data)

    def update_file(self, relative: str, update: Callable[[bytes | None], bytes]) -> None:
        """Replace a side file by ``update(its current bytes, or None)``, under a lock."""
        self.event_writer.update_file(relative, update)

    def flush(self) -> None:
        """Hand every buffered event to the OS (or the object store)."""
        self.event_writer.flush()

    def close(self) -> None:
        """Flush and close the event file; idempotent."""
        self.event_writer.close()

    def reopen(self) -> None:
        """Start a new event file in the same directory after ``close()``."""
        if self.event_writer.closed:
            self.event_writer = open_event_writer(self._log_dir, *self._settings)
