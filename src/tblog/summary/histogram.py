"""Histograms: ``Summary.Value.histo`` (a ``HistogramProto``), as torch writes them.

With the default bins (``bins="tensorflow"``: TensorBoard's exponential
edges, see ``_histogram_counts``) the same values give torch's buckets. The
histogram keeps the non-empty range of buckets plus one empty bucket on the
left (TensorBoard stores right edges only), again as torch does.
"""

from __future__ import annotations

import math
import operator
import struct
from collections.abc import Callable
from typing import Any

import numpy as np

from tblog import _limits
from tblog._wire import field, varint
from tblog.summary._histogram_counts import (
    DEFAULT_EDGES,
    default_stats,
    float64_sums,
    nonfinite_error,
    torch_stats,
)
from tblog.summary._histogram_counts import half_open_edges as half_open_edges  # re-exported

__all__ = ["DEFAULT_EDGES", "half_open_edges", "torch_stats"]

PLUGIN_NAME = "histograms"

_DOUBLE = struct.Struct("<d")


def _as_float_vector(values: np.ndarray) -> np.ndarray:
    """Flatten to float32 when that is exact for the dtype, else float64."""
    kind = values.dtype.kind
    if kind not in "fiub" or values.dtype.hasobject:
        raise TypeError(f"values must be real numbers, got dtype {values.dtype}")
    if values.size == 0:
        raise ValueError("values is empty; a histogram needs at least one value")
    flat = values.reshape(-1)
    if values.dtype == np.float32 or values.dtype == np.float64:
        return np.ascontiguousarray(flat)
    if kind == "b" or values.dtype.itemsize <= 2:  # float16, (u)int8/16, bool
        return flat.astype(np.float32)
    return flat.astype(np.float64)  # as torch's astype(float)


def _subsample(
    counts: np.ndarray, edges: np.ndarray, max_bins: int
) -> tuple[np.ndarray, np.ndarray]:
    """Merge every ``len(counts) // max_bins`` buckets, as torch's ``max_bins`` does."""
    group = len(counts) // max_bins
    padding = -len(counts) % group
    if padding:
        counts = np.concatenate([counts, np.zeros(padding, counts.dtype)])
    counts = counts.reshape(-1, group).sum(axis=1)
    edges = np.append(edges[:-1:group], edges[-1])
    return counts, edges


def _trim(counts: np.ndarray, edges: np.ndarray) -> tuple[np.ndarray, np.ndarray, bool]:
    """The non-empty buckets plus an empty one on the left, with right edges.

    Returns (counts, right edges, whether a zero count goes before ``counts``).
    """
    occupied = np.flatnonzero(counts)
    if occupied.size == 0:
        raise ValueError(
            f"every value lies outside the bins [{edges[0]:g}, {edges[-1]:g}]; "
            "the histogram would be empty"
        )
    first, last = int(occupied[0]), int(occupied[-1])
    if first > 0:
        return counts[first - 1 : last + 1], edges[first : last + 2], False
    return counts[: last + 1], edges[: last + 2], True


_HEAD = struct.Struct("<BdBdBdBdBd")
_ZERO = bytes(8)


def encode_histogram_proto(
    low: float,
    high: float,
    num: float,
    total: float,
    squares: float,
    bucket_limits: np.ndarray,
    bucket_counts: np.ndarray,
    zero_first: bool = False,
) -> bytes:
    """Serialized ``HistogramProto``: the bytes the generated message writes.

    ``zero_first`` puts a zero count before ``bucket_counts``.
    """
    if low and high and num and total and squares:  # the usual case: one pack
        out = [_HEAD.pack(0x09, low, 0x11, high, 0x19, num, 0x21, total, 0x29, squares)]
    else:
        out = [
            bytes((key,)) + _DOUBLE.pack(number)
            for key, number in ((0x09, low), (0x11, high), (0x19, num), (0x21, total),
                                (0x29, squares))
            if number or math.copysign(1.0, number) < 0  # proto3 omits +0.0 only
        ]
    limits = np.asarray(bucket_limits, dtype="<f8").tobytes()
    counts = np.asarray(bucket_counts, dtype="<f8").tobytes()
    if zero_first:
        counts = _ZERO + counts
    if limits:
        out += (b"\x32", varint(len(limits)), limits)
    if counts:
        out += (b"\x3a", varint(len(counts)), counts)
    return b"".join(out)


