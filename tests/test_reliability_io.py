"""Reliability promises 7, 10 and 11 (docs/reliability.md): I/O faults, bounded
memory, and never a record TensorBoard cannot read.

I/O faults are real ones: RLIMIT_FSIZE (EFBIG, in a child), /dev/full
(ENOSPC), a logdir removed mid-run, a descriptor closed (and its number
reused) under the writer. Each must give a clear exception, never a hang or a
silent loss, and leave what was written before valid.
"""

from __future__ import annotations

import errno
import math
import os
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from reliability_helpers import (
    PRELUDE,
    check_side_files,
    descriptor_of,
    parse_all,
    run_python,
    run_scalars,
    scalar_values,
    verify,
)
from tbutil import event_files

from tblog import FileWriter, SummaryWriter
from tblog._storage import open_event_writer
from tblog.proto import event_pb2, summary_pb2

# -- 7. I/O faults -----------------------------------------------------------------

FILE_SIZE_LIMIT_CHILD = """
import resource, signal

signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # so write() fails with EFBIG
w = SummaryWriter(sys.argv[1], max_queue=10, flush_secs=10_000)
for i in range(100):
    w.add_scalar("loss", i, i)
w.flush()
soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
size = os.path.getsize(w.file_writer.event_writer.path)
resource.setrlimit(resource.RLIMIT_FSIZE, (size + 1000, hard))
failures = 0
for i in range(100, 1000):
    try:
        w.add_scalar("loss", i, i)
    except OSError as exc:
        failures += 1
        if failures == 1:
            say("first failure at", i, exc.errno, str(exc))
say("failures", failures)
try:
    w.flush()
except OSError as exc:
    say("flush", exc.errno)
resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))  # space again: everything goes out
w.close()
say("closed")
"""


def test_file_size_limit_raises_and_recovers(logdir: Path) -> None:
    result = run_python(FILE_SIZE_LIMIT_CHILD, str(logdir))
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    first = lines[0].split(" ", 5)
    assert first[:3] == ["first", "failure", "at"] and int(first[4]) == errno.EFBIG
    assert "writing event file" in first[5] and "kept and retried" in first[5]
    failures = int(lines[1].split()[1])
    assert failures > 800  # every write attempt past the limit raised
    assert lines[2:] == [f"flush {errno.EFBIG}", "closed"]
    # Nothing lost, nothing doubled: the partial record at the limit was completed.
    assert [step for _, step, _ in run_scalars(logdir)] == list(range(1000))
    assert verify(logdir)[0] == 0


