"""The hand-encoded scalar hot path is byte-identical to the generated messages."""

from __future__ import annotations

import math
import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tblog._record import frame
from tblog._scalar_event import ScalarEventEncoder
from tblog._wire import varint
from tblog.proto import event_pb2, summary_pb2


def generated(tag: str, value: float, step: int, wall_time: float) -> bytes:
    summary = summary_pb2.Summary(value=[summary_pb2.Summary.Value(tag=tag, simple_value=value)])
    return event_pb2.Event(wall_time=wall_time, step=step, summary=summary).SerializeToString()


SPECIAL_VALUES = [
    0.0,
    -0.0,
    1.0,
    -1.5,
    math.nan,
    -math.nan,
    math.inf,
    -math.inf,
    1e-45,
    3.4e38,
    3.5e38,
    -1e300,
    1e300,
    5e-324,
    0.1,
    2.0**24 + 1,
]
SPECIAL_STEPS = [0, 1, 127, 128, 300, 16383, 16384, 16385, 2**21 - 1, 2**21, 2**28 - 1, 2**28]
SPECIAL_STEPS += [2**31, 2**63 - 1, -1, -(2**63), -128]
SPECIAL_TAGS = ["a", "loss/train", "ü/∑/日本", "x" * 127, "y" * 128, "z" * 20000, "", "tab\tnl\n"]
SPECIAL_TIMES = [0.0, -0.0, 1.7e9, 1e-300, -5.0, 1.7976931348623157e308]


@pytest.mark.parametrize("value", SPECIAL_VALUES)
@pytest.mark.parametrize("step", SPECIAL_STEPS)
def test_special_values_and_steps(value: float, step: int) -> None:
    encoder = ScalarEventEncoder()
    expected = generated("loss", value, step, 1.7e9)
    assert encoder.encode("loss", value, step, 1.7e9) == expected
    assert encoder.record("loss", value, step, 1.7e9) == frame(expected)


@pytest.mark.parametrize("tag", SPECIAL_TAGS)
@pytest.mark.parametrize("wall_time", SPECIAL_TIMES)
def test_special_tags_and_wall_times(tag: str, wall_time: float) -> None:
    encoder = ScalarEventEncoder()
    for step in (0, 5, 5, 0, 200, 20000, 200):  # also exercises the per-tag caches
        expected = generated(tag, 2.5, step, wall_time)
        assert encoder.encode(tag, 2.5, step, wall_time) == expected
        assert encoder.record(tag, 2.5, step, wall_time) == frame(expected)


@settings(max_examples=400, deadline=None)
@given(
    tag=st.text(max_size=300),
    value=st.floats(allow_nan=True, allow_infinity=True),
    step=st.integers(min_value=-(2**63), max_value=2**63 - 1),
    wall_time=st.floats(allow_nan=False, allow_infinity=False),
)
def test_random_events(tag: str, value: float, step: int, wall_time: float) -> None:
    try:
        tag.encode("utf-8")
    except UnicodeEncodeError:
        return  # lone surrogates: rejected by SummaryWriter before encoding
    encoder = ScalarEventEncoder()
    expected = generated(tag, value, step, wall_time)
    assert encoder.encode(tag, value, step, wall_time) == expected
    assert encoder.record(tag, value, step, wall_time) == frame(expected)


def test_nan_payload_and_sign_survive() -> None:
    encoder = ScalarEventEncoder()
    data = encoder.encode("t", -math.nan, 0, 1.0)
    value = event_pb2.Event.FromString(data).summary.value[0].simple_value
    assert math.isnan(value) and math.copysign(1.0, value) < 0
    assert data.endswith(struct.pack("<f", -math.nan))


@pytest.mark.parametrize("number", [0, 1, 127, 128, 16383, 16384, 2**63 - 1, -1])
def test_varint_matches_protobuf(number: int) -> None:
    encoded = event_pb2.Event(step=number).SerializeToString()
    assert encoded == (b"\x10" + varint(number) if number else b"")


def test_record_frame_is_what_tensorboard_reads(tmp_path) -> None:
    """The record's own framing (cached header, inlined masked CRC) passes
    TensorBoard's CRC checks."""
    from tensorboard.backend.event_processing.event_file_loader import EventFileLoader

    encoder = ScalarEventEncoder()
    steps = [0, 1, 200, 16384, 300_000, 2**28 - 1, 2**40]
    path = tmp_path / "events.out.tfevents.1.test"
    records = [encoder.record("t", 0.5 * i, step, 1.7e9 + i) for i, step in enumerate(steps)]
    path.write_bytes(b"".join(records))
    events = list(EventFileLoader(str(path)).Load())
    assert [event.step for event in events] == steps
    values = [event.summary.value[0].tensor.float_val[0] for event in events]
    assert values == [0.5 * i for i in range(len(steps))]

