"""``SummaryWriter``: the drop-in facade. Every public method is here, each a short
body that converts its arguments (``tblog._convert``), calls its kind's builder
(``tblog.summary.<kind>``, serialized ``Summary`` bytes out) and hands the
result to ``_emit``, the one way into the event files. ``add_scalar`` and
``add_scalars`` are the documented exception: the hot path encodes whole events
itself (``tblog._scalar_event``). See docs/design.md.
"""

from __future__ import annotations

import os
import socket
import sys
import time
import warnings
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any

import numpy as np

from tblog import _convert, _ranks, _wire
from tblog import _structured_args as _args
from tblog._device_scalars import DEFAULT_BATCH, DeviceScalarBatch
from tblog._file_writer import FileWriter
from tblog._optional import require
from tblog._storage import check_name
from tblog.summary import audio as audio_summary
from tblog.summary import custom_scalars as custom_scalars_summary
from tblog.summary import graph as graph_summary
from tblog.summary import histogram as histogram_summary
from tblog.summary import image as image_summary
from tblog.summary import mesh as mesh_summary
from tblog.summary import pr_curve as pr_curve_summary
from tblog.summary import scalar as scalar_summary
from tblog.summary import tensor as tensor_summary
from tblog.summary import text as text_summary
from tblog.summary import video as video_summary

__all__ = ["FileWriter", "NullSummaryWriter", "SummaryWriter", "default_log_dir"]

_time = time.time
_SESSION_START = b"\x08\x01"  # SessionLog{status: START}


def default_log_dir(comment: str = "") -> str:
    """torch's default: ``runs/{%b%d_%H-%M-%S}_{hostname}{comment}``."""
    stamp = datetime.now().strftime("%b%d_%H-%M-%S")
    return os.path.join("runs", f"{stamp}_{socket.gethostname()}{comment}")


