"""add_embedding, judged by stock TensorBoard's projector plugin over HTTP.

One logdir: run ``emb`` gets two tags at two steps from one writer, a third tag
from a second writer (the config must be merged, not overwritten) and a hostile
tag; run ``other`` has its own config. One TensorBoard per loader serves it
(the projector reads files itself, but lists runs through the loader).
"""

from __future__ import annotations

import io
import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import tbutil
from google.protobuf import text_format
from hypothesis import given, settings
from hypothesis.extra import numpy as hnp
from PIL import Image
from tensorboard.plugins.projector import projector_config_pb2

from tblog import SummaryWriter
from tblog.summary import projector

HOSTILE_TAG = '../../x"y\\z\t\nq\r%2F..'
RNG = np.random.default_rng(0)
MATS = {
    ("features", 0): RNG.standard_normal((12, 5)).astype(np.float32),
    ("features", 5): RNG.standard_normal((12, 5)).astype(np.float32) * 1e-30,
    ("pixels", 0): RNG.standard_normal((7, 3)).astype(np.float32),
    ("pixels", 5): RNG.standard_normal((9, 4)).astype(np.float32),
}
LABELS = [f"label {i}" for i in range(12)]
IMAGES = RNG.random((7, 3, 6, 4)).astype(np.float32)  # non-square: padded to 6x6 cells


@pytest.fixture(scope="module")
def emb_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("logs_projector")
    with SummaryWriter(root / "emb") as writer:
        for (tag, step), mat in MATS.items():
            if tag == "features":
                writer.add_embedding(mat, LABELS, global_step=step, tag=tag)
            elif step == 0:
                writer.add_embedding(mat, label_img=IMAGES, global_step=step, tag=tag)
            else:
                rows = [[f"p{i}", i % 2, "x\ty"] for i in range(9)]
                writer.add_embedding(
                    mat, rows, global_step=step, tag=tag, metadata_header=["name", "odd", "tab"]
                )
        writer.add_embedding(np.eye(3), ["a\tb", "c\nd", ""], global_step=1, tag=HOSTILE_TAG)
    with SummaryWriter(root / "emb") as second:  # another writer, same run: merged
        second.add_embedding(np.ones((2, 2)), ["u", "v"], global_step=0, tag="late")
    with SummaryWriter(root / "other") as writer:
        writer.add_embedding(np.arange(6).reshape(3, 2), global_step=2)
    return root


@pytest.fixture(scope="module", params=[True, False], ids=["rust", "python"])
def server(
    request: pytest.FixtureRequest, emb_root: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tbutil.TensorBoardServer]:
    workdir = tmp_path_factory.mktemp("tbserver_projector")
    with tbutil.tensorboard_server(emb_root, request.param, workdir=workdir) as tb:
        # The projector decides it is active on a background thread: wait for it.
        tb.wait_for(
            lambda: tb.get_json("/data/plugins_listing")["projector"]["enabled"],
            timeout=60,
            what="projector plugin to become active",
        )
        yield tb


def tensor_bytes(server: tbutil.TensorBoardServer, run: str, name: str) -> bytes:
    return server.get_bytes("/data/plugin/projector/tensor", run=run, name=name)


def test_runs_and_info(server: tbutil.TensorBoardServer) -> None:
    runs = server.wait_for(
        lambda: {"emb", "other"} <= set(server.get_json("/data/plugin/projector/runs"))
    )
    assert runs
    info = server.get_json("/data/plugin/projector/info", run="emb")
    entries = {e["tensorName"]: e for e in info["embeddings"]}
    assert set(entries) == {
        "features:00000",
        "features:00005",
        "pixels:00000",
        "pixels:00005",
        "late:00000",
        f"{HOSTILE_TAG}:00001",
    }
    assert entries["pixels:00000"]["tensorShape"] == [7, 3]
    assert entries["pixels:00000"]["sprite"]["singleImageDim"] == [6, 6]
    other = server.get_json("/data/plugin/projector/info", run="other")
    assert [e["tensorName"] for e in other["embeddings"]] == ["default:00002"]


