"""Reliability promises 4-6 (docs/reliability.md): threads, processes, many writers.

Fork and spawn scenarios run inside a child interpreter with a bounded
timeout, so a hang fails the test instead of stalling the suite.
"""

from __future__ import annotations

import collections
import copy
import os
import pickle
import re
import subprocess
import sys
import threading
from pathlib import Path

import pytest
import tbutil
from reliability_helpers import PRELUDE, parse_all, run_python, scalar_values, verify
from tbutil import accumulate, event_files, scalars_from_accumulator

from tblog import FileWriter, SummaryWriter
from tblog._storage import EventWriter, open_event_writer

# -- 4. threads ------------------------------------------------------------------


def test_threads_share_one_writer(logdir: Path) -> None:
    """8 threads x 50k scalars into one writer (while another thread flushes and
    the background tick runs): exactly 400k events, every record valid."""
    threads, per_thread = 8, 50_000
    writer = SummaryWriter(logdir, flush_secs=1)
    stop = threading.Event()

    def log(k: int) -> None:
        for i in range(per_thread):
            writer.add_scalar(f"thread{k}", i, i)

    def flush_repeatedly() -> None:
        while not stop.wait(0.01):
            writer.flush()

    flusher = threading.Thread(target=flush_repeatedly)
    flusher.start()
    workers = [threading.Thread(target=log, args=(k,)) for k in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=120)
        assert not worker.is_alive()
    stop.set()
    flusher.join(timeout=30)
    writer.close()

    (path,) = event_files(logdir)
    events = parse_all(path)  # tbutil: both CRCs of every record + Event parse
    assert len(events) == 1 + threads * per_thread
    steps = collections.defaultdict(list)
    for event in events[1:]:
        (value,) = event.summary.value
        assert value.simple_value == event.step
        steps[value.tag].append(event.step)
    # Each thread's records are all there, once, in the order it logged them.
    assert steps == {f"thread{k}": list(range(per_thread)) for k in range(threads)}
    assert verify(logdir)[0] == 0


# -- 5. processes: fork --------------------------------------------------------

FORK_SCRIPT = """
import multiprocessing as mp

w = SummaryWriter(sys.argv[1], max_queue=1000)
for i in range(5):
    w.add_scalar("parent", i, i)  # still buffered when the children fork

def child(k):
    for i in range(100):
        w.add_scalar(f"child{k}", i, i)
    # no flush(), no close(): the child's exit must write them

def pool_task(i):
    w.add_scalar("pool", i, i)
    return os.getpid()

ctx = mp.get_context("fork")
children = [ctx.Process(target=child, args=(k,)) for k in range(2)]
for p in children:
    p.start()
for p in children:
    p.join(30)
    assert p.exitcode == 0, p.exitcode
with ctx.Pool(2) as pool:
    pids = pool.map(pool_task, range(40), chunksize=1)
    pool.close()
    pool.join()
for i in range(5, 10):
    w.add_scalar("parent", i, i)
w.close()
say(os.getpid(), *[p.pid for p in children])
"""


def _file_pid(path: Path) -> int:
    """The pid field of ``events.out.tfevents.{time}.{host}.{pid}.{counter}``."""
    return int(path.name.split(".")[-2])


def _scalar_values(count: int, tag: str = "lane") -> list[tuple[str, float, int, float]]:
    return [(tag, float(i), i, 1.7e9 + i) for i in range(count)]


def test_lane_keeps_order_with_locked_records(logdir: Path) -> None:
    """Scalars (lock-free lane) and other records (locked path) interleaved keep
    their order, and a write happens every max_queue records in all."""
    from tblog._wire import summary_event
    from tblog.summary import text

    writer = open_event_writer(str(logdir), max_queue=4)
    scalars = iter(_scalar_values(30))
    expected = []
    for i in range(30):
        if i % 3 == 2:
            writer.add_record(summary_event(1.7e9, 1000 + i, text.summary("note", f"n{i}")))
            expected.append(1000 + i)
        writer.add_scalar(*next(scalars))
        expected.append(i)
        unwritten = len(expected) - (len(parse_all(writer.path)) - 1)  # file_version first
        assert unwritten < 4  # never max_queue records unwritten
    writer.close()
    assert [event.step for event in parse_all(writer.path)[1:]] == expected


def test_lane_race_with_close_loses_nothing_silently(logdir: Path) -> None:
    """Threads append scalars while another closes the writer: every call either
    raised ValueError (closed) or its record is in the file."""
    writer = open_event_writer(str(logdir), max_queue=1000)
    values = _scalar_values(200_000)
    accepted = [0] * 4
    start = threading.Barrier(5)

    def log(k: int) -> None:
        start.wait()
        for value in values[k::4]:
            try:
                writer.add_scalar(*value)
            except ValueError:
                return
            accepted[k] += 1

    threads = [threading.Thread(target=log, args=(k,)) for k in range(4)]
    for thread in threads:
        thread.start()
    start.wait()
    while sum(accepted) < 20_000:
        threading.Event().wait(0.001)
    writer.close()
    for thread in threads:
        thread.join(timeout=60)
        assert not thread.is_alive()
    assert 20_000 <= sum(accepted) < 200_000  # the close landed mid-stream
    assert len(parse_all(writer.path)) - 1 == sum(accepted)  # file_version first


