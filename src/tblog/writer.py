"""``SummaryWriter`` and ``FileWriter``: the drop-in facade.

``SummaryWriter`` converts user arguments (``tblog._convert``), builds summaries
(``tblog.summary``) and hands serialized events to a ``FileWriter``, which owns
one event writer (``tblog._storage``). Nothing here encodes data itself except
the scalar hot path, which uses ``tblog._scalar_event``.
"""

from __future__ import annotations

import os
import socket
import time
import warnings
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any, Protocol

from tblog import _convert
from tblog._methods_media import MediaMethods
from tblog._methods_structured import StructuredMethods
from tblog._methods_tensors import TensorMethods
from tblog._scalar_event import ScalarEventEncoder
from tblog._storage import EventWriter, check_event_record, check_name, open_event_writer
from tblog.proto import event_pb2, summary_pb2
from tblog.summary import image as image_summary
from tblog.summary import scalar as scalar_summary

_time = time.time


class _Serializable(Protocol):
    def SerializeToString(self) -> bytes: ...  # noqa: N802 (protobuf's name)


class FileWriter:
    """Writes ``Event`` protos to one event file in ``log_dir`` (torch's API).

    Args:
        log_dir: directory of the run; created if missing.
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
        # A local directory, or a scheme:// URL (s3, gs, az, memory: tblog._storage).
        self.event_writer = open_event_writer(self._log_dir, max_queue, flush_secs, filename_suffix)

    def get_logdir(self) -> str:
        """The run directory this writer writes into."""
        return self._log_dir

    @property
    def closed(self) -> bool:
        return self.event_writer.closed

    def add_event(
        self, event: _Serializable, step: int | None = None, walltime: float | None = None
    ) -> None:
        """Write an ``Event`` (tblog's or tensorboard's), setting its time and step.

        ``walltime`` defaults to now; ``step`` replaces the event's step when given.
        """
        event.wall_time = _time() if walltime is None else _convert.to_walltime(walltime)
        if step is not None:
            event.step = _convert.to_step(step)
        self.event_writer.add_record(event.SerializeToString())

    def add_summary(
        self,
        summary: summary_pb2.Summary,
        global_step: int | None = None,
        walltime: float | None = None,
    ) -> None:
        """Write a ``Summary`` in an event at ``global_step`` (0 when None)."""
        event = event_pb2.Event(summary=summary)
        self.add_event(event, global_step, walltime)

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

        For summaries whose encoding releases the GIL (PNG, GIF): the caller
        goes on while it runs; records keep their order in the file. What it
        returns is checked as ``add_record`` checks; a failure is raised by
        the next call that writes.
        """
        self.event_writer.add_deferred(lambda: check_event_record(make_record()))

    def flush(self) -> None:
        """Hand every buffered event to the OS."""
        self.event_writer.flush()

    def close(self) -> None:
        """Flush and close the event file; idempotent."""
        self.event_writer.close()

    def reopen(self) -> None:
        """Start a new event file in the same directory after ``close()``."""
        if self.event_writer.closed:
            old = self.event_writer
            self.event_writer = open_event_writer(
                self._log_dir, old._max_queue, old._flush_secs, old._suffix
            )


def default_log_dir(comment: str = "") -> str:
    """torch's default: ``runs/{%b%d_%H-%M-%S}_{hostname}{comment}``."""
    stamp = datetime.now().strftime("%b%d_%H-%M-%S")
    return os.path.join("runs", f"{stamp}_{socket.gethostname()}{comment}")


