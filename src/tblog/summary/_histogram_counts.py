"""Counting values into TensorBoard's default histogram buckets, fast.

TensorBoard's default buckets (``bins="tensorflow"``) are the 1549 edges
``-1e20 < ... < -1e-12, 0, 1e-12 < ... < 1e20`` spaced by a factor 1.1, built
exactly as torch builds them, so the same values give the same buckets.

Counting against them is the hot path of ``add_histogram``. Sorting a million
floats (what ``np.histogram`` does) costs more than everything else together,
so values are bucketed by the top bits of their binary form instead: the
values sharing a 15-bit prefix (16 for float64) span a range narrower than the
1.1 ratio between edges, so one table lookup per value gives the one edge that
can split its prefix and the bucket below it, and one comparison finishes.
The counts equal ``np.histogram`` on the values cast to float64, which is what
torch computes (tests/test_histogram.py checks it, also by fuzzing).

A large input is counted in two fixed halves, one on the caller's thread and
one on a helper thread where a second CPU is free; both stay in float32 and
read each value once, computing buckets, min/max and the float64 sums in the
same cache-sized chunks. A torch tensor on an accelerator is counted where it
lives (``torch_stats``): only the counts and five numbers cross to the host.
"""

from __future__ import annotations

import functools
import math
import os
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import numpy as np