def test_file_size_limit_until_close_leaves_a_readable_file(corrupt_logdir: Path) -> None:
    result = run_python(
        """
        import resource, signal

        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        w = SummaryWriter(sys.argv[1], max_queue=10)
        for i in range(100):
            w.add_scalar("loss", i, i)
        w.flush()
        path = w.file_writer.event_writer.path
        limit = os.path.getsize(path) + 1000
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, resource.RLIM_INFINITY))
        for i in range(100, 200):
            try:
                w.add_scalar("loss", i, i)
            except OSError:
                pass
        try:
            w.close()
        except OSError as exc:
            say(exc.errno, str(exc))
        """,
        str(corrupt_logdir),
    )
    assert result.returncode == 0, result.stderr
    code, message = result.stdout.strip().split(" ", 1)
    assert int(code) == errno.EFBIG and "could not be written and are lost" in message
    (path,) = event_files(corrupt_logdir)
    # What fitted is valid; the file may end inside the record cut at the limit.
    steps = [e.step for e in parse_all(path, allow_truncated_tail=True)[1:]]
    assert steps == list(range(len(steps))) and len(steps) >= 100
    assert [step for _, step, _ in scalar_values(path)] == steps  # TensorBoard's loader
    assert verify(corrupt_logdir)[0] == 0


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full")
def test_disk_full_raises_keeps_records_and_recovers(
    logdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    writer = SummaryWriter(logdir, max_queue=5)
    for i in range(20):
        writer.add_scalar("loss", i, i)
    writer.flush()
    own = descriptor_of(writer.file_writer.event_writer.path)
    full = os.open("/dev/full", os.O_WRONLY)
    real_write = os.write
    disk_full = True

    def write(fd: int, data: bytes) -> int:
        # The writer's writes go to /dev/full: the kernel's own ENOSPC.
        return real_write(full if fd == own and disk_full else fd, data)

    monkeypatch.setattr(os, "write", write)
    try:
        raised = 0
        for i in range(20, 40):
            try:
                writer.add_scalar("loss", i, i)
            except OSError as exc:
                assert exc.errno == errno.ENOSPC and "kept and retried" in str(exc)
                raised += 1
        assert raised == 16  # from the 5th call on, every call tries to write and raises
        with pytest.raises(OSError, match="No space left on device"):
            writer.flush()
        disk_full = False  # space again
        writer.close()
    finally:
        monkeypatch.undo()
        os.close(full)
    assert [step for _, step, _ in run_scalars(logdir)] == list(range(40))


def test_logdir_removed_mid_run(logdir: Path) -> None:
    run = logdir / "run"
    writer = SummaryWriter(run, max_queue=1000)
    for i in range(50):
        writer.add_scalar("loss", i, i)
    writer.flush()
    shutil.rmtree(run)
    for i in range(50, 100):
        writer.add_scalar("loss", i, i)
    with pytest.raises(OSError, match="deleted while open.*kept for a new file") as info:
        writer.flush()
    assert info.value.errno == errno.ENOENT
    for i in range(100, 150):
        writer.add_scalar("loss", i, i)  # starts a new file in a new logdir
    writer.close()
    # 0-49 went with the deleted file; nothing logged after it is lost.
    assert [step for _, step, _ in run_scalars(run)] == list(range(50, 150))


def test_logdir_replaced_by_a_file(logdir: Path) -> None:
    run = logdir / "run"
    writer = SummaryWriter(run, max_queue=1000)
    writer.add_scalar("loss", 0, 0)
    writer.flush()
    shutil.rmtree(run)
    run.write_text("not a directory")
    writer.add_scalar("loss", 1, 1)
    with pytest.raises(OSError, match="deleted while open"):
        writer.flush()
    with pytest.raises(OSError, match="cannot create an event file in"):
        writer.add_scalar("loss", 2, 2)
    run.unlink()  # fixed: the writer carries on
    writer.add_scalar("loss", 3, 3)
    writer.close()
    assert [step for _, step, _ in run_scalars(run)] == [1, 3]


def test_descriptor_closed_under_the_writer(logdir: Path) -> None:
    writer = SummaryWriter(logdir, max_queue=1000)
    for i in range(10):
        writer.add_scalar("loss", i, i)
    writer.flush()
    first = writer.file_writer.event_writer.path
    os.close(descriptor_of(first))
    for i in range(10, 20):
        writer.add_scalar("loss", i, i)
    with pytest.raises(OSError, match="closed outside tblog"):
        writer.flush()
    for i in range(20, 30):
        writer.add_scalar("loss", i, i)
    writer.close()
    files = event_files(logdir)
    assert len(files) == 2 and str(files[0]) == first
    assert [step for _, step, _ in scalar_values(files[0])] == list(range(10))
    assert [step for _, step, _ in scalar_values(files[1])] == list(range(10, 30))


def test_descriptor_reused_by_another_file_is_never_written(logdir: Path, tmp_path: Path) -> None:
    writer = SummaryWriter(logdir, max_queue=1000)
    writer.add_scalar("loss", 0, 0)
    writer.flush()
    fd = descriptor_of(writer.file_writer.event_writer.path)
    victim = tmp_path / "victim.bin"
    victim_fd = os.open(victim, os.O_WRONLY | os.O_CREAT)
    os.dup2(victim_fd, fd)  # closed outside tblog, number reused by another file
    try:
        writer.add_scalar("loss", 1, 1)
        with pytest.raises(OSError, match="now belongs to another file"):
            writer.flush()
        writer.close()
        os.fstat(fd)  # the writer did not close the other file's descriptor
    finally:
        os.close(fd)
        os.close(victim_fd)
    assert victim.read_bytes() == b""
    assert [step for _, step, _ in run_scalars(logdir)] == [0, 1]


def test_background_flush_error_is_raised_by_the_next_call(
    logdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    writer = SummaryWriter(logdir, max_queue=1000, flush_secs=0.1)
    writer.add_scalar("loss", 0, 0)
    writer.flush()
    fd = descriptor_of(writer.file_writer.event_writer.path)
    hit = threading.Event()  # set once the background flush has touched the closed fd

    def watching(real):  # type: ignore[no-untyped-def]
        def call(number: int, *args: object) -> object:
            try:
                return real(number, *args)
            finally:
                if number == fd:
                    hit.set()

        return call

    monkeypatch.setattr(os, "write", watching(os.write))
    monkeypatch.setattr(os, "fstat", watching(os.fstat))
    os.close(fd)
    writer.add_scalar("loss", 1, 1)
    assert hit.wait(30)  # the background tick hits EBADF within ~1 s
    monkeypatch.undo()
    with pytest.raises(OSError, match="closed outside tblog"):
        writer.add_scalar("loss", 2, 2)
    writer.add_scalar("loss", 3, 3)
    writer.close()
    steps = [step for _, step, _ in run_scalars(logdir)]
    assert steps == [0, 1, 3]  # 1 was kept; the call that raised (2) logged nothing


# -- 10. bounded memory ----------------------------------------------------------

MEMORY_CHILD = """
def rss():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")

w = SummaryWriter(sys.argv[1], max_queue=int(sys.argv[2]), flush_secs=10_000)
n = int(sys.argv[3])
for i in range(n // 4):  # warm-up: caches, allocator arenas
    w.add_scalar("loss", i, i)
before = rss()
for i in range(n // 4, n):
    w.add_scalar("loss", i, i)
say(rss() - before, os.path.getsize(w.file_writer.event_writer.path))
w.close()
"""


@pytest.mark.skipif(not os.path.exists("/proc/self/statm"), reason="needs /proc")
@pytest.mark.parametrize("max_queue", [10, 10**9])
def test_memory_stays_flat(logdir: Path, max_queue: int) -> None:
    """300k scalars after a warm-up (~10 MB of records): RSS grows by far less
    than the data, even with a max_queue no buffer could hold (the buffer is
    also capped in bytes)."""
    n = 400_000
    result = run_python(MEMORY_CHILD, str(logdir), str(max_queue), str(n), timeout=120)
    assert result.returncode == 0, result.stderr
    growth, written = map(int, result.stdout.split())
    assert written > 12 << 20
    assert growth < 4 << 20, f"RSS grew by {growth / 2**20:.1f} MiB"
    shutil.rmtree(logdir)  # spare the session-end check 400k records


def test_deferred_records_apply_back_pressure(logdir: Path) -> None:
    """Slow off-thread encodes: the caller waits once 16 are pending, instead of
    queueing without bound."""
    writer = FileWriter(logdir, max_queue=10**6)
    release = threading.Event()
    finished: list[int] = []  # list.append is atomic: builders run on several threads
    most_pending = 0

    def slow_record(step: int) -> bytes:
        release.wait(0.01)
        finished.append(step)
        return event_pb2.Event(wall_time=1.0, step=step).SerializeToString()

    for step in range(100):
        writer.add_deferred(lambda step=step: slow_record(step))
        most_pending = max(most_pending, step + 1 - len(finished))  # handed in, not yet built
    writer.close()
    assert most_pending <= 16
    assert [e.step for e in parse_all(event_files(logdir)[0])[1:]] == list(range(100))


# -- 11. never a record TensorBoard cannot read -----------------------------------


def _event(**fields: object) -> event_pb2.Event:
    summary = summary_pb2.Summary(value=[summary_pb2.Summary.Value(tag="x", simple_value=1.0)])
    return event_pb2.Event(summary=summary, **fields)


@pytest.mark.parametrize(
    "record, error, match",
    [
        (b"\xff\xff\xff\xff", ValueError, "not a serialized Event"),
        (b"\x0a", ValueError, "not a serialized Event"),
        (_event(wall_time=math.nan).SerializeToString(), ValueError, "wall_time must be finite"),
        (_event(wall_time=-math.inf).SerializeToString(), ValueError, "wall_time must be finite"),
        ("a str", TypeError, "must be bytes"),
        (None, TypeError, "must be bytes"),
    ],
)
def test_add_record_rejects_what_tensorboard_cannot_read(
    logdir: Path, record: object, error: type, match: str
) -> None:
    writer = FileWriter(logdir)
    with pytest.raises(error, match=match):
        writer.add_record(record)  # type: ignore[arg-type]
    writer.add_record(_event(wall_time=5.0, step=1).SerializeToString())
    writer.close()
    assert [e.step for e in parse_all(event_files(logdir)[0])] == [0, 1]


def test_deferred_record_that_does_not_parse_is_not_written(logdir: Path) -> None:
    writer = FileWriter(logdir, max_queue=1000)
    writer.add_deferred(lambda: b"\xff\xff\xff\xff")
    writer.add_deferred(lambda: _event(wall_time=1.0, step=1).SerializeToString())
    writer.add_record(_event(wall_time=1.0, step=2).SerializeToString())
    with pytest.raises(ValueError, match="not a serialized Event"):
        writer.flush()  # the bad one is dropped, the ones after it written

    def fail() -> bytes:
        raise RuntimeError("encoder bug")

    writer.add_deferred(fail)
    writer.add_record(_event(wall_time=1.0, step=3).SerializeToString())
    with pytest.raises(RuntimeError, match="encoder bug"):
        writer.close()
    assert writer.closed
    assert [e.step for e in parse_all(event_files(logdir)[0])] == [0, 1, 2, 3]


@pytest.mark.parametrize("walltime", [math.nan, math.inf, -math.inf])
def test_non_finite_walltime_is_rejected_everywhere(logdir: Path, walltime: float) -> None:
    writer = SummaryWriter(logdir)
    file_writer = writer.file_writer
    calls = [
        lambda: writer.add_scalar("x", 1.0, 1, walltime=walltime),
        lambda: writer.add_scalar("x", 1.0, 1, walltime=walltime, new_style=True),
        lambda: writer.add_scalars("x", {"a": 1.0}, 1, walltime=walltime),
        lambda: file_writer.add_event(_event(), 1, walltime=walltime),
        lambda: file_writer.add_summary(summary_pb2.Summary(), 1, walltime=walltime),
        lambda: file_writer.add_record(_event(wall_time=walltime).SerializeToString()),
    ]
    for call in calls:
        with pytest.raises(ValueError, match="finite"):
            call()
    writer.add_scalar("x", 1.0, 2, walltime=1e9)
    writer.close()
    assert run_scalars(logdir) == [("x", 2, 1.0)]
    assert not (logdir / "x_a").exists()


# -- side files (projector, hparams): inside the run, whole, merged under a lock ---

def test_side_files_stay_inside_and_are_replaced_whole(tmp_path: Path) -> None:
    logdir = tmp_path / "root" / "run"

    def read(relative: str) -> bytes | None:
        path = logdir.joinpath(*relative.split("/"))
        return path.read_bytes() if path.exists() else None

    check_side_files(open_event_writer(str(logdir)), read)
    # No temporary file left behind, nothing outside the run directory.
    found = sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*") if p.is_file())
    assert [name for name in found if "tfevents" not in name] == [
        "root/run/00001/tag/tensors.tsv",
        "root/run/projector_config.pbtxt",
    ]


UPDATE_CHILD = """
from tblog._storage import open_event_writer

writer = open_event_writer(sys.argv[1])
for i in range(int(sys.argv[3])):
    line = f"{sys.argv[2]}{i}\\n".encode()
    writer.update_file("merged.txt", lambda old, line=line: (old or b"") + line)
writer.close()
"""


def test_update_file_merges_across_threads_and_processes(logdir: Path) -> None:
    """Read-modify-write under one exclusive lock: no update is lost."""
    procs = [
        subprocess.Popen([sys.executable, "-c", PRELUDE + UPDATE_CHILD, str(logdir), f"p{k}", "40"])
        for k in range(2)
    ]
    writer = open_event_writer(str(logdir))

    def update(prefix: str) -> None:
        for i in range(40):
            writer.update_file(
                "merged.txt", lambda old, i=i: (old or b"") + f"{prefix}{i}\n".encode()
            )

    threads = [threading.Thread(target=update, args=(f"t{k}",)) for k in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    for proc in procs:
        assert proc.wait(60) == 0
    writer.close()
    lines = (logdir / "merged.txt").read_text().split()
    assert sorted(lines) == sorted(f"{who}{i}" for who in ("p0", "p1", "t0", "t1", "t2")
                                   for i in range(40))
