"""Tests of the test infrastructure itself (tbutil + conftest), using
torch.utils.tensorboard's SummaryWriter as a known-good writer."""

from __future__ import annotations

import math
import os
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
import tbutil
from tensorboard.compat.proto import event_pb2
from tensorboard.compat.tensorflow_stub import pywrap_tensorflow
from torch.utils.tensorboard import SummaryWriter

TAG = "loss"
# (wall_time, step, value); values exactly representable as float32.
POINTS = [(1000.0 + step, step, step * 0.5 - 1.0) for step in range(5)]


def write_torch_scalars(logdir: Path) -> Path:
    """Write POINTS under TAG with torch; return the single event file."""
    with SummaryWriter(log_dir=str(logdir)) as writer:
        for wall_time, step, value in POINTS:
            writer.add_scalar(TAG, value, step, walltime=wall_time)
    (path,) = tbutil.event_files(logdir)
    return path


def scalar_events(events: list[event_pb2.Event]) -> list[event_pb2.Event]:
    return [e for e in events if e.HasField("summary")]


# -- loaders ---------------------------------------------------------------------------


def test_load_events_raw_and_migrated(logdir: Path) -> None:
    path = write_torch_scalars(logdir)

    raw = tbutil.load_events(path, migrate=False)
    assert raw[0].file_version == "brain.Event:2"
    assert [(e.wall_time, e.step, e.summary.value[0].simple_value) for e in scalar_events(raw)] == (
        POINTS
    )

    # EventFileLoader migrates simple_value into a DT_FLOAT tensor, as the server sees it.
    migrated = scalar_events(tbutil.load_events(path))
    assert [e.summary.value[0].HasField("simple_value") for e in migrated] == [False] * 5
    assert [e.summary.value[0].tensor.float_val[0] for e in migrated] == [p[2] for p in POINTS]
    assert migrated[0].summary.value[0].metadata.plugin_data.plugin_name == "scalars"

    assert tbutil.load_run_events(logdir, migrate=False) == raw
    assert tbutil.check_record_crcs(path) == len(raw) == 6
    assert tbutil.check_event_file(path) == 6


def test_load_run_events_reads_files_in_name_order(logdir: Path) -> None:
    for name in ("b.tfevents.2", "a.tfevents.1", "not-an-event-file"):
        event = event_pb2.Event(wall_time=1.0, file_version=name)
        (logdir / name).write_bytes(tbutil.frame_record(event.SerializeToString()))
    events = tbutil.load_run_events(logdir)
    assert [e.file_version for e in events] == ["a.tfevents.1", "b.tfevents.2"]


def test_accumulator_scalars(logdir: Path) -> None:
    write_torch_scalars(logdir)
    acc = tbutil.accumulate(logdir)
    assert acc.Tags()["tensors"] == [TAG]
    assert tbutil.scalars_from_accumulator(acc, TAG) == [(s, v) for _, s, v in POINTS]


# -- CRC checking ----------------------------------------------------------------------


@pytest.mark.parametrize("data", [b"", b"a", b"123456789", bytes(range(256)) * 40])
def test_masked_crc32c_matches_tensorboard(data: bytes) -> None:
    assert tbutil.masked_crc32c(data) == pywrap_tensorflow.masked_crc32c(data)


def corrupted_copy(src: Path, dest_dir: Path, mutate: Callable[[bytearray], object]) -> Path:
    """Copy ``src`` into ``dest_dir`` with ``mutate`` applied to its bytes."""
    dest = dest_dir / src.name
    buf = bytearray(src.read_bytes())
    mutate(buf)
    dest.write_bytes(bytes(buf))
    return dest


@pytest.mark.parametrize(
    ("where", "message"),
    [
        (lambda off: off + 12, "data CRC mismatch"),  # first payload byte
        (lambda off: off + 8, "length CRC mismatch"),  # the length CRC itself
        (lambda off: off, "length CRC mismatch"),  # the length field
    ],
    ids=["data", "length-crc", "length"],
)
def test_check_record_crcs_detects_flipped_byte(
    logdir: Path, corrupt_logdir: Path, where: Callable[[int], int], message: str
) -> None:
    path = write_torch_scalars(logdir)
    offsets = [offset for offset, _ in tbutil.iter_records(path)]
    target = offsets[2]

    def flip(buf: bytearray) -> None:
        buf[where(target)] ^= 0x01

    bad = corrupted_copy(path, corrupt_logdir, flip)
    with pytest.raises(AssertionError, match=message) as info:
        tbutil.check_record_crcs(bad)
    assert str(bad) in str(info.value)
    assert f"record #2 at offset {target}" in str(info.value)
    # Stock TensorBoard's Python loader agrees: it stops before the bad record.
    assert len(tbutil.load_events(bad, migrate=False)) == 2


