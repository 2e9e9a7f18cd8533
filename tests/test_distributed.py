"""Multi-process training: rank-0-only writers, per-rank runs, reduced scalars.

Real ``torch.distributed`` jobs (gloo, world size 2 and 4) run as subprocesses
on 127.0.0.1, launched like torchrun does (``RANK``, ``WORLD_SIZE``,
``MASTER_ADDR``, ``MASTER_PORT``), with bounded timeouts. What they wrote is
read back by TensorBoard's Python loader in this process and by stock
``tensorboard`` servers with both loaders (Rust and Python) over HTTP.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import tbutil

import tblog
from tblog import NullSummaryWriter, SummaryWriter

STEPS = 6
WORLD_SIZES = (2, 4)
JOB_TIMEOUT = 240.0

# One training job; every rank runs this. Values: rank r logs r * 100 + step.
WORKER = r"""
import os, sys
import torch
import torch.distributed as dist
import tblog

logdir, steps = sys.argv[1], int(sys.argv[2])
dist.init_process_group("gloo", init_method="env://")
rank, world = dist.get_rank(), dist.get_world_size()

# Pattern 1: reduce on every rank, log from rank 0 only (rank="auto": torch.distributed).
writer = tblog.SummaryWriter(os.path.join(logdir, "reduced"), rank="auto")
assert isinstance(writer, tblog.NullSummaryWriter) == (rank != 0), (rank, type(writer))
for step in range(steps):
    local = torch.tensor(float(rank * 100 + step))
    writer.add_scalar("loss/mean", tblog.reduce_scalar(local, op="mean"), step)
    both = tblog.reduce_scalars({"min": local, "max": local.item()}, op="max")
    writer.add_scalar("loss/max", both["max"], step)
    writer.add_scalar("loss/min", tblog.reduce_scalar(local, op="min"), step)
    writer.add_scalar("loss/sum", tblog.reduce_scalar(float(local), op="sum"), step)
    writer.add_histogram("weights", torch.full((10,), float(rank)), step)  # rank 0's only
writer.close()

# Pattern 2: every rank its own run, logdir/rank{r} (rank from $RANK before init
# would work too; here torch.distributed is initialised).
writer = tblog.SummaryWriter(os.path.join(logdir, "perrank"), rank="auto", per_rank=True)
for step in range(steps):
    writer.add_scalar("local", float(rank * 100 + step), step)
writer.close()

dist.barrier()
dist.destroy_process_group()
"""


def run_job(logdir: Path, world: int) -> None:
    """Start ``world`` ranks as subprocesses; wait (bounded); fail with their output."""
    port = tbutil.free_port()
    logs = []
    procs = []
    for rank in range(world):
        env = {
            **os.environ,
            "RANK": str(rank),
            "WORLD_SIZE": str(world),
            "LOCAL_RANK": str(rank),
            "MASTER_ADDR": "127.0.0.1",
            "MASTER_PORT": str(port),
            "GLOO_SOCKET_IFNAME": "lo",  # loopback only
            "OMP_NUM_THREADS": "1",
        }
        log = open(logdir / f"rank{rank}.log", "wb")  # noqa: SIM115 - closed below
        logs.append(log)
        procs.append(
            subprocess.Popen(
                [sys.executable, "-c", WORKER, str(logdir), str(STEPS)],
                env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
            )
        )
    try:
        for proc in procs:
            proc.wait(JOB_TIMEOUT)
    except subprocess.TimeoutExpired:
        pass
    finally:
        for proc in procs:
            if proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(30)
        for log in logs:
            log.close()
    failed = [r for r, p in enumerate(procs) if p.returncode != 0]
    if failed:
        output = "\n".join(
            f"--- rank {r} (exit {procs[r].returncode}) ---\n"
            + (logdir / f"rank{r}.log").read_text(errors="replace")[-3000:]
            for r in failed
        )
        raise AssertionError(f"world={world}: ranks {failed} failed\n{output}")


@pytest.fixture(scope="module")
def jobs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Both jobs, each in ``root/w{world}``; TensorBoard runs are ``w{world}/...``."""
    pytest.importorskip("torch.distributed", reason="torch is not installed")
    import torch.distributed as dist

    if not dist.is_available() or not dist.is_gloo_available():
        pytest.skip("torch.distributed with the gloo backend is not available")
    root = tmp_path_factory.mktemp("distributed")
    for world in WORLD_SIZES:
        (root / f"w{world}").mkdir()
        run_job(root / f"w{world}", world)
    return root


