"""tblog._wire, the one hand encoder of protobuf bytes, equals the generated messages."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tblog import _wire
from tblog.proto import event_pb2, graph_pb2, summary_pb2

STEPS = [0, 1, 127, 128, 16383, 16384, 2**31, 2**63 - 1, -1, -(2**63)]
TIMES = [0.0, -0.0, 1.7e9, 1e-300, -5.0]


@pytest.mark.parametrize("number", STEPS)
def test_varint(number: int) -> None:
    expected = event_pb2.Event(step=number).SerializeToString()
    assert (_wire.STEP_KEY + _wire.varint(number) if number else b"") == expected
    if 0 <= number < 16384:
        assert _wire.VARINTS[number] == _wire.varint(number)


@pytest.mark.parametrize("size", [0, 1, 127, 128, 16383, 16384, 70_000])
def test_field(size: int) -> None:
    text = "x" * size
    expected = event_pb2.Event(file_version=text).SerializeToString()
    assert _wire.field(_wire.FILE_VERSION_KEY, text.encode()) == expected  # a oneof: kept


@pytest.mark.parametrize("step", STEPS)
@pytest.mark.parametrize("wall_time", TIMES)
def test_event_of_every_payload_field(step: int, wall_time: float) -> None:
    summary = summary_pb2.Summary(value=[summary_pb2.Summary.Value(tag="t", simple_value=2.0)])
    graph = graph_pb2.GraphDef(versions={"producer": 22})
    metadata = event_pb2.TaggedRunMetadata(tag="step1", run_metadata=b"\x01\x02")
    start = event_pb2.SessionLog(status=event_pb2.SessionLog.START)
    cases = [
        (_wire.SUMMARY_KEY, summary.SerializeToString(), {"summary": summary}),
        (_wire.GRAPH_DEF_KEY, graph.SerializeToString(), {"graph_def": graph.SerializeToString()}),
        (_wire.FILE_VERSION_KEY, b"brain.Event:2", {"file_version": "brain.Event:2"}),
        (_wire.SESSION_LOG_KEY, start.SerializeToString(), {"session_log": start}),
        (_wire.TAGGED_RUN_METADATA_KEY, metadata.SerializeToString(),
         {"tagged_run_metadata": metadata}),
    ]
    for key, payload, fields in cases:
        expected = event_pb2.Event(wall_time=wall_time, step=step, **fields)
        assert _wire.event(wall_time, step, key, payload) == expected.SerializeToString()
    assert _wire.summary_event(wall_time, step, summary.SerializeToString()) == (
        event_pb2.Event(wall_time=wall_time, step=step, summary=summary).SerializeToString()
    )


@settings(max_examples=200, deadline=None)
@given(
    step=st.integers(min_value=-(2**63), max_value=2**63 - 1),
    wall_time=st.floats(allow_nan=False, allow_infinity=False),
    tag=st.text(max_size=40),
)
def test_random_summary_events(step: int, wall_time: float, tag: str) -> None:
    try:
        tag.encode("utf-8")
    except UnicodeEncodeError:
        return
    summary = summary_pb2.Summary(value=[summary_pb2.Summary.Value(tag=tag, simple_value=1.5)])
    expected = event_pb2.Event(wall_time=wall_time, step=step, summary=summary)
    assert _wire.summary_event(wall_time, step, summary.SerializeToString()) == (
        expected.SerializeToString()
    )


@pytest.mark.parametrize("value", [0.0, -1.5, 3.5e38, -1e300, 1e300])
def test_float32_bytes(value: float) -> None:
    expected = summary_pb2.Summary.Value(simple_value=value).SerializeToString()
    assert b"\x15" + _wire.float32_bytes(value) == expected  # a oneof: even 0.0 is kept
