"""torch's public summary functions (``torch.utils.tensorboard.summary``), by tblog.

Same names, signatures and argument conversion as torch's module (tensors,
numpy arrays, lists; ``dataformats``; ``rescale``; numpy ``bins`` values),
returning ``Summary`` messages that TensorBoard shows as it shows torch's.
Code that writes summaries by hand keeps working::

    from tblog.torch_summary import hparams, scalar
    writer._get_file_writer().add_summary(scalar("loss", 0.5), step)

``tblog.patch()`` installs this module as ``torch.utils.tensorboard.summary``
(and ``tensorboardX.summary``). Each function converts its arguments with
``tblog._convert`` and calls its kind's builder in ``tblog.summary``; nothing is
encoded twice.

Message classes: when tensorboard's protos are loaded in the process (torch's
or tensorboard's writer imported), messages are tensorboard's generated
classes, which those writers require; otherwise tblog's own. Both have the same
fields and serialize to the same bytes; tblog's writers accept either.

Deliberate differences from torch, as in ``SummaryWriter``: ``pr_curve`` keeps
``num_thresholds`` above 127; ``scalar(double_precision=True)`` stores float32
(TensorBoard's default loader drops DT_DOUBLE); ``video`` writes the GIF with
Pillow rather than moviepy; histograms reject NaN and infinity.
"""

from __future__ import annotations

import struct
import sys
import time
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from tblog import _convert
from tblog import _structured_args as _args
from tblog._optional import require
from tblog.summary import audio as audio_summary
from tblog.summary import custom_scalars as custom_scalars_summary
from tblog.summary import histogram as histogram_summary
from tblog.summary import hparams as hparams_summary
from tblog.summary import image as image_summary
from tblog.summary import mesh as mesh_summary
from tblog.summary import pr_curve as pr_curve_summary
from tblog.summary import scalar as scalar_summary
from tblog.summary import tensor as tensor_summary
from tblog.summary import text as text_summary
from tblog.summary import video as video_summary

__all__ = [
    "audio", "compute_curve", "custom_scalars", "draw_boxes", "half_to_int", "histogram",
    "histogram_raw", "hparams", "image", "image_boxes", "int_to_half", "make_histogram",
    "make_image", "make_video", "mesh", "pr_curve", "pr_curve_raw", "scalar", "tensor_proto",
    "text", "video",
]

_HALF = struct.Struct("<e")
_U16 = struct.Struct("<H")


def _summary_pb2() -> Any:
    """tensorboard's ``summary_pb2`` if already imported (its writers need it), else tblog's."""
    module = sys.modules.get("tensorboard.compat.proto.summary_pb2")
    if module is None:
        from tblog.proto import summary_pb2 as module
    return module


def _message(data: bytes) -> Any:
    return _summary_pb2().Summary.FromString(data)


# -- scalars, histograms, tensors -----------------------------------------------------


def scalar(
    name: str,
    tensor: Any,
    collections: Any = None,
    new_style: bool = False,
    double_precision: bool = False,
) -> Any:
    """A ``Summary`` with one scalar (``simple_value``, or a float32 tensor with ``new_style``).

    Args:
        name: the tag.
        tensor: one number: Python, numpy, one-element tensor (any device), JAX.
        collections: ignored, as in torch.
        new_style: store a rank-0 tensor with ``scalars`` plugin metadata.
        double_precision: accepted; stored as float32 (see the module docstring).

    Raises:
        TypeError: not a number. ValueError: more than one element.
    """
    with _convert.naming_errors("scalar", name):
        value = _convert.to_float(tensor, "tensor")
    return _message(scalar_summary.summary(name, value, new_style or double_precision))


def make_histogram(values: Any, bins: Any, max_bins: int | None = None) -> Any:
    """A ``HistogramProto`` of ``values`` (``bins``: ``"tensorflow"`` or a numpy bins value)."""
    histo = histogram_summary.histogram_proto_bytes(_convert.to_numpy(values, "values"), bins,
                                                    max_bins)
    return _summary_pb2().HistogramProto.FromString(histo)


def histogram(name: str, values: Any, bins: Any, max_bins: int | None = None) -> Any:
    """A ``Summary`` with a histogram of ``values``.

    Args:
        name: the tag.
        values: numbers of any shape.
        bins: ``"tensorflow"`` (TensorBoard's default buckets, what
            ``add_histogram`` uses) or a numpy bins value (``"auto"``, a count, edges).
        max_bins: merge neighbouring buckets to about this many.

    Raises:
        TypeError: non-numeric values. ValueError: empty, NaN/inf, bad bins.
    """
    with _convert.naming_errors("histogram", name):
        histo = histogram_summary.histogram_proto_bytes(
            _convert.to_numpy(values, "values"), bins, max_bins
        )
    return _message(histogram_summary.summary(name, histo))


