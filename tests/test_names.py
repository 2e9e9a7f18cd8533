"""Reliability promise 9 (docs/reliability.md): names never escape the logdir
and never corrupt a record.

Tags, run names (``add_scalars`` keys, ``add_hparams(run_name=)``), the
``filename_suffix`` and embedding tags/metadata are fed path separators,
``..``, NUL, quotes, tabs, newlines, very long and non-UTF-8-encodable
strings. Either the name is written as given (and read back so by stock
TensorBoard) inside the logdir, or the call raises ValueError before writing.

The one rule for text that is not valid Unicode (a lone surrogate such as
``"\\ud800"``, which UTF-8 cannot encode): ValueError, never a replacement.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from reliability_helpers import files_outside, run_scalars, verify
from tbutil import accumulate, event_files, load_events, scalars_from_accumulator

from tblog import SummaryWriter

WEIRD = {
    "dotdot": "../../escape",
    "mid_dotdot": "a/../../b",
    "dots": "..",
    "dot": ".",
    "absolute": "/abs/path",
    "backslashes": "..\\..\\win",
    "tab": "tab\there",
    "newline": "new\nline",
    "carriage_return": "cr\rhere",
    "quotes": "quo\"te's",
    "nul": "nul\0byte",
    "unicode": "ünïcødé ✓ 😀",
    "percent": "%2F%00",
    "spaces": "  ",
    "empty": "",
    "long": "x" * 5000,
}
SURROGATE = "bad\ud800tag"


def _root(tmp_path: Path) -> tuple[Path, Path]:
    """A logdir inside an otherwise empty directory, to see escapes."""
    root = tmp_path / "root"
    logdir = root / "logs"
    logdir.mkdir(parents=True)
    return root, logdir


# Every tag-taking method with valid values; each is called with every WEIRD tag.
TAGGED: dict[str, Callable[[SummaryWriter, str], None]] = {
    "add_scalar": lambda w, t: w.add_scalar(t, 1.0, 1),
    "add_scalar_new_style": lambda w, t: w.add_scalar(t, 1.0, 1, new_style=True),
    "add_text": lambda w, t: w.add_text(t, "hello", 1),
    "add_histogram": lambda w, t: w.add_histogram(t, np.arange(10), 1),
    "add_tensor": lambda w, t: w.add_tensor(t, np.ones(3), 1),
    "add_image": lambda w, t: w.add_image(t, np.zeros((3, 4, 4)), 1),
    "add_images": lambda w, t: w.add_images(t, np.zeros((2, 3, 4, 4)), 1),
    "add_audio": lambda w, t: w.add_audio(t, np.zeros(100), 1, sample_rate=8000),
    "add_video": lambda w, t: w.add_video(t, np.zeros((1, 2, 3, 4, 4)), 1),
    "add_pr_curve": lambda w, t: w.add_pr_curve(t, np.array([0, 1]), np.array([0.2, 0.8]), 1),
    "add_mesh": lambda w, t: w.add_mesh(t, np.zeros((1, 3, 3)), global_step=1),
    "add_custom_scalars_multilinechart": lambda w, t: w.add_custom_scalars_multilinechart(
        [t], category=t, title=t
    ),
}
TAGGED = {
    name: call
    for name, call in TAGGED.items()
    if hasattr(SummaryWriter, name.removesuffix("_new_style"))
}


def _tags_in(logdir: Path) -> set[str]:
    return {
        value.tag
        for path in event_files(logdir)
        for event in load_events(path, migrate=False)
        for value in event.summary.value
    }


def test_weird_tags_stay_inside_and_read_back(tmp_path: Path) -> None:
    root, logdir = _root(tmp_path)
    writer = SummaryWriter(logdir)
    for call in TAGGED.values():
        for tag in WEIRD.values():
            call(writer, tag)  # every one accepted: a tag is data, not a path
    writer.close()
    assert files_outside(root, [logdir]) == []
    assert [p.parent for p in logdir.rglob("*tfevents*")] == [logdir]
    assert verify(logdir)[0] == 0
    assert set(WEIRD.values()) <= _tags_in(logdir)  # as given, byte for byte


def test_weird_scalar_tags_in_both_loaders(logdir: Path, tb_server) -> None:
    with SummaryWriter(logdir) as writer:
        for step in range(3):
            for tag in WEIRD.values():
                writer.add_scalar(tag, float(step), step)
    acc = accumulate(logdir)  # the Python loader (--load_fast=false)
    for tag in WEIRD.values():
        assert scalars_from_accumulator(acc, tag) == [(0, 0.0), (1, 1.0), (2, 2.0)]
    server = tb_server(logdir, load_fast=True)  # the Rust loader
    for tag in WEIRD.values():
        points = server.wait_for_scalars(".", tag, 3)
        assert [(step, value) for _, step, value in points] == [(0, 0.0), (1, 1.0), (2, 2.0)]




@pytest.mark.parametrize("method", TAGGED)
def test_surrogate_tag_is_rejected_before_writing(logdir: Path, method: str) -> None:
    writer = SummaryWriter(logdir, max_queue=1)
    writer.add_scalar("before", 1.0, 1)
    with pytest.raises(ValueError):  # UnicodeEncodeError is one too
        TAGGED[method](writer, SURROGATE)
    writer.add_scalar("after", 2.0, 2)
    writer.close()
    assert run_scalars(logdir) == [("before", 1, 1.0), ("after", 2, 2.0)]


def test_surrogate_tag_names_the_tag_in_scalar_methods(logdir: Path) -> None:
    with SummaryWriter(logdir) as writer:
        with pytest.raises(ValueError, match=r"tag 'bad\\ud800tag' is not valid Unicode"):
            writer.add_scalar(SURROGATE, 1.0)
        with pytest.raises(ValueError, match=r"main_tag 'bad\\ud800tag' is not valid Unicode"):
            writer.add_scalars(SURROGATE, {"a": 1.0})


# -- run names: add_scalars keys ------------------------------------------------------

SAFE_KEYS = {k: v for k, v in WEIRD.items() if not any(c in v for c in "/\\\0")}
SAFE_KEYS.pop("long")
UNSAFE_KEYS = {
    **{k: v for k, v in WEIRD.items() if any(c in v for c in "/\\\0")},
    "long": "k" * 300,
    "surrogate": SURROGATE,
}


def test_add_scalars_run_names_stay_inside(tmp_path: Path) -> None:
    root, logdir = _root(tmp_path)
    writer = SummaryWriter(logdir)
    main_tags = ("m", "../../up", "/abs", "..", "")
    for main_tag in main_tags:
        writer.add_scalars(main_tag, {key: 1.0 for key in SAFE_KEYS.values()}, 1)
    writer.close()
    assert files_outside(root, [logdir]) == []
    run_dirs = {p.parent for p in logdir.rglob("*tfevents*")}
    assert all(d.parent == logdir for d in run_dirs - {logdir})  # one level, inside
    assert len(run_dirs - {logdir}) == len(main_tags) * len(SAFE_KEYS)
    assert verify(logdir)[0] == 0
    for run_dir in run_dirs - {logdir}:
        assert len(run_scalars(run_dir)) == 1


@pytest.mark.parametrize("key", list(UNSAFE_KEYS))
def test_add_scalars_rejects_unsafe_run_names_before_writing(tmp_path: Path, key: str) -> None:
    root, logdir = _root(tmp_path)
    writer = SummaryWriter(logdir)
    with pytest.raises(ValueError, match="add_scalars"):
        writer.add_scalars("m", {"fine": 1.0, UNSAFE_KEYS[key]: 2.0}, 1)
    with pytest.raises(ValueError, match="add_scalars"):  # "/" becomes "_", "\\" does not
        writer.add_scalars("a\\b", {"fine": 1.0}, 1)
    writer.close()
    assert files_outside(root, [logdir]) == []
    assert [p.name for p in logdir.iterdir() if p.is_dir()] == []  # not even "m_fine"


# -- filename_suffix ---------------------------------------------------------------


@pytest.mark.parametrize("name", list(WEIRD))
def test_filename_suffix(tmp_path: Path, name: str) -> None:
    root, logdir = _root(tmp_path)
    suffix = WEIRD[name]
    if any(c in suffix for c in "/\\\0") or len(suffix) > 200:
        with pytest.raises(ValueError, match="filename_suffix"):
            SummaryWriter(logdir, filename_suffix=suffix)
        assert list(logdir.iterdir()) == []
        return
    with SummaryWriter(logdir, filename_suffix=suffix) as writer:
        writer.add_scalar("loss", 1.0, 1)
    (path,) = event_files(logdir)
    assert path.name.endswith(suffix) and files_outside(root, [logdir]) == []
    assert [step for _, step, _ in run_scalars(logdir)] == [1]  # TensorBoard finds and reads it


def test_filename_suffix_surrogate(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="filename_suffix .* not valid Unicode"):
        SummaryWriter(tmp_path / "run", filename_suffix=SURROGATE)
    assert not (tmp_path / "run").exists()


# -- add_hparams run_name -------------------------------------------------------------


@pytest.mark.skipif(not hasattr(SummaryWriter, "add_hparams"), reason="no add_hparams yet")
@pytest.mark.parametrize("name", [*WEIRD, "surrogate"])
def test_hparams_run_name(tmp_path: Path, name: str) -> None:
    root, logdir = _root(tmp_path)
    run_name = SURROGATE if name == "surrogate" else WEIRD[name]
    writer = SummaryWriter(logdir)
    try:
        writer.add_hparams({"lr": 0.1}, {"loss": 1.0}, run_name=run_name)
    except ValueError:
        pass  # refused: fine, as long as nothing was written outside
    writer.close()
    assert files_outside(root, [logdir]) == []
    assert verify(logdir)[0] == 0


# -- add_embedding tag and metadata ------------------------------------------------


@pytest.mark.skipif(not hasattr(SummaryWriter, "add_embedding"), reason="no add_embedding yet")
def test_embedding_tags_and_metadata_stay_inside(tmp_path: Path) -> None:
    root, logdir = _root(tmp_path)
    labels = [v for k, v in WEIRD.items() if k != "long"]
    with SummaryWriter(logdir) as writer:
        for tag in WEIRD.values():
            if not tag:
                continue  # an embedding needs a name
            writer.add_embedding(np.zeros((len(labels), 2)), metadata=labels, tag=tag)
    assert files_outside(root, [logdir]) == []
    metadata = list(logdir.rglob("metadata.tsv"))
    assert len(metadata) == len(WEIRD) - 1
    for path in metadata:  # one line per point: tabs and line breaks in labels defused
        assert len(path.read_bytes().split(b"\n")) == len(labels) + 1
    assert verify(logdir)[0] == 0


@pytest.mark.skipif(not hasattr(SummaryWriter, "add_embedding"), reason="no add_embedding yet")
@pytest.mark.parametrize("where", ["tag", "metadata"])
def test_embedding_surrogate_is_rejected(tmp_path: Path, where: str) -> None:
    root, logdir = _root(tmp_path)
    kwargs: dict[str, Any] = {"tag": SURROGATE} if where == "tag" else {"metadata": [SURROGATE]}
    with SummaryWriter(logdir) as writer:
        with pytest.raises(ValueError):
            writer.add_embedding(np.zeros((1, 2)), **kwargs)
    assert files_outside(root, [logdir]) == []
    assert not list(logdir.rglob("*.tsv"))


def test_logdir_is_used_as_given(tmp_path: Path) -> None:
    """The one path tblog does not judge is the logdir itself: ``..`` in it is
    the user's choice (resolved by the OS), and nothing goes elsewhere."""
    (tmp_path / "a").mkdir()
    with SummaryWriter(tmp_path / "a" / ".." / "b") as writer:
        writer.add_scalar("loss", 1.0, 1)
    assert [p.parent for p in tmp_path.rglob("*tfevents*")] == [tmp_path / "b"]
    assert os.listdir(tmp_path / "a") == []
