"""SummaryWriter methods for histograms, PR curves, text, custom scalars, meshes, tensors.

Thin: check the tag, convert values (``tblog._convert``), build the summary
bytes (``tblog.summary.*``), write one event. Every check runs before anything
is written; errors name the method and the tag.
"""

from __future__ import annotations

import math
import struct
import time
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from tblog import _convert
from tblog._scalar_event import varint
from tblog.summary import custom_scalars as custom_scalars_summary
from tblog.summary import histogram as histogram_summary
from tblog.summary import mesh as mesh_summary
from tblog.summary import pr_curve as pr_curve_summary
from tblog.summary import tensor as tensor_summary
from tblog.summary import text as text_summary

_DOUBLE = struct.Struct("<d")


def _event_bytes(summary: bytes, step: int, wall_time: float) -> bytes:
    """Serialized ``Event{wall_time, step, summary}`` around summary bytes."""
    # proto3 omits a +0.0 wall time and a zero step.
    keep = wall_time or math.copysign(1.0, wall_time) < 0
    head = b"\x09" + _DOUBLE.pack(wall_time) if keep else b""
    if step:
        head += b"\x10" + varint(step)
    return head + b"\x2a" + varint(len(summary)) + summary


def _numbers(value: Any, name: str) -> np.ndarray:
    array = _convert.to_numpy(value, name)
    if array.dtype.kind not in "biuf":
        raise TypeError(f"{name} must be real numbers, got dtype {array.dtype}")
    return array


