"""PR curves, text, custom scalars, meshes, tensors: bytes, values and bad inputs.

Hand-encoded bytes are compared with what the generated messages (ours and
torch's) serialize to; values are read back with TensorBoard's loaders. What
the TensorBoard server shows is in test_tensor_kinds_tensorboard.py.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from tbutil import accumulate, load_run_events
from tensorboard.compat.proto import tensor_pb2 as tb_tensor_pb2
from tensorboard.plugins.custom_scalar import layout_pb2 as tb_layout_pb2
from tensorboard.util import tensor_util

from tblog import SummaryWriter, _wire
from tblog.proto import event_pb2, layout_pb2, summary_pb2, tensor_pb2
from tblog.summary import custom_scalars as CS
from tblog.summary import histogram as H
from tblog.summary import mesh as M
from tblog.summary import pr_curve as P
from tblog.summary import tensor as T
from tblog.summary import text as X

torch = pytest.importorskip("torch")
torch_summary = pytest.importorskip("torch.utils.tensorboard.summary")


def parse(summary: bytes) -> summary_pb2.Summary:
    """tblog's builders return serialized Summaries."""
    return summary_pb2.Summary.FromString(summary)


def ndarray(tensor: object) -> np.ndarray:
    """A TensorProto (any package's) as numpy, via TensorBoard's own decoder."""
    proto = tb_tensor_pb2.TensorProto.FromString(tensor.SerializeToString())
    return tensor_util.make_ndarray(proto)


def summaries(logdir: Path) -> list[event_pb2.Event]:
    return [e for e in load_run_events(logdir, migrate=False) if e.HasField("summary")]


# -- the event wrapper ----------------------------------------------------------------


@pytest.mark.parametrize("step", [0, 1, 127, 128, 2**40, -1, -(2**63)])
@pytest.mark.parametrize("wall_time", [0.0, -0.0, 1.7e9, 1e-300])
def test_event_bytes_equal_generated(step: int, wall_time: float) -> None:
    summary = summary_pb2.Summary.FromString(X.summary("t", "x"))
    expected = event_pb2.Event(wall_time=wall_time, step=step, summary=summary)
    ours = _wire.summary_event(wall_time, step, summary.SerializeToString())
    assert ours == expected.SerializeToString()


# -- text -----------------------------------------------------------------------------


@pytest.mark.parametrize("text", ["hello", "", "é ☃ " * 100, "x" * 300, "y" * 117, "z" * 118])
@pytest.mark.parametrize("tag", ["t", "", "a/b c"])
def test_text_bytes_equal_torchs(tag: str, text: str) -> None:
    ours = X.TextEncoder().summary_bytes(tag, text)
    assert ours == torch_summary.text(tag, text).SerializeToString()


@pytest.mark.parametrize("step", [0, 1, 16383, 16384, 2**62])
@pytest.mark.parametrize("size", [0, 5, 117, 118, 119, 120, 16300, 16400])
def test_text_event_equals_generated(step: int, size: int) -> None:
    text = ("ab é " * size)[:size]
    tag = "t" * (size % 200)
    summary = summary_pb2.Summary.FromString(torch_summary.text(tag, text).SerializeToString())
    expected = event_pb2.Event(wall_time=1.7e9 + 0.25, step=step, summary=summary)
    ours = _wire.summary_event(1.7e9 + 0.25, step, X.TextEncoder().summary_bytes(tag, text))
    assert ours == expected.SerializeToString()


def test_text_table_bytes_equal_generated() -> None:
    cells = [["a", "b", "c"], ["d", "é", ""]]
    expected = summary_pb2.Summary(value=[summary_pb2.Summary.Value(
        tag="t/text_summary",
        metadata=X.metadata(),
        tensor=tensor_pb2.TensorProto(
            dtype=T.DT_STRING,
            tensor_shape={"dim": [{"size": 2}, {"size": 3}]},
            string_val=[c.encode() for row in cells for c in row],
        ),
    )])
    assert X.TextEncoder().summary_bytes("t", cells) == expected.SerializeToString()
    assert X.TextEncoder().summary_bytes("t", np.array(cells)) == expected.SerializeToString()
    one_d = summary_pb2.Summary.FromString(X.summary("t", ["a", "b"])).value[0].tensor
    assert ndarray(one_d).tolist() == [b"a", b"b"]


