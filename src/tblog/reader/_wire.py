"""Protobuf wire-format primitives: varints and a field walker over bytes.

Used by the scan's hot path to locate a scalar's bytes inside an event once per
tag layout; the full decoding of rare records is left to the generated messages.
"""

from __future__ import annotations

from collections.abc import Iterator

VARINT, FIXED64, LENGTH, FIXED32 = 0, 1, 2, 5


class WireError(ValueError):
    """Bytes that are not a well-formed protobuf message."""


def varint(buf: bytes, pos: int, end: int) -> tuple[int, int]:
    """Decode the varint at ``buf[pos]``; return ``(value, position after it)``.

    Raises:
        WireError: the varint runs past ``end`` or is longer than ten bytes.
    """
    result = 0
    shift = 0
    while True:
        if pos >= end or shift > 63:
            raise WireError("bad varint")
        byte = buf[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if byte < 0x80:
            return result & 0xFFFFFFFFFFFFFFFF, pos
        shift += 7


def fields(buf: bytes, pos: int, end: int) -> Iterator[tuple[int, int, int, int, int]]:
    """Walk the fields of the message in ``buf[pos:end]``.

    Yields ``(field number, wire type, key position, value start, value end)``;
    for a varint the value bytes are ``buf[start:end]``.

    Raises:
        WireError: malformed input (unknown wire type, a field past ``end``).
    """
    while pos < end:
        key_pos = pos
        key, pos = varint(buf, pos, end)
        number, wire_type = key >> 3, key & 7
        if wire_type == VARINT:
            _, stop = varint(buf, pos, end)
        elif wire_type == FIXED64:
            stop = pos + 8
        elif wire_type == LENGTH:
            length, pos = varint(buf, pos, end)
            stop = pos + length
        elif wire_type == FIXED32:
            stop = pos + 4
        else:
            raise WireError(f"unsupported wire type {wire_type}")
        if stop > end or number == 0:
            raise WireError("field runs past the end of its message")
        yield number, wire_type, key_pos, pos, stop
        pos = stop


def scalar_location(buf: bytes, start: int, end: int) -> tuple[int, int, int] | None:
    """Where a single-value scalar event keeps its number.

    For an event ``buf[start:end]`` made of optional wall_time and step, then a
    summary (last) with exactly one value, returns ``(summary key position,
    offset of the number, its size)`` when the number is a ``simple_value``, or
    the only element of a ``float_val``/``double_val``/``tensor_content`` of the
    value's tensor; None for any other layout.
    """
    try:
        summary = None
        for number, wire_type, key_pos, vstart, vend in fields(buf, start, end):
            if number == 5 and wire_type == LENGTH and vend == end:
                summary = (key_pos, vstart, vend)
            elif number not in (1, 2) or summary is not None:
                return None
        if summary is None:
            return None
        key_pos, sstart, send = summary
        values = [f for f in fields(buf, sstart, send) if f[0] == 1]
        if len(values) != 1 or values[0][1] != LENGTH:
            return None
        found = None
        for number, wire_type, _, vstart, vend in fields(buf, values[0][3], values[0][4]):
            if number == 2 and wire_type == FIXED32:
                found = (key_pos, vstart, 4) if found is None else False
            elif number == 8 and wire_type == LENGTH:
                for tnum, twire, _, tstart, tend in fields(buf, vstart, vend):
                    size = tend - tstart
                    if twire == LENGTH and (tnum, size) in ((4, 4), (4, 8), (5, 4), (6, 8)):
                        found = (key_pos, tstart, size) if found is None else False
        return found or None
    except WireError:
        return None
