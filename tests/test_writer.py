"""SummaryWriter / FileWriter basics, read back with TensorBoard's own loaders."""

from __future__ import annotations

import os
import re
import socket
import threading
from pathlib import Path

import numpy as np
import pytest
import tbutil

import tblog
from tblog import FileWriter, NullSummaryWriter, SummaryWriter
from tblog.proto import event_pb2, summary_pb2


def raw_events(run_dir: Path) -> list:
    return tbutil.load_run_events(run_dir, migrate=False)


def scalar_points(run_dir: Path, tag: str) -> list[tuple[int, float]]:
    return [
        (e.step, e.summary.value[0].simple_value)
        for e in raw_events(run_dir)
        if e.HasField("summary") and e.summary.value[0].tag == tag
    ]


def test_file_name_and_header(logdir: Path) -> None:
    with SummaryWriter(logdir, filename_suffix=".sfx") as writer:
        writer.add_scalar("a", 1.0, 0)
    (path,) = tbutil.event_files(logdir)
    host = re.escape(socket.gethostname())
    pattern = rf"events\.out\.tfevents\.\d{{10}}\.{host}\.{os.getpid()}\.\d+\.sfx"
    assert re.fullmatch(pattern, path.name)
    first = raw_events(logdir)[0]
    assert first.file_version == "brain.Event:2"
    assert first.wall_time > 1.6e9


def test_two_writers_in_one_second_get_distinct_files(logdir: Path) -> None:
    writers = [SummaryWriter(logdir) for _ in range(5)]
    for i, writer in enumerate(writers):
        writer.add_scalar("w", float(i), i)
        writer.close()
    files = tbutil.event_files(logdir)
    assert len(files) == 5
    points = sorted(p for f in files for p in scalar_points_file(f))
    assert points == [(i, float(i)) for i in range(5)]


def scalar_points_file(path: Path) -> list[tuple[int, float]]:
    return [(e.step, e.summary.value[0].simple_value)
            for e in tbutil.load_events(path, migrate=False) if e.HasField("summary")]