@pytest.mark.parametrize(
    ("tag", "text", "error", "message"),
    [
        (3, "x", TypeError, r"add_text\(tag=3\): tag must be a str, got int"),
        ("t", 3, TypeError, r"add_text\(tag='t'\): text_string must be a str or a 1-D/2-D list"),
        ("t", [["a"], ["b", "c"]], ValueError, r"text_string must be a str, or a non-empty 1-D "
         r"list or rectangular 2-D list of str \(a table\); got 1-D ragged"),
        ("t", [[["a"]]], ValueError, "got 3-D data"),
        ("t", [], ValueError, r"got 1-D data of shape \(0,\)"),
        ("t", ["a", 1], TypeError, "table cells must be str, got int"),
        ("t", np.arange(3), TypeError, "text_string must hold strings, got an array of dtype"),
        ("t", "bad \ud800", ValueError, r"text_string 'bad \\ud800' is not valid Unicode"),
        ("bad \udc80", "x", ValueError, r"tag 'bad \\udc80' is not valid Unicode"),
    ],
)
def test_text_bad_input(logdir: Path, tag: object, text: object, error: type, message: str) -> None:
    writer = SummaryWriter(logdir)
    with pytest.raises(error, match=message):
        writer.add_text(tag, text, 0)
    writer.close()
    assert summaries(logdir) == []


# -- PR curves ------------------------------------------------------------------------


@pytest.mark.parametrize("num_thresholds", [2, 10, 127])
@pytest.mark.parametrize("weighted", [False, True])
def test_pr_curve_equals_torchs(num_thresholds: int, weighted: bool) -> None:
    rng = np.random.default_rng(3)
    labels = rng.random(70_000) < 0.3
    predictions = rng.random(70_000).astype(np.float32)
    predictions[:3] = [0.0, 1.0, 0.5]
    weights = rng.random(70_000) if weighted else None
    theirs = torch_summary.pr_curve("p", labels, predictions, num_thresholds, weights)
    ours = parse(P.summary("p", P.compute_curve(labels, predictions, num_thresholds, weights)))
    assert ndarray(ours.value[0].tensor).tolist() == ndarray(theirs.value[0].tensor).tolist()
    assert ours.value[0].tensor.dtype == theirs.value[0].tensor.dtype == T.DT_FLOAT
    assert ours.value[0].metadata == summary_pb2.SummaryMetadata.FromString(
        theirs.value[0].metadata.SerializeToString()
    )


def test_pr_curve_above_127_thresholds_is_honoured() -> None:
    # Deliberate difference: torch lowers num_thresholds to 127.
    data = P.compute_curve(np.array([1, 0, 1]), np.array([0.9, 0.2, 0.6]), 200)
    assert data.shape == (6, 200)
    value = parse(P.summary("p", P.compute_curve(np.array([1, 0]), np.array([0.9, 0.2]), 200)))
    value = value.value[0]
    assert ndarray(value.tensor).shape == (6, 200)
    assert b"\x10\xc8\x01" in value.metadata.plugin_data.content  # num_thresholds = 200


def test_pr_curve_raw_equals_torchs() -> None:
    rows = [np.arange(5, dtype=np.float64) * (i + 1) for i in range(6)]
    theirs = torch_summary.pr_curve_raw("r", *rows, num_thresholds=5)
    ours = parse(P.summary("r", P.raw_data(*rows))).value[0]
    assert ndarray(ours.tensor).tolist() == ndarray(theirs.value[0].tensor).tolist()
    assert ours.metadata.SerializeToString() == theirs.value[0].metadata.SerializeToString()


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"labels": [1, 0, 1], "predictions": [0.1, 0.2]}, ValueError,
         r"labels and predictions must have the same number of elements, got 3 labels \(3,\) "
         r"and 2 predictions \(2,\)"),
        ({"predictions": [0.1, 1.5]}, ValueError,
         r"predictions must lie in \[0, 1\]; 1 of 2 \(e\.g\. 1\.5\) do not"),
        ({"predictions": [0.1, float("nan")]}, ValueError, r"predictions must lie in \[0, 1\]"),
        ({"predictions": [-0.1, 0.5]}, ValueError, r"predictions must lie in \[0, 1\]"),
        ({"labels": [2, 0]}, ValueError, r"labels must lie in \[0, 1\]; 1 of 2"),
        ({"num_thresholds": 1}, ValueError, "num_thresholds must be at least 2, got 1"),
        ({"num_thresholds": 2.5}, TypeError, "num_thresholds must be an int, got float"),
        ({"weights": [1.0, 2.0, 3.0]}, ValueError,
         "weights must be one number or one per prediction, got 3 for 2 predictions"),
        ({"labels": [], "predictions": []}, ValueError, "labels and predictions are empty"),
        ({"labels": ["a", "b"]}, TypeError, "labels must be numbers or bools"),
    ],
)
def test_pr_curve_bad_input(logdir: Path, kwargs: dict, error: type, message: str) -> None:
    args = {"labels": [1, 0], "predictions": [0.7, 0.2], **kwargs}
    writer = SummaryWriter(logdir)
    with pytest.raises(error, match=r"add_pr_curve\(tag='pr'\): " + message):
        writer.add_pr_curve("pr", global_step=0, **args)
    writer.close()
    assert summaries(logdir) == []