def expected(world: int) -> dict[str, list[tuple[int, float]]]:
    """Tag -> [(step, value)] of the rank-0 run (ranks log r * 100 + step)."""
    ranks = range(world)
    return {
        "loss/mean": [(s, sum(r * 100 + s for r in ranks) / world) for s in range(STEPS)],
        "loss/max": [(s, (world - 1) * 100 + s) for s in range(STEPS)],
        "loss/min": [(s, float(s)) for s in range(STEPS)],
        "loss/sum": [(s, sum(r * 100 + s for r in ranks)) for s in range(STEPS)],
    }


@pytest.mark.parametrize("world", WORLD_SIZES)
def test_python_loader_sees_every_point(jobs: Path, world: int) -> None:
    run = jobs / f"w{world}"
    # Only rank 0 wrote into "reduced": one event file, every point once.
    assert len(tbutil.event_files(run / "reduced")) == 1
    acc = tbutil.accumulate(run / "reduced")
    for tag, points in expected(world).items():
        assert tbutil.scalars_from_accumulator(acc, tag) == points, tag
    histograms = acc.Tensors("weights")
    assert [e.step for e in histograms] == list(range(STEPS))
    assert sorted(p.name for p in (run / "perrank").iterdir()) == [
        f"rank{r}" for r in range(world)
    ]
    for rank in range(world):
        acc = tbutil.accumulate(run / "perrank" / f"rank{rank}")
        assert tbutil.scalars_from_accumulator(acc, "local") == [
            (s, float(rank * 100 + s)) for s in range(STEPS)
        ]


@pytest.fixture(scope="module", params=[True, False], ids=["rust", "python"])
def tensorboard(
    request: pytest.FixtureRequest, jobs: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tbutil.TensorBoardServer]:
    workdir = tmp_path_factory.mktemp(f"tb_distributed_{request.param}")
    with tbutil.tensorboard_server(jobs, request.param, workdir=workdir) as server:
        yield server


@pytest.mark.parametrize("world", WORLD_SIZES)
def test_tensorboard_serves_every_point(tensorboard: tbutil.TensorBoardServer, world: int) -> None:
    for tag, points in expected(world).items():
        got = tensorboard.wait_for_scalars(f"w{world}/reduced", tag, STEPS)
        assert [(p[1], p[2]) for p in got] == [(s, pytest.approx(v)) for s, v in points], tag
    tensorboard.wait_for_tag("histograms", f"w{world}/reduced", "weights")
    for rank in range(world):
        got = tensorboard.wait_for_scalars(f"w{world}/perrank/rank{rank}", "local", STEPS)
        assert [(p[1], p[2]) for p in got] == [(s, rank * 100 + s) for s in range(STEPS)]
    runs = tensorboard.runs()
    assert not any(r.startswith(f"w{world}/") and "rank" not in r and r != f"w{world}/reduced"
                   for r in runs), runs


# -- without a process group -----------------------------------------------------------


def test_non_zero_rank_gets_a_writer_that_does_nothing(tmp_path: Path) -> None:
    writer = SummaryWriter(tmp_path / "run", rank=1)
    assert isinstance(writer, NullSummaryWriter) and isinstance(writer, SummaryWriter)
    assert writer.get_logdir() == str(tmp_path / "run") and writer.rank == 1
    # Arguments are not even looked at: nothing is converted, copied or validated.
    writer.add_scalar("loss", object(), 0)
    writer.add_image("img", None)
    writer.add_scalars("m", {"a": 1.0})
    writer.add_histogram("h", np.arange(3))
    writer.add_text("t", "x")
    writer.file_writer.add_summary(None)
    writer._get_file_writer().add_event(None)
    writer.flush()
    writer.close()
    with writer:
        pass
    assert not (tmp_path / "run").exists()


