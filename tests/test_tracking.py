"""tblog.init / log / config / summary / finish, read back with stock TensorBoard's
Python loader (tests/tbutil.py). Steps, hparams, media kinds, tables, disabled
mode, resume and the ``tblog.summary`` module hook."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
import textwrap
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import tbutil
import yaml
from tensorboard.plugins.hparams import plugin_data_pb2

import tblog
from tblog.tracking import _files


@pytest.fixture(autouse=True)
def _no_run_left() -> Iterator[None]:
    yield
    tblog.finish()


def start(logdir: Path, **kwargs: Any) -> tblog.Run:
    kwargs.setdefault("project", "proj")
    kwargs.setdefault("name", "run")
    kwargs.setdefault("system_interval", None)
    kwargs.setdefault("capture_output", False)
    return tblog.init(dir=str(logdir), **kwargs)


def scalars(run_dir: Path | str, tag: str) -> list[tuple[int, float]]:
    return tbutil.scalars_from_accumulator(tbutil.accumulate(run_dir), tag)


def hparams_of(run_dir: Path | str) -> tuple[dict[str, Any], list[str]]:
    """(session-start hparams, experiment metric tags) as stored in the run."""
    values: dict[str, Any] = {}
    metrics: list[str] = []
    for event in tbutil.load_run_events(run_dir, migrate=False):
        for value in event.summary.value:
            if not value.tag.startswith("_hparams_/"):
                continue
            data = plugin_data_pb2.HParamsPluginData.FromString(value.metadata.plugin_data.content)
            if data.HasField("session_start_info"):
                for key, hp in data.session_start_info.hparams.items():
                    values[key] = getattr(hp, hp.WhichOneof("kind"))
            if data.HasField("experiment"):
                metrics = [m.name.tag for m in data.experiment.metric_infos]
    return values, metrics


def test_log_steps_commit_and_explicit_step(logdir: Path) -> None:
    run = start(logdir)
    assert tblog.run is run and run.log_dir == str(logdir / "proj" / "run")
    tblog.log({"loss": 1.0})  # step 0
    tblog.log({"loss": 2.0, "acc": 0.5}, commit=False)  # step 1, pending
    tblog.log({"acc": 0.6})  # step 1 committed: acc overrides
    run.log({"loss": 3.0}, step=5)  # held for step 5
    run.log({"acc": 0.7}, step=5)
    run.log({"loss": 4.0}, step=7)  # writes step 5 first
    with pytest.warns(UserWarning, match="lower than the run's current step 7"):
        run.log({"loss": 99.0}, step=6)
    run.log({"loss": 5.0}, commit=True)  # step 7 with the pending loss 5.0
    assert run.step == 8
    tblog.finish()
    assert tblog.run is None and run.finished
    d = logdir / "proj" / "run"
    assert scalars(d, "loss") == [(0, 1.0), (1, 2.0), (5, 3.0), (7, 5.0)]
    assert scalars(d, "acc") == [(1, pytest.approx(0.6)), (5, pytest.approx(0.7))]
    state = json.loads((d / "tblog-run.json").read_text())
    assert state["step"] == 8 and state["finished"] is True


def test_values_of_every_kind_and_nested_keys(logdir: Path) -> None:
    torch = pytest.importorskip("torch")
    import matplotlib
    from PIL import Image as PILImage

    PILImage.new("P", (3, 2)).save(logdir / "palette.png")
    PILImage.new("RGB", (3, 2), (255, 0, 0)).save(logdir / "red.png")

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    figure = Figure(figsize=(1, 1))
    figure.add_subplot().plot([0, 1])
    run = start(logdir)
    run.log({
        "int": 3, "np": np.float32(0.25), "one": torch.tensor([2.0], requires_grad=True),
        "train": {"loss": 0.5, "deep": {"x": 1}}, "skip": None,
        "weights": np.arange(10.0), "tensor_hist": torch.randn(50),
        "img": tblog.Image(np.zeros((4, 5, 3), np.uint8)),
        "img_chw": tblog.Image(torch.rand(3, 4, 5)), "fig": figure,
        "imgs": [tblog.Image(np.ones((2, 2))), tblog.Image(np.zeros((3, 3, 1)))],
        "hist": tblog.Histogram(np_histogram=np.histogram([1, 2, 2, 3], bins=3)),
        "hist2": tblog.Histogram([1.0, 2.0, 3.0], num_bins=4),
        "vid": tblog.Video(np.zeros((2, 3, 8, 8), np.uint8), fps=2),
        "wav": tblog.Audio(np.zeros(100), sample_rate=8000),
        "md": "**bold**", "txt": tblog.Text("plain"),
        "palette": tblog.Image(str(logdir / "palette.png")),
        "gray": tblog.Image(logdir / "red.png", mode="L"),
        "pil": tblog.Image(PILImage.new("RGB", (2, 2))),
    })
    run.finish()
    acc = tbutil.accumulate(logdir / "proj" / "run")
    by_plugin = {
        plugin: set(acc.PluginTagToContent(plugin))
        for plugin in ("scalars", "histograms", "images", "audio", "text")
    }
    assert {"int", "np", "one", "train/loss", "train/deep/x"} <= by_plugin["scalars"]
    assert "skip" not in by_plugin["scalars"]
    assert {"weights", "tensor_hist", "hist", "hist2"} <= by_plugin["histograms"]
    assert {"img", "img_chw", "fig", "imgs/0", "imgs/1", "vid", "palette", "gray", "pil"} <= (
        by_plugin["images"]
    )
    assert by_plugin["audio"] == {"wav"}
    assert {"md/text_summary", "txt/text_summary"} <= by_plugin["text"]
    assert scalars(logdir / "proj" / "run", "one") == [(0, 2.0)]
    hist = tbutil.tensor_util.make_ndarray(acc.Tensors("hist")[0].tensor_proto)
    assert hist[:, 2].tolist() == [1.0, 2.0, 1.0]  # the counts, buckets as given
    assert run.summary["train/loss"] == 0.5 and run.summary["int"] == 3.0


def test_bad_value_names_its_key_and_logs_nothing(logdir: Path) -> None:
    run = start(logdir)
    with pytest.raises(TypeError, match="'bad'.*object"):
        run.log({"good": 1.0, "bad": object()})
    with pytest.raises(TypeError, match="keys must be str"):
        run.log({1: 1.0})
    with pytest.raises(TypeError, match="data must be a dict"):
        run.log([("a", 1)])
    with pytest.raises(ValueError, match="step must be >= 0"):
        run.log({"a": 1}, step=-1)
    with pytest.raises(ValueError, match="not an image"):
        tblog.Image(np.zeros((2, 3, 5, 7)))
    with pytest.raises(ValueError, match="sample_rate"):
        tblog.Audio(np.zeros(3))
    assert run.step == 0
    run.finish()
    tags = tbutil.accumulate(logdir / "proj" / "run").Tags()["tensors"]
    assert "run/text_summary" in tags and "good" not in tags


def test_config_in_hparams_and_yaml_summary_as_metrics(logdir: Path) -> None:
    config = {
        "lr": 0.1, "layers": 3, "bn": True, "opt": {"name": "adam", "betas": [0.9, 0.99]},
        "none": None, "nan": float("nan"), "obj": Path("data"), "np": np.int64(7),
    }
    run = start(logdir, config=config)
    tblog.config.batch = 32
    tblog.config["epochs"] = 2
    run.config.update({"lr": 0.2}, wd=0.01)
    assert tblog.config.lr == 0.2 and run.config["opt"]["name"] == "adam" and "bn" in run.config
    for step in range(3):
        tblog.log({"loss": 1.0 / (step + 1), "acc": step / 10})
    tblog.summary["best_acc"] = 0.95
    run.finish()
    d = logdir / "proj" / "run"
    values, metrics = hparams_of(d)
    assert values == {
        "lr": pytest.approx(0.2), "layers": 3.0, "bn": True, "opt.name": "adam",
        "opt.betas": "[0.9, 0.99]", "none": "None", "nan": "nan", "obj": "data",
        "np": 7.0, "batch": 32.0, "epochs": 2.0, "wd": pytest.approx(0.01),
    }
    assert sorted(metrics) == ["summary/acc", "summary/best_acc", "summary/loss"]
    assert scalars(d, "summary/best_acc") == [(3, pytest.approx(0.95))]
    assert scalars(d, "summary/loss") == [(3, pytest.approx(1 / 3))]
    assert len(scalars(d, "loss")) == 3  # the summary adds no point to the curve
    on_disk = yaml.safe_load((d / "config.yaml").read_text())
    assert on_disk["opt"] == {"name": "adam", "betas": [0.9, 0.99]}
    assert on_disk["none"] is None and on_disk["nan"] == "nan" and on_disk["np"] == 7
    summary = json.loads((d / "summary.json").read_text())
    assert summary == {"loss": pytest.approx(1 / 3), "acc": pytest.approx(0.2), "best_acc": 0.95}


def test_disabled_mode_does_nothing(logdir: Path) -> None:
    run = start(logdir, mode="disabled", config={"lr": 1})
    assert run.disabled and run.config.lr == 1
    run.log({"x": 1.0})
    assert run.alert("t", "x") is False and run.save(str(logdir / "*")) == []
    run.watch(pytest.importorskip("torch").nn.Linear(2, 2))
    run.summary["x"] = 2
    run.finish()
    assert list(logdir.iterdir()) == []


def test_run_is_a_context_manager_and_init_finishes_the_previous(logdir: Path) -> None:
    with start(logdir, name="a") as first:
        first.log({"x": 1})
        second = start(logdir, name="b")
        assert first.finished and tblog.run is second
    assert not second.finished  # leaving the block finished `first` (already done)
    second.finish()
    assert (logdir / "proj" / "a" / "summary.json").exists()


def test_arguments_are_checked(logdir: Path) -> None:
    with pytest.raises(ValueError, match="mode"):
        start(logdir, mode="cloud")
    with pytest.raises(ValueError, match="resume"):
        start(logdir, resume="sometimes")
    with pytest.raises(ValueError, match="name='a/b'"):
        start(logdir, name="a/b")
    with pytest.raises(ValueError, match="project='..'"):
        start(logdir, project="..")
    with pytest.raises(ValueError, match="alert_webhook"):
        start(logdir, alert_webhook="ftp://x")
    with pytest.raises(TypeError, match="tags"):
        start(logdir, tags=[1])
    with pytest.raises(TypeError, match="config must be a dict"):
        start(logdir, config=[("lr", 1)])
    with pytest.raises(RuntimeError, match=r"tblog.log: no run"):
        tblog.log({"x": 1})
    with pytest.raises(RuntimeError, match=r"tblog.summary: no run"):
        tblog.summary["x"] = 1


def test_default_project_and_sortable_name(logdir: Path) -> None:
    run = tblog.init(dir=str(logdir), system_interval=None, capture_output=False)
    run.finish()
    assert run.project == "default"  # under pytest there is no script name
    assert len(run.name) == len("20260101-120000-abcd") and run.name[8] == "-"


CRASHING = textwrap.dedent("""
    import os, sys, tblog
    run = tblog.init(project="proj", name="run", dir=sys.argv[1], system_interval=None,
                     capture_output=False)
    for step in range(10):
        run.log({"loss": float(step)})
        if step == 5:
            run.flush()  # the state file now says: next step 6
    run.writer.flush()  # steps 6..9 reach the file, then the process dies
    os._exit(3)
