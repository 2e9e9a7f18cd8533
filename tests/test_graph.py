"""add_graph / add_onnx_graph, judged by stock TensorBoard's graphs plugin.

One logdir holds one run per model (a small CNN, a model taking a dict, a
model with nested and shared submodules and a dict output, and an ONNX model
when ``onnx`` is installed); one TensorBoard per loader serves it.
"""

from __future__ import annotations

import importlib.util
import io
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest
import tbutil
from google.protobuf import text_format
from tensorboard.compat.proto import config_pb2, graph_pb2

from tblog import SummaryWriter

torch = pytest.importorskip("torch")
nn = torch.nn

HAS_ONNX = importlib.util.find_spec("onnx") is not None
ONNX_SKIP = "onnx is not installed (pip install onnx): add_onnx_graph untested"


class SmallCNN(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 4, 3)
        self.bn = nn.BatchNorm2d(4)
        self.fc = nn.Linear(4 * 6 * 6, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(torch.relu(self.bn(self.conv1(x))).flatten(1))


class DictInput(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.image = nn.Linear(8, 4)
        self.meta = nn.Linear(2, 4)

    def forward(self, image: torch.Tensor, meta: torch.Tensor) -> torch.Tensor:
        return self.image(image) + self.meta(meta)


class Block(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.inner = nn.Sequential(nn.Linear(4, 4), nn.Tanh())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.inner(x) + x


class Nested(nn.Module):
    """Nested submodules, a shared module, a buffer, and a dict with mixed outputs."""

    def __init__(self) -> None:
        super().__init__()
        self.encoder = nn.Sequential(Block(), Block())
        self.heads = nn.ModuleDict({"cls": nn.Linear(4, 3), "reg": nn.Linear(4, 1)})
        self.tied = self.heads["reg"]
        self.register_buffer("scale", torch.tensor(2.0))

    def forward(self, x: torch.Tensor) -> dict:
        h = self.encoder(x) * self.scale
        logits = self.heads["cls"](h)
        return {"logits": logits, "top": logits.max(dim=1), "value": self.tied(h), "n": 3}


def _onnx_model() -> object:
    from onnx import TensorProto, helper

    weight = helper.make_tensor("fc.weight", TensorProto.FLOAT, [4, 3], [0.5] * 12)
    nodes = [
        helper.make_node("MatMul", ["x", "fc.weight"], ["h"], name="/fc/MatMul"),
        helper.make_node("Relu", ["h"], ["y"], name="/act/Relu"),
        helper.make_node("Transpose", ["y"], ["z"], name="/Transpose", perm=[1, 0]),
    ]
    graph = helper.make_graph(
        nodes,
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 4])],
        [helper.make_tensor_value_info("z", TensorProto.FLOAT, [3, 2])],
        initializer=[weight],
    )
    return helper.make_model(graph, producer_name="tblog-test")


@pytest.fixture(scope="module")
def graph_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("logs_graph")
    torch.manual_seed(0)
    with SummaryWriter(root / "cnn") as writer:
        writer.add_graph(SmallCNN(), torch.randn(2, 3, 8, 8))
    with SummaryWriter(root / "dict_input") as writer:
        writer.add_graph(DictInput(), {"image": torch.randn(2, 8), "meta": torch.randn(2, 2)})
    with SummaryWriter(root / "nested") as writer:
        writer.add_graph(Nested(), (torch.randn(5, 4),), use_strict_trace=True)
    if HAS_ONNX:
        with SummaryWriter(root / "onnx") as writer:
            writer.add_onnx_graph(_onnx_model().SerializeToString())
        exported = _torch_onnx_export(SmallCNN().eval(), torch.randn(2, 3, 8, 8))
        if exported is not None:
            with SummaryWriter(root / "onnx_torch") as writer:
                writer.add_onnx_graph(exported)
    return root


def _torch_onnx_export(model: nn.Module, image: torch.Tensor) -> bytes | None:
    """``model`` exported by torch's TorchScript-based exporter (the new one
    needs onnxscript), or None where this torch has no such exporter."""
    buffer = io.BytesIO()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "legacy TorchScript-based ONNX export"
            torch.onnx.export(model, (image,), buffer, dynamo=False,
                              input_names=["image"], output_names=["logits"])
    except (TypeError, RuntimeError, ImportError):
        return None
    return buffer.getvalue()


@pytest.fixture(scope="module", params=[True, False], ids=["rust", "python"])
def server(
    request: pytest.FixtureRequest, graph_root: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tbutil.TensorBoardServer]:
    workdir = tmp_path_factory.mktemp("tbserver_graph")
    with tbutil.tensorboard_server(graph_root, request.param, workdir=workdir) as tb:
        yield tb


def served_graph(server: tbutil.TensorBoardServer, run: str) -> graph_pb2.GraphDef:
    server.wait_for(
        lambda: server.get_json("/data/plugin/graphs/info").get(run, {}).get("run_graph")
    )
    text = server.get_bytes("/data/plugin/graphs/graph", run=run).decode()
    return text_format.Parse(text, graph_pb2.GraphDef())


def by_name(graph: graph_pb2.GraphDef) -> dict[str, object]:
    return {node.name: node for node in graph.node}