class SummaryWriter(MediaMethods, TensorMethods, StructuredMethods):
    """Writes TensorBoard summaries to event files in ``log_dir``.

    A drop-in replacement for ``torch.utils.tensorboard.SummaryWriter`` (and,
    through the ``logdir=`` spelling, tensorboardX's).

    Args:
        log_dir: the run directory; default ``runs/{date}_{host}{comment}``.
        comment: suffix of the default ``log_dir``; ignored when one is given.
        purge_step: when resuming after a crash at step T, write a
            ``SessionLog.START`` at T so TensorBoard hides the stale steps >= T.
        max_queue: events buffered before they are written to the OS.
        flush_secs: at most this many seconds before buffered events are written.
        filename_suffix: appended to every event file name.
        logdir: tensorboardX's name for ``log_dir``.
        auto_step: what a call with ``global_step=None`` writes. True (the
            default): the next step of that tag (0, 1, 2, ... per tag), so every
            point shows in both TensorBoard loaders. False: step 0, as torch
            does; the default (Rust) loader then keeps only the last point.
        png_compression: zlib level (0-9) of the PNGs of ``add_image`` and
            friends; lossless either way. Default 1 (fast); 9 is smallest.
        rank: multi-process training (docs/distributed.md): this process's
            rank, or ``"auto"`` (torch.distributed, else ``$RANK``, else 0).
            Only rank 0 writes; other ranks get a ``NullSummaryWriter`` whose
            methods do nothing. None (default): no rank handling.
        per_rank: with ``rank``: every rank writes ``{log_dir}/rank{r}`` instead.
        write_to_disk: tensorboardX's switch. False gives a writer that writes
            nothing (a ``NullSummaryWriter``: its methods return at once,
            without even checking their arguments).
        comet_config: tensorboardX's Comet settings. Only the default (Comet
            disabled) is supported; anything else is ignored with a warning.

    ``log_dir`` may be a ``s3://``, ``gs://``, ``az://`` (or other fsspec) URL:
    see docs/remote.md.
    """

    def __init__(
        self,
        log_dir: str | os.PathLike[str] | None = None,
        comment: str = "",
        purge_step: int | None = None,
        max_queue: int = 10,
        flush_secs: float = 120,
        filename_suffix: str = "",
        *,
        logdir: str | os.PathLike[str] | None = None,
        auto_step: bool = True,
        png_compression: int = image_summary.DEFAULT_PNG_COMPRESSION,
        rank: int | str | None = None,
        per_rank: bool = False,
        write_to_disk: bool = True,
        comet_config: Mapping[str, Any] | None = None,
    ) -> None:
        if log_dir is None:
            log_dir = logdir
        if log_dir is None:
            log_dir = default_log_dir(comment)
        if comet_config is not None and not comet_config.get("disabled", True):
            warnings.warn(
                "SummaryWriter(comet_config=...): tblog does not log to Comet; "
                "only the TensorBoard event files are written",
                stacklevel=2,
            )
        if not write_to_disk:  # tensorboardX's writer that writes nothing
            from tblog._distributed import become_null

            become_null(self, os.fspath(log_dir))
            return
        if rank is not None or per_rank:  # multi-process training: tblog._distributed
            from tblog._distributed import rank_log_dir

            log_dir = rank_log_dir(self, os.fspath(log_dir), rank, per_rank)
            if log_dir is None:  # a rank that does not log: self is a NullSummaryWriter now
                return
        self.log_dir = os.fspath(log_dir)
        self.purge_step = None if purge_step is None else _convert.to_step(purge_step, "purge_step")
        self._max_queue = max_queue
        self._flush_secs = flush_secs
        self._filename_suffix = filename_suffix
        self._auto_step = bool(auto_step)
        self._png_compression = image_summary.check_png_compression(png_compression)
        self._next_auto_step: dict[str, int] = {}
        self._scalar_encoder = ScalarEventEncoder()
        self.file_writer: FileWriter | None = None
        self.all_writers: dict[str, FileWriter] | None = None
        self._event_writer: EventWriter | None = None  # file_writer's, for add_scalar
        self._get_file_writer()

    @property
    def logdir(self) -> str:
        """tensorboardX's name for ``log_dir``."""
        return self.log_dir

    def get_logdir(self) -> str:
        """The run directory this writer writes into."""
        return self.log_dir

    def _get_file_writer(self) -> FileWriter:
        """The main run's FileWriter, (re)created after ``close()`` like torch's."""
        writer = self.file_writer
        if writer is None or writer.closed:
            writer = FileWriter(
                self.log_dir, self._max_queue, self._flush_secs, self._filename_suffix
            )
            self.file_writer = writer
            self._event_writer = writer.event_writer
            self.all_writers = {self.log_dir: writer}
            if self.purge_step is not None:
                step, self.purge_step = self.purge_step, None
                writer.add_event(event_pb2.Event(step=step, file_version="brain.Event:2"))
                start = event_pb2.SessionLog(status=event_pb2.SessionLog.START)
                # TensorBoard's Python loader takes the first START of a run as
                # the session's beginning and purges only on later ones; torch's
                # single START therefore purges nothing there. A second START
                # purges in every case (the Rust loader drops the stale steps by
                # its own step rule).
                writer.add_event(event_pb2.Event(step=step, session_log=start))
                writer.add_event(event_pb2.Event(step=step, session_log=start))
        return writer

    def _step(self, tag: str, global_step: Any) -> int:
        if global_step is not None:
            return _convert.to_step(global_step)
        if not self._auto_step:
            return 0
        step = self._next_auto_step.get(tag, 0)
        self._next_auto_step[tag] = step + 1
        return step

    def _write_summary(
        self, summary: summary_pb2.Summary, step: int, walltime: float | None
    ) -> None:
        """Write one summary event to the main run (the kinds' common exit)."""
        wall_time = _time() if walltime is None else _convert.to_walltime(walltime)
        event = event_pb2.Event(wall_time=wall_time, step=step, summary=summary)
        self._get_file_writer().event_writer.add_record(event.SerializeToString())

    # -- scalars --------------------------------------------------------------

    def add_scalar(
        self,
        tag: str,
        scalar_value: Any,
        global_step: int | None = None,
        walltime: float | None = None,
        new_style: bool = False,
        double_precision: bool = False,
    ) -> None:
        """Log one scalar.

        Args:
            tag: series name, e.g. ``"loss/train"``.
            scalar_value: a Python number or bool, numpy scalar, or one-element
                numpy array, torch tensor (any device) or JAX array.
            global_step: the x value; see ``auto_step`` for None.
            walltime: seconds since the epoch; default now.
            new_style: write a DT_FLOAT tensor with ``scalars`` metadata instead
                of ``simple_value``.
            double_precision: accepted for torch compatibility. TensorBoard's
                default (Rust) loader drops DT_DOUBLE scalars entirely, so the
                value is written as float32 like every other scalar (as
                ``new_style``), which both loaders show.

        Raises:
            TypeError: ``tag`` is not a str or the value is not a number.
            ValueError: the value has more than one element.
        """
        # The hot path: plain types are checked inline, the rest goes to _convert.
        if type(tag) is not str:
            raise TypeError(f"tag must be a str, got {type(tag).__name__}")
        if type(scalar_value) is not float:
            with _convert.naming_errors("add_scalar", tag):
                scalar_value = _convert.to_float(scalar_value, "scalar_value")
        if type(global_step) is not int or not 0 <= global_step < 2**63:
            global_step = self._step(tag, global_step)
        wall_time = _time() if walltime is None else _convert.to_walltime(walltime)
        event_writer = self._event_writer
        if event_writer is None or event_writer._closed:
            event_writer = self._get_file_writer().event_writer
        try:
            if new_style or double_precision:
                summary = scalar_summary.scalar(tag, scalar_value, new_style=True)
                event = event_pb2.Event(wall_time=wall_time, step=global_step, summary=summary)
                event_writer.add_record(event.SerializeToString())
            else:
                event_writer.add_record(
                    self._scalar_encoder.encode(tag, scalar_value, global_step, wall_time)
                )
        except UnicodeEncodeError:  # a lone surrogate: see docs/reliability.md
            _convert.to_text(tag, "tag")
            raise

    def add_scalars(
        self,
        main_tag: str,
        tag_scalar_dict: Mapping[str, Any],
        global_step: int | None = None,
        walltime: float | None = None,
        *,
        same_run: bool = False,
    ) -> None:
        """Log several scalars at one step.

        By default each key becomes a run of its own, laid out as torch does:
        ``{log_dir}/{main_tag with "/" -> "_"}_{key}``, each series tagged
        ``main_tag``, so TensorBoard draws them on one chart. With
        ``same_run=True`` they stay in this writer's run as tags
        ``{main_tag}/{key}`` (no extra runs in the run selector).

        Raises:
            TypeError: a key is not a str or a value is not a number.
            ValueError: a key would name a directory outside ``log_dir``.
        """
        if type(main_tag) is not str:
            raise TypeError(f"main_tag must be a str, got {type(main_tag).__name__}")
        if not isinstance(tag_scalar_dict, Mapping):
            raise TypeError(
                f"tag_scalar_dict must be a mapping of str to number, "
                f"got {type(tag_scalar_dict).__name__}"
            )
        # Convert everything first: a bad value must not leave half the keys logged.
        values = {}
        for key, value in tag_scalar_dict.items():
            if type(key) is not str:
                raise TypeError(f"add_scalars({main_tag!r}): keys must be str, got {key!r}")
            with _convert.naming_errors("add_scalars", main_tag):
                values[key] = _convert.to_float(value, f"tag_scalar_dict[{key!r}]")
        wall_time = _time() if walltime is None else _convert.to_walltime(walltime)
        # Names too are checked before anything is written.
        _convert.to_text(main_tag, "main_tag")
        if same_run:
            for key in values:
                _convert.to_text(key, f"add_scalars({main_tag!r}): key")
            for key, value in values.items():
                self.add_scalar(f"{main_tag}/{key}", value, global_step, wall_time)
            return
        prefix = main_tag.replace("/", "_")
        runs = {
            key: check_name(f"{prefix}_{key}", f"add_scalars({main_tag!r}): key {key!r} gives run")
            for key in values
        }
        step = self._step(main_tag, global_step)
        self._get_file_writer()
        for key, value in values.items():
            run_dir = os.path.join(self.log_dir, runs[key])
            writer = self.all_writers.get(run_dir)
            if writer is None or writer.closed:
                writer = FileWriter(
                    run_dir, self._max_queue, self._flush_secs, self._filename_suffix
                )
                self.all_writers[run_dir] = writer
            writer.event_writer.add_record(
                self._scalar_encoder.encode(main_tag, value, step, wall_time)
            )

    # -- lifecycle ------------------------------------------------------------

    def flush(self) -> None:
        """Hand every buffered event of every run of this writer to the OS."""
        for writer in (self.all_writers or {}).values():
            writer.flush()

    def close(self) -> None:
        """Flush and close all event files; idempotent. Logging again reopens."""
        writers, self.all_writers, self.file_writer = self.all_writers, None, None
        self._event_writer = None
        errors = []
        for writer in (writers or {}).values():
            try:
                writer.close()
            except OSError as exc:
                errors.append(exc)
        if errors:
            raise errors[0]

    def __enter__(self) -> SummaryWriter:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def __getstate__(self) -> dict[str, Any]:
        """Pickle the settings, not the open files (e.g. for spawned workers).

        The unpickled writer writes to the same ``log_dir`` through an event
        file of its own, opened by its first write (so unpickling alone, say of
        a checkpoint holding a writer, creates no file). Records this writer
        buffered stay with it.
        """
        state = self.__dict__.copy()
        state.update(file_writer=None, all_writers=None, _event_writer=None)
        return state
