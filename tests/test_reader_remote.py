"""tblog.read on object storage: fsspec's ``memory://`` and moto's S3 on
127.0.0.1 (test_remote's fixtures), each object fetched once, compared with
TensorBoard's loader on a downloaded copy."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import tbutil
from tensorboard.util import tensor_util

pd = pytest.importorskip("pandas")
pytest.importorskip("fsspec")

from test_remote import (  # noqa: E402,F401 - fixtures
    download,
    in_moto,
    memory_url,
    moto,
    objects,
)

import tblog  # noqa: E402


def write_segmented_run(url: str) -> None:
    """Two runs; each flush of tblog's remote writer uploads a new segment."""
    for run in ("train", "eval"):
        writer = tblog.SummaryWriter(f"{url}/{run}")
        for segment in range(4):
            for step in range(segment * 25, segment * 25 + 25):
                writer.add_scalar("loss", 1.0 / (step + 1), step)
                writer.add_scalar("acc", step / 100.0, step)
            writer.add_histogram("w", np.arange(segment + 3.0), segment)
            writer.flush()
        writer.close()


def tb_frame(local: Path) -> dict[tuple[str, str], list[tuple[int, float]]]:
    out = {}
    for run in ("train", "eval"):
        acc = tbutil.accumulate(local / run)
        for tag in ("loss", "acc"):
            out[(run, tag)] = [(e.step, float(tensor_util.make_ndarray(e.tensor_proto).item()))
                               for e in acc.Tensors(tag)]
    return out


def by_series(frame: pd.DataFrame) -> dict[tuple[str, str], list[tuple[int, float]]]:
    return {(run, tag): list(zip(g["step"], g["value"], strict=True))
            for (run, tag), g in frame.groupby(["run", "tag"], observed=True)}


def test_memory_segments_read_as_one_file_each_object_once(
    memory_url: str, logdir: Path, monkeypatch: pytest.MonkeyPatch  # noqa: F811
) -> None:
    from fsspec.implementations.memory import MemoryFileSystem

    write_segmented_run(memory_url)
    stored = objects(memory_url)
    assert len(stored) >= 10  # header + one segment per flush, per run
    fetched: Counter[str] = Counter()
    original = MemoryFileSystem.cat_file

    def counting(self, path, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003
        fetched[path] += 1
        return original(self, path, *args, **kwargs)

    monkeypatch.setattr(MemoryFileSystem, "cat_file", counting)
    runs = tblog.read(memory_url)
    frame = runs.scalars()
    assert sorted(fetched.values()) == [1] * len(stored)  # every segment once
    local = download(memory_url, logdir)
    assert by_series(frame) == tb_frame(local)
    assert by_series(frame) == by_series(tblog.read(local).scalars())
    files = runs.files()
    assert files.groupby("run")["series"].nunique().tolist() == [1, 1]  # one writer each
    assert runs.histograms()["step"].tolist() == [0, 1, 2, 3] * 2
    # Fetched once here, scanned by worker processes.
    from tblog.reader import _discover

    monkeypatch.setattr(_discover, "PARALLEL_BYTES", 0)
    fetched.clear()
    pd.testing.assert_frame_equal(tblog.read(memory_url, workers=2).scalars(), frame)
    assert sorted(fetched.values()) == [1] * len(stored)


def test_s3_logdir_on_moto(in_moto, logdir: Path) -> None:  # noqa: ANN001, F811
    url = f"{in_moto.url}/reader"
    write_segmented_run(url)
    before = len(in_moto.requests)
    frame = tblog.read(url).scalars()
    gets = Counter(p for m, p, _ in in_moto.requests[before:] if m == "GET" and "tfevents" in p)
    stored = objects(url)
    assert len(gets) == len(stored) and set(gets.values()) == {1}  # each object fetched once
    assert by_series(frame) == tb_frame(download(url, logdir))
    assert frame.attrs["logdir"] == url
