"""Text: a DT_STRING tensor with ``text`` plugin metadata, under ``{tag}/text_summary``.

A single string is written as torch writes it (shape ``[1]``); a 1-D or 2-D
array of strings keeps its shape, and TensorBoard's text dashboard renders it
as a table. Strings are rendered as Markdown unless the dashboard's
"markdown" toggle is off.

The bytes are assembled by hand from a per-tag cached prefix (the proof that
they equal the generated message's is in tests/test_tensor_kinds.py).
"""

from __future__ import annotations

import struct
from typing import Any

import numpy as np

from tblog._scalar_event import varint
from tblog.proto import summary_pb2
from tblog.summary.tensor import DT_STRING, field, metadata_bytes, tensor_bytes

PLUGIN_NAME = "text"
TAG_SUFFIX = "/text_summary"

# TextPluginData(version=0) serializes to nothing, so the content is empty.
_METADATA_FIELD = field(0x4A, metadata_bytes(PLUGIN_NAME))
# TensorProto{dtype: DT_STRING, tensor_shape{dim{size: 1}}} then string_val's key.
_ONE_STRING_HEAD = tensor_bytes(DT_STRING, [1]) + b"\x42"
_MAX_CACHED_TAGS = 10_000
_DOUBLE = struct.Struct("<d")
_VARINTS = [varint(n) for n in range(1 << 14)]  # lengths and steps below 16384


def summary_tag(tag: str) -> str:
    """The tag TensorBoard shows: ``{tag}/text_summary`` (torch's naming)."""
    return tag + TAG_SUFFIX


def metadata() -> summary_pb2.SummaryMetadata:
    """The ``text`` plugin's metadata (empty ``TextPluginData``)."""
    return summary_pb2.SummaryMetadata(
        plugin_data=summary_pb2.SummaryMetadata.PluginData(plugin_name=PLUGIN_NAME)
    )


def as_strings(text: Any) -> tuple[list[bytes], tuple[int, ...]]:
    """UTF-8 strings and shape of a str or a 1-D/2-D sequence/array of str.

    Raises:
        TypeError: not a str, or an element is not a str.
        ValueError: nested deeper than 2 levels, ragged, or empty.
    """
    if isinstance(text, str):
        return [text.encode("utf-8")], (1,)
    if isinstance(text, np.ndarray):
        if text.dtype.kind not in "US" and text.dtype != object:
            raise TypeError(f"text_string must hold strings, got an array of dtype {text.dtype}")
        rows = text.tolist()
    elif isinstance(text, (list, tuple)):
        rows = text
    else:
        raise TypeError(
            f"text_string must be a str or a 1-D/2-D list of str, got {type(text).__name__}"
        )
    array = np.array(rows, dtype=object)
    ragged = array.ndim == 1 and any(isinstance(row, (list, tuple)) for row in rows)
    if ragged or array.ndim not in (1, 2) or array.size == 0:
        raise ValueError(
            "text_string must be a str, or a non-empty 1-D list or rectangular 2-D "
            f"list of str (a table); got {array.ndim}-D{' ragged' if ragged else ''} "
            f"data of shape {array.shape}"
        )
    flat = array.reshape(-1)
    encoded = []
    for item in flat:
        if isinstance(item, bytes):
            encoded.append(item)
        elif isinstance(item, str):
            encoded.append(item.encode("utf-8"))
        else:
            raise TypeError(f"text_string table cells must be str, got {type(item).__name__}")
    return encoded, array.shape


class TextEncoder:
    """Encodes text summaries, caching each tag's fixed bytes."""

    def __init__(self) -> None:
        self._tags: dict[str, bytes] = {}

    def _tag_field(self, tag: str) -> bytes:
        cached = self._tags.get(tag)
        if cached is None:
            if len(self._tags) >= _MAX_CACHED_TAGS:
                self._tags.clear()
            cached = self._tags[tag] = field(0x0A, summary_tag(tag).encode("utf-8"))
        return cached

    def event_bytes(self, tag: str, text: str, step: int, wall_time: float) -> bytes:
        """Serialized ``Event`` for ``add_text(tag, text)`` of one str: the hot path.

        ``step`` must be in [0, 2**63) and ``wall_time`` non-zero; the caller
        checks. Equals ``Event(wall_time, step, summary).SerializeToString()``.
        """
        tag_field = self._tags.get(tag) or self._tag_field(tag)
        data = text.encode("utf-8")
        size = len(data)
        length = _VARINTS[size] if size < 16384 else varint(size)
        tensor_size = len(_ONE_STRING_HEAD) + len(length) + size
        value_size = len(tag_field) + tensor_size + len(_METADATA_FIELD) + (
            2 if tensor_size < 128 else len(varint(tensor_size)) + 1
        )
        value_length = _VARINTS[value_size] if value_size < 16384 else varint(value_size)
        summary_size = 1 + len(value_length) + value_size
        if step:
            step_field = b"\x10" + (_VARINTS[step] if step < 16384 else varint(step))
        else:
            step_field = b""
        return b"".join((
            b"\x09", _DOUBLE.pack(wall_time), step_field,
            b"\x2a", _VARINTS[summary_size] if summary_size < 16384 else varint(summary_size),
            b"\x0a", value_length, tag_field,
            b"\x42", _VARINTS[tensor_size] if tensor_size < 16384 else varint(tensor_size),
            _ONE_STRING_HEAD, length, data, _METADATA_FIELD,
        ))

    def summary_bytes(self, tag: str, text: Any) -> bytes:
        """Serialized ``Summary`` for ``add_text(tag, text)``."""
        if type(text) is str:  # the common case, inline
            data = text.encode("utf-8")
            tensor = _ONE_STRING_HEAD + varint(len(data)) + data
        else:
            strings, shape = as_strings(text)
            tensor = tensor_bytes(DT_STRING, shape, strings=strings)
        value = self._tag_field(tag) + b"\x42" + varint(len(tensor)) + tensor + _METADATA_FIELD
        return b"\x0a" + varint(len(value)) + value


def text(tag: str, text_string: Any) -> summary_pb2.Summary:
    """A ``Summary`` with ``text_string`` under ``{tag}/text_summary``."""
    return summary_pb2.Summary.FromString(TextEncoder().summary_bytes(tag, text_string))
