"""``tblog verify LOGDIR``: every way a file can be broken, and the exit status.

Broken files are made by hand with tbutil's independent framing (under
``corrupt_logdir``); a file written by tblog is the good one.
"""

from __future__ import annotations

import io
import math
import shutil
import struct
import subprocess
import sys
from pathlib import Path

import pytest
from reliability_helpers import verify
from tbutil import frame_record
from tensorboard.compat.proto import event_pb2, summary_pb2

from tblog import SummaryWriter, _verify


def _event(step: int, wall_time: float = 1e9) -> bytes:
    value = summary_pb2.Summary.Value(tag="loss", simple_value=float(step))
    return event_pb2.Event(
        wall_time=wall_time, step=step, summary=summary_pb2.Summary(value=[value])
    ).SerializeToString()


def _good_records(n: int = 3) -> bytes:
    header = event_pb2.Event(wall_time=1e9, file_version="brain.Event:2").SerializeToString()
    return frame_record(header) + b"".join(frame_record(_event(i)) for i in range(1, n))


def _bad_length_crc() -> bytes:
    record = bytearray(frame_record(_event(9)))
    record[8] ^= 0xFF
    return bytes(record)


def _bad_data_crc() -> bytes:
    record = bytearray(frame_record(_event(9)))
    record[-1] ^= 0xFF
    return bytes(record)


TRUNCATED = "truncated tail at offset {end} (3 records ok)"
CASES = {
    # name: (bytes after 3 good records, expected description)
    "ok": (b"", "OK (3 records)"),
    "truncated_header": (frame_record(_event(9))[:7], TRUNCATED),
    "truncated_data": (frame_record(_event(9))[:-1], TRUNCATED),
    "bad_length_crc": (_bad_length_crc(), "corrupt at offset {end}: bad length CRC (3 records ok"),
    "bad_data_crc": (_bad_data_crc(), "corrupt at offset {end}: bad data CRC (3 records ok"),
    "unparsable": (
        frame_record(b"\xff\xff\xff"),
        "corrupt at offset {end}: record does not parse as an Event",
    ),
    "nan_wall_time": (
        frame_record(_event(9, wall_time=math.nan)),
        "corrupt at offset {end}: wall_time is nan (3 records ok",
    ),
    "inf_wall_time": (
        frame_record(_event(9, wall_time=math.inf)),
        "corrupt at offset {end}: wall_time is inf (3 records ok",
    ),
}


@pytest.mark.parametrize("case", list(CASES))
def test_verify_reports_each_kind_of_damage(corrupt_logdir: Path, case: str) -> None:
    tail, expected = CASES[case]
    good = _good_records()
    name = "events.out.tfevents.1.host.1.0"
    (corrupt_logdir / name).write_bytes(good + tail)
    status, output = verify(corrupt_logdir)
    first_line = output.splitlines()[0]
    assert first_line.startswith(f"{name}: {expected.format(end=len(good))}"), first_line
    assert status == (1 if "corrupt" in expected else 0)
    assert verify(corrupt_logdir, "--strict")[0] == (0 if case == "ok" else 1)


def test_verify_walks_subdirectories_and_counts(corrupt_logdir: Path) -> None:
    with SummaryWriter(corrupt_logdir / "a") as writer:
        writer.add_scalar("loss", 1.0, 1)
        writer.add_scalars("pair", {"x": 1.0, "y": 2.0}, 1)
    (corrupt_logdir / "b").mkdir()
    (corrupt_logdir / "b" / "events.out.tfevents.2.h.2.0").write_bytes(_good_records()[:-2])
    (corrupt_logdir / "b" / "notes.txt").write_text("not an event file")
    status, output = verify(corrupt_logdir)
    assert status == 0
    lines = output.splitlines()
    assert len(lines) == 5  # four event files + the summary
    assert lines[-1] == (
        "4 event file(s), 8 valid record(s): 3 ok, 1 with a truncated tail, 0 corrupt"
    )
    assert sum(": OK (" in line for line in lines) == 3


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    """``python -m tblog ARGS`` (the console script runs the same ``main``)."""
    command = [sys.executable, "-m", "tblog", *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=60)


def test_command_line(corrupt_logdir: Path) -> None:
    bad = corrupt_logdir / "bad"
    bad.mkdir()
    (bad / "events.out.tfevents.3.h.3.0").write_bytes(_good_records() + _bad_data_crc())
    result = _cli("verify", str(bad))
    assert result.returncode == 1 and "bad data CRC" in result.stdout
    result = _cli("verify", str(corrupt_logdir / "missing"))
    assert result.returncode == 2 and "no such file or directory" in result.stderr
    result = _cli()
    assert result.returncode == 2 and "verify" in result.stderr  # usage names the command


def test_quiet_and_single_file(corrupt_logdir: Path) -> None:
    good = corrupt_logdir / "good"
    with SummaryWriter(good) as writer:
        writer.add_scalar("loss", 1.0, 1)
    (corrupt_logdir / "events.out.tfevents.3.h.3.0").write_bytes(_good_records() + _bad_data_crc())
    out = io.StringIO()
    assert _verify.run(str(corrupt_logdir), quiet=True, out=out) == 1
    assert "OK (" not in out.getvalue() and "1 corrupt" in out.getvalue()
    only_file = next(good.iterdir())
    status, output = verify(only_file)
    assert status == 0 and output.startswith(f"{only_file.name}: OK (2 records)")


def test_console_script(logdir: Path) -> None:
    tblog = shutil.which("tblog", path=str(Path(sys.executable).parent))
    if tblog is None:
        pytest.skip("the tblog console script is not installed next to this Python")
    with SummaryWriter(logdir) as writer:
        writer.add_scalar("loss", 1.0, 1)
    command = [tblog, "verify", str(logdir)]
    result = subprocess.run(command, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0 and ": OK (2 records)" in result.stdout


def test_huge_length_field_does_not_allocate_it(corrupt_logdir: Path) -> None:
    """A length field claiming 2**62 bytes (with a matching CRC) is a truncated
    tail, read without trying to allocate the claimed size."""
    length = struct.pack("<Q", 2**62)
    from tbutil import masked_crc32c

    header = length + struct.pack("<I", masked_crc32c(length))
    path = corrupt_logdir / "events.out.tfevents.4.h.4.0"
    path.write_bytes(_good_records() + header + b"x" * 100)
    status, output = verify(corrupt_logdir)
    assert status == 0 and "truncated tail at offset" in output
