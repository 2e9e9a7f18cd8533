"""Protobuf wire encoding by hand: varints, fields and the ``Event`` wrapper.

The one place tblog writes protobuf bytes without the generated classes. Every
hand encoder (the scalar hot path, the tensor-based kinds, histograms, text)
builds on these functions; tests/test_wire.py proves each against the
generated messages' ``SerializeToString()``. TFRecord framing is not protobuf
and lives in ``tblog._record``.

Keys are ``(field number << 3) | wire type`` bytes; the ``Event`` fields tblog
writes are listed below.
"""

from __future__ import annotations

import math
import struct

_DOUBLE = struct.Struct("<d")
_FLOAT = struct.Struct("<f")

# Event fields (tensorflow/core/util/event.proto).
WALL_TIME_KEY = b"\x09"  # 1: double
STEP_KEY = b"\x10"  # 2: int64 (varint)
FILE_VERSION_KEY = 0x1A  # 3: string
GRAPH_DEF_KEY = 0x22  # 4: bytes
SUMMARY_KEY = 0x2A  # 5: Summary
SESSION_LOG_KEY = 0x3A  # 7: SessionLog
TAGGED_RUN_METADATA_KEY = 0x42  # 8: TaggedRunMetadata


def varint(value: int) -> bytes:
    """Protobuf base-128 varint; negative int64 values take ten bytes."""
    if value < 0:
        value += 1 << 64
    if value < 0x80:
        return bytes((value,))
    out = bytearray()
    while value > 0x7F:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


#: ``varint(n)`` for n below 16384 (lengths and steps), looked up instead of built.
VARINTS = tuple(bytes((n,)) for n in range(128)) + tuple(
    bytes((n & 0x7F | 0x80, n >> 7)) for n in range(128, 1 << 14)
)  # varint(n) spelled out for one and two bytes: twice as fast at import


def field(key: int, payload: bytes) -> bytes:
    """One length-delimited field (string, bytes or message): key byte, length, payload."""
    size = len(payload)
    return bytes((key,)) + (VARINTS[size] if size < 16384 else varint(size)) + payload


def float32_bytes(value: float) -> bytes:
    """``value`` as a little-endian float32, out-of-range values becoming +-inf."""
    try:
        return _FLOAT.pack(value)
    except OverflowError:  # as C's double -> float conversion does
        return _FLOAT.pack(math.copysign(math.inf, value))


def event_head(wall_time: float, step: int) -> bytes:
    """The ``wall_time`` and ``step`` fields of an ``Event``, as proto3 writes them.

    proto3 leaves out a zero step and a +0.0 wall time (but keeps -0.0: its bits
    are not zero).
    """
    head = WALL_TIME_KEY + _DOUBLE.pack(wall_time) if (
        wall_time or math.copysign(1.0, wall_time) < 0
    ) else b""
    if step:
        head += STEP_KEY + (VARINTS[step] if 0 < step < 16384 else varint(step))
    return head


def event(wall_time: float, step: int, key: int, payload: bytes) -> bytes:
    """A serialized ``Event{wall_time, step, <field key>: payload}``.

    Args:
        wall_time: seconds since the epoch (finite; the caller checks).
        step: an int64 (the caller checks the range).
        key: which payload field: ``SUMMARY_KEY``, ``GRAPH_DEF_KEY``, ...
        payload: the serialized field (a ``Summary``, a ``GraphDef``, ...).
    """
    size = len(payload)
    if wall_time and 0 < step < 16384 and size < 16384:  # most events: no calls
        return b"".join((WALL_TIME_KEY, _DOUBLE.pack(wall_time), STEP_KEY, VARINTS[step],
                         _KEYS[key], VARINTS[size], payload))
    return event_head(wall_time, step) + field(key, payload)


def summary_event(wall_time: float, step: int, summary: bytes) -> bytes:
    """A serialized ``Event`` around a serialized ``Summary`` (the common case)."""
    return event(wall_time, step, SUMMARY_KEY, summary)


_KEYS = tuple(bytes((key,)) for key in range(256))