def test_rank_zero_writes(logdir: Path) -> None:
    writer = SummaryWriter(logdir, rank=0)
    assert type(writer) is SummaryWriter
    writer.add_scalar("x", 1.0, 0)
    writer.close()
    assert tbutil.scalars_from_accumulator(tbutil.accumulate(logdir), "x") == [(0, 1.0)]


def test_per_rank_runs(logdir: Path) -> None:
    for rank in (0, 3):
        with SummaryWriter(logdir, rank=rank, per_rank=True) as writer:
            assert writer.get_logdir() == os.path.join(logdir, f"rank{rank}")
            writer.add_scalar("x", float(rank), 0)
    assert sorted(p.name for p in logdir.iterdir()) == ["rank0", "rank3"]
    acc = tbutil.accumulate(logdir / "rank3")
    assert tbutil.scalars_from_accumulator(acc, "x") == [(0, 3.0)]


def test_auto_rank_reads_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RANK", "2")
    assert isinstance(SummaryWriter(tmp_path / "a", rank="auto"), NullSummaryWriter)
    assert SummaryWriter(tmp_path / "b", rank="auto", per_rank=True).get_logdir().endswith(
        "rank2"
    )
    monkeypatch.delenv("RANK")
    writer = SummaryWriter(tmp_path / "c", rank="auto")  # single process: rank 0
    assert type(writer) is SummaryWriter
    writer.close()
    assert np.int64(0) == tblog._distributed.resolve_rank(np.int64(0))


@pytest.mark.parametrize(
    ("rank", "env", "error", "match"),
    [
        ("first", None, TypeError, "rank must be an int >= 0, 'auto' or None, got 'first'"),
        (1.0, None, TypeError, "rank must be an int"),
        (True, None, TypeError, "rank must be an int"),
        (-1, None, ValueError, "rank must be >= 0, got -1"),
        ("auto", "two", ValueError, "RANK='two' in the environment is not an int"),
        ("auto", "-3", ValueError, "RANK='-3' in the environment is negative"),
    ],
)
def test_bad_rank_is_rejected_before_anything_is_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, rank: object, env: str | None,
    error: type[Exception], match: str,
) -> None:
    if env is not None:
        monkeypatch.setenv("RANK", env)
    with pytest.raises(error, match=match):
        SummaryWriter(tmp_path / "run", rank=rank)  # type: ignore[arg-type]
    assert not (tmp_path / "run").exists()


def test_per_rank_must_be_a_bool(tmp_path: Path) -> None:
    with pytest.raises(TypeError, match="per_rank must be a bool, got 'yes'"):
        SummaryWriter(tmp_path / "run", rank=0, per_rank="yes")  # type: ignore[arg-type]


def test_reduce_without_a_process_group_is_the_identity() -> None:
    assert tblog.reduce_scalar(3) == 3.0
    assert tblog.reduce_scalar(np.float32(0.5), op="max") == 0.5
    assert tblog.reduce_scalars({"b": 2, "a": 1.5}, op="sum") == {"b": 2.0, "a": 1.5}
    assert tblog.reduce_scalars({}) == {}


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (lambda: tblog.reduce_scalar(1.0, op="avg"), ValueError, "op must be one of 'mean'"),
        (lambda: tblog.reduce_scalar("1.0"), TypeError, r"values\['value'\] must be a number"),
        (lambda: tblog.reduce_scalar(np.ones(2)), ValueError, "exactly one element|one element"),
        (lambda: tblog.reduce_scalars([1.0]), TypeError, "values must be a mapping"),
        (lambda: tblog.reduce_scalars({1: 1.0}), TypeError, "keys must be str, got 1"),
    ],
)
def test_reduce_rejects_bad_input(call: object, error: type[Exception], match: str) -> None:
    with pytest.raises(error, match=match):
        call()  # type: ignore[operator]


def test_null_writer_overrides_every_public_method() -> None:
    """A new SummaryWriter method must be listed in NullSummaryWriter, or a rank
    that should not log would write through it."""
    from tblog import NullSummaryWriter, SummaryWriter

    public = {
        name for name in dir(SummaryWriter)
        if not name.startswith("_") and callable(getattr(SummaryWriter, name))
    }
    kept = {"get_logdir"}  # answers, writes nothing
    for name in public - kept:
        assert getattr(NullSummaryWriter, name) is not getattr(SummaryWriter, name), name
