"""Upper bounds on sizes a user passes that make tblog allocate in proportion to them.

A number such as ``bins=2**31`` or ``num_thresholds=10**9`` is cheap to type
and would make tblog allocate gigabytes before anything is written; with
these bounds such a call raises a ``ValueError`` naming the argument and the
limit instead, and nothing already logged is affected. Sizes that only follow
the data the user already holds (an image's pixels, a tensor's elements) are
not bounded here. Documented in docs/reliability.md ("Size limits").
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

#: Buckets of one histogram (``bins`` as a count, as edges, or as estimated by
#: ``np.histogram``'s ``"fd"``/``"auto"``/... rules). TensorBoard's default has 1,549.
MAX_HISTOGRAM_BUCKETS = 100_000

#: Thresholds of one PR curve: 6 rows of that many numbers (torch allows 127).
MAX_PR_THRESHOLDS = 100_000

#: Pixels of one image produced by ``rescale`` (``add_image_with_boxes``):
#: 2**28 pixels is 1 GiB as RGBA.
MAX_RESCALED_PIXELS = 1 << 28


def check_at_most(value: int, limit: int, name: str, what: str) -> None:
    """Raise ``ValueError`` if ``value`` exceeds ``limit``.

    Args:
        value: the size the call would allocate for.
        limit: the bound (one of this module's constants).
        name: the argument, as the user wrote it (``"bins"``).
        what: what is counted (``"histogram buckets"``).
    """
    if value > limit:
        raise ValueError(
            f"{name} asks for {value:,} {what}; at most {limit:,} are allowed "
            "(docs/reliability.md, 'Size limits')"
        )


def _numpy_bin_selectors() -> dict[str, Any]:
    """numpy's bin-width estimators by name (``"fd"``, ``"auto"``, ...); {} if hidden."""
    for module in ("numpy.lib._histograms_impl", "numpy.lib.histograms"):
        try:
            return dict(__import__(module, fromlist=["_"])._hist_bin_selectors)
        except (ImportError, AttributeError):
            continue
    return {}  # pragma: no cover - every numpy tblog supports has one of them


def estimated_bucket_count(values: np.ndarray, bins: str) -> int:
    """The number of buckets ``np.histogram(values, bins=bins)`` would make, computed
    without making them (``"fd"`` on data with a far outlier asks for trillions).

    Returns 0 when ``bins`` is not an estimator numpy knows (numpy then rejects it).
    """
    selector = _numpy_bin_selectors().get(bins)
    if selector is None:
        return 0
    low, high = float(values.min()), float(values.max())
    if low == high:
        return 1
    try:
        width = float(selector(values, (low, high)))
    except TypeError:  # an older numpy's selectors take the data only
        width = float(selector(values))
    if not width or not math.isfinite(width):
        return 1  # numpy falls back to one bucket
    return math.ceil((high - low) / width)