def shapes(node: object) -> list[list[int]]:
    return [[d.size for d in s.dim] for s in node.attr["_output_shapes"].list.shape]


def test_cnn_graph_names_edges_shapes(server: tbutil.TensorBoardServer) -> None:
    nodes = by_name(served_graph(server, "cnn"))
    conv = nodes["SmallCNN/Conv2d[conv1]/_convolution"]
    assert conv.op == "aten::_convolution"
    assert list(conv.input)[:3] == [
        "input/x",
        "SmallCNN/Conv2d[conv1]/weight",
        "SmallCNN/Conv2d[conv1]/bias",
    ]
    assert shapes(conv) == [[2, 4, 6, 6]]
    assert conv.attr["dtype"].type == 1  # DT_FLOAT
    assert conv.device == "/device:CPU:0"
    weight = nodes["SmallCNN/Conv2d[conv1]/weight"]
    assert weight.op == "Parameter" and shapes(weight) == [[4, 3, 3, 3]]
    assert nodes["SmallCNN/BatchNorm2d[bn]/running_mean"].op == "Buffer"
    assert nodes["SmallCNN/BatchNorm2d[bn]/batch_norm"].input[0] == conv.name
    assert shapes(nodes["input/x"]) == [[2, 3, 8, 8]]
    out = nodes["output/output"]
    assert out.op == "IO Node" and list(out.input) == ["SmallCNN/Linear[fc]/linear"]
    assert shapes(out) == [[2, 10]]
    every_input = {i.partition(":")[0] for n in nodes.values() for i in n.input}
    assert every_input <= set(nodes), "an edge points at a node that is not in the graph"


def test_run_metadata_tag(server: tbutil.TensorBoardServer) -> None:
    info = server.wait_for(lambda: server.get_json("/data/plugin/graphs/info").get("cnn"))
    assert info["tags"]["step1"]["profile"] is True
    text = server.get_bytes("/data/plugin/graphs/run_metadata", run="cnn", tag="step1").decode()
    metadata = text_format.Parse(text, config_pb2.RunMetadata())
    assert [d.device for d in metadata.step_stats.dev_stats] == ["/device:CPU:0"]


def test_dict_input_graph(server: tbutil.TensorBoardServer) -> None:
    nodes = by_name(served_graph(server, "dict_input"))
    assert shapes(nodes["input/image"]) == [[2, 8]] and shapes(nodes["input/meta"]) == [[2, 2]]
    assert nodes["DictInput/Linear[image]/linear"].input[0] == "input/image"
    assert nodes["DictInput/Linear[meta]/linear"].input[0] == "input/meta"


def test_nested_submodules_and_dict_output(server: tbutil.TensorBoardServer) -> None:
    nodes = by_name(served_graph(server, "nested"))
    names = set(nodes)
    for expected in [
        "Nested/Sequential[encoder]/Block[0]/Sequential[inner]/Linear[0]/linear",
        "Nested/Sequential[encoder]/Block[1]/Sequential[inner]/Tanh[1]/tanh",
        "Nested/ModuleDict[heads]/Linear[cls]/weight",
        "Nested/scale",
    ]:
        assert expected in names, sorted(names)
    assert nodes["Nested/scale"].op == "Buffer"
    # The shared head's parameters are one node each, under their first name.
    tied_call = nodes["Nested/Linear[tied]/linear"]
    assert list(tied_call.input)[1:] == [
        "Nested/ModuleDict[heads]/Linear[reg]/weight",
        "Nested/ModuleDict[heads]/Linear[reg]/bias",
    ]
    assert not any(name.startswith("Nested/Linear[tied]/") and "weight" in name for name in names)
    assert {n for n in names if n.startswith("output/")} == {
        "output/logits",
        "output/top.values",
        "output/top.indices",
        "output/value",
    }
    assert shapes(nodes["output/top.indices"]) == [[5]]
    assert nodes["output/top.indices"].attr["dtype"].type == 9  # DT_INT64
    assert nodes["output/top.indices"].input[0].endswith(":1")  # second output of max


@pytest.mark.skipif(not HAS_ONNX, reason=ONNX_SKIP)
def test_onnx_graph(server: tbutil.TensorBoardServer) -> None:
    nodes = by_name(served_graph(server, "onnx"))
    assert nodes["fc/MatMul"].op == "MatMul"
    assert list(nodes["fc/MatMul"].input) == ["input/x", "fc/fc.weight"]
    assert nodes["fc/fc.weight"].op == "Initializer" and shapes(nodes["fc/fc.weight"]) == [[4, 3]]
    assert shapes(nodes["act/Relu"]) == [[2, 3]]
    assert list(nodes["Transpose"].attr["perm"].list.i) == [1, 0]
    assert list(nodes["output/z"].input) == ["Transpose"]