def histogram_raw(
    name: str,
    min: float,  # noqa: A002 - torch's argument names
    max: float,  # noqa: A002
    num: float,
    sum: float,  # noqa: A002
    sum_squares: float,
    bucket_limits: Any,
    bucket_counts: Any,
) -> Any:
    """A ``Summary`` with a histogram given by its statistics and buckets."""
    with _convert.naming_errors("histogram_raw", name):
        stats = [_convert.to_float(value, label) for value, label in (
            (min, "min"), (max, "max"), (num, "num"), (sum, "sum"), (sum_squares, "sum_squares"))]
        histo = histogram_summary.raw_histogram_bytes(
            *stats,
            _convert.to_real_array(bucket_limits, "bucket_limits").reshape(-1),
            _convert.to_real_array(bucket_counts, "bucket_counts").reshape(-1),
        )
    return _message(histogram_summary.summary(name, histo))


def tensor_proto(tag: str, tensor: Any) -> Any:
    """A ``Summary`` holding a whole tensor (dtype, shape, values), as ``add_tensor``."""
    with _convert.naming_errors("tensor_proto", tag):
        return _message(tensor_summary.summary(tag, _convert.to_numpy(tensor, "tensor")))


# -- images, video, audio ---------------------------------------------------------------


def _rescaled(pixels: np.ndarray, rescale: float) -> np.ndarray:
    height, width = image_summary.check_rescale(rescale, *pixels.shape[:2])
    if (height, width) == pixels.shape[:2]:
        return pixels
    require("PIL", "rescale", "pillow")
    return image_summary.resize(pixels, height, width)


def image(tag: str, tensor: Any, rescale: float = 1, dataformats: str = "NCHW") -> Any:
    """A ``Summary`` with one PNG image (a batch is tiled 8 per row, as torch).

    Args:
        tag: the tag.
        tensor: pixels; uint8 as 0-255, other dtypes as 0-1 (scaled by 255, clipped).
        rescale: resize factor (needs Pillow when not 1).
        dataformats: axis order (``NCHW``, ``CHW``, ``HWC``, ``HW``, ...).
    """
    with _convert.naming_errors("image", tag):
        pixels = image_summary.prepare_image(_convert.to_numpy(tensor, "tensor"), dataformats)
        pixels = _rescaled(pixels, rescale)
    return _message(image_summary.summary(tag, pixels))


def draw_boxes(disp_image: Any, boxes: Any, labels: Any = None) -> np.ndarray:
    """``disp_image`` (HWC, uint8 or 0-1 floats) with red boxes ``(x1, y1, x2, y2)`` drawn."""
    require("PIL", "draw_boxes", "pillow")
    pixels = image_summary.prepare_image(_convert.to_numpy(disp_image, "disp_image"), "HWC",
                                         batch=False)
    checked, labels = image_summary.check_boxes(_convert.to_numpy(boxes, "boxes"), labels)
    return image_summary.draw_boxes(pixels, checked, labels)


def make_image(tensor: Any, rescale: float = 1, rois: Any = None, labels: Any = None) -> Any:
    """A ``Summary.Image`` (PNG) of an HWC image, with ``rois`` boxes drawn if given."""
    pixels = image_summary.prepare_image(_convert.to_numpy(tensor, "tensor"), "HWC", batch=False)
    if rois is not None:
        pixels = draw_boxes(pixels, rois, labels)
    pixels = _rescaled(pixels, rescale)
    return _summary_pb2().Summary.Image.FromString(
        image_summary.image_proto(pixels).SerializeToString()
    )


def image_boxes(
    tag: str,
    tensor_image: Any,
    tensor_boxes: Any,
    rescale: float = 1,
    dataformats: str = "CHW",
    labels: Sequence[str] | None = None,
) -> Any:
    """A ``Summary`` with one PNG image with red bounding boxes drawn on it (needs Pillow)."""
    require("PIL", "image_boxes", "pillow")
    with _convert.naming_errors("image_boxes", tag):
        pixels = image_summary.prepare_image(
            _convert.to_numpy(tensor_image, "tensor_image"), dataformats, batch=False
        )
        boxes, labels = image_summary.check_boxes(
            _convert.to_numpy(tensor_boxes, "tensor_boxes"), labels
        )
        pixels = _rescaled(image_summary.draw_boxes(pixels, boxes, labels), rescale)
    return _message(image_summary.summary(tag, pixels))


def make_video(tensor: Any, fps: float) -> Any:
    """A ``Summary.Image`` holding an animated GIF of ``(T, H, W, C)`` uint8 frames."""
    frames = np.ascontiguousarray(_convert.to_numpy(tensor, "tensor"), dtype=np.uint8)
    summary = _message(video_summary.summary("", frames, video_summary.check_fps(fps)))
    return summary.value[0].image


def video(tag: str, tensor: Any, fps: float = 4) -> Any:
    """A ``Summary`` with clips ``(N, T, C, H, W)`` tiled into one animated GIF (needs Pillow)."""
    require("PIL", "video", "pillow")
    with _convert.naming_errors("video", tag):
        rate = video_summary.check_fps(fps)
        frames = video_summary.prepare_video(_convert.to_numpy(tensor, "tensor"), "NTCHW")
    return _message(video_summary.summary(tag, frames, rate))