def histogram_from_counts(
    counts: np.ndarray,
    edges: np.ndarray,
    low: float,
    high: float,
    num: int,
    total: float,
    squares: float,
    max_bins: int | None = None,
) -> bytes:
    """Serialized ``HistogramProto`` from full counts over ``edges``."""
    if max_bins is not None and len(counts) > max_bins:
        counts, edges = _subsample(counts, edges, max_bins)
    counts, limits, zero_first = _trim(counts, edges)
    return encode_histogram_proto(
        low, high, float(num), total, squares, limits, counts, zero_first
    )


def check_max_bins(max_bins: Any) -> int | None:
    """``max_bins`` as a positive int or None."""
    if max_bins is None:
        return None
    if isinstance(max_bins, bool) or not isinstance(max_bins, (int, np.integer)) or max_bins < 1:
        raise ValueError(f"max_bins must be a positive int or None, got {max_bins!r}")
    return int(max_bins)


def _check_bucket_count(x: np.ndarray, bins: Any) -> None:
    """Refuse ``bins`` that would make more than ``MAX_HISTOGRAM_BUCKETS`` buckets."""
    name = "bins"
    if isinstance(bins, str):
        count = _limits.estimated_bucket_count(x, bins)
        name = f"bins={bins!r}"
    elif np.ndim(bins) == 0:  # a count: an int, a numpy integer or a 0-d array
        try:
            count = operator.index(bins)
        except TypeError:
            count = 0  # not a count at all: np.histogram says what is wrong
    else:  # explicit edges: as many as the caller already holds
        count = int(np.size(bins)) - 1
    _limits.check_at_most(count, _limits.MAX_HISTOGRAM_BUCKETS, name, "histogram buckets")


def histogram_proto_bytes(
    values: np.ndarray, bins: Any = "tensorflow", max_bins: Any = None
) -> bytes:
    """Serialized ``HistogramProto`` of ``values`` (any shape).

    Args:
        values: real numbers. NaN and infinity are rejected (a ValueError
            rather than torch's NaN min/max/sum, which TensorBoard cannot
            draw): drop them first if they are expected.
        bins: ``"tensorflow"`` (TensorBoard's default exponential edges) or
            anything ``np.histogram`` accepts: an estimator name (``"auto"``,
            ``"fd"``, ...), a number of equal-width bins, or increasing edges.
        max_bins: merge buckets (torch's rule) so at most about this many remain.

    Raises:
        TypeError: the values are not real numbers.
        ValueError: no values, a NaN or infinite value, every value outside
            the bins, bad ``bins``/``max_bins``, or ``bins`` that would make
            more than ``tblog._limits.MAX_HISTOGRAM_BUCKETS`` buckets.
    """
    max_bins = check_max_bins(max_bins)
    x = _as_float_vector(values)
    if isinstance(bins, str) and bins == "tensorflow":
        return _default_histogram(x, max_bins)
    low, high = float(x.min()), float(x.max())
    if not (math.isfinite(low) and math.isfinite(high)):
        raise nonfinite_error(x)
    _check_bucket_count(x, bins)
    try:
        counts, edges = np.histogram(x.astype(np.float64, copy=False), bins=bins)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"bins={bins!r} was rejected by np.histogram: {exc}") from None
    if len(counts) == 0:
        raise ValueError(f"bins={bins!r} makes no buckets; give at least two edges")
    total, squares = float64_sums(x)
    return histogram_from_counts(counts, edges, low, high, x.size, total, squares, max_bins)


#: Default-bin histograms of this many values, up to ``DEFER_MAX_BYTES``, are
#: copied and counted on the worker pool (``counted_later``): in a training loop
#: the second CPU does the counting. Larger ones are counted at once, split over
#: two threads, without a copy (a queue of 4 MB copies would cost memory).
DEFER_MIN = 1 << 15
DEFER_MAX_BYTES = 1 << 20


