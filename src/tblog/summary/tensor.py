"""Tensor summaries: the ``TensorProto`` encoding shared by the tensor kinds, and
``add_tensor``'s generic tensors.

The helpers write the exact bytes the generated messages would (field order,
proto3's omitted defaults; tests/test_tensor_kinds.py compares them), so the
hot paths skip building message objects. Numeric data goes in
``tensor_content`` (raw little-endian bytes), which both TensorBoard loaders
read and which is far smaller and faster than ``float_val``.

Generic tensors (``add_tensor``): torch writes plugin ``"tensor"`` with no data
class. No TensorBoard dashboard claims that plugin: the Rust loader (the
default) drops such values, the Python loader keeps them. tblog writes the same
plugin name and adds ``data_class = DATA_CLASS_TENSOR``, so both loaders keep
the tensor: the Python ``EventAccumulator.Tensors(tag)`` returns it, and both
servers' data providers return it from ``read_tensors(plugin_name="tensor")``.
No dashboard draws arbitrary tensors; log a scalar, histogram or text to see
one.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from tblog._wire import field, varint
from tblog.proto import summary_pb2

PLUGIN_NAME = "tensor"

DT_FLOAT = 1
DT_DOUBLE = 2
DT_STRING = 7

# numpy dtype -> TensorFlow DataType (types.proto).
_DATA_TYPES = {
    np.dtype(np.float32): DT_FLOAT,
    np.dtype(np.float64): DT_DOUBLE,
    np.dtype(np.int32): 3,
    np.dtype(np.uint8): 4,
    np.dtype(np.int16): 5,
    np.dtype(np.int8): 6,
    np.dtype(np.complex64): 8,
    np.dtype(np.int64): 9,
    np.dtype(np.bool_): 10,
    np.dtype(np.uint16): 17,
    np.dtype(np.complex128): 18,
    np.dtype(np.float16): 19,
    np.dtype(np.uint32): 22,
    np.dtype(np.uint64): 23,
}

# Protocol buffers cannot hold a message of 2 GiB or more.
_MAX_BYTES = (1 << 31) - (1 << 20)


def shape_bytes(shape: Sequence[int]) -> bytes:
    """Serialized ``TensorShapeProto`` (``dim { size }`` per dimension)."""
    # Dim.size = 1 is omitted when 0 (proto3), leaving an empty Dim message.
    return b"".join(field(0x12, b"\x08" + varint(size) if size else b"") for size in shape)


def tensor_bytes(
    dtype: int,
    shape: Sequence[int],
    content: bytes = b"",
    strings: Sequence[bytes] = (),
) -> bytes:
    """Serialized ``TensorProto{dtype, tensor_shape, tensor_content, string_val}``."""
    out = b"\x08" + varint(dtype) if dtype else b""
    # Always set, even for rank 0 (an empty message), as torch writes it.
    out += field(0x12, shape_bytes(shape))
    if content:
        out += field(0x22, content)
    for item in strings:
        out += field(0x42, item)
    return out


def metadata_bytes(plugin_name: str, content: bytes = b"", data_class: int = 0) -> bytes:
    """Serialized ``SummaryMetadata{plugin_data{plugin_name, content}, data_class}``."""
    plugin = field(0x0A, plugin_name.encode()) if plugin_name else b""
    if content:
        plugin += field(0x12, content)
    out = field(0x0A, plugin)
    if data_class:
        out += b"\x20" + varint(data_class)
    return out


def value_bytes(tag: str, tensor: bytes, metadata: bytes) -> bytes:
    """Serialized ``Summary.Value{tag, tensor, metadata}`` (fields 1, 8, 9)."""
    encoded = tag.encode("utf-8")
    out = field(0x0A, encoded) if encoded else b""
    return out + field(0x42, tensor) + field(0x4A, metadata)


def summary_bytes(*values: bytes) -> bytes:
    """Serialized ``Summary`` holding the given serialized values."""
    return b"".join(field(0x0A, value) for value in values)


def numeric_tensor_bytes(array: np.ndarray) -> bytes:
    """``array`` as a ``TensorProto`` with its dtype, shape and raw content.

    Raises:
        TypeError: the dtype has no TensorFlow equivalent (strings, objects).
        ValueError: the data is 2 GiB or more (protobuf's limit).
    """
    dtype = _DATA_TYPES.get(array.dtype.newbyteorder("="))
    if dtype is None:
        raise TypeError(
            f"tensor has dtype {array.dtype}, which TensorBoard cannot store; use a "
            f"numeric or bool array (for text, use add_text)"
        )
    if array.nbytes >= _MAX_BYTES:
        raise ValueError(
            f"tensor has {array.nbytes} bytes; protocol buffers cannot hold 2 GiB or more"
        )
    little = array.astype(array.dtype.newbyteorder("<"), copy=False)
    return tensor_bytes(dtype, array.shape, np.ascontiguousarray(little).tobytes())


def tensor_metadata() -> bytes:
    """Metadata of a generic tensor: torch's plugin name plus the TENSOR class."""
    return metadata_bytes(PLUGIN_NAME, data_class=summary_pb2.DATA_CLASS_TENSOR)


def summary(tag: str, array: np.ndarray) -> bytes:
    """Serialized ``Summary`` of a generic tensor; see the module docstring."""
    return summary_bytes(value_bytes(tag, numeric_tensor_bytes(array), tensor_metadata()))
