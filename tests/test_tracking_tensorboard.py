"""A tracked project served by stock TensorBoard over HTTP, under both loaders:
a run resumed after a crash (no duplicated or hidden points), config in the
HParams table with the summary as metrics, and the other kinds' tags."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import tbutil
from test_tracking import resume_after_crash, start

import tblog

torch = pytest.importorskip("torch")

SESSION_BODY = tbutil.HPARAMS_SESSION_QUERY


@pytest.fixture(autouse=True)
def _no_run_left() -> Iterator[None]:
    yield
    tblog.finish()


def project(logdir: Path) -> Path:
    model = torch.nn.Linear(3, 2)
    run = start(logdir, name="other", config={"lr": 0.01, "opt": {"name": "sgd"}, "tag": None})
    run.watch(model, log_freq=1)
    model(torch.randn(4, 3)).sum().backward()
    table = tblog.Table(["x", "image"], [[1, tblog.Image(np.zeros((4, 4, 3), np.uint8))]])
    run.log({"loss": 7.0, "table": table, "w": np.arange(5.0)})
    run.summary["best"] = 0.5
    run.finish()
    # proj/run: loss 0..5 from a first session, 6..11 resumed; it has no "best", but
    # lists it as a column, since TensorBoard takes the columns from either run.
    resume_after_crash(logdir)
    return logdir / "proj"


@tbutil.both_loaders
def test_served_by_tensorboard(
    logdir: Path, tb_server: Callable[..., tbutil.TensorBoardServer], load_fast: bool
) -> None:
    server = tb_server(project(logdir), load_fast=load_fast)
    points = server.wait_for_scalars("run", "loss", 12)
    assert [(p[1], p[2]) for p in points] == (
        [(s, float(s)) for s in range(6)] + [(s, 100.0 + s) for s in range(6, 12)]
    )

    def groups() -> dict[str, Any] | None:
        answer = server.post_json("/data/plugin/hparams/session_groups", SESSION_BODY)
        found = {g["name"]: g for g in answer.get("sessionGroups", [])}
        loaded = {name: len(g["metricValues"]) for name, g in found.items()}
        return found if loaded == {"run": 1, "other": 2} else None

    found = server.wait_for(groups, what="the two runs' sessions with their metrics")
    assert found["run"]["hparams"] == {"lr": pytest.approx(0.5)}
    assert found["other"]["hparams"] == {"lr": pytest.approx(0.01), "opt.name": "sgd",
                                         "tag": "None"}
    metrics = {
        name: {m["name"]["tag"]: (m["value"], m["trainingStep"]) for m in g["metricValues"]}
        for name, g in found.items()
    }
    assert metrics["run"] == {"summary/loss": (pytest.approx(111.0), 12)}
    assert metrics["other"] == {"summary/loss": (7.0, 1), "summary/best": (0.5, 1)}
    experiment = server.post_json("/data/plugin/hparams/experiment", {"experimentName": ""})
    columns = sorted(m["name"]["tag"] for m in experiment["metricInfos"])
    assert columns == ["summary/best", "summary/loss"]
    assert "other/system" not in found and "run/system" not in found
    server.wait_for_tag("histograms", "other", "gradients/weight")
    server.wait_for_tag("histograms", "other", "w")
    server.wait_for_tag("images", "other", "table/image/0")
    server.wait_for_tag("text", "other", "table/text_summary")