class SummaryWriter:
    """Writes TensorBoard summaries to event files in ``log_dir``.

    A drop-in replacement for ``torch.utils.tensorboard.SummaryWriter`` (and,
    through the ``logdir=`` spelling, tensorboardX's). ``log_dir`` may be an
    ``s3://``, ``gs://``, ``az://`` (or other fsspec) URL: docs/remote.md.

    Args:
        log_dir: the run directory; default ``runs/{date}_{host}{comment}``.
        comment: suffix of the default ``log_dir``; ignored when one is given.
        purge_step: when resuming after a crash at step T, write a
            ``SessionLog.START`` at T so TensorBoard hides the stale steps >= T.
        max_queue: events buffered before they are written to the OS.
        flush_secs: at most this many seconds before buffered events are written.
        filename_suffix: appended to every event file name.
        logdir: tensorboardX's name for ``log_dir``.
        auto_step: what ``global_step=None`` writes. True (default): the tag's
            next step (0, 1, 2, ...), so every point shows in both TensorBoard
            loaders. False: step 0, as torch; the Rust loader then keeps one point.
        png_compression: zlib level (0-9) of images' PNGs; lossless either way.
        rank: multi-process training (docs/distributed.md): this process's rank,
            or ``"auto"``. Only rank 0 writes; other ranks get a
            ``NullSummaryWriter``. None (default): no rank handling.
        per_rank: with ``rank``: every rank writes ``{log_dir}/rank{r}`` instead.
        write_to_disk: tensorboardX's switch; False gives a ``NullSummaryWriter``.
        comet_config: tensorboardX's Comet settings; only "disabled" is supported.
        device_scalar_batch: ``add_scalar`` of a one-element CUDA/MPS tensor keeps
            it on the device and copies up to this many to the host in one
            transfer, instead of one device synchronisation per call
            (``tblog._device_scalars``). 1 copies each value at once, as torch.
    """

    def __new__(cls, *args: Any, **kwargs: Any) -> SummaryWriter:
        # A rank that does not log (or write_to_disk=False) gets the null writer.
        if cls is SummaryWriter and not kwargs.get("write_to_disk", True):
            return super().__new__(NullSummaryWriter)
        rank, per_rank = kwargs.get("rank"), kwargs.get("per_rank", False)
        if cls is SummaryWriter and rank is not None and per_rank is False:
            if _ranks.resolve_rank(rank) != 0:
                return super().__new__(NullSummaryWriter)
        return super().__new__(cls)

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
        device_scalar_batch: int = DEFAULT_BATCH,
    ) -> None:
        if isinstance(device_scalar_batch, bool) or not isinstance(device_scalar_batch, int):
            raise TypeError(f"device_scalar_batch must be an int, got {device_scalar_batch!r}")
        if device_scalar_batch < 1:
            raise ValueError(f"device_scalar_batch must be at least 1, got {device_scalar_batch}")
        log_dir = log_dir if log_dir is not None else logdir
        log_dir = os.fspath(log_dir) if log_dir is not None else default_log_dir(comment)
        if comet_config is not None and not comet_config.get("disabled", True):
            warnings.warn(
                "SummaryWriter(comet_config=...): tblog does not log to Comet; "
                "only the TensorBoard event files are written",
                stacklevel=2,
            )
        if rank is not None or per_rank:
            log_dir = _ranks.rank_log_dir(log_dir, rank, per_rank) or log_dir
        self.log_dir: str = log_dir
        self.purge_step = None if purge_step is None else _convert.to_step(purge_step, "purge_step")
        self._settings = (max_queue, flush_secs, filename_suffix)
        self._auto_step = bool(auto_step)
        self._png_compression = image_summary.check_png_compression(png_compression)
        self._next_auto_step: dict[str, int] = {}
        self._scalar_tags: set[str] = set()  # tags known to encode (add_scalar checks once)
        self._text_encoder = text_summary.TextEncoder()
        self._custom_scalars_layout = custom_scalars_summary.layout_proto({})
        self._hparams = _args.HParamsRecord()
        self.file_writer: FileWriter | None = None
        self.all_writers: dict[str, FileWriter] = {}
        self._main_events: Any = None  # file_writer's event writer, for add_scalar
        self._scalars_runs: dict[str, dict[str, Any]] = {}  # add_scalars: main_tag -> key -> events
        self._get_file_writer()  # checks max_queue, flush_secs, filename_suffix
        self._device_scalars = DeviceScalarBatch(
            device_scalar_batch, float(flush_secs), self._write_device_scalars
        )

    @property
    def logdir(self) -> str:
        """tensorboardX's name for ``log_dir``."""
        return self.log_dir

    def get_logdir(self) -> str:
        """The run directory this writer writes into."""
        return self.log_dir

    # -- the one write path -------------------------------------------------------

    def _get_file_writer(self) -> FileWriter:
        """The main run's FileWriter, (re)created after ``close()`` like torch's."""
        writer = self.file_writer
        if writer is None or writer.closed:
            writer = self._run_writer(None)
        return writer

    def _run_writer(self, run: str | None) -> FileWriter:
        """The FileWriter of the main run (None) or of the sub-run ``run`` (a
        relative, already checked directory), created on first use or after close."""
        run_dir = self.log_dir if run is None else os.path.join(self.log_dir, run)
        writer = self.all_writers.get(run_dir)
        if writer is not None and not writer.closed:
            return writer
        writer = self.all_writers[run_dir] = FileWriter(run_dir, *self._settings)
        if run is None:
            self.file_writer, self._main_events = writer, writer.event_writer
            if self.purge_step is not None:
                self._write_purge(writer, self.purge_step)
                self.purge_step = None
        return writer

    @staticmethod
    def _write_purge(writer: FileWriter, step: int) -> None:
        # TensorBoard's Python loader takes the first START of a run as the
        # session's beginning and purges only on later ones, so torch's single
        # START purges nothing there; a second one purges in both loaders.
        now = _time()
        events = writer.event_writer
        events.add_record(_wire.event(now, step, _wire.FILE_VERSION_KEY, b"brain.Event:2"))
        for _ in range(2):
            events.add_record(_wire.event(now, step, _wire.SESSION_LOG_KEY, _SESSION_START))

    def _step(self, tag: str, global_step: Any) -> int:
        if global_step is not None:
            return _convert.to_step(global_step)
        if not self._auto_step:
            return 0
        step = self._next_auto_step.get(tag, 0)
        self._next_auto_step[tag] = step + 1
        return step

    def _emit(
        self,
        method: str,
        tag: str,
        payload: bytes | Callable[[], bytes],
        global_step: Any,
        walltime: Any,
        *,
        step_key: str | None = None,
        run: str | None = None,
        key: int = _wire.SUMMARY_KEY,
    ) -> None:
        """Write one event: the exit of every ``add_*`` method but the scalar ones.

        Resolves the step (``global_step``, else the next auto step of
        ``step_key or tag``) and the wall time, picks the run (main or sub-run)
        and writes ``payload`` (a serialized ``Summary``, or another Event
        field given by ``key``) at once, or, when it is a callable, builds it on
        the worker pool (PNG/GIF encodes release the GIL) keeping its place.
        Device scalars still waiting for their batched copy are written first.
        """
        if self._device_scalars.pending:
            self._device_scalars.drain()
        if walltime is None and type(global_step) is int and 0 <= global_step < 1 << 63:
            wall_time, step = _time(), global_step  # the common case, without the checks
        else:
            with _convert.naming_errors(method, tag):
                wall_time = _time() if walltime is None else _convert.to_walltime(walltime)
                step = self._step(tag if step_key is None else step_key, global_step)
        events = self._main_events if run is None else None
        if events is None or events.closed:
            events = self._run_writer(run).event_writer
        if callable(payload):
            build = payload
            events.add_deferred(lambda: _wire.event(wall_time, step, key, build()))
        else:
            events.add_record(_wire.event(wall_time, step, key, payload))

    # -- scalars (the hot path) ---------------------------------------------------

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
            new_style: write a DT_FLOAT tensor with ``scalars`` metadata.
            double_precision: accepted for torch; written as float32 like
                ``new_style``, because TensorBoard's Rust loader drops DT_DOUBLE.

        Raises:
            TypeError: ``tag`` is not a str or the value is not a number.
            ValueError: the value has more than one element.
        """
        # Plain types are checked inline, the rest goes to _convert.
        if type(tag) is not str:
            raise TypeError(f"tag must be a str, got {type(tag).__name__}")
        if type(scalar_value) is not float:
            if _convert.on_accelerator(scalar_value) and not (new_style or double_precision):
                if self._device_scalars.batch > 1:
                    self._add_device_scalar(tag, scalar_value, global_step, walltime)
                    return
            try:
                scalar_value = _convert.to_float(scalar_value, "scalar_value")
            except (TypeError, ValueError):  # again, to name the call and tag
                with _convert.naming_errors("add_scalar", tag):
                    _convert.to_float(scalar_value, "scalar_value")
                raise
        if self._device_scalars.pending:  # earlier device values go first
            self._device_scalars.drain()
        if new_style or double_precision:
            summary = scalar_summary.summary(tag, scalar_value, new_style=True)
            self._emit("add_scalar", tag, summary, global_step, walltime)
            return
        if type(global_step) is not int or not 0 <= global_step < 2**63:
            global_step = self._step(tag, global_step)
        wall_time = _time() if walltime is None else _convert.to_walltime(walltime)
        if tag not in self._scalar_tags:  # checked once: encoding happens later
            self._check_scalar_tag(tag)
        events = self._main_events
        if events is None:
            events = self._get_file_writer().event_writer
        try:
            events.add_scalar(tag, scalar_value, global_step, wall_time)
        except ValueError:  # closed outside this writer (file_writer.close(), exit): reopen
            if not events.closed:
                raise
            self._get_file_writer().event_writer.add_scalar(
                tag, scalar_value, global_step, wall_time
            )

    def _check_scalar_tag(self, tag: str) -> None:
        """Remember ``tag`` as a valid scalar tag once it encodes as UTF-8."""
        _convert.to_text(tag, "tag")  # a lone surrogate: see docs/reliability.md
        if len(self._scalar_tags) >= 100_000:
            self._scalar_tags.clear()
        self._scalar_tags.add(tag)

    def _add_device_scalar(self, tag: str, tensor: Any, global_step: Any, walltime: Any) -> None:
        """Keep a device tensor for a batched copy (``tblog._device_scalars``)."""
        with _convert.naming_errors("add_scalar", tag):
            if tensor.numel() != 1:
                raise ValueError(
                    f"scalar_value must have exactly one element, got a tensor of shape "
                    f"{tuple(tensor.shape)}"
                )
            if tensor.is_complex():
                raise TypeError("scalar_value must be real, got a complex tensor")
            _convert.to_text(tag, "tag")
            wall_time = _time() if walltime is None else _convert.to_walltime(walltime)
            step = self._step(tag, global_step)
        self._device_scalars.add(tag, tensor, step, wall_time)

    def _write_device_scalars(self, values: list[tuple[str, float, int, float]]) -> None:
        events = self._get_file_writer().event_writer
        for tag, value, step, wall_time in values:
            events.add_scalar(tag, value, step, wall_time)

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

        By default each key becomes a run of its own, as torch lays it out:
        ``{log_dir}/{main_tag with "/" -> "_"}_{key}``, each series tagged
        ``main_tag``, so TensorBoard draws them on one chart. ``same_run=True``
        keeps them in this run as ``{main_tag}/{key}`` (no extra runs).

        Raises:
            TypeError: a key is not a str or a value is not a number.
            ValueError: a key would name a directory outside ``log_dir``.
        """
        if self._device_scalars.pending:  # earlier device values go first
            self._device_scalars.drain()
        if type(main_tag) is not str:
            raise TypeError(f"main_tag must be a str, got {type(main_tag).__name__}")
        if not isinstance(tag_scalar_dict, Mapping):
            raise TypeError(
                f"tag_scalar_dict must be a mapping of str to number, "
                f"got {type(tag_scalar_dict).__name__}"
            )
        # Everything is converted and checked first: no half-logged dict.
        values = {}
        for key, value in tag_scalar_dict.items():
            if type(key) is not str:
                raise TypeError(f"add_scalars({main_tag!r}): keys must be str, got {key!r}")
            if type(value) is not float:
                with _convert.naming_errors("add_scalars", main_tag):
                    value = _convert.to_float(value, f"tag_scalar_dict[{key!r}]")
            values[key] = value
        wall_time = _time() if walltime is None else _convert.to_walltime(walltime)
        if same_run:
            _convert.to_text(main_tag, "main_tag")
            for key in values:
                _convert.to_text(key, f"add_scalars({main_tag!r}): key")
            for key, value in values.items():
                self.add_scalar(f"{main_tag}/{key}", value, global_step, wall_time)
            return
        if type(global_step) is int and 0 <= global_step < 2**63:
            step = global_step
        else:
            step = self._step(main_tag, global_step)
        # Each key's event writer, looked up (and its run name checked) once per
        # main_tag and key; a closed one is looked up again.
        runs = self._scalars_runs.setdefault(main_tag, {})
        if not values.keys() <= runs.keys():
            runs.update(self._scalars_run_writers(main_tag, values))
        for key, value in values.items():
            try:
                runs[key].add_scalar(main_tag, value, step, wall_time)
            except ValueError:  # its run was closed (close(), exit): reopen it
                if not runs[key].closed:
                    raise
                runs.update(self._scalars_run_writers(main_tag, [key]))
                runs[key].add_scalar(main_tag, value, step, wall_time)

    def _scalars_run_writers(self, main_tag: str, keys: Iterable[str]) -> dict[str, Any]:
        """The event writers of ``add_scalars``'s runs for ``main_tag`` and ``keys``."""
        _convert.to_text(main_tag, "main_tag")
        prefix = main_tag.replace("/", "_")
        runs = {
            key: check_name(f"{prefix}_{key}", f"add_scalars({main_tag!r}): key {key!r} gives run")
            for key in keys
        }
        self._get_file_writer()
        return {key: self._run_writer(run).event_writer for key, run in runs.items()}

    # -- histograms ---------------------------------------------------------------

    def add_histogram(
        self,
        tag: str,
        values: Any,
        global_step: int | None = None,
        bins: Any = "tensorflow",
        walltime: float | None = None,
        max_bins: int | None = None,
    ) -> None:
        """Log a histogram of ``values`` (the Histograms and Distributions dashboards).

        Written as torch writes it; with the default bins TensorBoard serves the
        same buckets for the same values. GPU tensors are bucketed on their
        device; only the counts are copied to the host.

        Args:
            tag: series name.
            values: numbers of any shape (numpy, torch on any device, JAX, list).
            global_step: the x value; see ``SummaryWriter(auto_step=...)``.
            bins: ``"tensorflow"`` (TensorBoard's 1549 exponential edges) or an
                ``np.histogram`` bins value: ``"auto"``, ``"fd"``, a count, edges.
            walltime: seconds since the epoch; default now.
            max_bins: merge neighbouring buckets (torch's rule) to about this many.

        Raises:
            TypeError: ``tag`` is not a str or ``values`` are not real numbers.
            ValueError: no values, NaN or infinity (TensorBoard cannot draw
                them), every value outside ``bins``, bad ``bins``/``max_bins``,
                or more than 100,000 buckets (docs/reliability.md).
        """
        with _convert.naming_errors("add_histogram", tag):
            tag = _convert.to_text(tag, "tag")
            if isinstance(bins, str) and bins == "tensorflow" and _convert.on_accelerator(values):
                if values.numel() == 0:
                    raise ValueError("values is empty; a histogram needs at least one value")
                stats = histogram_summary.torch_stats(values)
                histo = histogram_summary.histogram_from_stats(*stats, max_bins=max_bins)
            else:
                array = _convert.to_numpy(values, "values")
                default_bins = isinstance(bins, str) and bins == "tensorflow"
                build = histogram_summary.counted_later(array, max_bins) if default_bins else None
                if build is not None:  # counted on the worker pool, in its place
                    self._emit("add_histogram", tag,
                               lambda: histogram_summary.summary(tag, build()),
                               global_step, walltime)
                    return
                histo = histogram_summary.histogram_proto_bytes(array, bins, max_bins)
        summary = histogram_summary.summary(tag, histo)
        self._emit("add_histogram", tag, summary, global_step, walltime)

    def add_histogram_raw(
        self,
        tag: str,
        min: float,  # noqa: A002 - torch's argument names
        max: float,  # noqa: A002
        num: float,
        sum: float,  # noqa: A002
        sum_squares: float,
        bucket_limits: Any,
        bucket_counts: Any,
        global_step: int | None = None,
        walltime: float | None = None,
    ) -> None:
        """Log a histogram given by its statistics and buckets.

        Args:
            tag: series name.
            min: the smallest value.
            max: the largest value.
            num: how many values.
            sum: their sum.
            sum_squares: the sum of their squares.
            bucket_limits: right edge of each bucket (non-decreasing).
            bucket_counts: values in each bucket; the same length.
            global_step: the x value; see ``SummaryWriter(auto_step=...)``.
            walltime: seconds since the epoch; default now.

        Raises:
            TypeError: a non-numeric argument.
            ValueError: lengths differ, no buckets, decreasing limits, negative counts.
        """
        with _convert.naming_errors("add_histogram_raw", tag):
            tag = _convert.to_text(tag, "tag")
            stats = [
                _convert.to_float(value, name)
                for value, name in ((min, "min"), (max, "max"), (num, "num"), (sum, "sum"),
                                    (sum_squares, "sum_squares"))
            ]
            histo = histogram_summary.raw_histogram_bytes(
                *stats,
                _convert.to_real_array(bucket_limits, "bucket_limits").reshape(-1),
                _convert.to_real_array(bucket_counts, "bucket_counts").reshape(-1),
            )
        summary = histogram_summary.summary(tag, histo)
        self._emit("add_histogram_raw", tag, summary, global_step, walltime)

    # -- images, figures, video, audio ---------------------------------------------
    #
    # Pixels are validated and copied to owned uint8 arrays on the caller's
    # thread (bad input raises here; later changes to the user's tensor cannot
    # leak into the file); PNG/GIF encoding runs on the worker pool.

    def _emit_png(
        self, method: str, tag: str, pixels: np.ndarray, global_step: Any, walltime: Any
    ) -> None:
        level = self._png_compression
        build = lambda: image_summary.summary(tag, pixels, png_compression=level)  # noqa: E731
        self._emit(method, tag, build, global_step, walltime)

    def add_image(
        self,
        tag: str,
        img_tensor: Any,
        global_step: int | None = None,
        walltime: float | None = None,
        dataformats: str = "CHW",
    ) -> None:
        """Log one image as a PNG.

        Args:
            tag: series name.
            img_tensor: numpy, torch (any device), JAX or list. uint8 is 0-255;
                other dtypes 0-1, scaled by 255 and clipped (as torch; NaN -> 0).
                1 channel shows as gray, 3 as RGB, 4 as RGBA.
            global_step: the step; see ``SummaryWriter(auto_step=...)`` for None.
            walltime: seconds since the epoch; default now.
            dataformats: axis order: a permutation of ``CHW``, ``HW`` or (a
                batch, tiled 8 per row) ``NCHW``; case-insensitive.

        Raises:
            TypeError: bad tag, dtype or argument types.
            ValueError: empty, unknown dataformats or rank, channels not 1, 3 or 4.
        """
        with _convert.naming_errors("add_image", tag):
            _convert.to_text(tag, "tag")
            array = _convert.to_numpy(img_tensor, "img_tensor")
            pixels = image_summary.prepare_image(array, dataformats)
        self._emit_png("add_image", tag, pixels, global_step, walltime)

    def add_images(
        self,
        tag: str,
        img_tensor: Any,
        global_step: int | None = None,
        walltime: float | None = None,
        dataformats: str = "NCHW",
    ) -> None:
        """Log a batch of images as one grid PNG, 8 per row, zero-filled (torch's layout).

        Args:
            tag: series name.
            img_tensor: a batch (``NCHW``, ``NHWC``, ...) or, as tensorboardX, a
                list of same-shaped images in ``dataformats`` without ``N``.
            global_step: the step; see ``SummaryWriter(auto_step=...)`` for None.
            walltime: seconds since the epoch; default now.
            dataformats: axis order, case-insensitive.

        Raises:
            TypeError, ValueError: as ``add_image``; also list items of different shapes.
        """
        with _convert.naming_errors("add_images", tag):
            _convert.to_text(tag, "tag")
            if (
                isinstance(img_tensor, (list, tuple))
                and img_tensor
                and not isinstance(img_tensor[0], (int, float, list, tuple))
            ):
                images = [_convert.to_numpy(item, f"img_tensor[{index}]")
                          for index, item in enumerate(img_tensor)]
                pixels = image_summary.prepare_images(images, dataformats)
            else:
                array = _convert.to_numpy(img_tensor, "img_tensor")
                pixels = image_summary.prepare_image(array, dataformats)
        self._emit_png("add_images", tag, pixels, global_step, walltime)

    def add_image_with_boxes(
        self,
        tag: str,
        img_tensor: Any,
        box_tensor: Any,
        global_step: int | None = None,
        walltime: float | None = None,
        rescale: float = 1,
        dataformats: str = "CHW",
        labels: str | Sequence[str] | None = None,
    ) -> None:
        """Log an image with red bounding boxes (and labels) drawn on it. Needs Pillow.

        Args:
            tag: series name.
            img_tensor: one image, as in ``add_image``.
            box_tensor: ``[N, 4]`` boxes ``(x1, y1, x2, y2)`` in pixels.
            global_step: the step; see ``SummaryWriter(auto_step=...)`` for None.
            walltime: seconds since the epoch; default now.
            rescale: resize factor (Lanczos) applied after drawing.
            dataformats: axis order of ``img_tensor``.
            labels: one label per box (a single str for a single box).

        Raises:
            TypeError, ValueError: as ``add_image``; boxes not ``[N, 4]`` or not
                finite; a label count other than N; a bad or too large ``rescale``.
            ImportError: Pillow is not installed.
        """
        require("PIL", "add_image_with_boxes", "pillow")
        with _convert.naming_errors("add_image_with_boxes", tag):
            _convert.to_text(tag, "tag")
            array = _convert.to_numpy(img_tensor, "img_tensor")
            pixels = image_summary.prepare_image(array, dataformats, batch=False)
            boxes = _convert.to_numpy(box_tensor, "box_tensor")
            boxes, labels = image_summary.check_boxes(boxes, labels)
            height, width = image_summary.check_rescale(rescale, *pixels.shape[:2])
            pixels = image_summary.draw_boxes(pixels, boxes, labels)
            pixels = image_summary.resize(pixels, height, width)
        self._emit_png("add_image_with_boxes", tag, pixels, global_step, walltime)

    def add_figure(
        self,
        tag: str,
        figure: Any,
        global_step: int | None = None,
        close: bool = True,
        walltime: float | None = None,
    ) -> None:
        """Log a matplotlib figure (or a list, tiled like ``add_images``) as a PNG.

        Rendered with the Agg canvas at the figure's dpi, alpha dropped (as torch).

        Args:
            tag: series name.
            figure: a ``matplotlib.figure.Figure`` or a list of them.
            global_step: the step; see ``SummaryWriter(auto_step=...)`` for None.
            close: close the figure(s) with ``pyplot.close`` afterwards.
            walltime: seconds since the epoch; default now.

        Raises:
            TypeError: not a Figure (or list of them).
            ValueError: an empty list.
            ImportError: matplotlib is not installed.
        """
        require("matplotlib", "add_figure", "matplotlib")
        many = isinstance(figure, (list, tuple))
        figures = list(figure) if many else [figure]
        with _convert.naming_errors("add_figure", tag):
            _convert.to_text(tag, "tag")
            if not figures:
                raise ValueError("figure is an empty list")
            images = [image_summary.figure_pixels(item) for item in figures]
        pixels = image_summary.figures_grid(images) if many else images[0]
        pyplot = sys.modules.get("matplotlib.pyplot")  # figures made without it need no closing
        if close and pyplot is not None:
            for item in figures:
                pyplot.close(item)
        self._emit_png("add_figure", tag, pixels, global_step, walltime)

    def add_video(
        self,
        tag: str,
        vid_tensor: Any,
        global_step: int | None = None,
        fps: float = 4,
        walltime: float | None = None,
        *,
        dataformats: str = "NTCHW",
    ) -> None:
        """Log clips as one animated GIF (shown by the images plugin). Needs Pillow.

        Args:
            tag: series name.
            vid_tensor: ``(N, T, C, H, W)``: N clips of T frames, C 1 or 3; scaled
                as ``add_image``; the clips are tiled into a grid per frame.
            global_step: the step; see ``SummaryWriter(auto_step=...)`` for None.
            fps: frames per second (GIF delays are whole 1/100 s).
            walltime: seconds since the epoch; default now.
            dataformats: tensorboardX's axis order, a permutation of ``NTCHW``.

        Raises:
            TypeError: bad tag, dtype or argument types.
            ValueError: not 5-D, empty, channels not 1 or 3, ``fps`` not positive.
            ImportError: Pillow is not installed.
        """
        require("PIL", "add_video", "pillow")
        with _convert.naming_errors("add_video", tag):
            _convert.to_text(tag, "tag")
            fps = video_summary.check_fps(fps)
            frames = video_summary.prepare_video(
                _convert.to_numpy(vid_tensor, "vid_tensor"), dataformats
            )
        build = lambda: video_summary.summary(tag, frames, fps)  # noqa: E731
        self._emit("add_video", tag, build, global_step, walltime)

    def add_audio(
        self,
        tag: str,
        snd_tensor: Any,
        global_step: int | None = None,
        sample_rate: float = 44100,
        walltime: float | None = None,
    ) -> None:
        """Log a clip as 16-bit PCM WAV (mono or stereo).

        Args:
            tag: series name.
            snd_tensor: samples in [-1, 1]: mono ``(L,)``, ``(L, 1)`` or
                ``(1, L)``; stereo ``(L, 2)``. Samples outside are clipped (NaN
                becomes 0) with a warning naming the tag.
            global_step: the step; see ``SummaryWriter(auto_step=...)`` for None.
            sample_rate: Hz (the WAV header holds it rounded to whole Hz).
            walltime: seconds since the epoch; default now.

        Raises:
            TypeError: bad tag, dtype or argument types.
            ValueError: empty, an unknown layout, ``sample_rate`` not positive.
        """
        with _convert.naming_errors("add_audio", tag):
            _convert.to_text(tag, "tag")
            rate = audio_summary.check_sample_rate(sample_rate)
            array = _convert.to_numpy(snd_tensor, "snd_tensor")
            pcm, clipped = audio_summary.prepare_audio(array)
            summary = audio_summary.summary(tag, pcm, rate)
        self._emit("add_audio", tag, summary, global_step, walltime)
        if clipped:
            warnings.warn(
                f"add_audio(tag={tag!r}): {clipped} of {array.size} samples were outside "
                f"[-1, 1] or NaN and were clipped",
                stacklevel=2,
            )

    # -- text, PR curves, meshes, tensors, custom scalars ----------------------------

    def add_text(
        self, tag: str, text_string: Any, global_step: int | None = None,
        walltime: float | None = None,
    ) -> None:
        """Log text (Markdown) under ``{tag}/text_summary`` (the Text dashboard), as torch.

        Args:
            tag: series name.
            text_string: a str, or a 1-D or rectangular 2-D list/array of str
                (shown as a table).
            global_step: the x value; see ``SummaryWriter(auto_step=...)``.
            walltime: seconds since the epoch; default now.

        Raises:
            TypeError: ``tag`` or a cell is not a str.
            ValueError: text that is not valid Unicode, a ragged/empty/3-D table.
        """
        try:
            summary = self._text_encoder.summary_bytes(tag, text_string)
        except (TypeError, ValueError) as exc:  # say which argument, and why
            with _convert.naming_errors("add_text", tag):
                _convert.to_text(tag, "tag")
                if isinstance(exc, UnicodeEncodeError) and isinstance(text_string, str):
                    _convert.to_text(text_string, "text_string")
                raise
        step_key = text_summary.summary_tag(tag)
        self._emit("add_text", tag, summary, global_step, walltime, step_key=step_key)

    def add_pr_curve(
        self,
        tag: str,
        labels: Any,
        predictions: Any,
        global_step: int | None = None,
        num_thresholds: int = 127,
        weights: Any = None,
        walltime: float | None = None,
    ) -> None:
        """Log a precision-recall curve (the PR Curves dashboard), computed as torch does.

        Unlike torch, ``num_thresholds`` above 127 is honoured (up to 100,000).

        Args:
            tag: series name.
            labels: ground truth: bools, or numbers in [0, 1]; any shape.
            predictions: probabilities in [0, 1], one per label.
            global_step: the x value; see ``SummaryWriter(auto_step=...)``.
            num_thresholds: thresholds evenly spaced in [0, 1]; at least 2.
            weights: None, one number, or one weight per prediction.
            walltime: seconds since the epoch; default now.

        Raises:
            TypeError: non-numeric inputs.
            ValueError: sizes that differ or are empty, values outside [0, 1]
                or NaN, a bad ``num_thresholds``, weights of the wrong size.
        """
        with _convert.naming_errors("add_pr_curve", tag):
            tag = _convert.to_text(tag, "tag")
            data = pr_curve_summary.compute_curve(
                _convert.to_numpy(labels, "labels"),
                _convert.to_numpy(predictions, "predictions"),
                num_thresholds,
                None if weights is None else _convert.to_real_array(weights, "weights"),
            )
        self._emit("add_pr_curve", tag, pr_curve_summary.summary(tag, data), global_step, walltime)

    def add_pr_curve_raw(
        self,
        tag: str,
        true_positive_counts: Any,
        false_positive_counts: Any,
        true_negative_counts: Any,
        false_negative_counts: Any,
        precision: Any,
        recall: Any,
        global_step: int | None = None,
        num_thresholds: int = 127,
        weights: Any = None,
        walltime: float | None = None,
    ) -> None:
        """Log a precision-recall curve from its six rows, one entry per threshold.

        Args:
            tag: series name.
            true_positive_counts: per threshold; this and the next five rows are
                1-D arrays of one length.
            false_positive_counts: per threshold.
            true_negative_counts: per threshold.
            false_negative_counts: per threshold.
            precision: per threshold.
            recall: per threshold.
            global_step: the x value; see ``SummaryWriter(auto_step=...)``.
            num_thresholds: checked for torch compatibility; the arrays' length counts.
            weights: accepted for torch compatibility; unused (as in torch).
            walltime: seconds since the epoch; default now.

        Raises:
            TypeError: non-numeric arrays.
            ValueError: arrays of different lengths, not 1-D, or empty.
        """
        names = ("true_positive_counts", "false_positive_counts", "true_negative_counts",
                 "false_negative_counts", "precision", "recall")
        arrays = (true_positive_counts, false_positive_counts, true_negative_counts,
                  false_negative_counts, precision, recall)
        with _convert.naming_errors("add_pr_curve_raw", tag):
            tag = _convert.to_text(tag, "tag")
            pr_curve_summary.check_num_thresholds(num_thresholds)
            data = pr_curve_summary.raw_data(
                *(_convert.to_numpy(array, name) for array, name in zip(arrays, names, strict=True))
            )
        summary = pr_curve_summary.summary(tag, data)
        self._emit("add_pr_curve_raw", tag, summary, global_step, walltime)

    def add_mesh(
        self,
        tag: str,
        vertices: Any,
        colors: Any = None,
        faces: Any = None,
        config_dict: dict[str, Any] | None = None,
        global_step: int | None = None,
        walltime: float | None = None,
    ) -> None:
        """Log a mesh or point cloud (the Mesh dashboard), laid out as torch's.

        Args:
            tag: mesh name; values are tagged ``{tag}_VERTEX``/``_FACE``/``_COLOR``.
            vertices: ``(B, N, 3)`` xyz coordinates.
            colors: ``(B, N, 3)`` RGB per vertex, 0-255; optional.
            faces: ``(B, F, 3)`` vertex indices of each triangle; optional.
            config_dict: three.js scene configuration (JSON-serializable).
            global_step: the x value; see ``SummaryWriter(auto_step=...)``.
            walltime: seconds since the epoch; default now.

        Raises:
            TypeError: non-numeric data or a config that JSON cannot encode.
            ValueError: shapes other than ``(B, N, 3)`` or that disagree, NaN/inf vertices.
        """
        with _convert.naming_errors("add_mesh", tag):
            if vertices is None:
                raise TypeError("vertices is required: an array of shape (B, N, 3)")
            tag = _convert.to_text(tag, "tag")
            parts = [None if value is None else _convert.to_numpy(value, name)
                     for name, value in (("vertices", vertices), ("colors", colors),
                                         ("faces", faces))]
            summary = mesh_summary.summary(tag, parts[0], parts[1], parts[2], config_dict)
        self._emit("add_mesh", tag, summary, global_step, walltime)

    def add_tensor(
        self, tag: str, tensor: Any, global_step: int | None = None,
        walltime: float | None = None,
    ) -> None:
        """Log a whole tensor (dtype, shape and values), readable by both loaders.

        Written as torch writes it (plugin ``"tensor"``) plus the TENSOR data
        class, so the Rust loader keeps it too. No dashboard draws arbitrary
        tensors. bfloat16 is stored as float32.

        Raises:
            TypeError: a dtype TensorBoard cannot store (str, object).
            ValueError: 2 GiB of data or more.
        """
        with _convert.naming_errors("add_tensor", tag):
            tag = _convert.to_text(tag, "tag")
            summary = tensor_summary.summary(tag, _convert.to_numpy(tensor, "tensor"))
        self._emit("add_tensor", tag, summary, global_step, walltime)

    def add_custom_scalars(self, layout: Mapping[str, Mapping[str, Sequence[Any]]]) -> None:
        """Lay out charts of scalar tags (the Custom Scalars dashboard).

        ``layout`` is ``{category: {chart title: [kind, tags]}}``; kind is
        ``"Multiline"`` (tags or regular expressions) or ``"Margin"`` (exactly
        3 tags: value, lower, upper). Written at step 0 like torch. Unlike
        torch, every call adds its charts to the earlier ones of this writer (a
        chart of the same category and title replaces the earlier one).

        Raises:
            TypeError: the layout is not shaped as above.
            ValueError: an unknown chart kind or a Margin chart without 3 tags.
        """
        config_tag = custom_scalars_summary.CONFIG_TAG
        with _convert.naming_errors("add_custom_scalars", config_tag):
            new = custom_scalars_summary.layout_proto(layout)
        custom_scalars_summary.merge(self._custom_scalars_layout, new)
        summary = custom_scalars_summary.summary(self._custom_scalars_layout)
        self._emit("add_custom_scalars", config_tag, summary, 0, None)

    def add_custom_scalars_multilinechart(
        self, tags: Sequence[str], category: str = "default", title: str = "untitled"
    ) -> None:
        """One multi-line chart of ``tags``; see :meth:`add_custom_scalars`."""
        self.add_custom_scalars({category: {title: ["Multiline", tags]}})

    def add_custom_scalars_marginchart(
        self, tags: Sequence[str], category: str = "default", title: str = "untitled"
    ) -> None:
        """One margin chart: ``tags`` = [value, lower, upper]; see :meth:`add_custom_scalars`.

        Raises:
            ValueError: ``tags`` does not hold exactly 3 tags.
        """
        config_tag = custom_scalars_summary.CONFIG_TAG
        with _convert.naming_errors("add_custom_scalars_marginchart", config_tag):
            custom_scalars_summary.margin_tags(tags, title)
        self.add_custom_scalars({category: {title: ["Margin", tags]}})

    # -- graphs, projector, hparams -------------------------------------------------

    def add_graph(
        self,
        model: Any,
        input_to_model: Any = None,
        verbose: bool = False,
        use_strict_trace: bool = True,
    ) -> None:
        """Log the graph of a ``torch.nn.Module`` for the Graphs dashboard.

        The model runs once under ``torch.jit.trace`` (eval mode, no gradients;
        each submodule's mode is restored). Nodes are grouped by module, with
        op types, edges, shapes, dtypes and devices. Written as torch does: the
        ``GraphDef`` event, then run metadata tagged ``step1``.

        Args:
            model: the module.
            input_to_model: what ``forward`` gets: a tensor, a tuple/list of
                positional arguments, or a dict (keyword arguments when
                ``forward`` takes those names, else one argument). None calls
                ``forward()``.
            verbose: print the traced graph.
            use_strict_trace: ``torch.jit.trace``'s ``strict``.

        Raises:
            TypeError: ``model`` is not a module, or the inputs don't fit ``forward``.
            GraphTraceError: (a ``RuntimeError``) tracing failed; nothing is written.
        """
        from tblog.summary import _torch_graph

        graph = _torch_graph.trace(model, input_to_model, use_strict_trace, verbose)
        self._emit("add_graph", "", graph.SerializeToString(), 0, None, key=_wire.GRAPH_DEF_KEY)
        self._emit("add_graph", "", graph_summary.run_metadata(), 0, None,
                   key=_wire.TAGGED_RUN_METADATA_KEY)

    def add_onnx_graph(self, path_or_model: Any) -> None:
        """Log the graph of an ONNX model: a ``.onnx`` path, its bytes or a ``ModelProto``.

        Raises:
            ImportError: ``onnx`` is not installed.
            TypeError / ValueError: the argument is not an ONNX model.
        """
        from tblog.summary import _onnx_graph

        graph = _onnx_graph.graph_def_from_onnx(_onnx_graph.load(path_or_model))
        self._emit("add_onnx_graph", "", graph.SerializeToString(), 0, None,
                   key=_wire.GRAPH_DEF_KEY)

    def add_embedding(
        self,
        mat: Any,
        metadata: Sequence[Any] | Any | None = None,
        label_img: Any = None,
        global_step: int | None = None,
        tag: str = "default",
        metadata_header: Sequence[str] | None = None,
    ) -> None:
        """Save an embedding for the Projector dashboard (local or object storage).

        Writes ``tensors.tsv`` (and ``metadata.tsv``, ``sprite.png``) under
        ``{log_dir}/{step:05d}/{escaped tag}/`` and merges an entry
        ``"{tag}:{step:05d}"`` into ``{log_dir}/projector_config.pbtxt``
        (entries of other tags, steps and writers stay). The tag is
        percent-encoded in the directory name (``"a/b"`` -> ``a%2Fb``), so no
        tag leaves ``log_dir``; in ``metadata.tsv`` tabs and line breaks become
        spaces and a blank row is written as ``(empty)``.

        Args:
            mat: ``(N, D)`` numbers (numpy, torch, JAX, lists); saved as float32.
            metadata: N labels, or N rows of columns with ``metadata_header``.
            label_img: ``(N, C, H, W)`` (or ``(N, H, W)``) images, C in 1, 3, 4;
                the sprite stays within the projector's 8192 px.
            global_step: the step; see ``auto_step`` for None.
            tag: the embedding's name.
            metadata_header: column names for rows of several columns.

        Raises:
            TypeError: an argument has the wrong type.
            ValueError: wrong shapes or lengths, or text that is not valid Unicode.
                Nothing is written.
        """
        from tblog.summary import projector  # on first use: 11 ms of import tblog
        if type(tag) is not str or not tag:
            raise TypeError(f"add_embedding: tag must be a non-empty str, got {tag!r}")
        _args.check_text(tag, "add_embedding: tag")
        where = f"add_embedding(tag={tag!r})"
        vectors = _args.embedding_matrix(mat, where)
        rows = _args.metadata_rows(metadata, metadata_header, vectors.shape[0], where)
        files: dict[str, bytes | Iterator[bytes]] = {}
        if rows is not None:
            try:
                files["metadata.tsv"] = projector.metadata_tsv(rows, metadata_header)
            except UnicodeEncodeError as exc:
                raise ValueError(f"{where}: metadata is not valid Unicode: {exc}") from None
        cell = None
        if label_img is not None:
            images = _args.label_images(label_img, vectors.shape[0], where)
            files["sprite.png"], cell = projector.sprite_png(images)
        files["tensors.tsv"] = projector.tensor_tsv_chunks(vectors)  # streamed, not joined
        step = self._step(f"\0embedding\0{tag}", global_step)
        writer = self._get_file_writer()  # the projector lists only runs with event files
        directory = projector.subdir(tag, step)
        for name, data in files.items():
            writer.write_file(f"{directory}/{name}", data)
        info = projector.embedding_info(tag, step, vectors.shape, rows is not None, cell)
        merge = lambda old: projector.merged_config(old, info)  # noqa: E731
        writer.update_file(projector.CONFIG_FILENAME, merge)

    def add_hparams(
        self,
        hparam_dict: Mapping[str, Any],
        metric_dict: Mapping[str, Any] | None = None,
        hparam_domain_discrete: Mapping[str, Sequence[Any]] | None = None,
        run_name: str | None = None,
        global_step: int | None = None,
        *,
        in_run: bool = False,
    ) -> None:
        """Record hyperparameters and metrics for the HParams dashboard.

        As torch: the summaries go to a sub-run ``{log_dir}/{run_name or
        time.time()}`` and each metric is logged there as a scalar. With
        ``in_run=True`` (or ``run_name="."``) they go to this writer's run, next
        to its curves. Calling again for a run logs new metric values (a metric
        history); its hparams must stay the same (TensorBoard shows the first).
        Give every run the same hparam and metric names: the dashboard's
        columns come from one run's experiment, picked arbitrarily.

        Args:
            hparam_dict: name -> str, bool, int or float (or a one-element
                tensor); None values are skipped.
            metric_dict: metric tag -> number, or None to list the tag as a
                column without logging a value.
            hparam_domain_discrete: name -> the values that hparam may take.
            run_name: the sub-run's directory under ``log_dir``; relative, no ``..``.
            global_step: the step of the metric values; None: the tag's next auto step.
            in_run: record in this writer's run rather than a sub-run.

        Raises:
            TypeError: an unsupported value type (naming the key).
            ValueError: a bad run name, a non-finite hparam, text that is not
                valid Unicode, or hparams that differ from those recorded for
                the run. Nothing is written.
        """
        hparams = _args.convert_hparams(hparam_dict)
        metrics = _args.convert_metrics(metric_dict)
        domains = _args.convert_domains(hparam_domain_discrete, hparams)
        run = _args.hparams_run(run_name, in_run)
        step = None if global_step is None else _convert.to_step(global_step)
        run_dir = self.log_dir if run is None else os.path.join(self.log_dir, run)
        self._hparams.check(run_dir, run, hparams)
        self._get_file_writer()
        for summary in self._hparams.new_run(run_dir, hparams, metrics, domains) or ():
            self._emit("add_hparams", "", summary, step or 0, None, run=run)
        for tag, value in metrics.items():
            if value is not None:
                step_key = tag if run is None else f"\0hparams\0{run}\0{tag}"
                self._emit("add_hparams", tag, scalar_summary.summary(tag, value), step, None,
                           step_key=step_key, run=run)
        self._run_writer(run).flush()  # torch closes its sub-run writer at once: show it now

    # -- lifecycle ----------------------------------------------------------------

    def flush(self) -> None:
        """Hand every buffered event of every run of this writer to the OS."""
        self._device_scalars.drain()
        for writer in list(self.all_writers.values()):
            writer.flush()

    def close(self) -> None:
        """Flush and close all event files; idempotent. Logging again reopens."""
        self._device_scalars.drain()
        writers, self.all_writers = self.all_writers, {}
        self.file_writer = self._main_events = None
        self._scalars_runs = {}
        errors = []
        for writer in writers.values():
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
        file of its own, opened by its first write (unpickling alone creates no
        file). Records this writer buffered stay with it.
        """
        self._device_scalars.drain()
        state = self.__dict__.copy()
        state.update(file_writer=None, all_writers={}, _main_events=None, _scalars_runs={})
        state["_device_scalars"] = (self._device_scalars.batch, self._device_scalars.max_wait)
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        batch, max_wait = state.pop("_device_scalars")
        self.__dict__.update(state)
        self._device_scalars = DeviceScalarBatch(batch, max_wait, self._write_device_scalars)


class _NullFileWriter:
    """The ``file_writer`` of a writer that does not log: accepts everything, writes nothing."""

    closed = False

    def __init__(self, log_dir: str) -> None:
        self._log_dir = log_dir

    def get_logdir(self) -> str:
        return self._log_dir

    def _nothing(self, *args: Any, **kwargs: Any) -> None:
        return None

    add_event = add_summary = add_record = add_deferred = flush = close = reopen = _nothing
    write_file = update_file = _nothing


class NullSummaryWriter(SummaryWriter):
    """The writer of a rank that does not log (or of ``write_to_disk=False``).

    ``SummaryWriter(...)`` returns one for those cases. Every ``add_*`` method,
    ``flush()`` and ``close()`` returns None at once, without even converting
    its arguments (no tensor leaves a GPU); nothing is created on disk or in a
    bucket. ``isinstance(writer, SummaryWriter)`` holds.
    """

    def __init__(
        self,
        log_dir: str | os.PathLike[str] | None = None,
        *args: Any,
        logdir: str | os.PathLike[str] | None = None,
        rank: int | str | None = None,
        **kwargs: Any,
    ) -> None:
        log_dir = log_dir if log_dir is not None else logdir
        self.log_dir = os.fspath(log_dir) if log_dir is not None else ""
        self.rank = None if rank is None else _ranks.resolve_rank(rank)
        self.purge_step = None
        self.file_writer = _NullFileWriter(self.log_dir)  # type: ignore[assignment]
        self.all_writers = {}

    def _get_file_writer(self) -> Any:
        return self.file_writer

    def _nothing(self, *args: Any, **kwargs: Any) -> None:
        """Does nothing: this writer does not log."""
        return None

    add_scalar = add_scalars = add_histogram = add_histogram_raw = _nothing
    add_image = add_images = add_image_with_boxes = add_figure = add_video = _nothing
    add_audio = add_text = add_pr_curve = add_pr_curve_raw = add_mesh = _nothing
    add_tensor = add_custom_scalars = add_custom_scalars_multilinechart = _nothing
    add_custom_scalars_marginchart = add_graph = add_onnx_graph = add_embedding = _nothing
    add_hparams = flush = close = _nothing

    def __repr__(self) -> str:
        return f"NullSummaryWriter(log_dir={self.log_dir!r}, rank={self.rank})"
