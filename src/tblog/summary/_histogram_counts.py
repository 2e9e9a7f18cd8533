"""Counting values into TensorBoard's default histogram buckets, fast.

TensorBoard's default buckets (``bins="tensorflow"``) are the 1549 edges
``-1e20 < ... < -1e-12, 0, 1e-12 < ... < 1e20`` spaced by a factor 1.1, built
exactly as torch builds them, so the same values give the same buckets.

Counting against them is the hot path of ``add_histogram``. The values are
sorted, a cache-sized chunk at a time, and one binary search per edge then
gives every bucket's count; the chunk's ends are its min and max. numpy's
sort is vectorised (AVX-512 where the CPU has it) and releases the GIL, so
it beats any per-value bucket lookup here: those end in ``np.bincount``, which
holds the GIL. The counts equal ``np.histogram`` on the values cast to
float64, which is what torch computes (``half_open_edges``;
tests/test_histogram.py checks it, also by fuzzing).

A large input is counted in two fixed halves, one on the caller's thread and
one on a helper thread where a second CPU is free. Each counting thread keeps
its chunk buffers (1.5 MiB for float32, 2 MiB for float64) for the next call.
A torch tensor on an accelerator is counted where it lives (``torch_stats``):
only the counts and five numbers cross to the host.
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

_CHUNK = 1 << 17  # values sorted at a time: the chunk and its float64 copy fit in L2
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


def _sorted_stats(x: np.ndarray) -> tuple[np.ndarray, float, float, float, float]:
    """(counts over the default buckets, min, max, sum, sum of squares) of a
    1-D float32/float64 array, the sums accumulated in float64 as torch does.

    NaN and infinities are not counted; min/max then are NaN or infinite.
    """
    edges = half_open_edges(x.dtype)
    below = np.zeros(len(edges), np.intp)  # per edge: how many values lie below it
    if x.size <= _CHUNK:
        ordered = np.sort(x)  # NaN sorts last, so it shows as the max
        total, squares = float64_sums(x)  # in the input's order, as torch sums
        _count_below(ordered, edges, below)
        return _bucket_counts(below), float(ordered[0]), float(ordered[-1]), total, squares
    chunk_memory, wide = _scratch(x.dtype)
    ends = []
    total = squares = 0.0
    with np.errstate(over="ignore"):  # sums: inf, as torch gets, for huge float64
        for start in range(0, x.size, _CHUNK):
            values = x[start : start + _CHUNK]
            chunk = chunk_memory[: values.size]
            chunk[...] = values
            # Summed from cache, before the sort: in the input's order, as torch
            # sums (a sorted order cancels more: -3e38, 1, 3e38).
            chunk_total, chunk_squares = _chunk_sums(chunk, wide[: chunk.size])
            total += chunk_total
            squares += chunk_squares
            chunk.sort()
            ends += chunk[0], chunk[-1]
            _count_below(chunk, edges, below)
    # np.min/np.max, unlike Python's min/max, let a NaN through.
    return _bucket_counts(below), float(np.min(ends)), float(np.max(ends)), total, squares


def _count_below(ordered: np.ndarray, edges: np.ndarray, below: np.ndarray) -> None:
    """Add to each ``below[i]`` how many of the sorted ``ordered`` values lie
    below ``edges[i]``.

    Only the edges inside the values' range need a search: no value lies below
    those under it, all below those above it. Most of the 1549 edges are
    outside (standard normal values span about 600 of them).
    """
    first, last = np.searchsorted(edges, (ordered[0], ordered[-1]), side="right")
    below[first:last] += np.searchsorted(ordered, edges[first:last])
    below[last:] += ordered.size


def _bucket_counts(below: np.ndarray) -> np.ndarray:
    """Per bucket, the values between its edges (``np.diff`` without its overhead)."""
    return below[1:] - below[:-1]


_per_thread = threading.local()


def _scratch(dtype: np.dtype) -> tuple[np.ndarray, np.ndarray]:
    """This thread's chunk buffers (``_CHUNK`` values of ``dtype``, and as many
    float64), kept between calls: fresh ones would cost a page fault per 4 KiB
    (a fifth of the time of a 1M-value histogram)."""
    buffers = getattr(_per_thread, "buffers", None)
    if buffers is None:
        buffers = _per_thread.buffers = {}
    pair = buffers.get(dtype)
    if pair is None or pair[0].size != _CHUNK:  # tests change _CHUNK
        pair = buffers[dtype] = np.empty(_CHUNK, dtype), np.empty(_CHUNK, np.float64)
    return pair


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
    thread and a helper thread where there is a second CPU (numpy's sort and
    searches release the GIL). The halves are the same either way,
    so the float sums do not depend on the machine.

    Raises:
        ValueError: a value is NaN or infinite.
    """
    if x.size < _SPLIT_MIN:
        counts, low, high, total, squares = _sorted_stats(x)
    else:
        middle = x.size // 2
        first = _run_on_helper(_sorted_stats, x[:middle])
        counts, low, high, total, squares = _sorted_stats(x[middle:])
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