@pytest.mark.parametrize(("tag", "step"), list(MATS))
def test_tensor_values_round_trip(server: tbutil.TensorBoardServer, tag: str, step: int) -> None:
    data = tensor_bytes(server, "emb", f"{tag}:{step:05d}")
    mat = MATS[(tag, step)]
    assert np.frombuffer(data, np.float32).reshape(mat.shape).tobytes() == mat.tobytes()


def test_metadata_single_and_multi_column(server: tbutil.TensorBoardServer) -> None:
    text = server.get_bytes("/data/plugin/projector/metadata", run="emb", name="features:00005")
    assert text.decode().splitlines() == LABELS
    text = server.get_bytes("/data/plugin/projector/metadata", run="emb", name="pixels:00005")
    lines = text.decode().split("\n")
    assert lines[0] == "name\todd\ttab"
    assert lines[1:10] == [f"p{i}\t{i % 2}\tx y" for i in range(9)]


def test_sprite_image(server: tbutil.TensorBoardServer) -> None:
    png = server.get_bytes("/data/plugin/projector/sprite_image", run="emb", name="pixels:00000")
    sprite = np.asarray(Image.open(io.BytesIO(png)))
    assert sprite.shape == (18, 18, 3)  # ceil(sqrt(7)) = 3 cells of 6 px per row
    expected = np.rint(IMAGES[4].transpose(1, 2, 0) * 255).astype(np.uint8)
    cell = sprite[6:12, 6:12]  # image 4: row 1, column 1
    assert np.array_equal(cell[:, 1:5], expected)  # 4 px wide, centred in 6
    assert not cell[:, 0].any() and not cell[:, 5].any()


def test_hostile_tag(server: tbutil.TensorBoardServer, emb_root: Path) -> None:
    name = f"{HOSTILE_TAG}:00001"
    data = tensor_bytes(server, "emb", name)
    assert np.frombuffer(data, np.float32).reshape(3, 3).tolist() == np.eye(3).tolist()
    text = server.get_bytes("/data/plugin/projector/metadata", run="emb", name=name)
    assert text.decode().split("\n")[:3] == ["a b", "c d", projector.EMPTY_ROW]
    # Everything stayed inside the run, in one directory per tag.
    assert sorted(p.name for p in emb_root.iterdir()) == ["emb", "other"]
    run = emb_root / "emb"
    assert sorted(p.name for p in run.iterdir() if "tfevents" not in p.name) == [
        "00000",
        "00001",
        "00005",
        "projector_config.pbtxt",
    ]
    (hostile_dir,) = (run / "00001").iterdir()
    assert hostile_dir.name == projector.tag_dirname(HOSTILE_TAG)
    assert sorted(p.name for p in hostile_dir.iterdir()) == ["metadata.tsv", "tensors.tsv"]


def test_config_parses_with_tensorboards_proto(emb_root: Path) -> None:
    config = projector_config_pb2.ProjectorConfig()
    text_format.Parse((emb_root / "emb" / "projector_config.pbtxt").read_text(), config)
    by_name = {e.tensor_name: e for e in config.embeddings}
    assert len(by_name) == len(config.embeddings) == 6
    assert by_name["features:00005"].tensor_path == "00005/features/tensors.tsv"
    assert by_name["features:00005"].metadata_path == "00005/features/metadata.tsv"
    assert not by_name["pixels:00000"].metadata_path
    assert by_name["pixels:00000"].sprite.image_path == "00000/pixels/sprite.png"


def read_config(run: Path) -> dict[str, projector_config_pb2.EmbeddingInfo]:
    config = projector_config_pb2.ProjectorConfig()
    text_format.Parse((run / "projector_config.pbtxt").read_text(), config)
    return {e.tensor_name: e for e in config.embeddings}


