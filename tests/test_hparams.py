"""add_hparams, judged by stock TensorBoard's hparams plugin over HTTP.

One logdir: a writer ``sweep`` records three sub-runs the torch way, and a
writer ``inrun`` records its hparams in its own run (``in_run=True``) with a
metric history over two calls. One TensorBoard per loader serves it.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import tbutil
from tensorboard.plugins.hparams import plugin_data_pb2

from tblog import SummaryWriter

torch = pytest.importorskip("torch")

SWEEP = [
    {"lr": 0.1, "opt": "adam", "bn": True, "layers": 3, "wd": np.float32(0.5)},
    {"lr": 0.01, "opt": "sgd", "bn": False, "layers": 4, "wd": torch.tensor(0.25)},
    {"lr": 0.001, "opt": "adam", "bn": np.bool_(True), "layers": np.int64(5), "wd": 0.0},
]
METRICS = [{"acc": 0.5, "loss": 2.0}, {"acc": 0.75, "loss": torch.tensor(1.5)}, {"acc": 0.9}]
DOMAINS = {"opt": ["adam", "sgd"], "bn": [True, False]}
INRUN = {"lr": 0.3, "opt": "sgd", "bn": False, "layers": 1, "wd": 1.0, "unused": None}
SESSION_BODY = tbutil.HPARAMS_SESSION_QUERY


def expected_hparams(values: dict[str, Any]) -> dict[str, Any]:
    """What the plugin should answer: bools stay bools, numbers become floats."""
    out: dict[str, Any] = {}
    for key, value in values.items():
        if value is None:
            continue
        if isinstance(value, (bool, np.bool_)):
            out[key] = bool(value)
        elif isinstance(value, str):
            out[key] = value
        else:
            out[key] = pytest.approx(float(value))
    return out


@pytest.fixture(scope="module")
def hp_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("logs_hparams")
    with SummaryWriter(root / "sweep") as writer:
        for i, (hparams, metrics) in enumerate(zip(SWEEP, METRICS, strict=True)):
            writer.add_hparams(hparams, metrics, DOMAINS, run_name=f"run_{i}")
    with SummaryWriter(root / "inrun") as writer:
        for step in range(3):
            writer.add_scalar("loss", 1.0 / (step + 1), step)
        writer.add_hparams(INRUN, {"acc": 0.2, "loss": None}, DOMAINS, in_run=True)
        writer.add_hparams(INRUN, {"acc": 0.4}, DOMAINS, in_run=True)  # a later value
    return root


@pytest.fixture(scope="module", params=[True, False], ids=["rust", "python"])
def server(
    request: pytest.FixtureRequest, hp_root: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tbutil.TensorBoardServer]:
    workdir = tmp_path_factory.mktemp("tbserver_hparams")
    with tbutil.tensorboard_server(hp_root, request.param, workdir=workdir) as tb:
        yield tb


def session_groups(server: tbutil.TensorBoardServer) -> dict[str, Any]:
    """All session groups, once every metric value written has loaded."""
    expected = sum(len(m) for m in METRICS) + 2

    def probe() -> dict[str, Any] | None:
        answer = server.post_json("/data/plugin/hparams/session_groups", SESSION_BODY)
        groups = {g["name"]: g for g in answer.get("sessionGroups", [])}
        loaded = sum(len(g["metricValues"]) for g in groups.values())
        return groups if len(groups) == 4 and loaded == expected else None

    return server.wait_for(probe, what="4 session groups with every metric value")


def metrics_of(group: dict[str, Any]) -> dict[str, tuple[float, int]]:
    return {m["name"]["tag"]: (m["value"], m["trainingStep"]) for m in group["metricValues"]}


def test_experiment(server: tbutil.TensorBoardServer) -> None:
    experiment = server.wait_for(
        lambda: server.post_json("/data/plugin/hparams/experiment", {"experimentName": ""})
    )
    infos = {h["name"]: h for h in experiment["hparamInfos"]}
    assert {k: v["type"] for k, v in infos.items()} == {
        "lr": "DATA_TYPE_FLOAT64",
        "opt": "DATA_TYPE_STRING",
        "bn": "DATA_TYPE_BOOL",
        "layers": "DATA_TYPE_FLOAT64",
        "wd": "DATA_TYPE_FLOAT64",
    }
    assert infos["opt"]["domainDiscrete"] == ["adam", "sgd"]
    assert infos["bn"]["domainDiscrete"] == [True, False]
    assert sorted(m["name"]["tag"] for m in experiment["metricInfos"]) == ["acc", "loss"]


def test_every_value_of_three_sub_runs(server: tbutil.TensorBoardServer) -> None:
    groups = session_groups(server)
    for i, (hparams, metrics) in enumerate(zip(SWEEP, METRICS, strict=True)):
        group = groups[f"sweep/run_{i}"]
        assert group["hparams"] == expected_hparams(hparams)
        assert group["sessions"][0]["status"] == "STATUS_SUCCESS"
        got = metrics_of(group)
        for tag, value in metrics.items():
            assert got[tag][0] == pytest.approx(float(value))
    assert set(metrics_of(groups["sweep/run_2"])) == {"acc"}  # it logged no loss


def test_in_run_hparams_and_metric_history(server: tbutil.TensorBoardServer) -> None:
    group = session_groups(server)["inrun"]
    assert group["hparams"] == expected_hparams(INRUN)
    got = metrics_of(group)
    assert got["acc"] == (pytest.approx(0.4), 1)  # the later call, at the next step
    assert got["loss"] == (pytest.approx(1 / 3), 2)  # the add_scalar series, declared only
    points = server.wait_for_scalars("inrun", "acc", 2)
    assert [(p[1], p[2]) for p in points] == [(0, pytest.approx(0.2)), (1, pytest.approx(0.4))]
    assert "inrun/." not in server.runs() and not any(r.startswith("inrun/") for r in server.runs())


def start_info(run: Path) -> plugin_data_pb2.SessionStartInfo:
    for event in tbutil.load_run_events(run, migrate=False):
        for value in event.summary.value:
            if value.tag == "_hparams_/session_start_info":
                content = value.metadata.plugin_data.content
                return plugin_data_pb2.HParamsPluginData.FromString(content).session_start_info
    raise AssertionError(f"no session start info in {run}")


def test_same_session_start_info_as_torch_but_real_bools(tmp_path: Path) -> None:
    from torch.utils.tensorboard import SummaryWriter as TorchWriter

    hparams = {"lr": 0.1, "opt": "adam", "layers": 3, "bn": True}
    torch_writer = TorchWriter(str(tmp_path / "torch"))
    torch_writer.add_hparams(hparams, {"acc": 1.0}, run_name="r")
    torch_writer.close()
    with SummaryWriter(tmp_path / "tblog") as writer:
        writer.add_hparams(hparams, {"acc": 1.0}, run_name="r")
    ours = start_info(tmp_path / "tblog" / "r").hparams
    theirs = start_info(tmp_path / "torch" / "r").hparams
    assert set(ours) == set(theirs)
    for key in ("lr", "opt", "layers"):
        assert ours[key] == theirs[key]
    assert theirs["bn"].number_value == 1.0  # torch turns bools into numbers
    assert ours["bn"].WhichOneof("kind") == "bool_value" and ours["bn"].bool_value is True


def test_default_run_name_is_a_timestamp_sub_run(logdir: Path) -> None:
    with SummaryWriter(logdir) as writer:
        writer.add_hparams({"a": 1}, {"m": 2.0})
    (sub,) = [p for p in logdir.iterdir() if p.is_dir()]
    assert float(sub.name) > 1e9
    assert start_info(sub).hparams["a"].number_value == 1.0


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        (dict(hparam_dict={"l": [1, 2]}), TypeError, r"hparam_dict\['l'\] is a list"),
        (dict(hparam_dict={"l": {"a": 1}}), TypeError, r"hparam_dict\['l'\] is a dict"),
        (dict(hparam_dict={"t": torch.ones(3)}), TypeError, r"hparam_dict\['t'\].*single value"),
        (dict(hparam_dict={"o": object()}), TypeError, r"hparam_dict\['o'\]"),
        (dict(hparam_dict={"n": float("nan")}), ValueError, r"hparam_dict\['n'\] must be finite"),
        (dict(hparam_dict={1: 2}), TypeError, "keys must be str"),
        (dict(hparam_dict=[("a", 1)]), TypeError, "hparam_dict must be a dict"),
        (dict(metric_dict={"m": "high"}), TypeError, r"metric_dict\['m'\]"),
        (dict(metric_dict={"m": [1, 2]}), ValueError, r"metric_dict\['m'\].*one element"),
        (dict(run_name="../escape"), ValueError, "must stay inside log_dir"),
        (dict(run_name="a/../../b"), ValueError, "must stay inside log_dir"),
        (dict(run_name="/abs"), ValueError, "must be a relative path"),
        (dict(run_name=3), TypeError, "run_name must be a str"),
        (dict(run_name="ok/" + "x" * 300), ValueError, "limited to 255 bytes"),
        (dict(hparam_dict={"bad\ud800": 1}), ValueError, "not valid Unicode"),
        (dict(hparam_dict={"s": "bad\ud800"}), ValueError, "not valid Unicode"),
        (dict(metric_dict={"bad\ud800": 1.0}), ValueError, "not valid Unicode"),
        (dict(run_name="x", in_run=True), ValueError, "in_run=True"),
        (dict(hparam_domain_discrete={"zz": [1]}), ValueError, "names no hparam"),
        (dict(hparam_domain_discrete={"a": ["x"]}), TypeError, "same type"),
        (dict(hparam_domain_discrete={"a": 1}), TypeError, "must be a list"),
    ],
)
def test_bad_input_writes_nothing(
    logdir: Path, kwargs: dict[str, Any], error: type, message: str
) -> None:
    kwargs = {"hparam_dict": {"a": 1.0}, "metric_dict": {"m": 1.0}, **kwargs}
    with SummaryWriter(logdir) as writer:
        with pytest.raises(error, match=message):
            writer.add_hparams(**kwargs)
    assert [p.name for p in logdir.iterdir() if p.is_dir()] == []
    assert all(len(e.summary.value) == 0 for e in tbutil.load_run_events(logdir, migrate=False))


def test_changed_hparams_for_a_recorded_run_are_refused(logdir: Path) -> None:
    with SummaryWriter(logdir) as writer:
        writer.add_hparams({"a": 1}, {"m": 1.0}, run_name="r")
        writer.add_hparams({"a": 1}, {"m": 2.0}, run_name="r")
        with pytest.raises(ValueError, match="already recorded different hparams"):
            writer.add_hparams({"a": 2}, {"m": 3.0}, run_name="r")
    values = [
        (e.step, v.simple_value)
        for e in tbutil.load_run_events(logdir / "r", migrate=False)
        for v in e.summary.value
        if v.tag == "m"
    ]
    assert values == [(0, 1.0), (1, 2.0)]


def test_metric_dict_optional_and_explicit_step(logdir: Path) -> None:
    with SummaryWriter(logdir) as writer:
        writer.add_hparams({"a": "x"}, run_name="r", global_step=7)
        writer.add_hparams({"a": "x"}, {"m": 0.5}, run_name="r", global_step=9)
    events = tbutil.load_run_events(logdir / "r", migrate=False)
    tags = [(e.step, v.tag) for e in events for v in e.summary.value]
    assert tags == [
        (7, "_hparams_/experiment"),
        (7, "_hparams_/session_start_info"),
        (7, "_hparams_/session_end_info"),
        (9, "m"),
    ]


def test_each_experiment_lists_every_column_the_writer_saw(hp_root: Path) -> None:
    """TensorBoard shows one (arbitrary) run's experiment: run_2 logged no loss but
    its experiment must still list it, or the loss column could vanish."""
    for event in tbutil.load_run_events(hp_root / "sweep" / "run_2", migrate=False):
        for value in event.summary.value:
            if value.tag == "_hparams_/experiment":
                content = value.metadata.plugin_data.content
                experiment = plugin_data_pb2.HParamsPluginData.FromString(content).experiment
                assert sorted(m.name.tag for m in experiment.metric_infos) == ["acc", "loss"]
                assert sorted(h.name for h in experiment.hparam_infos) == sorted(SWEEP[0])
                return
    raise AssertionError("no experiment in sweep/run_2")