def test_pr_curve_raw_bad_input(logdir: Path) -> None:
    writer = SummaryWriter(logdir)
    rows = [np.arange(4)] * 5
    with pytest.raises(ValueError, match=r"add_pr_curve_raw\(tag='r'\): the six arrays must "
                       r"have one length, got .*'recall': 3"):
        writer.add_pr_curve_raw("r", *rows, np.arange(3), 0)
    with pytest.raises(ValueError, match="precision must be 1-D, got shape"):
        writer.add_pr_curve_raw("r", *rows[:4], np.ones((2, 2)), np.arange(4), 0)
    with pytest.raises(ValueError, match="the six arrays are empty"):
        writer.add_pr_curve_raw("r", *[[]] * 6, 0)
    with pytest.raises(ValueError, match="num_thresholds must be at least 2"):
        writer.add_pr_curve_raw("r", *[np.arange(4)] * 6, 0, num_thresholds=0)
    writer.close()
    assert summaries(logdir) == []


# -- custom scalars -------------------------------------------------------------------

LAYOUT = {
    "Taiwan": {"twse": ["Multiline", ["twse/0050", "twse/2330"]]},
    "USA": {
        "dow": ["Margin", ["dow/aaa", "dow/bbb", "dow/ccc"]],
        "nasdaq": ["Margin", ["nasdaq/aaa", "nasdaq/bbb", "nasdaq/ccc"]],
    },
}


def test_custom_scalars_bytes_equal_torchs() -> None:
    assert CS.summary(CS.layout_proto(LAYOUT)) == (
        torch_summary.custom_scalars(LAYOUT).SerializeToString()
    )


def test_custom_scalars_calls_accumulate(logdir: Path) -> None:
    writer = SummaryWriter(logdir)
    writer.add_custom_scalars_multilinechart(["a", "b"], title="ab")
    writer.add_custom_scalars_marginchart(["v", "lo", "hi"], category="m", title="margin")
    writer.add_custom_scalars_multilinechart(["c"], title="ab")  # replaces chart "ab"
    writer.close()
    events = summaries(logdir)
    assert [e.step for e in events] == [0, 0, 0]
    last = events[-1].summary.value[0]
    assert last.tag == "custom_scalars__config__"
    layout = tb_layout_pb2.Layout.FromString(ndarray(last.tensor).item())
    assert [(c.title, [ch.title for ch in c.chart]) for c in layout.category] == [
        ("default", ["ab"]), ("m", ["margin"])
    ]
    assert list(layout.category[0].chart[0].multiline.tag) == ["c"]
    series = layout.category[1].chart[0].margin.series[0]
    assert (series.value, series.lower, series.upper) == ("v", "lo", "hi")


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (lambda w: w.add_custom_scalars_marginchart(["a", "b"]), ValueError,
         r"chart 'untitled': a Margin chart needs exactly 3 tags \(value, lower, upper\), "
         r"got 2: \['a', 'b'\]"),
        (lambda w: w.add_custom_scalars({"c": {"x": ["Margin", ["a"] * 4]}}), ValueError,
         "chart 'x': a Margin chart needs exactly 3 tags"),
        (lambda w: w.add_custom_scalars({"c": {"x": ["Pie", ["a"]]}}), ValueError,
         r"chart kind must be one of \('Multiline', 'Margin'\), got 'Pie'"),
        (lambda w: w.add_custom_scalars(["a"]), TypeError, "layout must be a dict"),
        (lambda w: w.add_custom_scalars({"c": ["a"]}), TypeError,
         r"layout\['c'\] must map a str category to a dict of charts"),
        (lambda w: w.add_custom_scalars({"c": {"x": "Multiline"}}), TypeError,
         r"layout\['c'\]\['x'\] must be \[kind, tags\]"),
        (lambda w: w.add_custom_scalars_multilinechart("loss"), TypeError,
         "tags must be a list of str, got str"),
        (lambda w: w.add_custom_scalars_multilinechart(["a", 1]), TypeError,
         "tags must be str, got 1"),
    ],
)
def test_custom_scalars_bad_input(logdir: Path, call: object, error: type, message: str) -> None:
    writer = SummaryWriter(logdir)
    with pytest.raises(error, match=message):
        call(writer)
    writer.close()
    assert summaries(logdir) == []


