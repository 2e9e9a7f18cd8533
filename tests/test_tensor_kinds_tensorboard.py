"""What stock TensorBoard serves for histograms, PR curves, text, custom scalars,
meshes and tensors written by tblog, under both loaders, next to torch's.

One logdir holds two runs written with the same calls: ``tblog`` (ours) and
``torch`` (``torch.utils.tensorboard``). One server per loader
(``--load_fast=true``: Rust data server; ``false``: Python multiplexer) serves
it, and each test compares the plugin's HTTP answers for the two runs, plus
what the data should be. Deliberate differences are asserted as such.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from tbutil import TensorBoardServer, accumulate
from tensorboard.util import tensor_util

from tblog import SummaryWriter

torch = pytest.importorskip("torch")
TorchWriter = pytest.importorskip("torch.utils.tensorboard").SummaryWriter

RUNS = ("tblog", "torch")
STEPS = (0, 1, 2)
N_VALUES = 5000
VERTICES = np.array([[[1, 1, 1], [-1, -1, 1], [1, -1, -1], [-1, 1, -1]]], np.float32)
COLORS = np.array([[[255, 0, 0], [0, 255, 0], [0, 0, 255], [255, 0, 255]]], np.uint8)
FACES = np.array([[[0, 2, 3], [0, 3, 1], [0, 1, 2], [1, 3, 2]]], np.int32)
MESH_CONFIG = {"camera": {"cls": "PerspectiveCamera", "config": {"fov": 75}}}
TABLE = [["metric", "value"], ["**accuracy**", "0.9"], ["loss", "0.1"]]


def write_same_calls(writer: Any) -> None:
    """The calls both libraries get, with explicit steps and wall times."""
    rng = np.random.default_rng(7)
    for step in STEPS:
        wall = 1_700_000_000.0 + step
        values = torch.from_numpy(rng.standard_normal(N_VALUES).astype(np.float32) * (step + 1))
        writer.add_histogram("hist/normal", values, step, walltime=wall)
        writer.add_histogram("hist/ints", rng.integers(-100, 100, 300), step, walltime=wall)
        writer.add_histogram("hist/auto", rng.random(400), step, bins="auto", walltime=wall)
        labels = rng.random(2000) < 0.4
        predictions = np.clip(labels * 0.3 + rng.random(2000) * 0.7, 0, 1).astype(np.float32)
        writer.add_pr_curve("pr/basic", labels, predictions, step, walltime=wall)
        writer.add_pr_curve("pr/weighted", labels, predictions, step, 33, rng.random(2000), wall)
        writer.add_text("notes", f"step **{step}**: <b>bold</b> `code`", step, wall)
    writer.add_histogram_raw("hist/raw", -1.0, 9.0, 6, 20.0, 100.0, [0.0, 2.5, 5.0, 10.0],
                             [1, 2, 2, 1], 0, 1_700_000_000.0)
    writer.add_pr_curve_raw("pr/raw", *[np.arange(1, 6, dtype=np.float64) * k for k in
                                        (5, 4, 3, 2, 0.2, 0.1)], 0, 5, None, 1_700_000_000.0)
    writer.add_mesh("mesh/cube", torch.from_numpy(VERTICES), torch.from_numpy(COLORS),
                    torch.from_numpy(FACES), MESH_CONFIG, 0, 1_700_000_000.0)
    writer.add_tensor("tensor/weights", torch.arange(12.0).reshape(3, 4), 0, 1_700_000_000.0)


@pytest.fixture(scope="module")
def logdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("logs_tensor_kinds_tb")
    with SummaryWriter(root / "tblog") as writer:
        write_same_calls(writer)
        writer.add_text("table", TABLE, 0, 1_700_000_000.0)  # torch has no tables
        writer.add_custom_scalars_multilinechart(["loss/.*"], "losses", "all losses")
        writer.add_custom_scalars_marginchart(["acc", "acc_lo", "acc_hi"], "accuracy", "band")
    torch_writer = TorchWriter(str(root / "torch"))
    write_same_calls(torch_writer)
    torch_writer.close()
    return root


@pytest.fixture(scope="module", params=[True, False], ids=["rust", "python"])
def server(
    request: pytest.FixtureRequest, logdir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[TensorBoardServer]:
    workdir = tmp_path_factory.mktemp(f"tbserver_tensor_kinds_{request.param}")
    tb = TensorBoardServer(logdir, request.param, workdir=workdir)
    tb.start()
    try:
        yield tb
    except BaseException:
        print(tb.log_text())
        raise
    finally:
        tb.stop()


def served_steps(server: TensorBoardServer, route: str, tag: str, count: int) -> dict:
    """``{run: answer}`` for both runs, once each has ``count`` steps loaded."""

    def probe() -> dict | None:
        answers = {run: server.get_json(route, run=run, tag=tag) for run in RUNS}
        return answers if all(len(a) == count for a in answers.values()) else None

    return server.wait_for(probe, what=f"{count} steps of {tag!r} from {route}")


def without_wall_time(points: list) -> list:
    return [point[1:] if isinstance(point, list) else
            {k: v for k, v in point.items() if k != "wall_time"} for point in points]


# -- histograms and distributions -----------------------------------------------------


@pytest.mark.parametrize("tag", ["hist/normal", "hist/ints", "hist/auto"])
def test_histograms_served_like_torchs(server: TensorBoardServer, tag: str) -> None:
    answers = served_steps(server, "/data/plugin/histograms/histograms", tag, len(STEPS))
    ours, theirs = answers["tblog"], answers["torch"]
    assert without_wall_time(ours) == without_wall_time(theirs)
    assert [point[:2] for point in ours] == [[1_700_000_000.0 + s, s] for s in STEPS]
    expected_count = {"hist/normal": N_VALUES, "hist/ints": 300, "hist/auto": 400}[tag]
    for _, _, buckets in ours:
        assert sum(count for _, _, count in buckets) == pytest.approx(expected_count)
        # (The Rust loader also serves torch's empty first bucket, backwards.)
        lefts = [left for left, _, count in buckets if count]
        assert lefts == sorted(lefts)
    tags = server.get_json("/data/plugin/histograms/tags")
    assert tags["tblog"][tag] == tags["torch"][tag]


def test_distributions_served_like_torchs(server: TensorBoardServer) -> None:
    route = "/data/plugin/distributions/distributions"
    answers = served_steps(server, route, "hist/normal", len(STEPS))
    assert without_wall_time(answers["tblog"]) == without_wall_time(answers["torch"])
    # Basis-point compression of N(0, s^2): the median is near 0, spread grows with s.
    spreads = [point[2][-1][1] - point[2][0][1] for point in answers["tblog"]]
    assert spreads == sorted(spreads)


def test_raw_histogram_served(server: TensorBoardServer) -> None:
    answers = served_steps(server, "/data/plugin/histograms/histograms", "hist/raw", 1)
    assert without_wall_time(answers["tblog"]) == without_wall_time(answers["torch"])
    buckets = answers["tblog"][0][2]
    assert [count for _, _, count in buckets] == [1, 2, 2, 1]


# -- PR curves ------------------------------------------------------------------------


@pytest.mark.parametrize(("tag", "steps", "thresholds"),
                         [("pr/basic", 3, 127), ("pr/weighted", 3, 33), ("pr/raw", 1, 5)])
def test_pr_curves_served_like_torchs(
    server: TensorBoardServer, tag: str, steps: int, thresholds: int
) -> None:
    def probe() -> dict | None:
        answer = server.get_json("/data/plugin/pr_curves/pr_curves", run=list(RUNS), tag=tag)
        return answer if all(len(answer.get(run, [])) == steps for run in RUNS) else None

    answer = server.wait_for(probe, what=f"{steps} PR curves of {tag!r}")
    assert without_wall_time(answer["tblog"]) == without_wall_time(answer["torch"])
    first = answer["tblog"][0]
    assert len(first["thresholds"]) <= thresholds
    assert first["thresholds"][0] == 0.0
    assert all(0.0 <= p <= 1.0 for p in first["precision"] + first["recall"])
    tags = server.get_json("/data/plugin/pr_curves/tags")
    assert tags["tblog"][tag] == tags["torch"][tag]


# -- text -----------------------------------------------------------------------------


@pytest.mark.parametrize("markdown", ["true", "false"])
def test_text_served_like_torchs(server: TensorBoardServer, markdown: str) -> None:
    tag = "notes/text_summary"

    def probe() -> dict | None:
        answers = {run: server.get_json("/data/plugin/text/text", run=run, tag=tag,
                                        markdown=markdown) for run in RUNS}
        return answers if all(len(a) == len(STEPS) for a in answers.values()) else None

    answers = server.wait_for(probe, what="text steps")
    assert without_wall_time(answers["tblog"]) == without_wall_time(answers["torch"])
    html = answers["tblog"][0]["text"]
    if markdown == "true":
        assert "<strong>0</strong>" in html and "<code>code</code>" in html
    else:
        assert "**0**" in html
    assert "<b>bold</b>" not in html  # TensorBoard sanitizes raw HTML either way
    tags = server.get_json("/data/plugin/text/tags")
    assert tag in tags["tblog"] and tag in tags["torch"]


def test_text_table_served(server: TensorBoardServer) -> None:
    server.wait_for_tag("text", "tblog", "table/text_summary")
    (entry,) = server.wait_for(
        lambda: server.get_json("/data/plugin/text/text", run="tblog", tag="table/text_summary")
    )
    rows = re.findall(r"<tr>(.*?)</tr>", entry["text"], re.S)
    cells = [re.findall(r"<td>(.*?)</td>", row, re.S) for row in rows]
    assert [[c.strip() for c in row] for row in cells] == [
        ["<p>metric</p>", "<p>value</p>"],
        ["<p><strong>accuracy</strong></p>", "<p>0.9</p>"],
        ["<p>loss</p>", "<p>0.1</p>"],
    ]


# -- custom scalars -------------------------------------------------------------------


def test_custom_scalars_layout_served(server: TensorBoardServer) -> None:
    layout = server.wait_for(lambda: server.get_json("/data/plugin/custom_scalars/layout"))
    assert layout == {
        "version": 0,
        "category": [
            {"title": "losses", "closed": False,
             "chart": [{"title": "all losses", "multiline": {"tag": ["loss/.*"]}}]},
            {"title": "accuracy", "closed": False,
             "chart": [{"title": "band", "margin": {"series": [
                 {"value": "acc", "lower": "acc_lo", "upper": "acc_hi"}]}}]},
        ],
    }


# -- meshes ---------------------------------------------------------------------------


def test_mesh_served_like_torchs(server: TensorBoardServer) -> None:
    tag = "mesh/cube"
    meshes = served_steps(server, "/data/plugin/mesh/meshes", tag, 3)
    # One entry per part, in no particular order.
    ours, theirs = (sorted(without_wall_time(meshes[run]), key=lambda m: m["content_type"])
                    for run in RUNS)
    assert ours == theirs
    assert {m["content_type"] for m in meshes["tblog"]} == {1, 2, 3}
    assert all(m["components"] == 14 and m["data_shape"] == [1, 4, 3] for m in meshes["tblog"])
    assert json.loads(meshes["tblog"][0]["config"]) == MESH_CONFIG
    tags = server.get_json("/data/plugin/mesh/tags")
    assert tags["tblog"] == tags["torch"] == {tag: {"samples": 1}}
    expected = {"VERTEX": VERTICES.astype("<f4"), "FACE": FACES.astype("<i4"),
                "COLOR": COLORS.astype(np.uint8)}
    for part, array in expected.items():
        data = {run: server.get_bytes("/data/plugin/mesh/data", run=run, tag=tag,
                                      content_type=part, step=0) for run in RUNS}
        assert data["tblog"] == data["torch"] == array[0].tobytes()


# -- tensors --------------------------------------------------------------------------


def test_tensor_kept_by_both_loaders(server: TensorBoardServer, logdir: Path) -> None:
    """Deliberate difference: the Rust loader drops torch's add_tensor values
    (no data class), and keeps tblog's (TENSOR data class)."""
    expected = np.arange(12.0, dtype=np.float32).reshape(3, 4)
    if server.load_fast == "false":
        # The Python server's loader: plugin_event_accumulator, as tbutil.accumulate.
        for run in RUNS:
            (event,) = accumulate(logdir / run).Tensors("tensor/weights")
            assert np.array_equal(tensor_util.make_ndarray(event.tensor_proto), expected)
        return
    grpc = pytest.importorskip("grpc")
    from tensorboard import context
    from tensorboard.data import grpc_provider

    address = re.search(r"addr='([^']+)'", server.data_provider()).group(1)
    with grpc.insecure_channel(address) as channel:
        provider = grpc_provider.GrpcDataProvider(address, grpc_provider.make_stub(channel))

        def read() -> dict:
            return provider.read_tensors(
                context.RequestContext(), experiment_id="", plugin_name="tensor",
                downsample=10,
            )

        result = server.wait_for(lambda: read().get("tblog"), what="tblog's tensor via gRPC")
        (datum,) = result["tensor/weights"]
        assert datum.step == 0 and np.array_equal(datum.numpy, expected)
        assert "torch" not in read()
