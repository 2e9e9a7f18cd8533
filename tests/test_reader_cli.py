"""``tblog export | ls | compare | plot`` on logdirs written by torch, checked
against TensorBoard's own loader (values) and by decoding the plot."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import tbutil
from tensorboard.util import tensor_util

pd = pytest.importorskip("pandas")

from tblog.__main__ import main  # noqa: E402


@pytest.fixture
def two_runs(logdir: Path) -> Path:
    from torch.utils.tensorboard import SummaryWriter as TorchWriter

    for name, scale in (("run_a", 1.0), ("run_b", 2.0)):
        with TorchWriter(str(logdir / name)) as w:
            for step in range(30):
                w.add_scalar("loss/train", scale / (step + 1), step)
                w.add_scalar("loss/val", scale * 0.5 ** step, step)
                w.add_scalar("lr", 0.1, step)
            w.add_text("notes", f"{name} done", 29)
    return logdir


def tb_points(run_dir: Path, tag: str) -> list[tuple[int, float]]:
    acc = tbutil.accumulate(run_dir)
    return [(e.step, float(tensor_util.make_ndarray(e.tensor_proto).item()))
            for e in acc.Tensors(tag)]


@pytest.mark.parametrize("suffix", [".csv", ".parquet", ".json"])
def test_export_equals_tensorboard(two_runs: Path, tmp_path: Path, suffix: str) -> None:
    if suffix == ".parquet":
        pytest.importorskip("pyarrow")
    out = tmp_path / f"out{suffix}"
    assert main(["export", str(two_runs), "-o", str(out), "--tags", "loss/*"]) == 0
    frame = {".csv": pd.read_csv, ".parquet": pd.read_parquet,
             ".json": lambda p: pd.DataFrame(json.loads(Path(p).read_text()))}[suffix](out)
    assert list(frame.columns) == ["run", "tag", "step", "wall_time", "value"]
    assert sorted(set(frame["tag"])) == ["loss/train", "loss/val"]
    for run in ("run_a", "run_b"):
        for tag in ("loss/train", "loss/val"):
            mine = frame[(frame["run"] == run) & (frame["tag"] == tag)]
            assert list(zip(mine["step"], mine["value"], strict=True)) == tb_points(
                two_runs / run, tag)


def test_export_runs_filter_kinds_and_module_entry_point(two_runs: Path, tmp_path: Path) -> None:
    out = tmp_path / "text.csv"
    done = subprocess.run(
        [sys.executable, "-m", "tblog", "export", str(two_runs), "-o", str(out), "--kind", "text",
         "--runs", "run_b"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    frame = pd.read_csv(out)
    assert frame[["run", "tag", "step", "text"]].values.tolist() == [
        ["run_b", "notes/text_summary", 29, "run_b done"]]
    assert main(["export", str(two_runs), "-o", str(tmp_path / "x.xlsx")]) == 2


def test_ls_lists_runs_tags_ranges_and_last_values(two_runs: Path, capsys) -> None:
    assert main(["ls", str(two_runs)]) == 0
    out = capsys.readouterr().out
    assert "2 run(s)" in out
    lines = [line.split() for line in out.splitlines()]
    assert ["run_a", "4", "1", "1"] == lines[2][:4]
    assert ["run_b", "loss/val", "scalars", "30", "0..29",
            f"{tb_points(two_runs / 'run_b', 'loss/val')[-1][1]:.6g}"] in lines
    assert ["run_a", "notes/text_summary", "text", "1", "29..29", "-"] in lines


def test_compare_final_min_max_per_run(two_runs: Path, capsys) -> None:
    assert main(["compare", str(two_runs), "--tag", "loss/train"]) == 0
    rows = [line.split() for line in capsys.readouterr().out.splitlines()[2:]]
    for row in rows:
        values = [v for _, v in tb_points(two_runs / row[0], "loss/train")]
        assert row[1:] == ["loss/train", "29", f"{values[-1]:.6g}", f"{min(values):.6g}",
                           f"{max(values):.6g}", "30"]
    assert [row[0] for row in rows] == ["run_a", "run_b"]
    assert main(["compare", str(two_runs), "--tag", "nothing"]) == 1


def test_plot_writes_a_non_empty_png(two_runs: Path, tmp_path: Path) -> None:
    image_module = pytest.importorskip("PIL.Image")
    pytest.importorskip("matplotlib")
    out = tmp_path / "loss.png"
    assert main(["plot", str(two_runs), "--tag", "loss/*", "-o", str(out),
                 "--smoothing", "0.6"]) == 0
    with image_module.open(out) as image:
        assert image.format == "PNG"
        pixels = np.asarray(image.convert("RGB"))
    assert pixels.shape[0] > 200 and pixels.shape[1] > 600  # two charts side by side
    coloured = (np.abs(pixels.astype(int) - pixels.mean(axis=2, keepdims=True)) > 40).any(axis=2)
    assert coloured.sum() > 500  # the run lines are drawn in colour
    assert main(["plot", str(two_runs), "--tag", "loss/*", "-o", str(out),
                 "--smoothing", "1.5"]) == 2


def test_smoothing_is_tensorboards_debiased_ema() -> None:
    from tblog.reader._plot import smooth

    values = np.array([1.0, 2.0, float("nan"), 4.0])
    weight = 0.5
    # By hand: last = 0.5, 1.25, (nan passes), 2.625; debias by 1 - 0.5**k.
    expected = [0.5 / 0.5, 1.25 / 0.75, float("nan"), 2.625 / 0.875]
    np.testing.assert_allclose(smooth(values, weight), expected)
    np.testing.assert_array_equal(smooth(np.full(4, 3.0), 0.9), np.full(4, 3.0))


def test_ls_draws_rich_tables_on_a_terminal(two_runs: Path, monkeypatch) -> None:
    pytest.importorskip("rich")
    import io

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    terminal = Terminal()
    monkeypatch.setattr(sys, "stdout", terminal)
    assert main(["ls", str(two_runs)]) == 0
    out = terminal.getvalue()
    assert "┃" in out or "│" in out  # rich's box drawing, absent from the plain form
    assert "run_a" in out and "loss/val" in out


def test_damaged_file_warns_or_fails_with_strict(corrupt_logdir: Path, tmp_path: Path,
                                                  capsys) -> None:
    import tblog

    with tblog.SummaryWriter(corrupt_logdir / "r") as w:
        for step in range(5):
            w.add_scalar("x", float(step), step)
    path = next((corrupt_logdir / "r").iterdir())
    data = bytearray(path.read_bytes())
    data[-10] ^= 0xFF  # inside the last record's data
    path.write_bytes(bytes(data))
    out = tmp_path / "x.csv"
    with pytest.warns(UserWarning, match="bad data CRC"):
        assert main(["export", str(corrupt_logdir), "-o", str(out)]) == 0
    assert pd.read_csv(out)["step"].tolist() == [0, 1, 2, 3]
    assert main(["export", str(corrupt_logdir), "-o", str(out), "--strict"]) == 2
    assert "bad data CRC at offset" in capsys.readouterr().err
