"""Text: a DT_STRING tensor with ``text`` plugin metadata, under ``{tag}/text_summary``.

A single string is written as torch writes it (shape ``[1]``); a 1-D or 2-D
array of strings keeps its shape, and TensorBoard's text dashboard renders it
as a table. Strings are rendered as Markdown unless the dashboard's
"markdown" toggle is off.

The bytes are assembled by hand (``tblog._wire``) from a per-tag cached prefix;
tests/test_tensor_kinds.py proves they equal the generated message's.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tblog._wire import VARINTS, field
from tblog.proto import summary_pb2
from tblog.summary.tensor import DT_STRING, metadata_bytes, tensor_bytes

PLUGIN_NAME = "text"
TAG_SUFFIX = "/text_summary"

# TextPluginData(version=0) serializes to nothing, so the content is empty.
_METADATA_FIELD = field(0x4A, metadata_bytes(PLUGIN_NAME))
# TensorProto{dtype: DT_STRING, tensor_shape{dim{size: 1}}} then string_val's key.
_ONE_STRING_HEAD = tensor_bytes(DT_STRING, [1]) + b"\x42"  # + the string's length and bytes
_MAX_CACHED_TAGS = 10_000
_ONE_STRING_TENSOR_SIZE = len(_ONE_STRING_HEAD) + 1  # + the string's bytes
# Strings shorter than this keep the tensor's length in one varint byte.
_SHORT = 128 - _ONE_STRING_TENSOR_SIZE
_ONE_STRING_VALUE_SIZE = 2 + _ONE_STRING_TENSOR_SIZE + len(_METADATA_FIELD)  # + tag, string


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

    def summary_bytes(self, tag: str, text: Any) -> bytes:
        """Serialized ``Summary`` for ``add_text(tag, text)``."""
        tag_field = self._tags.get(tag) or self._tag_field(tag)
        if type(text) is str:  # the common case, one short string: no calls
            data = text.encode("utf-8")
            size = len(data)
            value_size = len(tag_field) + _ONE_STRING_VALUE_SIZE + size
            if size < _SHORT and value_size < 16384:
                return b"".join((b"\x0a", VARINTS[value_size], tag_field, b"\x42",
                                 VARINTS[_ONE_STRING_TENSOR_SIZE + size], _ONE_STRING_HEAD,
                                 VARINTS[size], data, _METADATA_FIELD))
            tensor = _ONE_STRING_HEAD + field(0x42, data)[1:]
        else:
            strings, shape = as_strings(text)
            tensor = tensor_bytes(DT_STRING, shape, strings=strings)
        return field(0x0A, tag_field + field(0x42, tensor) + _METADATA_FIELD)


_ENCODER = TextEncoder()


def summary(tag: str, text_string: Any) -> bytes:
    """Serialized ``Summary`` with ``text_string`` under ``{tag}/text_summary``."""
    return _ENCODER.summary_bytes(tag, text_string)
