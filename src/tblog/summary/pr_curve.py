"""Precision-recall curves: a DT_FLOAT ``[6, num_thresholds]`` tensor with
``pr_curves`` plugin metadata.

Rows are true positives, false positives, true negatives, false negatives,
precision and recall (TensorBoard's order). The curve is computed as torch and
TensorBoard compute it: prediction ``p`` falls in bucket
``floor(p * (num_thresholds - 1))``, counts are summed from the top bucket
down, and precision/recall divide by ``max(1e-7, denominator)``.

Deliberate difference: torch silently lowers ``num_thresholds`` above 127 to
127; tblog honours the number asked for (TensorBoard reads any).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tblog import _limits
from tblog._wire import varint
from tblog.proto import summary_pb2
from tblog.summary.tensor import DT_FLOAT, metadata_bytes, summary_bytes, tensor_bytes, value_bytes

PLUGIN_NAME = "pr_curves"
_MINIMUM_COUNT = 1e-7


def plugin_content(num_thresholds: int) -> bytes:
    """Serialized ``PrCurvePluginData{version: 0, num_thresholds}``."""
    return b"\x10" + varint(num_thresholds) if num_thresholds else b""


def metadata(num_thresholds: int) -> summary_pb2.SummaryMetadata:
    """The ``pr_curves`` plugin's metadata."""
    return summary_pb2.SummaryMetadata.FromString(
        metadata_bytes(PLUGIN_NAME, plugin_content(num_thresholds))
    )


def check_num_thresholds(num_thresholds: Any) -> int:
    """``num_thresholds`` as an int from 2 to ``tblog._limits.MAX_PR_THRESHOLDS``."""
    if isinstance(num_thresholds, bool) or not isinstance(num_thresholds, (int, np.integer)):
        raise TypeError(f"num_thresholds must be an int, got {type(num_thresholds).__name__}")
    if num_thresholds < 2:
        raise ValueError(f"num_thresholds must be at least 2, got {num_thresholds}")
    _limits.check_at_most(
        int(num_thresholds), _limits.MAX_PR_THRESHOLDS, "num_thresholds", "thresholds"
    )
    return int(num_thresholds)


def _describe_bad(array: np.ndarray, bad: np.ndarray) -> str:
    return f"{int(np.count_nonzero(bad))} of {array.size} (e.g. {array[bad][0].item()!r})"


def compute_curve(
    labels: np.ndarray,
    predictions: np.ndarray,
    num_thresholds: int = 127,
    weights: np.ndarray | float | None = None,
) -> np.ndarray:
    """The ``[6, num_thresholds]`` float64 PR data of binary ``labels``.

    Args:
        labels: ground truth, bool or numbers in [0, 1] (any shape).
        predictions: probabilities in [0, 1], as many as ``labels``.
        num_thresholds: number of thresholds, evenly spaced in [0, 1]; >= 2.
        weights: None, one number, or one weight per prediction.

    Raises:
        TypeError: non-numeric inputs or ``num_thresholds``.
        ValueError: sizes differ, no predictions, a prediction or label
            outside [0, 1] (or NaN), ``num_thresholds`` < 2.
    """
    num_thresholds = check_num_thresholds(num_thresholds)
    for name, array in (("labels", labels), ("predictions", predictions)):
        if array.dtype.kind not in "biuf":
            raise TypeError(f"{name} must be numbers or bools, got dtype {array.dtype}")
    if labels.size != predictions.size:
        raise ValueError(
            f"labels and predictions must have the same number of elements, got "
            f"{labels.size} labels {labels.shape} and {predictions.size} predictions "
            f"{predictions.shape}"
        )
    if predictions.size == 0:
        raise ValueError("labels and predictions are empty")
    predictions = predictions.reshape(-1)
    labels = labels.reshape(-1)
    # Comparisons with NaN are false: NaN fails these checks too.
    if not (predictions.min() >= 0 and predictions.max() <= 1):
        bad = ~((predictions >= 0) & (predictions <= 1))
        raise ValueError(
            f"predictions must lie in [0, 1]; {_describe_bad(predictions, bad)} do not"
        )
    binary = labels.dtype.kind == "b"
    if not binary:
        if not (labels.min() >= 0 and labels.max() <= 1):
            bad = ~((labels >= 0) & (labels <= 1))
            raise ValueError(f"labels must lie in [0, 1]; {_describe_bad(labels, bad)} do not")
        binary = labels.dtype.kind in "iu"  # so 0 or 1
    if weights is not None:
        weights = np.asarray(weights, dtype=np.float64)
        if weights.size != 1 and weights.size != predictions.size:
            raise ValueError(
                f"weights must be one number or one per prediction, got {weights.size} "
                f"for {predictions.size} predictions"
            )
        weights = weights.reshape(-1) if weights.size != 1 else float(weights.reshape(()))
    # floor(p * (n - 1)) in the predictions' own dtype, as torch computes it;
    # the product is >= 0, where truncation is the floor.
    buckets = (predictions * (num_thresholds - 1)).astype(np.intp)
    if binary and weights is None:
        # Sums of ones and zeros: exact counts, whatever the order of summing.
        tp_buckets = np.bincount(buckets, weights=labels, minlength=num_thresholds)
        fp_buckets = np.bincount(buckets, minlength=num_thresholds) - tp_buckets
    else:
        float_labels = labels.astype(np.float64)
        if weights is None:
            weights = 1.0
        tp_buckets = _bucket_sums(buckets, float_labels * weights, num_thresholds)
        fp_buckets = _bucket_sums(buckets, (1.0 - float_labels) * weights, num_thresholds)
    # Counts at or above each threshold: reverse cumulative sums.
    tp = np.cumsum(tp_buckets[::-1])[::-1]
    fp = np.cumsum(fp_buckets[::-1])[::-1]
    tn = fp[0] - fp
    fn = tp[0] - tp
    precision = tp / np.maximum(_MINIMUM_COUNT, tp + fp)
    recall = tp / np.maximum(_MINIMUM_COUNT, tp + fn)
    return np.stack((tp, fp, tn, fn, precision, recall))


