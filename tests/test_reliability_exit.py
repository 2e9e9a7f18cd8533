"""Reliability promises 1-3 (docs/reliability.md): how a process ends.

Each scenario runs in a real child interpreter that is ended the way the
promise names (normal exit without ``close()``, an uncaught exception,
SIGTERM, SIGINT, SIGKILL); what reached the disk is then read back with stock
TensorBoard's loaders and ``tblog verify``.
"""

from __future__ import annotations

import os
import random
import shutil
import signal
import time
from pathlib import Path

import pytest
from reliability_helpers import (
    finish,
    kill,
    parse_all,
    read_line,
    run_python,
    run_scalars,
    scalar_values,
    start_python,
    verify,
)
from tbutil import event_files, iter_records, load_events, wait_for

from tblog import SummaryWriter

N = 2500

ENDINGS = {
    "falls_off_the_end": "",
    "sys_exit": "sys.exit(0)",
    "uncaught_exception": "raise RuntimeError('boom')",
}


# -- 1. exit without close() ---------------------------------------------------


@pytest.mark.parametrize("max_queue", [10, 100_000])
@pytest.mark.parametrize("ending", list(ENDINGS))
def test_exit_without_close_keeps_everything(logdir: Path, max_queue: int, ending: str) -> None:
    result = run_python(
        f"""
        w = SummaryWriter(sys.argv[1], max_queue={max_queue})
        for i in range({N}):
            w.add_scalar("loss", i, i)
        w.add_scalars("pair", {{"a": 1.0, "b": 2.0}}, 7)  # two more runs, never closed
        {ENDINGS[ending]}
        """,
        str(logdir),
    )
    if ending == "uncaught_exception":
        assert result.returncode == 1 and "RuntimeError: boom" in result.stderr
    else:
        assert result.returncode == 0, result.stderr
    assert run_scalars(logdir) == [("loss", i, float(i)) for i in range(N)]
    assert run_scalars(logdir / "pair_a") == [("pair", 7, 1.0)]
    assert run_scalars(logdir / "pair_b") == [("pair", 7, 2.0)]
    assert verify(logdir)[0] == 0


# -- 2. SIGTERM and SIGINT -----------------------------------------------------

IDLE_CHILD = f"""
w = SummaryWriter(sys.argv[1], max_queue=100_000, flush_secs=10_000)
for i in range({N}):
    w.add_scalar("loss", i, i)
say("logged")
time.sleep(60)
"""

# Logs as fast as it can, reporting progress; the signal lands mid-logging,
# often while the main thread is inside the writer's critical section.
BUSY_CHILD = """
w = SummaryWriter(sys.argv[1], max_queue=int(sys.argv[2]), flush_secs=10_000)
i = 0
while True:
    w.add_scalar("loss", i, i)
    i += 1
    if i % 500 == 0:
        say(i)
"""


def _steps(run_dir: Path) -> list[int]:
    values = run_scalars(run_dir)
    assert all(tag == "loss" and float(step) == value for tag, step, value in values)
    return [step for _, step, _ in values]


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_signal_while_idle_keeps_everything(logdir: Path, sig: int) -> None:
    proc = start_python(IDLE_CHILD, str(logdir))
    assert read_line(proc) == "logged"
    kill(proc, sig)
    code, _, err = finish(proc)
    # SIGTERM: dies of SIGTERM as by default; SIGINT: KeyboardInterrupt, then
    # Python re-raises SIGINT so the exit status still says so.
    assert code == -sig, err
    assert _steps(logdir) == list(range(N))
    assert verify(logdir)[0] == 0


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
@pytest.mark.parametrize("max_queue", [10, 100_000])
def test_signal_while_logging_keeps_everything_before_it(
    logdir: Path, sig: int, max_queue: int
) -> None:
    proc = start_python(BUSY_CHILD, str(logdir), str(max_queue))
    logged = 0
    while logged < 5000:
        logged = int(read_line(proc))
    kill(proc, sig)
    code, _, err = finish(proc)
    assert code == -sig, err
    steps = _steps(logdir)
    # Everything logged before the signal (at least what the child reported),
    # in order, once; nothing after a gap.
    assert len(steps) >= logged
    assert steps == list(range(len(steps)))
    assert verify(logdir)[0] == 0


def test_inherited_ignored_sigint_neither_hangs_nor_loses(logdir: Path) -> None:
    """Started with SIGINT ignored (a background job of a non-interactive shell),
    a process keeps ignoring Ctrl-C: tblog must not change that, must keep
    logging through it, and must still lose nothing when SIGTERM ends it."""
    proc = start_python(BUSY_CHILD, str(logdir), "10", sigint_ignored=True)
    logged = 0
    while logged < 5000:
        logged = int(read_line(proc))
    kill(proc, signal.SIGINT)
    after_sigint = logged
    while logged < after_sigint + 5000:  # still alive and logging
        logged = int(read_line(proc))
    kill(proc, signal.SIGTERM)
    code, _, err = finish(proc)
    assert code == -signal.SIGTERM, err
    steps = _steps(logdir)
    assert len(steps) >= logged
    assert steps == list(range(len(steps)))
    assert verify(logdir)[0] == 0