""")


def crash_a_run(logdir: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-c", CRASHING, str(logdir)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 3, result.stderr


def resume_after_crash(logdir: Path) -> tblog.Run:
    """Crash after step 9 (state: 6), resume, log steps 6..11 with new values."""
    crash_a_run(logdir)
    run = start(logdir, resume="allow", config={"lr": 0.5})
    assert run.resumed and run.step == 6
    for step in range(6, 12):
        run.log({"loss": 100.0 + step})
    run.finish()
    return run


def test_resume_hides_the_points_after_the_last_state(logdir: Path) -> None:
    resume_after_crash(logdir)
    d = logdir / "proj" / "run"
    expected = [(s, float(s)) for s in range(6)] + [(s, 100.0 + s) for s in range(6, 12)]
    assert scalars(d, "loss") == expected  # Python loader: no duplicate, no stale point
    assert json.loads((d / "tblog-run.json").read_text())["step"] == 12


def test_resume_rules(logdir: Path) -> None:
    with pytest.raises(ValueError, match="no run to resume"):
        start(logdir, resume="must")
    start(logdir).finish()
    with pytest.raises(ValueError, match="already holds run 'run'"):
        start(logdir)
    run = start(logdir, resume="must")
    assert run.resumed and run.step == 0
    run.finish()


def test_tblog_summary_is_the_package_and_the_current_summary(logdir: Path) -> None:
    import tblog as wandb
    import tblog.summary.scalar
    from tblog.summary import image

    run = start(logdir)
    wandb.summary["x"] = 1.5
    wandb.summary.update({"y": 2})
    assert run.summary["x"] == 1.5 and run.summary.y == 2 and "x" in wandb.summary
    assert wandb.summary["y"] == 2 and bool(wandb.summary)
    assert image.DEFAULT_PNG_COMPRESSION >= 0 and callable(tblog.summary.scalar.summary)
    assert wandb.summary.image is image


@pytest.mark.parametrize(
    "relative", ["../x", "a/../../x", "/etc/passwd", "", ".", "a/..", "C:/x", "..\\x", "a\0b"]
)
def test_side_files_never_leave_the_run_dir(logdir: Path, relative: str) -> None:
    with pytest.raises(ValueError):
        _files.write_run_file(str(logdir), relative, b"x")
    assert list(logdir.iterdir()) == []


def test_side_file_paths_are_normalized(logdir: Path) -> None:
    path = _files.write_run_file(str(logdir), "a/./b//c.txt", b"data")
    assert Path(path).read_bytes() == b"data" and path == str(logdir / "a" / "b" / "c.txt")


def test_import_stays_light_and_works_without_optional_packages(tmp_path: Path) -> None:
    code = textwrap.dedent("""
        import importlib.abc, sys, warnings
        BLOCKED = {"torch", "psutil", "yaml", "pandas", "pynvml"}
        class Block(importlib.abc.MetaPathFinder):
            def find_spec(self, name, path=None, target=None):
                if name.partition(".")[0] in BLOCKED:
                    raise ImportError(f"blocked: {name}")
        sys.meta_path.insert(0, Block())
        import tblog
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            run = tblog.init(project="p", name="r", dir=sys.argv[1], config={"a": 1},
                             system_interval=0.01, capture_output=False)
            run.log({"x": 1.0})
            import time; time.sleep(0.2)
            run.finish()
        import os
        print(sorted(os.listdir(os.path.join(sys.argv[1], "p", "r"))))
        print(any("psutil" in str(w.message) for w in caught))
    """)
    result = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    files, warned = result.stdout.strip().splitlines()
    assert "config.json" in files and "config.yaml" not in files and warned == "True"
    light = subprocess.run(
        [sys.executable, "-c", "import sys, tblog; print(sorted(m for m in "
         "('torch', 'psutil', 'yaml', 'pandas', 'pynvml', 'PIL') if m in sys.modules))"],
        capture_output=True, text=True, timeout=60,
    )
    assert light.stdout.strip() == "[]", light.stderr


def test_table_markdown_csv_and_image_cells(logdir: Path) -> None:
    from tensorboard import plugin_util

    table = tblog.Table(columns=["image", "pred", "note"])
    table.add_data(tblog.Image(np.zeros((4, 4, 3), np.uint8), caption="zero"), 3, "a|b\nc")
    table.add_data(tblog.Image(np.ones((4, 4))), 0.123456789, "back\\slash")
    with pytest.raises(ValueError, match="2 values for 3 columns"):
        table.add_data(1, 2)
    run = start(logdir)
    run.log({"eval/preds": table})
    run.finish()
    d = logdir / "proj" / "run"
    acc = tbutil.accumulate(d)
    assert {"eval/preds/image/0", "eval/preds/image/1"} <= set(acc.PluginTagToContent("images"))
    [event] = acc.Tensors("eval/preds/text_summary")
    markdown = tbutil.tensor_util.make_ndarray(event.tensor_proto).item().decode()
    html = plugin_util.markdown_to_safe_html(markdown)
    assert html.count("<tr>") == 3 and html.count("<td>") == 6  # a|b stayed one cell
    assert "a|b<br />c" in html or "a|b<br>c" in html
    assert "image eval/preds/image/0 (zero)" in html and "back\\slash" in html
    with open(d / "tables" / "eval" / "preds" / "0.csv", newline="") as file:
        rows = list(csv.reader(file))
    assert rows == [
        ["image", "pred", "note"],
        ["image eval/preds/image/0 (zero)", "3", "a|b\nc"],
        ["image eval/preds/image/1", "0.123457", "back\\slash"],
    ]


class FakeFrame:
    """What Table uses of a pandas DataFrame, for machines without pandas."""

    columns = ["a", "b"]

    def itertuples(self, index: bool = True, name: str | None = "Pandas") -> Iterator[tuple]:
        assert index is False and name is None
        return iter([(1, "x"), (2, "y")])


def test_table_from_dataframe() -> None:
    try:
        import pandas
    except ImportError:
        frame: Any = FakeFrame()
    else:
        frame = pandas.DataFrame({"a": [1, 2], "b": ["x", "y"]})
    table = tblog.Table(dataframe=frame)
    assert table.columns == ["a", "b"] and table.data == [[1, "x"], [2, "y"]]
    assert table.csv_bytes("t") == b"a,b\n1,x\n2,y\n"
    with pytest.raises(TypeError, match="dataframe must be a pandas DataFrame"):
        tblog.Table(dataframe=[[1, 2]])


def test_warnings_are_not_errors_for_normal_use(logdir: Path) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        run = start(logdir, config={"a": [1, 2]})
        run.log({"x": 1})
        run.finish()


EXITING = textwrap.dedent("""
    import os, sys, tblog
    run = tblog.init(project="proj", name="run", dir=sys.argv[1], system_interval=0.01)
    run.log({"loss": 1.0})
    pid = os.fork()
    if pid == 0:
        print("in the child")
        sys.exit(0)  # runs the child's atexit hooks: they must leave the run alone
    os.waitpid(pid, 0)
    run.log({"loss": 2.0})
    print("parent done")
    # no finish(): the interpreter's exit finishes the run
