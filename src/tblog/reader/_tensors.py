"""Decoded summary values: ``TensorProto`` to numpy, histograms in TensorBoard's form."""

from __future__ import annotations

from typing import Any

import numpy as np

# DataType enum value -> (numpy dtype, TensorProto field holding the values).
_DTYPES: dict[int, tuple[Any, str]] = {
    1: (np.float32, "float_val"),
    2: (np.float64, "double_val"),
    3: (np.int32, "int_val"),
    4: (np.uint8, "int_val"),
    5: (np.int16, "int_val"),
    6: (np.int8, "int_val"),
    7: (object, "string_val"),
    9: (np.int64, "int64_val"),
    10: (np.bool_, "bool_val"),
    14: ("bfloat16", "half_val"),
    17: (np.uint16, "int_val"),
    19: (np.float16, "half_val"),
    22: (np.uint32, "uint32_val"),
    23: (np.uint64, "uint64_val"),
}

FLOAT_DTYPES = (1, 2, 14, 19)


class TensorError(ValueError):
    """A tensor this reader cannot turn into an array."""


def _bfloat16_to_float32(bits: np.ndarray) -> np.ndarray:
    return (bits.astype(np.uint32) << 16).view(np.float32)


def to_numpy(tensor: Any) -> np.ndarray:
    """A ``TensorProto`` message as a numpy array (strings as an object array of bytes).

    Raises:
        TensorError: an unsupported dtype, or values that do not fit the shape.
    """
    try:
        dtype, field = _DTYPES[tensor.dtype]
    except KeyError:
        raise TensorError(f"unsupported tensor dtype {tensor.dtype}") from None
    shape = tuple(int(dim.size) for dim in tensor.tensor_shape.dim)
    size = int(np.prod(shape, dtype=np.int64)) if shape else 1
    if tensor.tensor_content and dtype is not object:
        raw_dtype = np.uint16 if dtype == "bfloat16" else dtype
        flat = np.frombuffer(tensor.tensor_content, dtype=np.dtype(raw_dtype).newbyteorder("<"))
        if dtype == "bfloat16":
            flat = _bfloat16_to_float32(flat)
    else:
        values = list(getattr(tensor, field))
        if dtype == "bfloat16":
            flat = _bfloat16_to_float32(np.array(values, dtype=np.uint16))
        elif dtype == np.float16:
            flat = np.array(values, dtype=np.uint16).view(np.float16)
        elif dtype is object:
            flat = np.empty(len(values), dtype=object)
            flat[:] = values
        else:
            flat = np.array(values, dtype=dtype)
        if 0 < len(flat) < size:  # TensorFlow's fill rule: the last value repeats
            flat = np.concatenate([flat, np.repeat(flat[-1:], size - len(flat))])
        elif len(flat) == 0 and size:
            flat = np.zeros(size, dtype=flat.dtype if dtype is not object else object)
            if dtype is object:
                flat[:] = b""
    if flat.size != size:
        raise TensorError(f"tensor of shape {shape} holds {flat.size} values")
    return flat.reshape(shape)


def histogram_buckets(histo: Any) -> np.ndarray:
    """A ``HistogramProto`` as TensorBoard's ``[k, 3]`` (left, right, count) buckets.

    Empty buckets at both ends are dropped and the outer edges become ``min`` and
    ``max``, as TensorBoard's loaders show it (in float64 here, float32 there).
    """
    counts = np.asarray(histo.bucket, dtype=np.float64)
    limits = np.asarray(histo.bucket_limit, dtype=np.float64)
    nonzero = np.flatnonzero(counts > 0)
    if nonzero.size == 0:
        return np.zeros((0, 3))
    first, last = int(nonzero[0]), int(nonzero[-1])
    inner = limits[first:last]
    lefts = np.concatenate([[histo.min], inner])
    rights = np.concatenate([inner, [histo.max]])
    return np.stack([lefts, rights, counts[first : last + 1]], axis=1)


def histogram_tensor(array: np.ndarray) -> np.ndarray:
    """A v2 histogram tensor (``[k, 3]``) as float64 buckets.

    Raises:
        TensorError: the tensor is not ``[k, 3]``.
    """
    if array.ndim != 2 or array.shape[1] != 3:
        if array.size == 0:
            return np.zeros((0, 3))
        raise TensorError(f"histogram tensor of shape {array.shape}, expected [k, 3]")
    return array.astype(np.float64)


def strings(array: np.ndarray) -> Any:
    """A string tensor as ``str`` (one element) or an array of ``str``."""
    def text(item: Any) -> str:
        return item.decode("utf-8", "replace") if isinstance(item, bytes) else str(item)

    if array.size == 1:
        return text(array.reshape(-1)[0])
    decoded = np.empty(array.shape, dtype=object)
    for index, item in np.ndenumerate(array):
        decoded[index] = text(item)
    return decoded