def test_lane_records_reach_the_file_after_flush_secs(logdir: Path) -> None:
    """Fewer than max_queue scalars are written by the background flush, not only on close."""
    writer = open_event_writer(str(logdir), max_queue=1000, flush_secs=1)
    for value in _scalar_values(5):
        writer.add_scalar(*value)
    tbutil.wait_for(lambda: len(parse_all(writer.path)) == 6, 10, what="timed flush")
    writer.close()


def test_fork_children_write_files_of_their_own(logdir: Path) -> None:
    result = run_python(FORK_SCRIPT, str(logdir), timeout=90)
    assert result.returncode == 0, result.stderr
    parent_pid, *child_pids = map(int, result.stdout.split())
    by_pid = collections.defaultdict(list)
    for path in event_files(logdir):
        by_pid[_file_pid(path)].append(path)
    assert all(len(paths) == 1 for paths in by_pid.values()), by_pid  # one file per process
    (parent_file,) = by_pid.pop(parent_pid)
    # The parent's records once, in order; the children's buffer copies never written.
    assert scalar_values(parent_file) == [("parent", i, float(i)) for i in range(10)]
    for k, pid in enumerate(child_pids):
        (path,) = by_pid.pop(pid)
        assert scalar_values(path) == [(f"child{k}", i, float(i)) for i in range(100)]
    pool_steps = sorted(step for paths in by_pid.values() for _, step, _ in scalar_values(paths[0]))
    assert pool_steps == list(range(40))  # pool workers: every task once
    assert verify(logdir)[0] == 0


DATALOADER_SCRIPT = """
import torch
from torch.utils.data import DataLoader, Dataset

w = SummaryWriter(sys.argv[1], max_queue=1000)
w.add_scalar("parent", 0, 0)  # buffered while the workers fork

class Items(Dataset):
    def __len__(self):
        return 64

    def __getitem__(self, i):
        w.add_scalar("item", i, i)
        return i

for epoch in range(2):  # new workers each epoch
    loader = DataLoader(Items(), batch_size=4, num_workers=2, timeout=60,
                        multiprocessing_context="fork")
    seen = sorted(int(x) for batch in loader for x in batch)
    assert seen == list(range(64)), seen
w.add_scalar("parent", 1, 1)
w.close()
say(os.getpid())
"""


def test_torch_dataloader_workers(logdir: Path) -> None:
    pytest.importorskip("torch")
    result = run_python(DATALOADER_SCRIPT, str(logdir), timeout=120)
    assert result.returncode == 0, result.stderr
    parent_pid = int(result.stdout.split()[-1])
    files = event_files(logdir)
    parent_files = [p for p in files if _file_pid(p) == parent_pid]
    worker_files = [p for p in files if _file_pid(p) != parent_pid]
    assert [scalar_values(p) for p in parent_files] == [[("parent", 0, 0.0), ("parent", 1, 1.0)]]
    assert len({_file_pid(p) for p in worker_files}) == len(worker_files) == 4  # 2 epochs x 2
    items = sorted(step for p in worker_files for tag, step, _ in scalar_values(p))
    assert items == sorted(list(range(64)) * 2)  # each epoch's items once
    assert verify(logdir)[0] == 0


# -- 5. processes: pickling for spawn -------------------------------------------

SPAWN_SCRIPT = """
import multiprocessing as mp

def child(writer, k):
    for i in range(50):
        writer.add_scalar(f"child{k}", i, i)
    # an unpickled writer is closed at the child's exit like any other

if __name__ == "__main__":
    w = SummaryWriter(sys.argv[1], max_queue=1000, filename_suffix=".main")
    w.add_scalar("parent", 0, 0)
    ctx = mp.get_context("spawn")
    procs = [ctx.Process(target=child, args=(w, k)) for k in range(2)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
        assert p.exitcode == 0, p.exitcode
    w.add_scalar("parent", 1, 1)
    w.close()
    say("done")
"""


