"""Scalar charts with matplotlib: one chart per tag, one line per run, and
TensorBoard's smoothing (a debiased exponential moving average)."""

from __future__ import annotations

import math
from typing import Any

import numpy as np


def smooth(values: np.ndarray, weight: float) -> np.ndarray:
    """TensorBoard's smoothing of a series: an EMA whose start-up bias is divided out.

    Non-finite values pass through unsmoothed; a constant series stays as it is.

    Raises:
        ValueError: ``weight`` is not in ``[0, 1)``.
    """
    if not 0 <= weight < 1:
        raise ValueError(f"smoothing must be in [0, 1), not {weight!r}")
    values = np.asarray(values, dtype=np.float64)
    if weight == 0 or values.size == 0:
        return values.copy()
    finite = values[np.isfinite(values)]
    if finite.size and np.all(finite == finite[0]):
        return values.copy()
    out = np.empty_like(values)
    last = 0.0
    count = 0
    for i, value in enumerate(values.tolist()):
        if not math.isfinite(value):
            out[i] = value
            continue
        last = last * weight + (1 - weight) * value
        count += 1
        out[i] = last / (1 - weight**count)
    return out


def plot(frame: Any, output: str, smoothing: float = 0.0, x: str = "step") -> None:
    """Draw ``frame`` (``Runs.scalars()``) to ``output``.

    Raises:
        ImportError: matplotlib is not installed.
        ValueError: a bad ``smoothing``.
    """
    smooth(np.zeros(1), smoothing)  # validate early
    try:
        import matplotlib

        matplotlib.use("Agg", force=False)
        from matplotlib.figure import Figure
    except ImportError as exc:
        raise ImportError("tblog plot needs matplotlib: pip install 'tblog[read]'") from exc
    tags = sorted(set(frame["tag"].astype(str)))
    columns = min(len(tags), 2)
    rows = math.ceil(len(tags) / columns)
    figure = Figure(figsize=(6.4 * columns, 4.0 * rows), layout="constrained")
    axes = figure.subplots(rows, columns, squeeze=False).ravel()
    for ax, tag in zip(axes, tags, strict=False):
        part = frame[frame["tag"] == tag]
        for run, group in part.groupby("run", observed=True, sort=True):
            xs = group[x].to_numpy()
            ys = group["value"].to_numpy()
            if smoothing:
                line = ax.plot(xs, ys, alpha=0.25, linewidth=1)[0]
                ax.plot(xs, smooth(ys, smoothing), color=line.get_color(), label=str(run))
            else:
                ax.plot(xs, ys, label=str(run))
        ax.set_title(tag)
        ax.set_xlabel(x)
        ax.grid(alpha=0.3)
        ax.legend(fontsize="small")
    for ax in axes[len(tags):]:
        ax.set_visible(False)
    figure.savefig(output)
