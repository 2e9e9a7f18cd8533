"""Hand-encoded scalar events: the ``add_scalar`` hot path.

``encode`` produces exactly the bytes of ``Event(wall_time, step,
summary=Summary(value=[Value(tag, simple_value)])).SerializeToString()`` and
``record`` the same event in its TFRecord frame (both proven in
tests/test_scalar_event.py) at a fraction of the cost.

Per tag, the constant part of the message (from the summary field up to the
float's key) is encoded once with ``tblog._wire``. ``record`` goes further: for
each length of the step field it keeps a ``struct.Struct`` that packs the whole
event in one call and the record's header (the length and its CRC are constant
too), so a call is two packs and one CRC.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Callable

from tblog._record import crc32c, frame, header
from tblog._wire import STEP_KEY, VARINTS, WALL_TIME_KEY, field, float32_bytes, varint

_DOUBLE = struct.Struct("<d")
_FLOAT = struct.Struct("<f")
_MAX_CACHED_TAGS = 100_000

# Step fields looked up, not built: _STEP_FIELDS[s] is STEP_KEY + varint(s) for
# s below 16384 (b"" for 0: proto3 leaves it out); a step below 2**28 is
# _CONTINUED[s & 0x3FFF] + VARINTS[s >> 14], its low 14 bits as two bytes that
# both carry the continuation bit. Built on first use (about 4 ms), not at import.
_STEP_FIELDS: tuple[bytes, ...] = ()
_CONTINUED: tuple[bytes, ...] = ()


def _build_step_tables() -> None:
    global _STEP_FIELDS, _CONTINUED
    # _CONTINUED first: a thread that sees _STEP_FIELDS filled finds both.
    _CONTINUED = tuple(
        bytes((0x10, low | 0x80, 0x80 | high)) for high in range(128) for low in range(128)
    )
    _STEP_FIELDS = (b"",) + tuple(STEP_KEY + VARINTS[step] for step in range(1, 1 << 14))


# How a record is packed for one tag and one step-field length: the packer of the
# event (wall_time key, wall_time, step field, tag prefix, value), the packer of
# the record (header, event, masked CRC), the header and the tag prefix.
_Form = tuple[Callable[..., bytes], Callable[..., bytes], bytes, bytes]


def _tag_prefix(tag: str) -> bytes:
    """Everything of the event from field 5 up to the float's key."""
    # Value.tag = 1; proto3 leaves out an empty string.
    tag_field = field(0x0A, tag.encode("utf-8")) if tag else b""
    value = tag_field + b"\x15"  # + simple_value's key; its 4 bytes follow per call
    value_head = b"\x0a" + varint(len(value) + 4)  # Summary.value = 1
    return b"\x2a" + varint(len(value_head) + len(value) + 4) + value_head + value


def _step_field(step: int) -> bytes:
    """``STEP_KEY + varint(step)`` for a step from 0 to 2**63 - 1."""
    if not _STEP_FIELDS:
        _build_step_tables()
    if step < 1 << 14:
        return _STEP_FIELDS[step]
    if step < 1 << 28:
        return _CONTINUED[step & 0x3FFF] + VARINTS[step >> 14]
    return STEP_KEY + varint(step)


def _form(prefix: bytes, step_length: int) -> _Form:
    event = struct.Struct(f"<cd{step_length}s{len(prefix)}sf")
    length = event.size
    record = struct.Struct(f"<12s{length}sI")
    return event.pack, record.pack, header(length), prefix


class ScalarEventEncoder:
    """Encodes scalar events, caching what each tag's events share."""

    def __init__(self) -> None:
        self._prefixes: dict[str, bytes] = {}
        # tag -> [form or None for each step-field length 0..5 (steps below 2**28)]
        self._forms: dict[str, list[_Form | None]] = {}

    def encode(self, tag: str, value: float, step: int, wall_time: float) -> bytes:
        """The serialized ``Event`` for one ``simple_value`` scalar.

        ``tag`` must be a str, ``step`` an int in int64 range and ``value`` a
        float; the caller checks. Thread-safe: the only state is the tag cache.
        """
        prefix = self._prefixes.get(tag)
        if prefix is None:
            if len(self._prefixes) >= _MAX_CACHED_TAGS:
                self._prefixes.clear()
            prefix = self._prefixes[tag] = _tag_prefix(tag)
        step_bytes = _step_field(step) if step >= 0 else STEP_KEY + varint(step)
        packed_value = float32_bytes(value)
        # proto3 leaves out a zero wall_time (but keeps -0.0: its bits are not zero).
        if wall_time or math.copysign(1.0, wall_time) < 0:
            return WALL_TIME_KEY + _DOUBLE.pack(wall_time) + step_bytes + prefix + packed_value
        return step_bytes + prefix + packed_value

    def record(self, tag: str, value: float, step: int, wall_time: float) -> bytes:
        """``encode``'s event in its TFRecord frame, ready to append to a file.

        Same contract as ``encode``. No per-call objects the garbage collector
        tracks: bytes and ints only.
        """
        if not wall_time:  # left out when zero: the generic path knows how
            return frame(self.encode(tag, value, step, wall_time))
        forms = self._forms.get(tag)
        if forms is None:
            if len(self._forms) >= _MAX_CACHED_TAGS:
                self._forms.clear()
            forms = self._forms[tag] = [None] * 6
        # _step_field inlined (the common cases), tables built by the first call.
        try:
            if 0 <= step < 16384:
                step_bytes = _STEP_FIELDS[step]
            elif 0 < step < 1 << 28:
                step_bytes = _CONTINUED[step & 0x3FFF] + VARINTS[step >> 14]
            else:
                return frame(self.encode(tag, value, step, wall_time))
        except IndexError:
            step_bytes = _step_field(step)
        form = forms[len(step_bytes)]
        if form is None:
            form = forms[len(step_bytes)] = _form(_tag_prefix(tag), len(step_bytes))
        pack_event, pack_record, head, prefix = form
        try:
            event = pack_event(WALL_TIME_KEY, wall_time, step_bytes, prefix, value)
        except OverflowError:  # beyond float32: the generic path rounds to +-inf
            return frame(self.encode(tag, value, step, wall_time))
        crc = crc32c(event)
        # TFRecord's masked CRC: rotate right by 15 (via a doubled 64-bit copy), add.
        return pack_record(head, event, ((crc * 0x100000001 >> 15) + 0xA282EAD8) & 0xFFFFFFFF)
