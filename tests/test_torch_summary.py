"""tblog.torch_summary: torch's public summary functions, called as torch's are.

Each function is called with torch's signature and the same arguments as
torch's own; the results are compared as TensorBoard reads them (decoded
pixels, buckets, samples, strings, hparams session data), not byte for byte
where the encoders legitimately differ (PNG compression, GIF writer).
"""

from __future__ import annotations

import io
import subprocess
import sys
import wave
from pathlib import Path

import numpy as np
import pytest
from tbutil import accumulate, scalars_from_accumulator
from tensorboard.compat.proto import summary_pb2 as tb_summary_pb2
from tensorboard.plugins.hparams import plugin_data_pb2
from tensorboard.util import tensor_util

from tblog import SummaryWriter, torch_summary

torch = pytest.importorskip("torch")
theirs = pytest.importorskip("torch.utils.tensorboard.summary")


def as_tb(message: object) -> tb_summary_pb2.Summary:
    return tb_summary_pb2.Summary.FromString(message.SerializeToString())


def png_pixels(data: bytes) -> np.ndarray:
    from PIL import Image

    return np.asarray(Image.open(io.BytesIO(data)).convert("RGBA"))


def test_every_public_function_of_torchs_module_exists_with_its_signature() -> None:
    import inspect

    for name in theirs.__all__:
        ours = getattr(torch_summary, name)
        torch_params = list(inspect.signature(getattr(theirs, name)).parameters)
        assert list(inspect.signature(ours).parameters) == torch_params, name


def test_messages_are_tensorboards_classes_when_loaded() -> None:
    # torch's writer builds Event(summary=...) with tensorboard's class: it must accept ours.
    assert type(torch_summary.scalar("a", 1.0)) is tb_summary_pb2.Summary


