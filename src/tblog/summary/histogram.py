"""Histograms: ``Summary.Value.histo`` (a ``HistogramProto``), as torch writes them.

TensorBoard's default buckets (``bins="tensorflow"``) are the 1549 edges
``-1e20 < ... < -1e-12, 0, 1e-12 < ... < 1e20`` spaced by a factor 1.1, built
exactly as torch builds them, so the same values give the same buckets. The
histogram keeps the non-empty range of buckets plus one empty bucket on the
left (TensorBoard stores right edges only), again as torch does.

Counting against the default edges is the hot path. Sorting a million floats
costs more than everything else together, so large inputs are bucketed by the
top 16 bits of each float instead: one ``bincount`` over 65536 bit prefixes,
whose ranges of values hold at most one edge each. Only values in a prefix that
straddles an edge (a few percent of typical data) are compared with that edge.
The result equals ``np.histogram`` on the values cast to float64, which is
what torch computes (``tests/test_histogram.py`` checks it, also by fuzzing).
"""

from __future__ import annotations

import functools
import math
import struct
import threading
from typing import Any

import numpy as np

from tblog._scalar_event import varint
from tblog.proto import summary_pb2

PLUGIN_NAME = "histograms"

_DOUBLE = struct.Struct("<d")
# Below this many values, binary search of each value beats the prefix tables.
_SMALL = 1 << 14
_CHUNK = 1 << 16  # float64 scratch for the sums: stays in cache


def _tensorflow_edges() -> np.ndarray:
    # The same float operations as torch's (repeated *1.1 from 1e-12, not
    # powers), so every edge is bit-identical to the one torch uses.
    value = 1e-12
    positive = []
    while value < 1e20:
        positive.append(value)
        value *= 1.1
    return np.array([-v for v in reversed(positive)] + [0.0] + positive)


#: TensorBoard's default bucket edges (float64, increasing, 1549 of them).
DEFAULT_EDGES = _tensorflow_edges()
DEFAULT_EDGES.flags.writeable = False


@functools.cache
def half_open_edges(dtype: np.dtype) -> np.ndarray:
    """``DEFAULT_EDGES`` in ``dtype``, such that for every ``x`` of that dtype
    ``e[i] <= x < e[i+1]`` exactly when ``np.histogram`` on float64 puts ``x``
    in bucket ``i`` (its last bucket is closed on the right)."""
    edges = DEFAULT_EDGES.astype(dtype)
    # x >= e (float64) <=> x >= the smallest dtype value >= e.
    low = edges.astype(np.float64) < DEFAULT_EDGES
    edges[low] = np.nextafter(edges[low], dtype.type(np.inf))
    # x <= e_last <=> x < the next value after the largest dtype value <= e_last.
    last = DEFAULT_EDGES[-1].astype(dtype)
    if float(last) > DEFAULT_EDGES[-1]:
        last = np.nextafter(last, dtype.type(-np.inf))
    edges[-1] = np.nextafter(last, dtype.type(np.inf))
    edges.flags.writeable = False
    return edges


class _PrefixTable:
    """Per float dtype: the default bucket of every bit prefix of its values.

    A prefix is the sign, the exponent and the top mantissa bits of a float
    (15 bits of a float32, 16 of a float64): the values sharing one form a
    range narrower than the 1.1 ratio between edges, so it holds at most one
    edge. Every value gets the key ``2 * prefix + (value >= threshold)``, the
    threshold being the prefix's edge (+inf when it has none); all values with
    one key lie in one bucket, so counting keys counts buckets.
    """

    def __init__(self, dtype: np.dtype) -> None:
        self.uint = np.dtype(f"u{dtype.itemsize}")
        bits = 15 if dtype.itemsize == 4 else 16
        self.shift = self.uint.type(dtype.itemsize * 8 - bits)
        self.key_dtype = np.dtype(np.uint16 if bits == 15 else np.uint32)
        self.edges = half_open_edges(dtype)
        nbins = len(self.edges) - 1
        prefix = np.arange(1 << bits, dtype=self.uint) << self.shift
        first = prefix.view(dtype)
        last = (prefix | self.uint.type((1 << int(self.shift)) - 1)).view(dtype)
        # All-ones exponent (inf, NaN): never reached, as the caller checks.
        exponent = (1 << (bits - 1)) - (1 << (bits - 9 if bits == 15 else bits - 12))
        finite = (np.arange(1 << bits) & exponent) != exponent
        with np.errstate(invalid="ignore"):
            lows, highs = np.minimum(first, last), np.maximum(first, last)
        below, above = self.bucket(lows), self.bucket(highs)
        if np.any(above[finite] - below[finite] > 1):
            raise AssertionError("a bit prefix spans two bucket edges")
        straddles = (below != above) & finite
        self.threshold = np.full(1 << bits, np.inf, dtype)
        self.threshold[straddles] = self.edges[above[straddles]]
        # Bucket of each key; -1 for keys outside the edges (not counted).
        key_bucket = np.stack([below, above], axis=1).reshape(-1)
        key_bucket[(key_bucket < 0) | (key_bucket >= nbins) | ~np.repeat(finite, 2)] = -1
        self.key_bucket = key_bucket
        # The same shifted by one (0: not counted), for bincount on small inputs.
        self.key_bucket_1 = (key_bucket + 1).astype(np.uint16)

    def bucket(self, values: np.ndarray) -> np.ndarray:
        """Default bucket of each value: -1 below the edges, nbins above."""
        return np.searchsorted(self.edges, values, side="right") - 1

    def counts(self, x: np.ndarray) -> np.ndarray:
        """Counts over the default buckets of a 1-D array of finite values."""
        nbins = len(self.edges) - 1
        if x.size < _SMALL:  # one pass each, straight to buckets
            keys = np.right_shift(x.view(self.uint), self.shift).astype(np.intp)
            above = x >= self.threshold[keys]
            keys <<= 1
            keys += above
            return np.bincount(self.key_bucket_1[keys], minlength=nbins + 1)[1:]
        # In chunks that stay in cache: the passes over 1M values then cost
        # less than the count itself.
        size = min(x.size, _CHUNK)
        keys = np.empty(size, self.key_dtype)
        thresholds = np.empty(size, x.dtype)
        above = np.empty(size, np.bool_)
        per_key = np.zeros(len(self.key_bucket), np.intp)
        bits = x.view(self.uint)
        for start in range(0, x.size, _CHUNK):
            chunk = x[start : start + _CHUNK]
            n = chunk.size
            k, t, a = keys[:n], thresholds[:n], above[:n]
            np.right_shift(bits[start : start + n], self.shift, out=k, casting="unsafe")
            np.take(self.threshold, k, out=t)
            np.greater_equal(chunk, t, out=a)
            np.left_shift(k, 1, out=k)
            np.add(k, a, out=k, casting="unsafe")
            np.add.at(per_key, k, 1)
        used = np.flatnonzero(per_key)
        buckets = self.key_bucket[used]
        kept = buckets >= 0
        return np.bincount(
            buckets[kept], weights=per_key[used[kept]], minlength=len(self.edges) - 1
        ).astype(np.int64)