_CHUNK = 1 << 16  # values per pass over a large input: its scratch stays in cache
_T = TypeVar("_T")


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
    edge. The table gives each prefix that edge (+inf when it has none) and
    the bucket below it; a value's bucket is that one, plus one when the value
    is at or above the edge. Buckets are numbered from 1 here: 0 is below the
    edges, ``nbins + 1`` (and above) beyond them or not finite.
    """

    def __init__(self, dtype: np.dtype) -> None:
        self.uint = np.dtype(f"u{dtype.itemsize}")
        bits = 15 if dtype.itemsize == 4 else 16
        self.shift = self.uint.type(dtype.itemsize * 8 - bits)
        self.edges = half_open_edges(dtype)
        self.nbins = nbins = len(self.edges) - 1
        prefix = np.arange(1 << bits, dtype=self.uint) << self.shift
        first = prefix.view(dtype)
        last = (prefix | self.uint.type((1 << int(self.shift)) - 1)).view(dtype)
        # All-ones exponent: inf and NaN.
        exponent = (1 << (bits - 1)) - (1 << (bits - 9 if bits == 15 else bits - 12))
        finite = (np.arange(1 << bits) & exponent) != exponent
        with np.errstate(invalid="ignore"):
            lows, highs = np.minimum(first, last), np.maximum(first, last)
        below, above = self.bucket(lows) + 1, self.bucket(highs) + 1  # in 0 .. nbins + 1
        if np.any(above[finite] - below[finite] > 1):
            raise AssertionError("a bit prefix spans two bucket edges")
        straddles = (below != above) & finite
        # One gather per value fetches both: a record of (edge, bucket below).
        self.entries = np.zeros(1 << bits, dtype=[("edge", dtype), ("bucket", np.int32)])
        self.entries["edge"] = np.inf
        self.entries["edge"][straddles] = self.edges[above[straddles] - 1]
        self.entries["bucket"] = np.where(finite, below, nbins + 1)

    def bucket(self, values: np.ndarray) -> np.ndarray:
        """Default bucket of each value: -1 below the edges, nbins above."""
        return np.searchsorted(self.edges, values, side="right") - 1

    def stats(self, x: np.ndarray) -> tuple[np.ndarray, float, float, float, float]:
        """(counts over the default buckets, min, max, sum, sum of squares) of
        a 1-D array, the sums accumulated in float64 as torch does.

        NaN and infinities are not counted; min/max then are NaN or infinite.
        """
        size = min(x.size, _CHUNK)
        prefixes = np.empty(size, self.uint)
        entries = np.empty(size, self.entries.dtype)
        above = np.empty(size, np.bool_)
        buckets = np.empty(size, np.intp)
        # The sums reuse the buckets' memory once counted: less scratch, more cache.
        wide = buckets.view(np.float64) if buckets.itemsize == 8 else np.empty(size, np.float64)
        counts = np.zeros(self.nbins + 3, np.intp)
        bits = x.view(self.uint)
        lows, highs = [], []
        total = squares = 0.0
        # One pass in chunks whose scratch arrays stay in cache, so each value
        # is read from memory once. mode="clip" skips numpy's bounds checks
        # (prefixes are always in range): 3x faster. No BLAS for the sums: its
        # threads would spin on the other core long after np.dot returns.
        with np.errstate(over="ignore"):  # sums: inf, as torch gets, for huge float64
            for start in range(0, x.size, _CHUNK):
                chunk = x[start : start + _CHUNK]
                n = chunk.size
                p, e, a, b, y = prefixes[:n], entries[:n], above[:n], buckets[:n], wide[:n]
                lows.append(chunk.min())
                highs.append(chunk.max())
                np.right_shift(bits[start : start + n], self.shift, out=p)
                np.take(self.entries, p, out=e, mode="clip")
                np.greater_equal(chunk, e["edge"], out=a)
                np.add(e["bucket"], a, out=b, casting="unsafe")
                counts += np.bincount(b, minlength=self.nbins + 3)
                chunk_total, chunk_squares = _chunk_sums(chunk, y)
                total += chunk_total
                squares += chunk_squares
        # np.min/np.max, unlike Python's min/max, let a NaN through.
        low, high = float(np.min(lows)), float(np.max(highs))
        return counts[1 : self.nbins + 1], low, high, total, squares


_tables: dict[np.dtype, _PrefixTable] = {}
_tables_lock = threading.Lock()


def _table(dtype: np.dtype) -> _PrefixTable:
    table = _tables.get(dtype)
    if table is None:
        with _tables_lock:
            table = _tables.get(dtype) or _PrefixTable(dtype)
            _tables[dtype] = table
    return table


def _chunk_sums(chunk: np.ndarray, scratch: np.ndarray) -> tuple[float, float]:
    """Sum and sum of squares of ``chunk`` in float64, via a float64 ``scratch``
    of the same length (callers ignore overflow: inf, as torch gets)."""
    scratch[...] = chunk
    total = float(scratch.sum())
    np.multiply(scratch, scratch, out=scratch)
    return total, float(scratch.sum())


def float64_sums(x: np.ndarray) -> tuple[float, float]:
    """Sum and sum of squares accumulated in float64 (torch's precision).

    In cache-sized chunks, and without BLAS: OpenBLAS's threads would spin on
    the other cores long after a large ``np.dot`` returns.
    """
    with np.errstate(over="ignore"):  # inf, as torch gets, for huge float64
        if x.size <= 4096:  # small: BLAS stays on this thread
            y = x.astype(np.float64)
            return float(y.sum()), float(np.dot(y, y))
        scratch = np.empty(min(x.size, _CHUNK), np.float64)
        total = squares = 0.0
        for start in range(0, x.size, _CHUNK):
            part = x[start : start + _CHUNK]
            part_total, part_squares = _chunk_sums(part, scratch[: part.size])
            total += part_total
            squares += part_squares
    return total, squares


def default_stats(x: np.ndarray) -> tuple[np.ndarray, float, float, float, float]:
    """Counts of a float32/float64 vector over ``DEFAULT_EDGES``, min, max,
    sum and sum of squares (accumulated in float64).

    A large vector is cut in two halves, counted at once on the caller's
    thread and a helper thread where there is a second CPU (numpy releases
    the GIL in all but ``np.bincount``). The halves are the same either way,
    so the float sums do not depend on the machine.

    Raises:
        ValueError: a value is NaN or infinite.
    """
    table = _table(x.dtype)
    if x.size < _SPLIT_MIN:
        counts, low, high, total, squares = table.stats(x)
    else:
        middle = x.size // 2 // _CHUNK * _CHUNK or x.size // 2
        first = _run_on_helper(table.stats, x[:middle])
        counts, low, high, total, squares = table.stats(x[middle:])
        counts_1, low_1, high_1, total_1, squares_1 = first()
        counts = counts + counts_1
        low, high = float(np.min([low_1, low])), float(np.max([high_1, high]))
        total, squares = total_1 + total, squares_1 + squares
    if not (math.isfinite(low) and math.isfinite(high)):
        raise nonfinite_error(x)
    return counts, low, high, total, squares


#: Vectors of at least this many values are counted in two halves.
_SPLIT_MIN = 1 << 18

_helper: ThreadPoolExecutor | None = None
_helper_lock = threading.Lock()


def _usable_cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS, Windows
        return os.cpu_count() or 1


def _run_on_helper(fn: Callable[[np.ndarray], _T], arg: np.ndarray) -> Callable[[], _T]:
    """Start ``fn(arg)`` on the helper thread; return what waits for its result.

    Runs it right here instead on a single CPU or while the interpreter exits.
    """
    global _helper
    if _usable_cpus() > 1:
        with _helper_lock:
            if _helper is None:
                _helper = ThreadPoolExecutor(1, thread_name_prefix="tblog-histogram")
            try:
                future = _helper.submit(fn, arg)
            except RuntimeError:  # "cannot schedule new futures after shutdown"
                pass
            else:
                return future.result
    result = fn(arg)
    return lambda: result


def _forget_helper() -> None:
    # A forked child has no helper thread, only the parent's executor object.
    global _helper, _helper_lock
    _helper, _helper_lock = None, threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_helper)


def nonfinite_error(x: np.ndarray) -> ValueError:
    """The error for values holding NaN or infinity, with how many."""
    bad = int(np.count_nonzero(~np.isfinite(x)))
    return ValueError(
        f"values has {bad} NaN or infinite value(s) of {x.size}; TensorBoard "
        f"histograms need finite numbers (drop them first, e.g. "
        f"values[torch.isfinite(values)])"
    )


def torch_stats(tensor: Any) -> tuple[np.ndarray, float, float, int, float, float]:
    """Histogram a torch tensor where it lives; copy back only the results.

    For GPU tensors: rather than moving every value to the host, buckets are
    counted on the device and only the counts and five numbers cross over.
    Buckets are ``half_open_edges`` of ``DEFAULT_EDGES`` (``e[i] <= x <
    e[i+1]``) in float32 or float64; integers of up to 16 bits, bool and
    16-bit floats are exact in float32, others use float64 (torch casts to
    float64).

    Returns:
        (counts per bucket, min, max, number of values, sum, sum of squares),
        the sums accumulated in float64. min/max are NaN or infinite when the
        tensor holds such values (the caller rejects them).
    """
    import torch

    values = tensor.detach().reshape(-1)
    if values.is_complex():
        raise TypeError(f"values must be real numbers, got dtype {values.dtype}")
    small = values.dtype in (torch.float16, torch.bfloat16, torch.bool, torch.uint8,
                             torch.int8, torch.int16, torch.float32)
    values = values.float() if small else values.double()
    dtype = np.dtype(np.float32 if small else np.float64)
    edges = torch.tensor(half_open_edges(dtype), device=values.device)
    # bucketize(right=True) is i with e[i-1] <= x < e[i]: bucket i - 1.
    index = torch.bucketize(values, edges, right=True)
    counts = torch.bincount(index, minlength=len(edges) + 1)[1 : len(edges)]
    wide = values.double()
    stats = torch.stack([values.min().double(), values.max().double(), wide.sum(), wide.dot(wide)])
    low, high, total, squares = stats.cpu().tolist()
    return counts.cpu().numpy(), low, high, values.numel(), total, squares