def test_check_record_crcs_trailing_garbage_and_truncation(
    logdir: Path, corrupt_logdir: Path
) -> None:
    path = write_torch_scalars(logdir)
    size = path.stat().st_size

    for name, mutate, message in [
        ("short_garbage", lambda b: b.extend(b"\x00" * 5), "5 trailing byte"),
        ("long_garbage", lambda b: b.extend(b"x" * 40), "length CRC mismatch"),
        ("truncated", lambda b: b.__delitem__(slice(-3, None)), "runs past end of file"),
    ]:
        (corrupt_logdir / name).mkdir()
        bad = corrupted_copy(path, corrupt_logdir / name, mutate)
        with pytest.raises(AssertionError, match=message) as info:
            tbutil.check_record_crcs(bad)
        assert str(bad) in str(info.value)

    truncated = corrupt_logdir / "truncated" / path.name
    assert tbutil.check_record_crcs(truncated, allow_truncated_tail=True) == 5
    assert path.stat().st_size == size  # the original is untouched


def test_check_event_file_rejects_what_stock_tensorboard_cannot_read(
    corrupt_logdir: Path,
) -> None:
    good = tbutil.frame_record(event_pb2.Event(wall_time=1.0, step=1).SerializeToString())
    unparsable = corrupt_logdir / "garbage.tfevents"
    unparsable.write_bytes(good + tbutil.frame_record(b"\xff\xff\xff"))
    assert tbutil.check_record_crcs(unparsable) == 2  # framing is fine ...
    with pytest.raises(AssertionError, match="record #1 .* not a parsable Event"):
        tbutil.check_event_file(unparsable)  # ... the payload is not

    nan = corrupt_logdir / "nan.tfevents"
    nan_event = event_pb2.Event(wall_time=math.nan, step=2)
    nan.write_bytes(good + tbutil.frame_record(nan_event.SerializeToString()))
    with pytest.raises(AssertionError, match="wall_time=nan"):
        tbutil.check_event_file(nan)


def test_validate_event_files_skips_corrupt_dirs(tmp_path: Path) -> None:
    good = tbutil.frame_record(event_pb2.Event(wall_time=1.0).SerializeToString())
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "x.tfevents.1").write_bytes(good * 3)
    (tmp_path / "run" / "notes.txt").write_bytes(b"ignored")
    (tmp_path / "corrupt_x" / "deep").mkdir(parents=True)
    (tmp_path / "corrupt_x" / "deep" / "y.tfevents").write_bytes(b"junk")
    report = tbutil.validate_event_files(tmp_path)
    assert (report.files, report.records, report.failures) == (1, 3, [])

    # Written outside a corrupt_ dir, the same junk is reported. (Moved away again
    # so that the session-end check of this very suite stays green.)
    bad = tmp_path / "run" / "y.tfevents"
    shutil.copy(tmp_path / "corrupt_x" / "deep" / "y.tfevents", bad)
    report = tbutil.validate_event_files(tmp_path)
    assert report.files == 2 and len(report.failures) == 1
    assert str(bad) in report.failures[0] and "FAILED" in report.summary()
    os.remove(bad)


# -- polling ---------------------------------------------------------------------------


def test_wait_for_retries_then_returns_value() -> None:
    calls = []

    def probe() -> list[int]:
        calls.append(1)
        assert len(calls) >= 3, "not yet"
        return calls

    assert tbutil.wait_for(probe, timeout=5, interval=0.01) == [1, 1, 1]


def test_wait_for_times_out_with_last_error() -> None:
    def probe() -> None:
        raise AssertionError("still empty")

    with pytest.raises(AssertionError, match="timed out .* the thing.*still empty"):
        tbutil.wait_for(probe, timeout=0.2, interval=0.05, what="the thing")


# -- a real TensorBoard ----------------------------------------------------------------


@tbutil.both_loaders
def test_server_serves_torch_scalars(
    logdir: Path, tb_server: Callable[..., tbutil.TensorBoardServer], load_fast: bool
) -> None:
    write_torch_scalars(logdir)
    server = tb_server(logdir, load_fast)

    expected_provider = "GrpcDataProvider" if load_fast else "MultiplexerDataProvider"
    assert server.data_provider().startswith(expected_provider)
    server.wait_for(lambda: server.runs() == ["."], what="run '.'")  # the logdir itself is "."

    server.wait_for_tag("scalars", ".", TAG)
    expected = [[w, s, v] for w, s, v in POINTS]
    assert server.wait_for_scalars(".", TAG, len(POINTS)) == expected
    assert server.get_json("/data/plugin/scalars/scalars", run=".", tag=TAG) == expected
    multirun = server.post_form("/data/plugin/scalars/scalars_multirun", {"tag": TAG, "runs": "."})
    assert multirun == {".": expected}
    experiment = server.post_json("/data/plugin/hparams/experiment", {"experimentName": ""})
    assert experiment["hparamInfos"] == []
    with pytest.raises(tbutil.TensorBoardHTTPError) as info:
        server.get_json("/data/plugin/scalars/scalars", run=".", tag="nope")
    assert info.value.status == 404

    # stop() ends the whole process group (TensorBoard and the Rust data server).
    pid = server.pid
    assert pid is not None
    server.stop()
    assert server.pid is None

    def group_gone() -> bool:
        try:
            os.killpg(pid, 0)
        except ProcessLookupError:
            return True
        return False

    tbutil.wait_for(group_gone, timeout=10, what=f"process group {pid} to exit")


def test_server_startup_failure_reports_log(logdir: Path) -> None:
    with pytest.raises(AssertionError, match="(?s)exited with status.*unrecognized arguments"):
        with tbutil.tensorboard_server(logdir, False, ["--no_such_flag"]):
            pytest.fail("should not start")  # pragma: no cover