def counted_later(values: np.ndarray, max_bins: Any = None) -> Callable[[], bytes] | None:
    """A builder of the default-bin ``HistogramProto`` of ``values``, to run on
    another thread, or None when ``values`` are too small or too large to gain.

    Everything that can be wrong is checked now (dtype, emptiness, NaN and
    infinity, ``max_bins``); the values are copied, so the caller may change
    them at once (an optimizer step). The builder's bytes equal
    ``histogram_proto_bytes(values, "tensorflow", max_bins)``.

    Raises:
        TypeError, ValueError: as ``histogram_proto_bytes``.
    """
    if values.size < DEFER_MIN:  # before any conversion: the common small case
        return None
    max_bins = check_max_bins(max_bins)
    x = _as_float_vector(values)
    if x.nbytes > DEFER_MAX_BYTES:
        return None
    low, high = float(x.min()), float(x.max())  # NaN comes through np.min
    if not (math.isfinite(low) and math.isfinite(high)):
        raise nonfinite_error(x)
    x = x.copy() if np.may_share_memory(x, values) else x
    return lambda: _default_histogram(x, max_bins)


def _default_histogram(x: np.ndarray, max_bins: int | None) -> bytes:
    """``HistogramProto`` bytes of a float vector over ``DEFAULT_EDGES``."""
    counts, low, high, total, squares = default_stats(x)
    return histogram_from_counts(counts, DEFAULT_EDGES, low, high, x.size, total, squares, max_bins)


def histogram_from_stats(
    counts: np.ndarray, low: float, high: float, num: int, total: float, squares: float,
    max_bins: Any = None,
) -> bytes:
    """Serialized ``HistogramProto`` from counts over ``DEFAULT_EDGES`` and the
    other statistics, computed elsewhere (e.g. on a GPU)."""
    max_bins = check_max_bins(max_bins)
    if not (math.isfinite(low) and math.isfinite(high)):
        raise ValueError(
            "values has NaN or infinite values; TensorBoard histograms need finite "
            "numbers (drop them first, e.g. values[torch.isfinite(values)])"
        )
    return histogram_from_counts(counts, DEFAULT_EDGES, low, high, num, total, squares, max_bins)


def raw_histogram_bytes(
    low: float, high: float, num: float, total: float, squares: float,
    bucket_limits: np.ndarray, bucket_counts: np.ndarray,
) -> bytes:
    """Serialized ``HistogramProto`` given by its parts, after checking them.

    Args:
        bucket_limits: right edge of each bucket, non-decreasing.
        bucket_counts: number of values in each bucket, as many as limits.

    Raises:
        ValueError: lengths differ, no buckets, arrays not 1-D, NaN limits,
            decreasing limits, or negative/NaN counts.
    """
    limits = np.asarray(bucket_limits, dtype=np.float64)
    counts = np.asarray(bucket_counts, dtype=np.float64)
    if limits.ndim != 1 or counts.ndim != 1:
        raise ValueError(
            f"bucket_limits and bucket_counts must be 1-D, got shapes {limits.shape} "
            f"and {counts.shape}"
        )
    if len(limits) != len(counts):
        raise ValueError(
            f"bucket_limits and bucket_counts must have the same length (one right "
            f"edge per bucket), got {len(limits)} and {len(counts)}"
        )
    if not len(limits):
        raise ValueError("bucket_limits and bucket_counts are empty")
    if np.isnan(limits).any() or np.any(np.diff(limits) < 0):
        raise ValueError("bucket_limits must be non-decreasing numbers (right edges)")
    if not (counts >= 0).all():
        raise ValueError("bucket_counts must be non-negative numbers")
    return encode_histogram_proto(low, high, num, total, squares, limits, counts)


def summary(tag: str, histo: bytes) -> bytes:
    """Serialized ``Summary{value: [{tag, histo}]}`` around a serialized ``HistogramProto``."""
    encoded_tag = tag.encode("utf-8")
    value = field(0x0A, encoded_tag) if encoded_tag else b""
    return field(0x0A, value + field(0x2A, histo))