def test_spawned_children_get_a_working_writer(logdir: Path, tmp_path: Path) -> None:
    script = tmp_path / "spawn_children.py"  # spawn re-imports __main__ from a file
    script.write_text(PRELUDE + SPAWN_SCRIPT)
    result = subprocess.run(
        [sys.executable, str(script), str(logdir)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    files = event_files(logdir)
    assert len(files) == 3 and all(p.name.endswith(".main") for p in files)
    everything = sorted(item for p in files for item in scalar_values(p))
    expected = [("child0", i, float(i)) for i in range(50)]
    expected += [("child1", i, float(i)) for i in range(50)]
    expected += [("parent", 0, 0.0), ("parent", 1, 1.0)]
    assert everything == sorted(expected)
    assert verify(logdir)[0] == 0


def test_pickled_writer_opens_its_own_file_lazily(logdir: Path) -> None:
    writer = SummaryWriter(logdir, max_queue=3, flush_secs=5, filename_suffix=".x")
    writer.add_scalar("loss", 1.0, 1)
    clone = pickle.loads(pickle.dumps(writer))
    twin = copy.deepcopy(writer)
    assert len(event_files(logdir)) == 1  # nothing opened until they write
    clone.add_scalar("loss", 2.0, 2)
    settings = clone.file_writer.event_writer
    assert (clone.log_dir, settings.max_queue, settings.flush_secs) == (str(logdir), 3, 5)
    assert settings.filename_suffix == ".x" and settings.logdir == str(logdir)
    twin.close()  # never wrote: never made a file
    writer.close()
    clone.close()
    files = event_files(logdir)
    assert len(files) == 2 and all(p.name.endswith(".x") for p in files)
    assert sorted(item for p in files for item in scalar_values(p)) == [
        ("loss", 1, 1.0),
        ("loss", 2, 2.0),
    ]


def test_file_writers_refuse_pickling_clearly(logdir: Path) -> None:
    file_writer = FileWriter(logdir)
    for obj in (file_writer, file_writer.event_writer):
        with pytest.raises(TypeError, match="cannot be pickled.*Pickle the SummaryWriter"):
            pickle.dumps(obj)
    file_writer.close()
    assert isinstance(file_writer.event_writer, EventWriter)


# -- 6. many writers on one logdir -----------------------------------------------

MANY_WRITERS_SCRIPT = """
writers = [SummaryWriter(sys.argv[1]) for _ in range(4)]
for i in range(100):
    for k, w in enumerate(writers):
        w.add_scalar(f"{sys.argv[2]}_w{k}", i, i)
for w in writers:
    w.close()
"""


def _many_writers(logdir: Path) -> dict[str, int]:
    """16 writers in this process and 4 x 4 in four processes started together,
    all on ``logdir`` in the same second; returns tag -> points logged."""
    writers = [SummaryWriter(logdir) for _ in range(16)]
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", PRELUDE + MANY_WRITERS_SCRIPT, str(logdir), f"proc{p}"],
            stderr=subprocess.PIPE,
        )
        for p in range(4)
    ]
    for i in range(100):
        for k, writer in enumerate(writers):
            writer.add_scalar(f"inproc_w{k}", i, i)
    for writer in writers:
        writer.close()
    for proc in procs:
        _, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, err
    tags = [f"inproc_w{k}" for k in range(16)]
    tags += [f"proc{p}_w{k}" for p in range(4) for k in range(4)]
    return {tag: 100 for tag in tags}


def test_many_writers_on_one_logdir(logdir: Path, tb_server) -> None:
    expected = _many_writers(logdir)
    files = event_files(logdir)
    assert len(files) == len({p.name for p in files}) == 32
    # Seconds field aside, names differ by pid and counter.
    assert len({re.sub(r"tfevents\.\d+\.", "", p.name) for p in files}) == 32
    for path in files:
        assert len(scalar_values(path)) == 100  # no file truncated or shared
    assert verify(logdir)[0] == 0
    # TensorBoard's Python loader, over the whole run directory:
    acc = accumulate(logdir)
    for tag, count in expected.items():
        assert [s for s, _ in scalars_from_accumulator(acc, tag)] == list(range(count))
    # and its Rust loader:
    server = tb_server(logdir, load_fast=True)
    for tag, count in expected.items():
        points = server.wait_for_scalars(".", tag, count)
        assert [step for _, step, _ in points] == list(range(count))


def test_two_writers_in_one_second_never_share_a_file(logdir: Path) -> None:
    writers = [open_event_writer(logdir) for _ in range(200)]
    for writer in writers:
        writer.close()
    names = {writer.path for writer in writers}
    assert len(names) == 200
    assert os.path.commonpath(list(names)) == str(logdir)


def test_lane_take_cut_short_by_a_signal_writes_each_value_once(logdir: Path) -> None:
    """The state a KeyboardInterrupt leaves between moving the encoded lane into
    the buffer and emptying the lane: the next take finishes it, no duplicates.
    (test_reliability_exit.py sends real signals; this pins the recovery.)"""
    writer = open_event_writer(str(logdir), max_queue=1000)
    for value in _scalar_values(6):
        writer.add_scalar(*value)
    lane, buffer = writer._lane, writer._buffer
    chunk = b"".join(writer._scalars.record(*entry) for entry in lane)
    writer._lane_mark = (lane[0], len(lane), len(buffer))
    buffer += chunk  # ... and here the signal's exception landed
    writer.close()
    assert [event.step for event in parse_all(writer.path)[1:]] == list(range(6))