""")


def test_exit_finishes_the_run_and_a_forked_child_leaves_it_alone(logdir: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-c", EXITING, str(logdir)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.count("in the child") == 1 and "parent done" in result.stdout
    d = logdir / "proj" / "run"
    assert len(tbutil.event_files(d)) == 1 and len(tbutil.event_files(d / "system")) == 1
    assert json.loads((d / "tblog-run.json").read_text())["finished"] is True
    assert json.loads((d / "summary.json").read_text()) == {"loss": 2.0}
    assert scalars(d, "summary/loss") == [(2, 2.0)]
    assert (d / "output.log").read_text() == "parent done\n"


def test_float_images_above_one_are_0_255_and_summary_takes_numpy(logdir: Path) -> None:
    torch = pytest.importorskip("torch")
    run = start(logdir)
    run.log({
        "unit": tblog.Image(np.full((2, 2), 0.5)),  # 0-1: half gray
        "bytes": tblog.Image(np.full((2, 2), 200.0)),  # above 1: 0-255
        "tensor": tblog.Image(torch.full((1, 2, 2), 300.0)),  # clipped to 255
    })
    run.summary.update(np_value=np.float32(0.25), tensor_value=torch.tensor(0.5))
    run.finish()
    with pytest.warns(UserWarning, match="is finished"):
        run.log({"late": 1.0})
    acc = tbutil.accumulate(logdir / "proj" / "run")
    from PIL import Image as PILImage

    def pixel(tag: str) -> int:
        png = tbutil.tensor_util.make_ndarray(acc.Tensors(tag)[0].tensor_proto)[2]
        import io

        return PILImage.open(io.BytesIO(png)).convert("L").getpixel((0, 0))

    assert (pixel("unit"), pixel("bytes"), pixel("tensor")) == (127, 200, 255)  # 0.5*255
    _, metrics = hparams_of(logdir / "proj" / "run")
    assert sorted(metrics) == ["summary/np_value", "summary/tensor_value"]


def test_disabled_run_writer_is_a_null_writer(logdir: Path) -> None:
    run = start(logdir, mode="disabled")
    assert isinstance(run.writer, tblog.NullSummaryWriter)
    run.writer.add_scalar("x", 1.0, 0)
    run.finish()
    assert list(logdir.iterdir()) == []


def test_config_from_namespace_and_its_mapping_api(logdir: Path) -> None:
    import argparse

    args = argparse.Namespace(lr=0.1, layers=[1, 2])
    run = start(logdir, config=args)
    config = run.config
    config.setdefaults({"lr": 9.0, "bs": 4})
    assert dict(config.items()) == {"lr": 0.1, "layers": [1, 2], "bs": 4}
    assert list(tblog.config) == ["lr", "layers", "bs"] and len(tblog.config) == 3
    del config.bs
    with pytest.raises(AttributeError, match="no key 'bs'"):
        _ = config.bs
    with pytest.raises(KeyError):
        _ = tblog.config["bs"]
    with pytest.raises(TypeError, match="keys must be str"):
        config[1] = 2
    config.update(argparse.Namespace(wd=0.5))
    run.finish()
    values, _ = hparams_of(logdir / "proj" / "run")
    assert values == {"lr": pytest.approx(0.1), "layers": "[1, 2]", "wd": 0.5}