def test_default_log_dir_like_torch(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    writer = SummaryWriter(comment="_exp")
    writer.close()
    assert re.fullmatch(
        rf"runs/[A-Z][a-z]{{2}}\d{{2}}_\d{{2}}-\d{{2}}-\d{{2}}_{re.escape(socket.gethostname())}_exp",
        writer.get_logdir().replace(os.sep, "/"),
    )
    assert writer.log_dir == writer.logdir == writer.get_logdir()
    assert (tmp_path / writer.log_dir).is_dir()


def test_tensorboardx_logdir_spelling(logdir: Path) -> None:
    with SummaryWriter(logdir=str(logdir)) as writer:
        assert writer.logdir == str(logdir)
        assert writer.file_writer.get_logdir() == str(logdir)
        assert writer.all_writers == {str(logdir): writer.file_writer}


def test_tensorboardx_write_to_disk_false_writes_nothing(tmp_path: Path) -> None:
    log_dir = tmp_path / "not-created"
    writer = SummaryWriter(logdir=str(log_dir), write_to_disk=False)
    writer.add_scalar("loss", 1.0, 0)
    writer.add_histogram("w", np.ones(10), 0)
    writer.add_scalars("m", {"a": 1.0}, 0)
    writer.add_text("t", "hello", 0)
    writer.flush()
    writer.close()
    assert not log_dir.exists()
    assert writer.get_logdir() == str(log_dir)
    assert isinstance(writer, NullSummaryWriter)


def test_tensorboardx_comet_config(logdir: Path) -> None:
    with SummaryWriter(logdir, comet_config={"disabled": True}) as writer:  # tbx's default
        writer.add_scalar("loss", 1.0, 0)
    with pytest.warns(UserWarning, match="does not log to Comet"):
        SummaryWriter(logdir, comet_config={"disabled": False, "api_key": "k"}).close()
    values = [e.summary.value[0].simple_value for e in raw_events(logdir) if e.summary.value]
    assert values == [1.0]


def test_values_of_every_supported_type(logdir: Path) -> None:
    torch = pytest.importorskip("torch")
    values = [
        3, 2.5, True, np.float32(1.25), np.int64(7), np.array([4.5]), np.array(5.5),
        np.float16(0.5), torch.tensor(6.5), torch.tensor([7.5], requires_grad=True),
        torch.tensor(8, dtype=torch.int32), torch.tensor(1.5, dtype=torch.bfloat16),
    ]
    with SummaryWriter(logdir) as writer:
        for step, value in enumerate(values):
            writer.add_scalar("v", value, step)
    got = [value for _, value in scalar_points(logdir, "v")]
    assert got == [3.0, 2.5, 1.0, 1.25, 7.0, 4.5, 5.5, 0.5, 6.5, 7.5, 8.0, 1.5]


def test_jax_arrays(logdir: Path) -> None:
    jnp = pytest.importorskip("jax.numpy", reason="JAX is not installed")
    values = np.random.default_rng(0).standard_normal(300).astype(np.float32)
    with SummaryWriter(logdir) as writer:
        writer.add_scalar("j", jnp.float32(2.5), 1)
        writer.add_histogram("h", jnp.asarray(values), 1)
        writer.add_image("i", jnp.ones((3, 4, 5), jnp.float32) * 0.5, 1)
    assert scalar_points(logdir, "j") == [(1, 2.5)]
    by_tag = {v.tag: v for e in raw_events(logdir) for v in e.summary.value}
    assert by_tag["h"].histo.num == 300 and by_tag["h"].histo.max == float(values.max())
    assert (by_tag["i"].image.height, by_tag["i"].image.width) == (4, 5)


@pytest.mark.parametrize(
    ("value", "error", "message"),
    [
        ("1.0", TypeError, r"add_scalar\(tag='bad'\): scalar_value must be a number, got str"),
        (None, TypeError, "got NoneType"),
        ([1.0, 2.0], ValueError, "exactly one element"),
        (np.zeros(3), ValueError, r"exactly one element, got shape \(3,\)"),
        (object(), TypeError, "scalar_value must be"),
        (1 + 2j, TypeError, "scalar_value"),
    ],
)
def test_bad_values_raise_and_lose_nothing(logdir: Path, value, error, message) -> None:
    with SummaryWriter(logdir) as writer:
        writer.add_scalar("good", 1.0, 0)
        with pytest.raises(error, match=message):
            writer.add_scalar("bad", value, 1)
        writer.add_scalar("good", 2.0, 2)
    assert scalar_points(logdir, "good") == [(0, 1.0), (2, 2.0)]
    assert scalar_points(logdir, "bad") == []


def test_bad_tag_step_and_walltime(logdir: Path) -> None:
    with SummaryWriter(logdir) as writer:
        with pytest.raises(TypeError, match="tag must be a str, got int"):
            writer.add_scalar(3, 1.0)
        with pytest.raises(ValueError, match="walltime must be finite"):
            writer.add_scalar("t", 1.0, 0, walltime=float("nan"))
        with pytest.raises(ValueError, match="global_step must be a whole number"):
            writer.add_scalar("t", 1.0, 1.5)
        with pytest.raises(ValueError, match="int64"):
            writer.add_scalar("t", 1.0, 2**64)
        writer.add_scalar("t", 1.0, 4.0)  # whole floats are fine, as in torch
    assert scalar_points(logdir, "t") == [(4, 1.0)]
    assert all(np.isfinite(e.wall_time) for e in raw_events(logdir))


def test_auto_step_shows_every_point(logdir: Path) -> None:
    with SummaryWriter(logdir / "auto") as writer:
        for value in (1.0, 2.0, 3.0):
            writer.add_scalar("x", value)
        writer.add_scalar("y", 9.0)
    assert scalar_points(logdir / "auto", "x") == [(0, 1.0), (1, 2.0), (2, 3.0)]
    assert scalar_points(logdir / "auto", "y") == [(0, 9.0)]
    with SummaryWriter(logdir / "torch_like", auto_step=False) as writer:
        for value in (1.0, 2.0, 3.0):
            writer.add_scalar("x", value)
    assert scalar_points(logdir / "torch_like", "x") == [(0, 1.0), (0, 2.0), (0, 3.0)]


def test_walltime_given(logdir: Path) -> None:
    with SummaryWriter(logdir) as writer:
        writer.add_scalar("t", 1.0, 1, walltime=1234.5)
    assert [e.wall_time for e in raw_events(logdir) if e.HasField("summary")] == [1234.5]


def test_new_style_and_double_precision_are_float32_tensors(logdir: Path) -> None:
    with SummaryWriter(logdir) as writer:
        writer.add_scalar("new", 0.1, 1, new_style=True)
        writer.add_scalar("double", 0.1, 1, double_precision=True)
    for tag in ("new", "double"):
        (event,) = [e for e in raw_events(logdir) if e.HasField("summary")
                    and e.summary.value[0].tag == tag]
        value = event.summary.value[0]
        assert value.metadata.plugin_data.plugin_name == "scalars"
        assert value.tensor.dtype == 1  # DT_FLOAT: the Rust loader drops DT_DOUBLE
        assert value.tensor.float_val[0] == pytest.approx(0.1)


def test_add_scalars_torch_layout(logdir: Path) -> None:
    with SummaryWriter(logdir) as writer:
        writer.add_scalars("run/loss", {"train": 1.0, "val": 2.0}, 3)
        assert set(writer.all_writers) == {
            str(logdir), str(logdir / "run_loss_train"), str(logdir / "run_loss_val")
        }
    assert scalar_points(logdir / "run_loss_train", "run/loss") == [(3, 1.0)]
    assert scalar_points(logdir / "run_loss_val", "run/loss") == [(3, 2.0)]


def test_add_scalars_same_run(logdir: Path) -> None:
    with SummaryWriter(logdir) as writer:
        writer.add_scalars("loss", {"train": 1.0, "val": 2.0}, 3, same_run=True)
    assert [p.name for p in logdir.iterdir() if p.is_dir()] == []
    assert scalar_points(logdir, "loss/train") == [(3, 1.0)]
    assert scalar_points(logdir, "loss/val") == [(3, 2.0)]


def test_add_scalars_rejects_bad_input_before_writing(logdir: Path) -> None:
    with SummaryWriter(logdir) as writer:
        with pytest.raises(TypeError, match=r"tag_scalar_dict\['b'\]"):
            writer.add_scalars("m", {"a": 1.0, "b": "x"}, 0)
        with pytest.raises(ValueError, match="path separators"):
            writer.add_scalars("m", {"../../escape": 1.0}, 0)
        with pytest.raises(TypeError, match="mapping"):
            writer.add_scalars("m", [1.0], 0)
    assert sorted(p.name for p in logdir.iterdir()) == [tbutil.event_files(logdir)[0].name]


def test_purge_step_writes_session_start(logdir: Path) -> None:
    with SummaryWriter(logdir, purge_step=5) as writer:
        writer.add_scalar("x", 1.0, 5)
    events = raw_events(logdir)
    assert events[1].step == 5 and events[1].file_version == "brain.Event:2"
    assert events[2].step == 5 and events[2].session_log.status == event_pb2.SessionLog.START
    assert events[3].step == 5 and events[3].session_log.status == event_pb2.SessionLog.START


@pytest.mark.parametrize("load_fast", [True, False], ids=["rust", "python"])
def test_purge_step_hides_stale_steps_in_both_loaders(logdir: Path, tb_server, load_fast) -> None:
    with SummaryWriter(logdir) as writer:  # a run that crashed after step 9
        for step in range(10):
            writer.add_scalar("x", float(step), step)
    with SummaryWriter(logdir, purge_step=5) as writer:  # resumed from step 5
        for step in range(5, 8):
            writer.add_scalar("x", 100.0 + step, step)
    expected = [(s, float(s)) for s in range(5)] + [(s, 100.0 + s) for s in range(5, 8)]
    server = tb_server(logdir, load_fast=load_fast)
    server.wait_for_scalars(".", "x", 8)
    server.wait_for(
        lambda: [(p[1], p[2]) for p in server.scalars(".", "x")] == expected,
        timeout=15, what="steps 5-9 of the crashed run to be purged",
    )


def test_flush_makes_everything_visible_and_close_is_idempotent(logdir: Path) -> None:
    writer = SummaryWriter(logdir, max_queue=1000, flush_secs=3600)
    for step in range(50):
        writer.add_scalar("x", float(step), step)
    assert len(scalar_points(logdir, "x")) == 0  # still buffered
    writer.flush()
    assert len(scalar_points(logdir, "x")) == 50
    writer.close()
    writer.close()
    writer.add_scalar("x", 99.0, 99)  # logging after close opens a new file, as in torch
    writer.close()
    assert len(tbutil.event_files(logdir)) == 2
    assert scalar_points(logdir, "x")[-1] == (99, 99.0)


def test_flush_secs_writes_without_a_call(logdir: Path) -> None:
    writer = SummaryWriter(logdir, max_queue=1000, flush_secs=1)
    writer.add_scalar("x", 1.0, 1)
    tbutil.wait_for(lambda: scalar_points(logdir, "x") == [(1, 1.0)], timeout=10,
                    what="the flush thread to write the event")
    writer.close()


def test_threads(logdir: Path) -> None:
    writer = SummaryWriter(logdir, max_queue=37)

    def work(index: int) -> None:
        for step in range(2000):
            writer.add_scalar(f"t{index}", float(step), step)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    writer.close()
    for index in range(4):
        assert scalar_points(logdir, f"t{index}") == [(s, float(s)) for s in range(2000)]


def test_file_writer_api(logdir: Path) -> None:
    writer = FileWriter(logdir)
    summary = summary_pb2.Summary(value=[summary_pb2.Summary.Value(tag="s", simple_value=4.0)])
    writer.add_summary(summary, global_step=7, walltime=10.0)
    writer.add_event(event_pb2.Event(file_version="custom"), step=3)
    from tensorboard.compat.proto import event_pb2 as tb_event_pb2  # tensorboard's own message
    writer.add_event(tb_event_pb2.Event(step=8, file_version="from tensorboard"))
    writer.close()
    writer.reopen()
    writer.close()
    events = raw_events(logdir)
    assert [(e.step, e.wall_time) for e in events if e.HasField("summary")] == [(7, 10.0)]
    assert any(e.file_version == "custom" and e.step == 3 for e in events)
    assert any(e.step == 8 and e.file_version == "from tensorboard" for e in events)
    assert len(tbutil.event_files(logdir)) == 2


@pytest.mark.parametrize("load_fast", [True, False], ids=["rust", "python"])
def test_stock_tensorboard_serves_scalars(logdir: Path, tb_server, load_fast: bool) -> None:
    torch = pytest.importorskip("torch")
    with SummaryWriter(logdir) as writer:
        for step in range(20):
            writer.add_scalar("loss", 1.0 / (step + 1), step)
            writer.add_scalar("tensor", torch.tensor(step * 0.5), step)
        writer.add_scalar("nostep", 1.0)
        writer.add_scalar("nostep", 2.0)
        writer.add_scalar("nostep", 3.0)
        writer.add_scalar("double", 0.25, 1, double_precision=True)
        writer.add_scalars("pair", {"a": 1.0, "b": 2.0}, 4)
    server = tb_server(logdir, load_fast=load_fast)
    points = server.wait_for_scalars(".", "loss", 20)
    assert [(p[1], p[2]) for p in points] == [(s, pytest.approx(1.0 / (s + 1))) for s in range(20)]
    tensor_points = server.wait_for_scalars(".", "tensor", 20)
    assert [p[2] for p in tensor_points] == [s * 0.5 for s in range(20)]
    assert [(p[1], p[2]) for p in server.wait_for_scalars(".", "nostep", 3)] == [
        (0, 1.0), (1, 2.0), (2, 3.0)
    ]
    assert [p[2] for p in server.wait_for_scalars(".", "double", 1)] == [0.25]
    assert [p[2] for p in server.wait_for_scalars("pair_b", "pair", 1)] == [2.0]


def test_public_names() -> None:
    assert tblog.SummaryWriter is SummaryWriter
    assert isinstance(tblog.__version__, str)