def test_same_name_replaced_and_auto_steps(logdir: Path) -> None:
    with SummaryWriter(logdir) as writer:
        writer.add_embedding(np.zeros((2, 2)), global_step=3, tag="t")
        writer.add_embedding(np.ones((4, 2)), global_step=3, tag="t")
        writer.add_embedding(np.ones((1, 1)), tag="auto")
        writer.add_embedding(np.ones((1, 1)), tag="auto")
    entries = read_config(logdir)
    assert sorted(entries) == ["auto:00000", "auto:00001", "t:00003"]
    assert list(entries["t:00003"].tensor_shape) == [4, 2]
    assert tbutil.event_files(logdir), "the projector lists only runs with an event file"


def test_bad_input_writes_nothing(logdir: Path) -> None:
    with SummaryWriter(logdir) as writer:
        cases = [
            (ValueError, r"tag='t'.*2-D", dict(mat=np.zeros(3))),
            (TypeError, "real numbers", dict(mat=np.zeros((2, 2), complex))),
            (ValueError, "metadata has 3 rows but mat has 2", dict(metadata=["a", "b", "c"])),
            (ValueError, "row 0 has 2 columns.*metadata_header", dict(metadata=[[1, 2], [3, 4]])),
            (ValueError, "row 1 has 1 columns, expected 2", dict(
                metadata=[[1, 2], [3]], metadata_header=["a", "b"])),
            (ValueError, "label_img has 3 images", dict(label_img=np.zeros((3, 1, 2, 2)))),
            (ValueError, r"\(N, C, H, W\)", dict(label_img=np.zeros((2, 2, 2, 2)))),
            (TypeError, "metadata must be a sequence", dict(metadata="ab")),
            (ValueError, "metadata_header given without metadata", dict(metadata_header=["a"])),
        ]  # fmt: skip
        for error, message, kwargs in cases:
            kwargs.setdefault("mat", np.zeros((2, 2)))
            with pytest.raises(error, match=message):
                writer.add_embedding(tag="t", **kwargs)
        with pytest.raises(TypeError, match="tag must be a non-empty str"):
            writer.add_embedding(np.zeros((2, 2)), tag="")
        with pytest.raises(ValueError, match="tag 'bad.*' is not valid Unicode"):
            writer.add_embedding(np.zeros((2, 2)), tag="bad\ud800")
        with pytest.raises(ValueError, match="metadata is not valid Unicode"):
            writer.add_embedding(np.zeros((2, 2)), ["ok", "bad\ud800"], tag="t")
    assert sorted(p.name for p in logdir.iterdir() if "tfevents" not in p.name) == []


def test_invalid_existing_config_is_not_overwritten(logdir: Path) -> None:
    (logdir / "projector_config.pbtxt").write_text("this is { not a config")
    with SummaryWriter(logdir) as writer:
        with pytest.raises(ValueError, match="not a valid projector config"):
            writer.add_embedding(np.zeros((2, 2)))
    assert (logdir / "projector_config.pbtxt").read_text() == "this is { not a config"


def test_entries_of_foreign_writers_are_kept(logdir: Path) -> None:
    foreign = projector_config_pb2.ProjectorConfig()
    foreign.embeddings.add(tensor_name="theirs", tensor_path="their/tensors.tsv")
    (logdir / "projector_config.pbtxt").write_text(text_format.MessageToString(foreign))
    with SummaryWriter(logdir) as writer:
        writer.add_embedding(np.zeros((2, 2)), global_step=0, tag="ours")
    assert sorted(read_config(logdir)) == ["ours:00000", "theirs"]
    assert not [p for p in logdir.iterdir() if ".tmp." in p.name]


@pytest.mark.parametrize(
    ("tag", "dirname"),
    [
        ("default", "default"),
        ("a/b", "a%2Fb"),
        ("..", "%2E%2E"),
        (".", "%2E"),
        ("../x", "..%2Fx"),
        ("50%", "50%25"),
        ("a b\\c", "a%20b%5Cc"),
        ("ü", "%C3%BC"),
    ],
)
def test_tag_dirname(tag: str, dirname: str) -> None:
    assert projector.tag_dirname(tag) == dirname