_tables: dict[np.dtype, _PrefixTable] = {}
_tables_lock = threading.Lock()


def _table(dtype: np.dtype) -> _PrefixTable:
    table = _tables.get(dtype)
    if table is None:
        with _tables_lock:
            table = _tables.get(dtype) or _PrefixTable(dtype)
            _tables[dtype] = table
    return table


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


def _sums(x: np.ndarray) -> tuple[float, float]:
    """Sum and sum of squares accumulated in float64 (torch's precision).

    In cache-sized chunks, and without BLAS: OpenBLAS's threads would spin on
    the other cores long after a large ``np.dot`` returns.
    """
    if x.size <= 4096:  # small: BLAS stays on this thread
        y = x.astype(np.float64)
        return float(y.sum()), float(np.dot(y, y))
    scratch = np.empty(min(x.size, _CHUNK), np.float64)
    total = squares = 0.0
    for start in range(0, x.size, _CHUNK):
        part = x[start : start + _CHUNK]
        y = scratch[: part.size]
        y[...] = part
        total += float(y.sum())
        np.multiply(y, y, out=y)
        squares += float(y.sum())
    return total, squares


def default_counts(x: np.ndarray) -> tuple[np.ndarray, float, float]:
    """Counts of a float32/float64 vector over ``DEFAULT_EDGES``, min, max.

    Raises:
        ValueError: a value is NaN or infinite.
    """
    low, high = float(x.min()), float(x.max())  # NaN propagates
    if not (math.isfinite(low) and math.isfinite(high)):
        raise _nonfinite_error(x)
    return _table(x.dtype).counts(x), low, high


def _nonfinite_error(x: np.ndarray) -> ValueError:
    bad = int(np.count_nonzero(~np.isfinite(x)))
    return ValueError(
        f"values has {bad} NaN or infinite value(s) of {x.size}; TensorBoard "
        f"histograms need finite numbers (drop them first, e.g. "
        f"values[torch.isfinite(values)])"
    )


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
            the bins, or bad ``bins``/``max_bins``.
    """
    max_bins = check_max_bins(max_bins)
    x = _as_float_vector(values)
    if isinstance(bins, str) and bins == "tensorflow":
        counts, low, high = default_counts(x)
        edges = DEFAULT_EDGES
    else:
        low, high = float(x.min()), float(x.max())
        if not (math.isfinite(low) and math.isfinite(high)):
            raise _nonfinite_error(x)
        try:
            counts, edges = np.histogram(x.astype(np.float64, copy=False), bins=bins)
        except (ValueError, TypeError) as exc:
            raise ValueError(f"bins={bins!r} was rejected by np.histogram: {exc}") from None
    total, squares = _sums(x)
    return histogram_from_counts(counts, edges, low, high, x.size, total, squares, max_bins)


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


def summary_bytes(tag: str, histo: bytes) -> bytes:
    """Serialized ``Summary{value: [{tag, histo}]}`` around a ``HistogramProto``."""
    encoded_tag = tag.encode("utf-8")
    value = b"\x0a" + varint(len(encoded_tag)) + encoded_tag if encoded_tag else b""
    value += b"\x2a" + varint(len(histo)) + histo
    return b"\x0a" + varint(len(value)) + value


def histogram(
    tag: str, values: np.ndarray, bins: Any = "tensorflow", max_bins: Any = None
) -> summary_pb2.Summary:
    """A ``Summary`` with one ``histo`` value; see :func:`histogram_proto_bytes`."""
    histo = histogram_proto_bytes(values, bins, max_bins)
    return summary_pb2.Summary.FromString(summary_bytes(tag, histo))


def histogram_raw(
    tag: str,
    min: float,  # noqa: A002 - torch's argument names
    max: float,  # noqa: A002
    num: float,
    sum: float,  # noqa: A002
    sum_squares: float,
    bucket_limits: np.ndarray,
    bucket_counts: np.ndarray,
) -> summary_pb2.Summary:
    """A ``Summary`` with a histogram given by its parts; see :func:`raw_histogram_bytes`."""
    histo = raw_histogram_bytes(min, max, num, sum, sum_squares, bucket_limits, bucket_counts)
    return summary_pb2.Summary.FromString(summary_bytes(tag, histo))
