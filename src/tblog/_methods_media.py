"""SummaryWriter methods for images, figures, video and audio (thin: convert, build, write).

Inputs are validated and converted to owned uint8 pixels on the caller's
thread, so bad input raises at the call and later changes to the user's
tensor cannot leak into the file. PNG and GIF encoding then run on the event
file's worker pool (``add_deferred``); records keep their order.
"""

from __future__ import annotations

import sys
import time
import warnings
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from tblog import _convert
from tblog.proto import event_pb2, summary_pb2
from tblog.summary import audio as audio_summary
from tblog.summary import image as image_summary
from tblog.summary import video as video_summary


def _check_tag(method: str, tag: Any) -> None:
    if type(tag) is not str:
        raise TypeError(f"{method}: tag must be a str, got {type(tag).__name__}")


def _require(module: str, method: str, package: str) -> None:
    """Import ``module`` now (not on a worker thread), with an actionable error."""
    try:
        __import__(module)
    except ImportError as exc:
        raise ImportError(f"{method} needs {package}: pip install {package}") from exc


class MediaMethods:
    """Mixed into ``SummaryWriter``; uses its ``_step`` and ``_get_file_writer``.

    The writer's ``png_compression`` (a zlib level, 0-9) is read from
    ``self._png_compression``; see ``tblog.summary.image.DEFAULT_PNG_COMPRESSION``.
    """

    if TYPE_CHECKING:  # provided by SummaryWriter
        from tblog.writer import FileWriter

        def _step(self, tag: str, global_step: Any) -> int: ...
        def _get_file_writer(self) -> FileWriter: ...
        def _write_summary(
            self, summary: summary_pb2.Summary, step: int, walltime: float | None
        ) -> None: ...

    def _step_and_time(
        self, method: str, tag: str, global_step: Any, walltime: Any
    ) -> tuple[int, float]:
        """Validated (step, wall_time); call last, as a None step consumes an auto step."""
        with _convert.naming_errors(method, tag):
            wall_time = time.time() if walltime is None else _convert.to_walltime(walltime)
            return self._step(tag, global_step), wall_time

    def _write_deferred(
        self,
        method: str,
        tag: str,
        global_step: Any,
        walltime: Any,
        build: Callable[[], summary_pb2.Summary],
    ) -> None:
        """Resolve step and time now; build and serialize the summary on a worker thread."""
        step, wall_time = self._step_and_time(method, tag, global_step, walltime)

        def make_record() -> bytes:
            event = event_pb2.Event(wall_time=wall_time, step=step, summary=build())
            return event.SerializeToString()

        self._get_file_writer().add_deferred(make_record)

    def _write_png(
        self, method: str, tag: str, pixels: np.ndarray, global_step: Any, walltime: Any
    ) -> None:
        level = getattr(self, "_png_compression", image_summary.DEFAULT_PNG_COMPRESSION)
        self._write_deferred(
            method,
            tag,
            global_step,
            walltime,
            lambda: image_summary.image(tag, pixels, png_compression=level),
        )

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
            img_tensor: numpy array, torch tensor (any device), JAX array or list.
                uint8 is taken as 0-255; any other dtype as 0-1, multiplied by
                255 and clipped to [0, 255] (as torch; NaN becomes 0). 1 channel
                is shown as gray RGB, 3 as RGB, 4 as RGBA.
            global_step: the step; see ``SummaryWriter(auto_step=...)`` for None.
            walltime: seconds since the epoch; default now.
            dataformats: axis order: any permutation of ``CHW``, ``HW`` or
                (a batch, tiled 8 per row) ``NCHW``; case-insensitive.

        Raises:
            TypeError: bad tag, dtype or argument types.
            ValueError: empty array, unknown dataformats, rank not matching it,
                channels not 1, 3 or 4.
        """
        _check_tag("add_image", tag)
        with _convert.naming_errors("add_image", tag):
            array = _convert.to_numpy(img_tensor, "img_tensor")
            pixels = image_summary.prepare_image(array, dataformats)
        self._write_png("add_image", tag, pixels, global_step, walltime)

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
            img_tensor: a batch (``NCHW``, ``NHWC``, ...) or, as in tensorboardX,
                a list of same-shaped images, each in ``dataformats`` without
                its ``N`` (``CHW``/``HWC`` also accepted). 1, 3 or 4 channels
                (torch fails on 4). Scaling as in ``add_image``.
            global_step: the step; see ``SummaryWriter(auto_step=...)`` for None.
            walltime: seconds since the epoch; default now.
            dataformats: axis order, case-insensitive.

        Raises:
            TypeError, ValueError: as ``add_image``; also list items of different shapes.
        """
        _check_tag("add_images", tag)
        with _convert.naming_errors("add_images", tag):
            if (
                isinstance(img_tensor, (list, tuple))
                and img_tensor
                and not isinstance(img_tensor[0], (int, float, list, tuple))
            ):
                images = [
                    _convert.to_numpy(item, f"img_tensor[{index}]")
                    for index, item in enumerate(img_tensor)
                ]
                pixels = image_summary.prepare_images(images, dataformats)
            else:
                array = _convert.to_numpy(img_tensor, "img_tensor")
                pixels = image_summary.prepare_image(array, dataformats)
        self._write_png("add_images", tag, pixels, global_step, walltime)

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
            rescale: resize factor (Lanczos) applied after drawing; the stored
                height/width are those of the resized image.
            dataformats: axis order of ``img_tensor`` (``CHW``, ``HWC``, ``HW``, ...).
            labels: one label per box (a single str for a single box).

        Raises:
            TypeError, ValueError: as ``add_image``; boxes not ``[N, 4]`` or not
                finite; a label count other than N; ``rescale`` not positive.
            ImportError: Pillow is not installed.
        """
        _check_tag("add_image_with_boxes", tag)
        _require("PIL", "add_image_with_boxes", "pillow")
        with _convert.naming_errors("add_image_with_boxes", tag):
            array = _convert.to_numpy(img_tensor, "img_tensor")
            pixels = image_summary.prepare_image(array, dataformats, batch=False)
            boxes = _convert.to_numpy(box_tensor, "box_tensor")
            boxes, labels = image_summary.check_boxes(boxes, labels)
            height, width = image_summary.check_rescale(rescale, *pixels.shape[:2])
            pixels = image_summary.draw_boxes(pixels, boxes, labels)
            pixels = image_summary.resize(pixels, height, width)
        self._write_png("add_image_with_boxes", tag, pixels, global_step, walltime)

    def add_figure(
        self,
        tag: str,
        figure: Any,
        global_step: int | None = None,
        close: bool = True,
        walltime: float | None = None,
    ) -> None:
        """Log a matplotlib figure (or a list of them, tiled like ``add_images``) as a PNG.

        Rendered with the Agg canvas at the figure's dpi, alpha dropped (as
        torch); the figure keeps its own canvas. Needs matplotlib.

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
        _check_tag("add_figure", tag)
        _require("matplotlib", "add_figure", "matplotlib")
        figures = figure if isinstance(figure, (list, tuple)) else [figure]
        with _convert.naming_errors("add_figure", tag):
            if not figures:
                raise ValueError("figure is an empty list")
            images = [image_summary.figure_pixels(item) for item in figures]
        pixels = (
            images[0]
            if not isinstance(figure, (list, tuple))
            else (image_summary.figures_grid(images))
        )
        if close:
            pyplot = sys.modules.get(
                "matplotlib.pyplot"
            )  # figures made without pyplot need no closing
            if pyplot is not None:
                for item in figures:
                    pyplot.close(item)
        self._write_png("add_figure", tag, pixels, global_step, walltime)

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
            vid_tensor: ``(N, T, C, H, W)``: N clips of T frames, C 1 (gray) or
                3 (RGB). uint8 is taken as 0-255, other dtypes as 0-1 (scaled
                and clipped as ``add_image``). The clips are tiled into a grid
                per frame (see ``tblog.summary.video.grid_shape``).
            global_step: the step; see ``SummaryWriter(auto_step=...)`` for None.
            fps: frames per second (GIF delays are whole 1/100 s).
            walltime: seconds since the epoch; default now.
            dataformats: tensorboardX's axis order, a permutation of ``NTCHW``.

        Raises:
            TypeError: bad tag, dtype or argument types.
            ValueError: not 5-D, empty, channels not 1 or 3, ``fps`` not positive.
            ImportError: Pillow is not installed.
        """
        _check_tag("add_video", tag)
        _require("PIL", "add_video", "pillow")
        with _convert.naming_errors("add_video", tag):
            fps = video_summary.check_fps(fps)
            array = _convert.to_numpy(vid_tensor, "vid_tensor")
            frames = video_summary.prepare_video(array, dataformats)
        self._write_deferred(
            "add_video", tag, global_step, walltime, lambda: video_summary.video(tag, frames, fps)
        )

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
                ``(1, L)``; stereo ``(L, 2)``. Samples outside [-1, 1] are
                clipped (NaN becomes 0) with a warning naming the tag.
            global_step: the step; see ``SummaryWriter(auto_step=...)`` for None.
            sample_rate: Hz (the WAV header holds it rounded to whole Hz).
            walltime: seconds since the epoch; default now.

        Raises:
            TypeError: bad tag, dtype or argument types.
            ValueError: empty, an unknown layout, ``sample_rate`` not positive.
        """
        _check_tag("add_audio", tag)
        with _convert.naming_errors("add_audio", tag):
            rate = audio_summary.check_sample_rate(sample_rate)
            array = _convert.to_numpy(snd_tensor, "snd_tensor")
            pcm, clipped = audio_summary.prepare_audio(array)
            summary = audio_summary.audio(tag, pcm, rate)
        step, wall_time = self._step_and_time("add_audio", tag, global_step, walltime)
        if clipped:
            warnings.warn(
                f"add_audio(tag={tag!r}): {clipped} of {array.size} samples were outside "
                f"[-1, 1] or NaN and were clipped",
                stacklevel=2,
            )
        self._write_summary(summary, step, wall_time)