def audio(tag: str, tensor: Any, sample_rate: float = 44100) -> Any:
    """A ``Summary`` with one 16-bit PCM WAV clip; samples in [-1, 1] (clipped beyond)."""
    with _convert.naming_errors("audio", tag):
        rate = audio_summary.check_sample_rate(sample_rate)
        pcm, _ = audio_summary.prepare_audio(_convert.to_numpy(tensor, "tensor"))
    return _message(audio_summary.summary(tag, pcm, rate))


# -- text, custom scalars, PR curves, meshes, hparams ----------------------------------


def text(tag: str, text: Any) -> Any:
    """A ``Summary`` with Markdown text under ``{tag}/text_summary`` (a table for 2-D lists)."""
    with _convert.naming_errors("text", tag):
        return _message(text_summary.summary(tag, text))


def custom_scalars(layout: Mapping[str, Mapping[str, Sequence[Any]]]) -> Any:
    """A ``Summary`` with a Custom Scalars layout: ``{category: {title: [kind, tags]}}``."""
    proto = custom_scalars_summary.layout_proto(layout)
    return _message(custom_scalars_summary.summary(proto))


def compute_curve(
    labels: Any, predictions: Any, num_thresholds: int | None = None, weights: Any = None
) -> np.ndarray:
    """The ``[6, num_thresholds]`` PR data (tp, fp, tn, fn, precision, recall); default 127."""
    return pr_curve_summary.compute_curve(
        _convert.to_numpy(labels, "labels"),
        _convert.to_numpy(predictions, "predictions"),
        127 if num_thresholds is None else num_thresholds,
        None if weights is None else _convert.to_real_array(weights, "weights"),
    )


def pr_curve(
    tag: str, labels: Any, predictions: Any, num_thresholds: int = 127, weights: Any = None
) -> Any:
    """A ``Summary`` with a precision-recall curve (``num_thresholds`` kept above 127)."""
    with _convert.naming_errors("pr_curve", tag):
        data = compute_curve(labels, predictions, num_thresholds, weights)
    return _message(pr_curve_summary.summary(tag, data))


def pr_curve_raw(
    tag: str,
    tp: Any,
    fp: Any,
    tn: Any,
    fn: Any,
    precision: Any,
    recall: Any,
    num_thresholds: int = 127,
    weights: Any = None,
) -> Any:
    """A ``Summary`` with a PR curve from its six rows (one entry per threshold)."""
    rows = {"tp": tp, "fp": fp, "tn": tn, "fn": fn, "precision": precision, "recall": recall}
    with _convert.naming_errors("pr_curve_raw", tag):
        pr_curve_summary.check_num_thresholds(num_thresholds)
        data = pr_curve_summary.raw_data(
            *(_convert.to_numpy(value, name).reshape(-1) for name, value in rows.items())
        )
    return _message(pr_curve_summary.summary(tag, data))


def mesh(
    tag: str,
    vertices: Any,
    colors: Any,
    faces: Any,
    config_dict: dict[str, Any] | None,
    display_name: str | None = None,
    description: str | None = None,
) -> Any:
    """A ``Summary`` with one value per mesh part (``{tag}_VERTEX``, ``_FACE``, ``_COLOR``)."""
    with _convert.naming_errors("mesh", tag):
        parts = [None if value is None else _convert.to_numpy(value, name)
                 for name, value in (("vertices", vertices), ("colors", colors),
                                     ("faces", faces))]
        summary = _message(mesh_summary.summary(tag, *parts, config_dict))
    for value in summary.value:
        if display_name is not None:
            value.metadata.display_name = display_name
        if description is not None:
            value.metadata.summary_description = description
    return summary


def hparams(
    hparam_dict: Mapping[str, Any] | None = None,
    metric_dict: Mapping[str, Any] | None = None,
    hparam_domain_discrete: Mapping[str, Sequence[Any]] | None = None,
) -> tuple[Any, Any, Any]:
    """The experiment, session-start and session-end summaries of the HParams dashboard.

    As torch's: write all three (e.g. with ``FileWriter.add_summary``) to the run,
    and log each metric of ``metric_dict`` as a scalar under its tag.

    Returns:
        ``(experiment, session_start_info, session_end_info)``.

    Raises:
        TypeError / ValueError: as ``SummaryWriter.add_hparams``.
    """
    values = _args.convert_hparams(hparam_dict or {})
    metrics = _args.convert_metrics(metric_dict)
    domains = _args.convert_domains(hparam_domain_discrete, values)
    now = time.time()
    return (
        _message(hparams_summary.experiment(values, list(metrics), domains)),
        _message(hparams_summary.session_start(values, now)),
        _message(hparams_summary.session_end("success")),
    )


# -- float16 bits (torch exports them) ----------------------------------------------------


def half_to_int(f: float) -> int:
    """The 16 bits of ``f`` as an IEEE half, as an int (TensorProto's ``half_val``)."""
    return _U16.unpack(_HALF.pack(f))[0]


def int_to_half(i: int) -> float:
    """The float whose IEEE half bits are ``i`` (inverse of ``half_to_int``)."""
    return _HALF.unpack(_U16.pack(i))[0]