@pytest.mark.parametrize("how", ["after-whole-write", "after-partial-write"])
@pytest.mark.parametrize("deferred", [False, True], ids=["buffer", "deferred-queue"])
@pytest.mark.parametrize("nth_write", [1, 2, 3])
def test_write_cut_short_by_keyboard_interrupt_duplicates_nothing(
    logdir: Path, monkeypatch: pytest.MonkeyPatch, how: str, deferred: bool, nth_write: int
) -> None:
    """Ctrl-C's KeyboardInterrupt can land right after os.write returned, before
    the writer has taken the records off its queue (CI once saw 10 steps twice).
    Here it is injected exactly there: the rest must still go out once each."""
    writer = SummaryWriter(logdir, max_queue=10, flush_secs=10_000)
    own = os.stat(writer.file_writer.event_writer.path)
    real_write, writes = os.write, []

    def write_then_interrupt(fd: int, data: bytes) -> int:
        stat = os.fstat(fd)
        if (stat.st_dev, stat.st_ino) != (own.st_dev, own.st_ino):  # not the event file
            return real_write(fd, data)
        writes.append(len(data))
        if len(writes) != nth_write:
            return real_write(fd, data)
        real_write(fd, data if how == "after-whole-write" else bytes(data)[: len(data) // 3])
        raise KeyboardInterrupt

    interrupted = 0
    monkeypatch.setattr(os, "write", write_then_interrupt)
    for step in range(95):
        try:
            if deferred and step % 7 == 0:
                writer.add_text("note", f"step {step}", step)  # a deferred record
            writer.add_scalar("loss", float(step), step)
        except KeyboardInterrupt:
            interrupted += 1
    assert interrupted == 1
    writer.close()
    monkeypatch.undo()
    assert [step for tag, step, _ in run_scalars(logdir) if tag == "loss"] == list(range(95))
    events = [e for path in event_files(logdir) for e in parse_all(path)]
    tags = [(e.summary.value[0].tag, e.step) for e in events if e.summary.value]
    notes = [step for tag, step in tags if tag.startswith("note")]
    assert notes == (list(range(0, 95, 7)) if deferred else [])
    assert verify(logdir)[0] == 0


def test_sigterm_handler_is_installed_only_over_the_default(logdir: Path) -> None:
    result = run_python(
        """
        import signal, threading

        def mine(signum, frame):
            say("user handler"); sys.exit(3)

        # A writer made outside the main thread cannot install a handler.
        t = threading.Thread(target=lambda: SummaryWriter(sys.argv[1] + "/thread").close())
        t.start(); t.join()
        say(signal.getsignal(signal.SIGTERM) is signal.SIG_DFL)
        w = SummaryWriter(sys.argv[1] + "/main")
        say(signal.getsignal(signal.SIGTERM).__module__)
        signal.signal(signal.SIGTERM, mine)  # the user's own, set later, wins
        w.add_scalar("loss", 1.0, 1)
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(30)
        """,
        str(logdir),
    )
    assert result.returncode == 3, result.stderr
    assert result.stdout.split("\n")[:3] == ["True", "tblog._lifecycle", "user handler"]
    assert run_scalars(logdir / "main") == [("loss", 1, 1.0)]  # atexit still flushed

    result = run_python(
        """
        import signal
        signal.signal(signal.SIGTERM, lambda *a: None)
        handler = signal.getsignal(signal.SIGTERM)
        SummaryWriter(sys.argv[1])
        say(signal.getsignal(signal.SIGTERM) is handler)
        """,
        str(logdir / "preset"),
    )
    assert result.stdout.strip() == "True", result.stderr


def test_sigterm_handler_can_be_turned_off(logdir: Path) -> None:
    result = run_python(
        """
        import signal
        SummaryWriter(sys.argv[1])
        say(signal.getsignal(signal.SIGTERM) is signal.SIG_DFL)
        """,
        str(logdir),
        env={"TBLOG_SIGTERM_HANDLER": "0"},
    )
    assert result.stdout.strip() == "True", result.stderr


# -- 3. SIGKILL ----------------------------------------------------------------

KILL_CHILD = """
w = SummaryWriter(sys.argv[1], max_queue=int(sys.argv[2]), flush_secs=10_000)
tag = "t" * int(sys.argv[3])
i = 0
while True:
    w.add_scalar(tag, i, i)
    i += 1
    if i % 250 == 0:
        w.flush()
        say(i)  # everything below i is on disk
"""


def test_sigkill_loses_only_what_was_not_flushed(corrupt_logdir: Path) -> None:
    """20 children killed at random points: every flushed record is read back,
    in order, and the file ends in at most one incomplete record.

    (corrupt_logdir: a truncated tail is a legitimate outcome here, which the
    suite's session-end check would otherwise flag.)"""
    rng = random.Random(1234)
    outcomes = {"ok": 0, "truncated": 0}
    runs = []
    for run in range(20):
        run_dir = corrupt_logdir / f"run{run}"
        params = (rng.choice([1, 10, 1000, 100_000]), rng.choice([1, 200, 5000]))
        # tag length 5000: ~5 KB records, so writes of up to 1 MB can be cut
        proc = start_python(KILL_CHILD, str(run_dir), *map(str, params))
        flushed = 0
        for _ in range(rng.randint(1, 8)):
            flushed = int(read_line(proc))
        time.sleep(rng.random() * 0.005)
        kill(proc)
        runs.append((run_dir, proc, flushed, params))
    for run_dir, proc, flushed, params in runs:
        code, _, _ = finish(proc)
        assert code == -signal.SIGKILL

        (path,) = event_files(run_dir)
        events = parse_all(path, allow_truncated_tail=True)
        steps = [e.step for e in events[1:]]
        assert events[0].file_version == "brain.Event:2"
        assert len(steps) >= flushed, params
        assert steps == list(range(len(steps)))
        status, output = verify(run_dir)
        assert status == 0, output
        truncated = "truncated tail at offset" in output
        outcomes["truncated" if truncated else "ok"] += 1
        assert f"({len(events)} records" in output
        assert verify(run_dir, "--strict")[0] == (1 if truncated else 0)
        # TensorBoard's Python loader reads every complete record and stops
        # quietly (checked on files small enough for its pure-Python CRC).
        if path.stat().st_size <= 1 << 19:
            assert [e.step for e in load_events(path, migrate=False)[1:]] == steps
    print(f"SIGKILL outcomes: {outcomes}")


def test_flush_secs_tick_survives_sigkill(logdir: Path) -> None:
    proc = start_python(
        """
        w = SummaryWriter(sys.argv[1], max_queue=100_000, flush_secs=1)
        for i in range(300):
            w.add_scalar("loss", i, i)
        say("logged")
        time.sleep(60)
        """,
        str(logdir),
    )
    try:
        assert read_line(proc) == "logged"
        # No flush() and no exit: only the background tick can write them.
        wait_for(
            lambda: event_files(logdir) and len(list(iter_records(event_files(logdir)[0]))) == 301,
            timeout=30,
            what="the flush_secs tick to write 300 records",
        )
    finally:
        kill(proc)
        finish(proc)
    assert [step for _, step, _ in run_scalars(logdir)] == list(range(300))


# -- truncated tails, as both TensorBoard loaders see them ---------------------


def _truncated_copies(source: Path, dest_root: Path) -> dict[str, int]:
    """Runs whose only file is ``source`` cut inside its last record (in the data,
    and inside the 12-byte header); returns run -> complete scalar records."""
    data = source.read_bytes()
    offsets = [offset for offset, _ in iter_records(source)]
    last = offsets[-1]
    cuts = {"cut_in_data": len(data) - 3, "cut_in_header": last + 5}
    for run, cut in cuts.items():
        (dest_root / run).mkdir(parents=True)
        (dest_root / run / source.name).write_bytes(data[:cut])
    return {run: len(offsets) - 2 for run in cuts}  # minus the header and the cut one


def test_truncated_tail_is_read_by_both_loaders(
    tmp_path_factory: pytest.TempPathFactory, tb_server
) -> None:
    root = tmp_path_factory.mktemp("corrupt_truncated")
    result = run_python(
        """
        w = SummaryWriter(sys.argv[1])
        for i in range(40):
            w.add_scalar("loss", i, i)
        w.close()
        """,
        str(root / "whole"),
    )
    assert result.returncode == 0, result.stderr
    (source,) = event_files(root / "whole")
    expected = _truncated_copies(source, root)
    shutil.rmtree(root / "whole")
    for run, count in expected.items():
        status, output = verify(root / run)
        assert status == 0 and "truncated tail at offset" in output, output
        assert verify(root / run, "--strict")[0] == 1
        assert [s for _, s, _ in scalar_values(event_files(root / run)[0])] == list(range(count))
    # TensorBoard's default (Rust) loader: every complete record, then "wait for more".
    server = tb_server(root, load_fast=True)
    for run, count in expected.items():
        points = server.wait_for_scalars(run, "loss", count)
        assert [step for _, step, _ in points] == list(range(count))