class TensorMethods:
    """Mixed into ``SummaryWriter``; uses its ``_step`` and ``_get_file_writer``."""

    def _write_summary_bytes(self, summary: bytes, step: int, walltime: Any) -> None:
        """Write serialized ``Summary`` bytes as one event of the main run."""
        wall_time = time.time() if walltime is None else _convert.to_walltime(walltime)
        # Our own encoders' bytes: straight to the event file, unchecked.
        self._get_file_writer().event_writer.add_record(_event_bytes(summary, step, wall_time))

    # -- histograms -------------------------------------------------------------

    def add_histogram(
        self,
        tag: str,
        values: Any,
        global_step: int | None = None,
        bins: Any = "tensorflow",
        walltime: float | None = None,
        max_bins: int | None = None,
    ) -> None:
        """Log a histogram of ``values`` (TensorBoard's Histograms and Distributions).

        Written as torch writes it (a ``HistogramProto``): with the default bins,
        TensorBoard serves the same buckets for the same values. GPU tensors are
        bucketed on their device; only the counts are copied to the host.

        Args:
            tag: series name.
            values: numbers of any shape: numpy array, torch tensor (any
                device), JAX array, list.
            global_step: the x value; see ``SummaryWriter(auto_step=...)``.
            bins: ``"tensorflow"`` (TensorBoard's exponential buckets, 1549
                edges from -1e20 to 1e20) or an ``np.histogram`` bins value:
                ``"auto"``, ``"fd"``, ..., a number of bins, or the edges.
            walltime: seconds since the epoch; default now.
            max_bins: merge neighbouring buckets (torch's rule) to about this many.

        Raises:
            TypeError: ``tag`` is not a str or ``values`` are not real numbers.
            ValueError: ``values`` is empty or holds NaN or infinity (drop them
                first: TensorBoard cannot draw them, and torch would write NaN
                statistics), every value lies outside ``bins``, or bad
                ``bins``/``max_bins``.
        """
        with _convert.naming_errors("add_histogram", tag):
            tag = _convert.to_text(tag, "tag")
            if isinstance(bins, str) and bins == "tensorflow" and _convert.on_accelerator(values):
                if values.numel() == 0:
                    raise ValueError("values is empty; a histogram needs at least one value")
                stats = _convert.torch_bucket_counts(values, histogram_summary.half_open_edges)
                histo = histogram_summary.histogram_from_stats(*stats, max_bins=max_bins)
            else:
                histo = histogram_summary.histogram_proto_bytes(
                    _convert.to_numpy(values, "values"), bins, max_bins
                )
            step = self._step(tag, global_step)
        self._write_summary_bytes(histogram_summary.summary_bytes(tag, histo), step, walltime)

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
            min, max, num, sum, sum_squares: the values' statistics.
            bucket_limits: right edge of each bucket (non-decreasing).
            bucket_counts: number of values in each bucket; same length.
            global_step: the x value; see ``SummaryWriter(auto_step=...)``.
            walltime: seconds since the epoch; default now.

        Raises:
            TypeError: a non-numeric argument.
            ValueError: lengths differ (TensorBoard's default loader would
                drop the histogram), no buckets, decreasing limits or negative
                counts. Nothing is written.
        """
        with _convert.naming_errors("add_histogram_raw", tag):
            tag = _convert.to_text(tag, "tag")
            numbers = [
                _convert.to_float(value, name)
                for value, name in ((min, "min"), (max, "max"), (num, "num"), (sum, "sum"),
                                    (sum_squares, "sum_squares"))
            ]
            histo = histogram_summary.raw_histogram_bytes(
                *numbers,
                _numbers(bucket_limits, "bucket_limits").reshape(-1),
                _numbers(bucket_counts, "bucket_counts").reshape(-1),
            )
            step = self._step(tag, global_step)
        self._write_summary_bytes(histogram_summary.summary_bytes(tag, histo), step, walltime)

    # -- PR curves --------------------------------------------------------------

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
        """Log a precision-recall curve (TensorBoard's PR Curves dashboard).

        Computed as torch computes it. Unlike torch, ``num_thresholds`` above
        127 is honoured rather than lowered to 127.

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
            ValueError: labels and predictions differ in size or are empty, a
                prediction or label outside [0, 1] or NaN, ``num_thresholds``
                below 2, or weights of the wrong size.
        """
        with _convert.naming_errors("add_pr_curve", tag):
            tag = _convert.to_text(tag, "tag")
            if weights is not None:
                weights = _numbers(weights, "weights")
            data = pr_curve_summary.compute_curve(
                _convert.to_numpy(labels, "labels"),
                _convert.to_numpy(predictions, "predictions"),
                num_thresholds,
                weights,
            )
            step = self._step(tag, global_step)
        self._write_summary_bytes(pr_curve_summary.pr_curve_bytes(tag, data), step, walltime)

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
            true_positive_counts, false_positive_counts, true_negative_counts,
                false_negative_counts, precision, recall: 1-D, one length.
            global_step: the x value; see ``SummaryWriter(auto_step=...)``.
            num_thresholds: accepted for torch compatibility; the number of
                thresholds recorded is the arrays' length.
            weights: accepted for torch compatibility; unused (as in torch).
            walltime: seconds since the epoch; default now.

        Raises:
            TypeError: non-numeric arrays.
            ValueError: arrays of different lengths, not 1-D, or empty.
        """
        with _convert.naming_errors("add_pr_curve_raw", tag):
            tag = _convert.to_text(tag, "tag")
            pr_curve_summary.check_num_thresholds(num_thresholds)
            names = ("true_positive_counts", "false_positive_counts", "true_negative_counts",
                     "false_negative_counts", "precision", "recall")
            arrays = (true_positive_counts, false_positive_counts, true_negative_counts,
                      false_negative_counts, precision, recall)
            data = pr_curve_summary.raw_data(
                *(_convert.to_numpy(array, name) for array, name in zip(arrays, names, strict=True))
            )
            step = self._step(tag, global_step)
        self._write_summary_bytes(pr_curve_summary.pr_curve_bytes(tag, data), step, walltime)

    # -- text -------------------------------------------------------------------

    def add_text(
        self, tag: str, text_string: Any, global_step: int | None = None,
        walltime: float | None = None,
    ) -> None:
        """Log text (Markdown) under ``{tag}/text_summary`` (TensorBoard's Text dashboard).

        Args:
            tag: series name; TensorBoard shows ``{tag}/text_summary`` as torch's.
            text_string: a str, or a 1-D or rectangular 2-D list/array of str,
                which TensorBoard renders as a table.
            global_step: the x value; see ``SummaryWriter(auto_step=...)``.
            walltime: seconds since the epoch; default now.

        Raises:
            TypeError: ``tag`` or a cell is not a str.
            ValueError: text that is not valid Unicode, or a ragged/empty/3-D table.
        """
        encoder = self.__dict__.get("_text_encoder")
        if encoder is None:
            encoder = self.__dict__["_text_encoder"] = text_summary.TextEncoder()
        if (
            type(tag) is str and type(text_string) is str and walltime is None
            and type(global_step) is int and 0 <= global_step < 1 << 63
        ):  # the common case, without the general checks and conversions
            try:
                data = encoder.event_bytes(tag, text_string, global_step, time.time())
            except UnicodeEncodeError:
                pass  # the general path below says what is wrong
            else:
                self._get_file_writer().event_writer.add_record(data)
                return
        if type(tag) is not str:
            with _convert.naming_errors("add_text", tag):
                _convert.to_text(tag, "tag")
        try:
            summary = encoder.summary_bytes(tag, text_string)
        except (TypeError, ValueError) as exc:
            with _convert.naming_errors("add_text", tag):
                if isinstance(exc, UnicodeError):  # say which str, and why
                    _convert.to_text(tag, "tag")
                    if isinstance(text_string, str):
                        _convert.to_text(text_string, "text_string")
                raise
        step = self._step(text_summary.summary_tag(tag), global_step)
        self._write_summary_bytes(summary, step, walltime)

    # -- custom scalars ---------------------------------------------------------

    def add_custom_scalars(self, layout: Mapping[str, Mapping[str, Sequence[Any]]]) -> None:
        """Lay out charts of scalar tags (TensorBoard's Custom Scalars dashboard).

        ``layout`` is ``{category: {chart title: [kind, tags]}}``; kind is
        ``"Multiline"`` (any number of tags or regular expressions) or
        ``"Margin"`` (exactly 3 tags: value, lower, upper). Written at step 0
        like torch. Unlike torch, where only the last call shows, every call
        of one writer adds its charts to the earlier ones (a chart of the same
        category and title replaces the earlier one).

        Raises:
            TypeError: the layout is not shaped as above.
            ValueError: an unknown chart kind or a Margin chart without 3 tags.
        """
        with _convert.naming_errors("add_custom_scalars", custom_scalars_summary.CONFIG_TAG):
            new = custom_scalars_summary.layout_proto(layout)
        merged = self.__dict__.get("_custom_scalars_layout")
        if merged is None:
            merged = self.__dict__["_custom_scalars_layout"] = type(new)()
        custom_scalars_summary.merge(merged, new)
        self._write_summary_bytes(custom_scalars_summary.layout_summary_bytes(merged), 0, None)

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

    # -- meshes -----------------------------------------------------------------

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
        """Log a mesh or point cloud (TensorBoard's Mesh dashboard), laid out as torch's.

        Args:
            tag: mesh name; values are tagged ``{tag}_VERTEX``/``_FACE``/``_COLOR``.
            vertices: ``(B, N, 3)`` xyz coordinates.
            colors: ``(B, N, 3)`` RGB per vertex, 0-255; optional.
            faces: ``(B, F, 3)`` vertex indices of each triangle; optional.
            config_dict: three.js scene configuration (JSON-serializable dict).
            global_step: the x value; see ``SummaryWriter(auto_step=...)``.
            walltime: seconds since the epoch; default now.

        Raises:
            TypeError: non-numeric data or a config that JSON cannot encode.
            ValueError: a shape other than ``(B, N, 3)``, batch sizes or vertex
                counts that disagree, or NaN/infinite vertices.
        """
        with _convert.naming_errors("add_mesh", tag):
            if vertices is None:
                raise TypeError("vertices is required: an array of shape (B, N, 3)")
            tag = _convert.to_text(tag, "tag")
            arrays = {
                name: None if value is None else _convert.to_numpy(value, name)
                for name, value in (("vertices", vertices), ("colors", colors), ("faces", faces))
            }
            summary = mesh_summary.mesh_summary_bytes(
                tag, arrays["vertices"], arrays["colors"], arrays["faces"], config_dict
            )
            step = self._step(tag, global_step)
        self._write_summary_bytes(summary, step, walltime)

    # -- tensors ----------------------------------------------------------------

    def add_tensor(
        self, tag: str, tensor: Any, global_step: int | None = None,
        walltime: float | None = None,
    ) -> None:
        """Log a whole tensor (dtype, shape and values).

        Written as torch writes it (plugin ``"tensor"``) plus the TENSOR data
        class, so TensorBoard's default (Rust) loader keeps it instead of
        dropping it: both loaders return it (``EventAccumulator.Tensors(tag)``,
        a data provider's ``read_tensors(plugin_name="tensor")``). No
        dashboard draws arbitrary tensors; use add_scalar, add_histogram or
        add_text to see one. bfloat16 is stored as float32.

        Raises:
            TypeError: a dtype TensorBoard cannot store (str, object).
            ValueError: 2 GiB of data or more.
        """
        with _convert.naming_errors("add_tensor", tag):
            tag = _convert.to_text(tag, "tag")
            array = _convert.to_numpy(tensor, "tensor")
            summary = tensor_summary.tensor_summary_bytes(tag, array)
            step = self._step(tag, global_step)
        self._write_summary_bytes(summary, step, walltime)