def test_layout_merge_keeps_earlier_categories() -> None:
    merged = layout_pb2.Layout()
    CS.merge(merged, CS.layout_proto({"a": {"x": ["Multiline", ["1"]]}}))
    CS.merge(merged, CS.layout_proto({"b": {"y": ["Multiline", ["2"]]},
                                      "a": {"z": ["Multiline", ["3"]]}}))
    assert [(c.title, [ch.title for ch in c.chart]) for c in merged.category] == [
        ("a", ["x", "z"]), ("b", ["y"])
    ]


# -- meshes ---------------------------------------------------------------------------


def mesh_inputs() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    vertices = np.array([[[1, 1, 1], [-1, -1, 1], [1, -1, -1], [-1, 1, -1]]], np.float32)
    colors = np.array([[[255, 0, 0], [0, 255, 0], [0, 0, 255], [255, 0, 255]]], np.int32)
    faces = np.array([[[0, 2, 3], [0, 3, 1], [0, 1, 2], [1, 3, 2]]], np.int32)
    return vertices, colors, faces


@pytest.mark.parametrize("parts", ["v", "vc", "vf", "vcf"])
@pytest.mark.parametrize("config", [None, {"camera": {"cls": "PerspectiveCamera", "fov": 75}}])
def test_mesh_equals_torchs(parts: str, config: dict | None) -> None:
    vertices, colors, faces = mesh_inputs()
    colors = colors if "c" in parts else None
    faces = faces if "f" in parts else None
    theirs = torch_summary.mesh("m", torch.from_numpy(vertices),
                                None if colors is None else torch.from_numpy(colors),
                                None if faces is None else torch.from_numpy(faces), config)
    ours = parse(M.summary("m", vertices, colors, faces, config))
    assert [v.tag for v in ours.value] == [v.tag for v in theirs.value]
    for mine, other in zip(ours.value, theirs.value, strict=True):
        assert mine.metadata.SerializeToString() == other.metadata.SerializeToString()
        assert ndarray(mine.tensor).tolist() == ndarray(other.tensor).tolist()
        assert ndarray(mine.tensor).dtype == np.float32


@pytest.mark.parametrize(
    ("change", "error", "message"),
    [
        ({"vertices": np.zeros((4, 3))}, ValueError,
         r"vertices must have shape \(B, N, 3\) \(batch, points, xyz\), got \(4, 3\)"),
        ({"vertices": np.zeros((1, 4, 2))}, ValueError, r"vertices must have shape \(B, N, 3\)"),
        ({"colors": np.zeros((1, 3, 3))}, ValueError,
         r"colors must have one color per vertex: shape \(1, 4, 3\), got \(1, 3, 3\)"),
        ({"faces": np.zeros((2, 4, 3))}, ValueError,
         "faces has batch size 2 but vertices has 1"),
        ({"faces": np.zeros((1, 4))}, ValueError, r"faces must have shape \(B, N, 3\)"),
        ({"vertices": np.full((1, 4, 3), np.nan)}, ValueError,
         "vertices must be finite; found NaN or infinity"),
        ({"config_dict": {"f": object()}}, TypeError, "config_dict must be JSON-serializable"),
        ({"config_dict": [1]}, TypeError, "config_dict must be a dict or None, got list"),
        ({"colors": np.array([[["r", "g", "b"]] * 4])}, TypeError,
         "colors must be numbers, got dtype"),
    ],
)
def test_mesh_bad_input(logdir: Path, change: dict, error: type, message: str) -> None:
    vertices, colors, faces = mesh_inputs()
    args = {"vertices": vertices, "colors": colors, "faces": faces, **change}
    writer = SummaryWriter(logdir)
    with pytest.raises(error, match=r"add_mesh\(tag='m'\): " + message):
        writer.add_mesh("m", global_step=0, **args)
    writer.close()
    assert summaries(logdir) == []


# -- tensors --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [
        np.arange(6, dtype=np.float32).reshape(2, 3),
        np.arange(5, dtype=np.int64),
        np.array(3.5),
        np.array([[True, False]]),
        np.array([1 + 2j, 3 - 4j], np.complex64),
        np.arange(4, dtype=np.uint8),
        np.arange(4, dtype=">f8"),  # big-endian input is stored little-endian
        np.zeros((0, 3), np.float16),
    ],
    ids=["f32", "i64", "rank0", "bool", "c64", "u8", "big-endian", "empty-f16"],
)
def test_tensor_round_trip(value: np.ndarray) -> None:
    proto = parse(T.summary("t", value)).value[0]
    assert proto.metadata.plugin_data.plugin_name == "tensor"
    assert proto.metadata.data_class == summary_pb2.DATA_CLASS_TENSOR
    back = ndarray(proto.tensor)
    assert back.shape == value.shape and back.dtype == value.dtype.newbyteorder("=")
    assert back.tolist() == value.tolist()


