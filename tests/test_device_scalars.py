"""add_scalar of accelerator tensors: no device synchronisation per call.

No GPU here, so CPU tensors stand in for device tensors: the tests make
``tblog._convert.on_accelerator`` say yes for every torch tensor, which routes
them through the batched path exactly as a CUDA tensor would be.
"""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from reliability_helpers import run_python, run_scalars
from tbutil import load_run_events

from tblog import SummaryWriter, _convert

torch = pytest.importorskip("torch")


@pytest.fixture
def on_device(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(
        _convert, "on_accelerator", lambda value: type(value).__module__.startswith("torch")
    )


@pytest.fixture
def item_calls(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Counts ``Tensor.item`` calls: each one would be a device synchronisation."""
    calls: list[int] = []
    original = torch.Tensor.item

    def item(self: torch.Tensor) -> object:
        calls.append(1)
        return original(self)

    monkeypatch.setattr(torch.Tensor, "item", item)
    return calls


def test_order_steps_and_walltimes_are_kept(
    logdir: Path, on_device: None, item_calls: list[int]
) -> None:
    with SummaryWriter(logdir, device_scalar_batch=4) as writer:
        for step in range(10):
            writer.add_scalar("loss", torch.tensor(step / 2), step, walltime=1000.0 + step)
            if step % 3 == 0:
                writer.add_scalar("host", float(step), step)
            if step == 5:
                writer.add_text("note", "mid", step)
        assert item_calls == []  # never one value at a time
    expected = []
    for step in range(10):
        expected.append(("loss", step, step / 2))
        if step % 3 == 0:
            expected.append(("host", step, float(step)))
        if step == 5:
            expected.append(("note/text_summary", step, 0.0))  # no simple_value
    assert run_scalars(logdir) == expected  # the text in its place among the scalars
    walltimes = [e.wall_time for e in load_run_events(logdir, migrate=False)
                 if e.summary.value and e.summary.value[0].tag == "loss"]
    assert walltimes == [1000.0 + step for step in range(10)]


def test_at_most_a_batch_is_held_and_copied_at_once(
    logdir: Path, on_device: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    stacks: list[int] = []
    original = torch.stack
    monkeypatch.setattr(torch, "stack", lambda tensors: stacks.append(len(tensors))
                        or original(tensors))
    writer = SummaryWriter(logdir, max_queue=1, device_scalar_batch=8)
    for step in range(20):
        writer.add_scalar("loss", torch.tensor(float(step)), step)
    assert stacks == [8, 8]  # two full batches, one transfer each; 4 values held
    assert [step for _, step, _ in run_scalars(logdir)] == list(range(16))
    writer.flush()
    assert stacks == [8, 8, 4]
    assert [step for _, step, _ in run_scalars(logdir)] == list(range(20))
    writer.close()


def test_bad_tensors_raise_at_the_call(logdir: Path, on_device: None) -> None:
    with SummaryWriter(logdir) as writer:
        writer.add_scalar("ok", torch.tensor(1.0), 0)
        with pytest.raises(ValueError, match=r"add_scalar\(tag='v'\): .*exactly one element"):
            writer.add_scalar("v", torch.zeros(3), 1)
        with pytest.raises(TypeError, match="must be real"):
            writer.add_scalar("c", torch.tensor(1 + 2j), 1)
        with pytest.raises(ValueError, match="walltime must be finite"):
            writer.add_scalar("w", torch.tensor(1.0), 1, walltime=math.nan)
    assert run_scalars(logdir) == [("ok", 0, 1.0)]


def test_an_old_value_is_copied_at_the_next_call(logdir: Path, on_device: None) -> None:
    import time

    writer = SummaryWriter(logdir, max_queue=1, flush_secs=0.05)
    writer.add_scalar("loss", torch.tensor(1.0), 0)
    time.sleep(0.1)
    writer.add_scalar("loss", torch.tensor(2.0), 1)  # the first waited past flush_secs
    assert run_scalars(logdir) == [("loss", 0, 1.0), ("loss", 1, 2.0)]
    writer.close()


def test_batch_of_one_copies_each_value_as_torch(logdir: Path, on_device: None,
                                                 item_calls: list[int]) -> None:
    with SummaryWriter(logdir, max_queue=1, device_scalar_batch=1) as writer:
        writer.add_scalar("loss", torch.tensor(3.0), 0)
        assert run_scalars(logdir) == [("loss", 0, 3.0)]
    assert item_calls == [1]


def test_pending_values_reach_the_file_at_exit_without_close(logdir: Path) -> None:
    result = run_python(
        """
        import torch
        from tblog import _convert
        _convert.on_accelerator = lambda value: isinstance(value, torch.Tensor)
        w = SummaryWriter(sys.argv[1], device_scalar_batch=1000)
        for i in range(5):
            w.add_scalar("loss", torch.tensor(float(i)), i)
        """,
        str(logdir),
    )
    assert result.returncode == 0, result.stderr
    assert run_scalars(logdir) == [("loss", i, float(i)) for i in range(5)]


def test_pickled_writer_keeps_its_setting(logdir: Path, on_device: None) -> None:
    import pickle

    writer = SummaryWriter(logdir, device_scalar_batch=3)
    writer.add_scalar("loss", torch.tensor(1.0), 0)
    clone = pickle.loads(pickle.dumps(writer))  # the pending value was written first
    for step in range(1, 4):
        clone.add_scalar("loss", torch.tensor(float(step)), step)
    clone.close()
    writer.close()
    assert sorted(step for _, step, _ in run_scalars(logdir)) == [0, 1, 2, 3]


@pytest.mark.parametrize("bad, error", [(0, ValueError), (2.5, TypeError), (True, TypeError)])
def test_bad_batch_setting(tmp_path: Path, bad: object, error: type) -> None:
    with pytest.raises(error, match="device_scalar_batch"):
        SummaryWriter(tmp_path / "run", device_scalar_batch=bad)
    assert not (tmp_path / "run").exists()