def test_tblogs_classes_without_tensorboard_loaded() -> None:
    code = (
        "import sys; from tblog import torch_summary as s; m = s.scalar('a', 2.0); "
        "print(type(m).__module__, m.value[0].simple_value, "
        "'tensorboard' in sys.modules, 'torch' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=60, check=True).stdout.split()
    assert out == ["tblog.proto.summary_pb2", "2.0", "False", "False"]


@pytest.mark.parametrize("value", [1.5, torch.tensor(2.5), np.float64(-3.0), 7])
@pytest.mark.parametrize("new_style", [False, True])
def test_scalar(value: object, new_style: bool) -> None:
    ours = as_tb(torch_summary.scalar("s", value, new_style=new_style)).value[0]
    other = theirs.scalar("s", value, new_style=new_style).value[0]
    assert ours.tag == other.tag == "s"
    if new_style:
        assert tensor_util.make_ndarray(ours.tensor) == tensor_util.make_ndarray(other.tensor)
        assert ours.metadata.plugin_data.plugin_name == "scalars"
    else:
        assert ours.simple_value == other.simple_value


def test_histogram_buckets_equal_torchs() -> None:
    values = torch.randn(5000, generator=torch.Generator().manual_seed(1))
    for bins in ("tensorflow", 30, "auto"):
        torch_bins = bins
        if bins == "tensorflow":
            from tblog.summary.histogram import DEFAULT_EDGES

            torch_bins = DEFAULT_EDGES.tolist()
        ours = as_tb(torch_summary.histogram("h", values, bins)).value[0].histo
        other = theirs.histogram("h", values, torch_bins).value[0].histo
        assert list(ours.bucket) == list(other.bucket)
        assert list(ours.bucket_limit) == pytest.approx(list(other.bucket_limit))
        assert (ours.min, ours.max, ours.num) == (other.min, other.max, other.num)
        assert ours.sum == pytest.approx(other.sum, rel=1e-9)
    raw = dict(min=0.0, max=3.0, num=4, sum=6.0, sum_squares=14.0,
               bucket_limits=[1.0, 2.0, 3.0], bucket_counts=[1, 2, 1])
    assert as_tb(torch_summary.histogram_raw("r", **raw)) == theirs.histogram_raw("r", **raw)
    proto = torch_summary.make_histogram(values, 10)
    assert list(proto.bucket) == list(theirs.make_histogram(values, 10).bucket)


@pytest.mark.parametrize("dataformats, shape", [("NCHW", (3, 3, 8, 10)), ("CHW", (3, 8, 10)),
                                                ("HWC", (8, 10, 3)), ("HW", (8, 10))])
def test_image_pixels_equal_torchs(dataformats: str, shape: tuple[int, ...]) -> None:
    tensor = torch.rand(shape, generator=torch.Generator().manual_seed(2))
    ours = as_tb(torch_summary.image("i", tensor, dataformats=dataformats)).value[0].image
    other = theirs.image("i", tensor, dataformats=dataformats).value[0].image
    assert (ours.height, ours.width) == (other.height, other.width)
    mine, torchs = png_pixels(ours.encoded_image_string), png_pixels(other.encoded_image_string)
    assert np.array_equal(mine, torchs)


def test_image_rescale_and_boxes_match_torchs_geometry() -> None:
    tensor = torch.rand(3, 16, 20)
    ours = as_tb(torch_summary.image("i", tensor, rescale=2, dataformats="CHW")).value[0].image
    other = theirs.image("i", tensor, rescale=2, dataformats="CHW").value[0].image
    # The PNG is resized in both; torch's header keeps the old size, ours says the new one.
    assert png_pixels(ours.encoded_image_string).shape[:2] == (32, 40)
    assert png_pixels(other.encoded_image_string).shape[:2] == (32, 40)
    assert (ours.height, ours.width) == (32, 40)
    boxes = torch.tensor([[1.0, 1.0, 10.0, 12.0]])
    ours = as_tb(torch_summary.image_boxes("b", tensor, boxes, labels=["cat"])).value[0].image
    assert png_pixels(ours.encoded_image_string)[1, 5, :3].tolist() == [255, 0, 0]  # red edge
    assert torch_summary.make_image(np.zeros((4, 5, 3), np.uint8)).width == 5


def test_audio_samples_equal_torchs() -> None:
    samples = torch.sin(torch.linspace(0, 100, 8000))
    ours = as_tb(torch_summary.audio("a", samples, sample_rate=8000)).value[0].audio
    other = theirs.audio("a", samples, sample_rate=8000).value[0].audio
    assert (ours.sample_rate, ours.num_channels, ours.length_frames) == (
        other.sample_rate, other.num_channels, other.length_frames)

    def frames(data: bytes) -> bytes:
        with wave.open(io.BytesIO(data)) as clip:
            return clip.readframes(clip.getnframes())

    assert frames(ours.encoded_audio_string) == frames(other.encoded_audio_string)


def test_text_custom_scalars_tensor_equal_torchs_bytes() -> None:
    assert as_tb(torch_summary.text("t", "**hi**")) == theirs.text("t", "**hi**")
    layout = {"Losses": {"both": ["Multiline", ["loss/a", "loss/b"]]}}
    assert as_tb(torch_summary.custom_scalars(layout)) == theirs.custom_scalars(layout)
    array = np.arange(6, dtype=np.float32).reshape(2, 3)
    ours = as_tb(torch_summary.tensor_proto("x", array)).value[0].tensor
    other = theirs.tensor_proto("x", torch.from_numpy(array)).value[0].tensor
    assert np.array_equal(tensor_util.make_ndarray(ours), tensor_util.make_ndarray(other))


def test_pr_curves_equal_torchs() -> None:
    rng = np.random.default_rng(4)
    labels, predictions = rng.random(1000) < 0.4, rng.random(1000)
    ours = as_tb(torch_summary.pr_curve("p", labels, predictions)).value[0]
    other = theirs.pr_curve("p", labels, predictions).value[0]
    assert np.array_equal(tensor_util.make_ndarray(ours.tensor),
                          tensor_util.make_ndarray(other.tensor))
    assert ours.metadata == other.metadata
    rows = [np.arange(1.0, 6.0) * (i + 1) for i in range(6)]
    assert np.array_equal(
        tensor_util.make_ndarray(as_tb(torch_summary.pr_curve_raw("r", *rows, 5)).value[0].tensor),
        tensor_util.make_ndarray(theirs.pr_curve_raw("r", *rows, 5).value[0].tensor),
    )
    assert np.allclose(torch_summary.compute_curve(labels, predictions, 50),
                       theirs.compute_curve(labels, predictions, 50))


def test_mesh_equals_torchs() -> None:
    vertices = torch.rand(1, 4, 3)
    faces = torch.tensor([[[0, 1, 2], [1, 2, 3]]])
    ours = as_tb(torch_summary.mesh("m", vertices, None, faces, {"a": 1}, "Mesh", "desc"))
    other = theirs.mesh("m", vertices, None, faces, {"a": 1}, "Mesh", "desc")
    assert [v.tag for v in ours.value] == [v.tag for v in other.value]
    for mine, torchs in zip(ours.value, other.value, strict=True):
        assert mine.metadata.display_name == torchs.metadata.display_name == "Mesh"
        assert np.array_equal(tensor_util.make_ndarray(mine.tensor),
                              tensor_util.make_ndarray(torchs.tensor))


def _session(summary: tb_summary_pb2.Summary) -> plugin_data_pb2.HParamsPluginData:
    content = summary.value[0].metadata.plugin_data.content
    return plugin_data_pb2.HParamsPluginData.FromString(content)


def test_hparams_session_data_equals_torchs() -> None:
    hp = {"lr": 0.1, "opt": "adam", "bn": True, "layers": 3}
    metrics = {"acc": 0.9}
    ours = [as_tb(s) for s in torch_summary.hparams(hp, metrics, {"opt": ["adam", "sgd"]})]
    other = theirs.hparams(hp, metrics, {"opt": ["adam", "sgd"]})
    for mine, torchs in zip(ours, other, strict=True):
        assert mine.value[0].tag == torchs.value[0].tag
    mine_values = dict(_session(ours[1]).session_start_info.hparams)
    torch_values = dict(_session(other[1]).session_start_info.hparams)
    # Deliberate difference: a bool is a BOOL column in tblog, the number 1 in torch.
    assert mine_values.pop("bn").bool_value is True and torch_values.pop("bn").number_value == 1
    assert mine_values == torch_values
    mine_exp, torch_exp = _session(ours[0]).experiment, _session(other[0]).experiment
    assert {i.name for i in mine_exp.hparam_infos} == {i.name for i in torch_exp.hparam_infos}
    assert {(i.name, i.type) for i in mine_exp.hparam_infos if i.name != "bn"} == {
        (i.name, i.type) for i in torch_exp.hparam_infos if i.name != "bn"}
    assert [m.name.tag for m in mine_exp.metric_infos] == ["acc"]
    assert _session(ours[2]).session_end_info.status == _session(other[2]).session_end_info.status


def test_lightning_style_hparams_through_both_writers(logdir: Path) -> None:
    """What Lightning's TensorBoardLogger does: build with the summary function,
    write with the file writer's add_summary; tblog's and torch's writers take it."""
    from torch.utils.tensorboard import SummaryWriter as TorchWriter

    exp, ssi, sei = torch_summary.hparams({"lr": 0.01}, {"val/loss": 0.5})
    for name, writer in (("tblog", SummaryWriter(logdir / "tblog")),
                         ("torch", TorchWriter(logdir / "torch"))):
        file_writer = writer._get_file_writer()
        for summary in (exp, ssi, sei):
            file_writer.add_summary(summary)
        writer.add_scalar("val/loss", 0.5, 1)
        writer.close()
        acc = accumulate(logdir / name)
        plugin = acc.PluginTagToContent("hparams")
        assert set(plugin) == {"_hparams_/experiment", "_hparams_/session_start_info",
                               "_hparams_/session_end_info"}, name


def test_tensorboard_summary_accepted_by_tblog_file_writer(logdir: Path) -> None:
    writer = SummaryWriter(logdir)
    writer.file_writer.add_summary(theirs.scalar("x", 3.0), 4)
    writer.close()
    assert scalars_from_accumulator(accumulate(logdir), "x") == [(4, 3.0)]