def test_tensor_values_equal_torchs() -> None:
    for value in (torch.arange(6, dtype=torch.float32).reshape(3, 2),
                  torch.tensor([1, -2, 3], dtype=torch.int32), torch.tensor([True, False])):
        theirs = ndarray(torch_summary.tensor_proto("t", value).value[0].tensor)
        ours = ndarray(parse(T.summary("t", value.numpy())).value[0].tensor)
        assert ours.dtype == theirs.dtype and ours.tolist() == theirs.tolist()


def test_tensor_encoding_equals_generated() -> None:
    value = np.arange(6, dtype=np.float64).reshape(3, 2)
    expected = summary_pb2.Summary(value=[summary_pb2.Summary.Value(
        tag="t",
        metadata=summary_pb2.SummaryMetadata(
            plugin_data=summary_pb2.SummaryMetadata.PluginData(plugin_name="tensor"),
            data_class=summary_pb2.DATA_CLASS_TENSOR,
        ),
        tensor=tensor_pb2.TensorProto(
            dtype=T.DT_DOUBLE, tensor_shape={"dim": [{"size": 3}, {"size": 2}]},
            tensor_content=value.tobytes(),
        ),
    )])
    assert T.summary("t", value) == expected.SerializeToString()


def test_tensor_bad_input(logdir: Path) -> None:
    writer = SummaryWriter(logdir)
    with pytest.raises(TypeError, match=r"add_tensor\(tag='s'\): tensor has dtype <U1, which "
                       r"TensorBoard cannot store; use a numeric or bool array \(for text, use "
                       r"add_text\)"):
        writer.add_tensor("s", np.array(["a"]), 0)
    huge = np.broadcast_to(np.zeros(1, np.float64), (1 << 28,))  # 2 GiB, no memory
    with pytest.raises(ValueError, match="protocol buffers cannot hold 2 GiB or more"):
        writer.add_tensor("big", huge, 0)
    writer.close()
    assert summaries(logdir) == []


def test_tensor_read_by_python_accumulator(logdir: Path) -> None:
    with SummaryWriter(logdir) as writer:
        writer.add_tensor("weights", torch.arange(12.0).reshape(3, 4), 5)
    (event,) = accumulate(logdir).Tensors("weights")
    assert event.step == 5
    assert tensor_util.make_ndarray(event.tensor_proto).tolist() == (
        np.arange(12.0).reshape(3, 4).tolist()
    )


# -- histograms, through the writer ---------------------------------------------------


def test_histogram_bytes_equal_torchs_for_integer_values() -> None:
    # Integer values make every sum exact, so even the bytes agree.
    from torch.utils.tensorboard import SummaryWriter as TorchWriter  # noqa: F401

    values = np.random.default_rng(5).integers(-50, 50, 1000)
    theirs = torch_summary.histogram("h", values, H.DEFAULT_EDGES.tolist())
    ours = H.summary("h", H.histogram_proto_bytes(values))
    assert ours == theirs.SerializeToString()


def test_writer_methods_keep_torchs_positional_order(logdir: Path) -> None:
    with SummaryWriter(logdir) as writer:
        writer.add_histogram("h", np.arange(10.0), 3, 6, 1234.5, 2)
        writer.add_histogram_raw("r", 0, 2, 2, 2, 2, [1.0, 2.0], [1, 1], 4, 1234.5)
        writer.add_pr_curve("p", [1, 0], [0.9, 0.1], 5, 9, None, 1234.5)
        writer.add_pr_curve_raw("q", *[[1, 2]] * 6, 6, 2, None, 1234.5)
        writer.add_text("t", "x", 7, 1234.5)
        writer.add_mesh("m", np.zeros((1, 3, 3)), None, None, None, 8, 1234.5)
        writer.add_tensor("n", np.ones(2), 9, 1234.5)
    events = summaries(logdir)
    assert [(e.step, e.wall_time) for e in events] == [(s, 1234.5) for s in range(3, 10)]
    histo = events[0].summary.value[0].histo
    theirs = torch_summary.histogram("h", np.arange(10.0), 6, 2).value[0].histo  # bins, max_bins
    assert list(histo.bucket) == list(theirs.bucket) == [0, 5, 5]
    assert ndarray(events[2].summary.value[0].tensor).shape == (6, 9)