def _bucket_sums(buckets: np.ndarray, weights: np.ndarray, size: int) -> np.ndarray:
    # Blocks of 65536 as np.histogram (torch's tool) sums them: same rounding.
    total = np.zeros(size)
    for start in range(0, buckets.size, 65536):
        stop = start + 65536
        total += np.bincount(buckets[start:stop], weights=weights[start:stop], minlength=size)
    return total


def summary(tag: str, data: np.ndarray) -> bytes:
    """Serialized ``Summary`` of ``[6, n]`` PR data (stored as float32)."""
    if data.ndim != 2 or data.shape[0] != 6 or data.shape[1] < 1:
        raise ValueError(f"PR curve data must have shape [6, n], got {data.shape}")
    content = np.ascontiguousarray(data, dtype="<f4").tobytes()
    tensor = tensor_bytes(DT_FLOAT, data.shape, content)
    meta = metadata_bytes(PLUGIN_NAME, plugin_content(data.shape[1]))
    return summary_bytes(value_bytes(tag, tensor, meta))


def raw_data(
    true_positive_counts: np.ndarray,
    false_positive_counts: np.ndarray,
    true_negative_counts: np.ndarray,
    false_negative_counts: np.ndarray,
    precision: np.ndarray,
    recall: np.ndarray,
) -> np.ndarray:
    """Stack six 1-D arrays of one length into ``[6, n]`` float64 data.

    Raises:
        TypeError: a non-numeric array.
        ValueError: an array that is not 1-D, lengths that differ, or no data.
    """
    names = (
        "true_positive_counts", "false_positive_counts", "true_negative_counts",
        "false_negative_counts", "precision", "recall",
    )
    arrays = (
        true_positive_counts, false_positive_counts, true_negative_counts,
        false_negative_counts, precision, recall,
    )
    for name, array in zip(names, arrays, strict=True):
        if array.dtype.kind not in "biuf":
            raise TypeError(f"{name} must be numbers, got dtype {array.dtype}")
        if array.ndim != 1:
            raise ValueError(f"{name} must be 1-D, got shape {array.shape}")
    lengths = {name: array.size for name, array in zip(names, arrays, strict=True)}
    if len(set(lengths.values())) != 1:
        raise ValueError(f"the six arrays must have one length, got {lengths}")
    if not arrays[0].size:
        raise ValueError("the six arrays are empty")
    return np.stack([array.astype(np.float64) for array in arrays])