def test_long_tags_stay_distinct_and_short() -> None:
    one, two = projector.tag_dirname("x" * 300 + "1"), projector.tag_dirname("x" * 300 + "2")
    assert one != two and len(one) <= 200 and len(two) <= 200


@settings(max_examples=200, deadline=None)
@given(hnp.arrays(np.float32, hnp.array_shapes(min_dims=2, max_dims=2, max_side=20)))
def test_tsv_round_trips_every_float32(mat: np.ndarray) -> None:
    """What the projector parses (float() of each cell, as float32) is bit-identical."""
    text = b"".join(projector.tensor_tsv_chunks(mat)).decode("ascii")
    lines = text.split("\n")
    assert lines[-1] == "" and len(lines) == mat.shape[0] + 1
    back = np.array([[float(c) for c in line.split("\t")] for line in lines[:-1]], np.float32)
    same = (back.view(np.uint32) == mat.view(np.uint32)) | (np.isnan(back) & np.isnan(mat))
    assert same.all()


def test_tsv_extremes() -> None:
    values = [0.0, -0.0, 1e-45, -1e-45, 3.4028235e38, 1.0, 9.999999e-5, 1e-5, 10.0, 0.1]
    mat = np.array([values], np.float32)
    back = np.array(
        [float(c) for c in b"".join(projector.tensor_tsv_chunks(mat)).decode().split("\t")],
        np.float32,
    )
    assert back.view(np.uint32).tolist() == mat[0].view(np.uint32).tolist()


def test_sprite_shrinks_to_the_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(projector, "SPRITE_MAX_PX", 64)
    images = np.full((10, 30, 30, 1), 200, np.uint8)  # 4 per row x 30 px = 120 > 64
    sheet, cell = projector.sprite(images)
    assert cell == 16 and sheet.shape == (64, 64, 1)
    assert (sheet[:16, :16] == 200).all() and not sheet[48:, 32:].any()
    with pytest.raises(ValueError, match="do not fit"):
        projector.sprite(np.zeros((65 * 65, 1, 1, 1), np.uint8))


def test_embedding_from_torch(logdir: Path) -> None:
    torch = pytest.importorskip("torch")
    mat = torch.randn(4, 3, requires_grad=True)
    with SummaryWriter(logdir) as writer:
        writer.add_embedding(mat, torch.tensor([1, 2, 3, 4]), torch.rand(4, 1, 2, 2))
    tsv = (logdir / "00000" / "default" / "tensors.tsv").read_text()
    back = np.array([[float(c) for c in line.split("\t")] for line in tsv.split("\n")[:-1]])
    assert back.astype(np.float32).tolist() == mat.detach().numpy().tolist()
    assert (logdir / "00000" / "default" / "metadata.tsv").read_text() == "1\n2\n3\n4\n"
    assert os.path.getsize(logdir / "00000" / "default" / "sprite.png") > 0


def test_concurrent_processes_keep_every_entry(logdir: Path) -> None:
    """Read-modify-write of the config is locked: no writer's entries get lost."""
    import subprocess
    import sys

    script = (
        "import sys, numpy as np\n"
        "from tblog import SummaryWriter\n"
        "w = SummaryWriter(sys.argv[1])\n"
        "for i in range(8):\n"
        "    w.add_embedding(np.ones((2, 2)), global_step=i, tag=sys.argv[2])\n"
        "w.close()\n"
    )
    procs = [
        subprocess.Popen([sys.executable, "-c", script, str(logdir), f"p{n}"]) for n in range(3)
    ]
    assert [p.wait(timeout=120) for p in procs] == [0, 0, 0]
    expected = {f"p{n}:{i:05d}" for n in range(3) for i in range(8)}
    assert set(read_config(logdir)) == expected