@pytest.mark.skipif(not HAS_ONNX, reason=ONNX_SKIP)
def test_onnx_graph_exported_by_torch(server: tbutil.TensorBoardServer, graph_root: Path) -> None:
    if not (graph_root / "onnx_torch").exists():
        pytest.skip("this torch cannot export ONNX without onnxscript")
    nodes = by_name(served_graph(server, "onnx_torch"))
    conv = next(node for name, node in nodes.items() if node.op == "Conv")
    assert conv.name.startswith("conv1/")  # grouped by the module scope in ONNX names
    assert conv.input[0] == "input/image" and shapes(conv) == [[2, 4, 6, 6]]
    assert [shapes(nodes[name]) for name in conv.input[1:]] == [[[4, 3, 3, 3]], [[4]]]
    gemm = next(node for node in nodes.values() if node.op == "Gemm")
    assert gemm.name.startswith("fc/") and shapes(gemm) == [[2, 10]]
    assert shapes(nodes["fc/fc.weight"]) == [[10, 144]]
    assert list(nodes["output/logits"].input) == [gemm.name]


def test_same_aten_ops_as_torch(tmp_path: Path) -> None:
    """Every aten op torch's add_graph shows for the CNN, ours shows too (and no others)."""
    from torch.utils.tensorboard import SummaryWriter as TorchWriter

    model, image = SmallCNN(), torch.randn(2, 3, 8, 8)
    for writer_class, run in ((TorchWriter, "torch"), (SummaryWriter, "tblog")):
        writer = writer_class(str(tmp_path / run))
        writer.add_graph(model, image)
        writer.close()
    ops = {}
    for run in ("torch", "tblog"):
        events = tbutil.load_run_events(tmp_path / run, migrate=False)
        graph = graph_pb2.GraphDef.FromString(next(e.graph_def for e in events if e.graph_def))
        ops[run] = sorted(n.op for n in graph.node if n.op.startswith("aten::"))
    assert ops["tblog"] == ops["torch"]


def test_modes_restored_and_grad_untouched(logdir: Path) -> None:
    model = Nested()
    model.train()
    model.heads.eval()  # a mixed state must come back exactly
    with SummaryWriter(logdir) as writer:
        writer.add_graph(model, torch.randn(2, 4))
    assert model.training and model.encoder.training and not model.heads.training
    assert all(p.grad is None for p in model.parameters())


class Broken(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(3, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(x)


def graph_events(run: Path) -> list[object]:
    return [e for e in tbutil.load_run_events(run, migrate=False) if e.graph_def]


def test_trace_failure_is_clear_and_writes_nothing(logdir: Path) -> None:
    from tblog.summary._torch_graph import GraphTraceError

    with SummaryWriter(logdir) as writer:
        with pytest.raises(GraphTraceError, match=r"Broken.*mat1 and mat2"):
            writer.add_graph(Broken(), torch.randn(2, 5))  # wrong width
        with pytest.raises(RuntimeError, match="NoTensors: forward returned no tensors"):
            writer.add_graph(NoTensors(), torch.randn(2))
    assert graph_events(logdir) == []
    assert [e.tagged_run_metadata.tag for e in tbutil.load_run_events(logdir, migrate=False)
            if e.HasField("tagged_run_metadata")] == []  # fmt: skip


class NoTensors(nn.Module):
    def forward(self, x: torch.Tensor) -> int:
        return 3


def test_bad_arguments(logdir: Path) -> None:
    with SummaryWriter(logdir) as writer:
        with pytest.raises(TypeError, match="model must be a torch.nn.Module, got str"):
            writer.add_graph("resnet", torch.randn(1))
        with pytest.raises(TypeError, match=r"does not match DictInput.forward.*meta"):
            writer.add_graph(DictInput(), torch.randn(2, 8))
        with pytest.raises(TypeError, match=r"dict with keys \['nope'\]"):
            writer.add_graph(DictInput(), {"nope": torch.randn(2, 8)})
    assert graph_events(logdir) == []


def test_inputs_positional_list_nested_and_constants(logdir: Path) -> None:
    class Mixed(nn.Module):
        def forward(self, x: torch.Tensor, pair: tuple, mode: str = "sum") -> torch.Tensor:
            total = x + pair[0] * pair[1]["w"]
            return total.sum() if mode == "sum" else total

    with SummaryWriter(logdir) as writer:
        writer.add_graph(Mixed(), [torch.ones(2), (torch.ones(2), {"w": torch.ones(2)}), "keep"])
    (event,) = graph_events(logdir)
    nodes = by_name(graph_pb2.GraphDef.FromString(event.graph_def))
    assert {"input/x", "input/pair.0", "input/pair.1.w"} <= set(nodes)
    assert shapes(nodes["output/output"]) == [[2]]  # mode="keep": no sum


@pytest.mark.skipif(not HAS_ONNX, reason=ONNX_SKIP)
def test_onnx_from_path_and_bad_input(logdir: Path) -> None:
    path = logdir / "model.onnx"
    path.write_bytes(_onnx_model().SerializeToString())
    with SummaryWriter(logdir) as writer:
        writer.add_onnx_graph(path)
        with pytest.raises(ValueError, match="not an ONNX model"):
            writer.add_onnx_graph(b"\xff\xff not onnx")
        with pytest.raises(TypeError, match="path, bytes or onnx.ModelProto"):
            writer.add_onnx_graph(3)
    assert len(graph_events(logdir)) == 1
