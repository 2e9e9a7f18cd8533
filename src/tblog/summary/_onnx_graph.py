"""An ONNX model as a ``GraphDef`` for the graphs dashboard.

* Graph inputs become ``IO Node`` nodes ``input/<name>``, graph outputs
  ``output/<name>``, initializers (weights) ``Initializer`` nodes placed in the
  scope of their first consumer.
* Each ONNX node keeps its name with the leading ``/`` dropped, so the
  ``/conv1/Conv`` names torch's exporter writes become a ``conv1`` group; its
  op is the ONNX op type (``domain::op`` outside the default domain) and its
  ONNX attributes become node attributes.
* ``_output_shapes`` and ``dtype`` come from ONNX shape inference where it
  succeeds (symbolic dimensions are -1).

``onnx`` is imported only here, and only when ``add_onnx_graph`` is called.
"""

from __future__ import annotations

import os
from typing import Any

from tblog.proto import graph_pb2, types_pb2
from tblog.summary.graph import NameTable, clean_name, graph_def, node

_ONNX_TO_DT = {  # TensorProto.DataType -> DataType
    1: types_pb2.DT_FLOAT, 2: types_pb2.DT_UINT8, 3: types_pb2.DT_INT8, 4: types_pb2.DT_UINT16,
    5: types_pb2.DT_INT16, 6: types_pb2.DT_INT32, 7: types_pb2.DT_INT64, 8: types_pb2.DT_STRING,
    9: types_pb2.DT_BOOL, 10: types_pb2.DT_HALF, 11: types_pb2.DT_DOUBLE, 12: types_pb2.DT_UINT32,
    13: types_pb2.DT_UINT64, 14: types_pb2.DT_COMPLEX64, 15: types_pb2.DT_COMPLEX128,
    16: types_pb2.DT_BFLOAT16,
}  # fmt: skip
_MAX_ATTR_CHARS = 200


def load(path_or_model: Any) -> Any:
    """An ``onnx.ModelProto`` from a path, serialized bytes or a ModelProto.

    Raises:
        ImportError: ``onnx`` is not installed.
        TypeError: the argument is none of those.
        ValueError: the file or bytes are not an ONNX model.
    """
    try:
        import onnx
    except ImportError:
        raise ImportError("add_onnx_graph needs the onnx package: pip install onnx") from None
    if isinstance(path_or_model, onnx.ModelProto):
        return path_or_model
    try:
        if isinstance(path_or_model, (str, os.PathLike)):
            return onnx.load(os.fspath(path_or_model))
        if isinstance(path_or_model, (bytes, bytearray)):
            return onnx.load_from_string(bytes(path_or_model))
    except OSError:
        raise
    except Exception as exc:  # onnx raises DecodeError and friends
        raise ValueError(f"add_onnx_graph: not an ONNX model: {exc}") from exc
    raise TypeError(
        "add_onnx_graph: path_or_model must be a path, bytes or onnx.ModelProto, "
        f"got {type(path_or_model).__name__}"
    )


def _value_infos(model: Any) -> dict[str, tuple[list[int | None] | None, int]]:
    """name -> (shape, DataType) of every typed value, after shape inference."""
    import onnx

    try:
        model = onnx.shape_inference.infer_shapes(model)
    except Exception:  # custom ops, invalid models: show the graph without shapes
        pass
    infos = {}
    graph = model.graph
    for info in [*graph.input, *graph.value_info, *graph.output]:
        tensor_type = info.type.tensor_type
        if not info.type.HasField("tensor_type"):
            continue
        shape = None
        if tensor_type.HasField("shape"):
            dims = tensor_type.shape.dim
            shape = [d.dim_value if d.HasField("dim_value") else None for d in dims]
        infos[info.name] = (shape, _ONNX_TO_DT.get(tensor_type.elem_type, 0))
    for init in graph.initializer:
        infos[init.name] = (list(init.dims), _ONNX_TO_DT.get(init.data_type, 0))
    return infos


def _attr(attribute: Any) -> Any:
    """An ONNX attribute as a value :func:`tblog.summary.graph.attr_value` takes."""
    import onnx

    kind = attribute.type
    types = onnx.AttributeProto
    if kind == types.INT:
        return attribute.i
    if kind == types.FLOAT:
        return attribute.f
    if kind == types.STRING:
        return attribute.s
    if kind == types.INTS:
        return list(attribute.ints)
    if kind == types.FLOATS:
        return str(list(attribute.floats))[:_MAX_ATTR_CHARS]
    if kind == types.STRINGS:
        return str([s.decode("utf-8", "replace") for s in attribute.strings])[:_MAX_ATTR_CHARS]
    if kind == types.TENSOR:
        return f"tensor(dims={list(attribute.t.dims)}, data_type={attribute.t.data_type})"
    return f"<{types.AttributeType.Name(kind)}>"


def graph_def_from_onnx(model: Any) -> graph_pb2.GraphDef:
    """The ``GraphDef`` of an ``onnx.ModelProto``."""
    graph = model.graph
    infos = _value_infos(model)
    names = NameTable()
    nodes = []
    producer: dict[str, str] = {}  # ONNX value name -> node name (":k" for output k)

    def info(value: str) -> tuple[list[Any], list[int]]:
        shape, dtype = infos.get(value, (None, 0))
        return [shape], [dtype] if dtype else []

    initializers = {init.name for init in graph.initializer}
    for value in graph.input:
        if value.name not in initializers:
            name = names.unique(f"input/{clean_name(value.name)}")
            shapes, dtypes = info(value.name)
            nodes.append(node(name, "IO Node", shapes=shapes, dtypes=dtypes))
            producer[value.name] = name

    onnx_names = []
    for index, onnx_node in enumerate(graph.node):
        raw = onnx_node.name.strip("/") or f"{onnx_node.op_type}_{index}"
        onnx_names.append("/".join(clean_name(part) for part in raw.split("/") if part))
    first_scope: dict[str, str] = {}  # initializer -> scope of its first consumer
    for onnx_node, name in zip(graph.node, onnx_names, strict=True):
        for value in onnx_node.input:
            if value in initializers and value not in first_scope:
                first_scope[value] = name.rpartition("/")[0]
    for init in graph.initializer:
        scope = first_scope.get(init.name, "")
        name = names.unique(f"{scope}/{clean_name(init.name)}".lstrip("/"))
        shapes, dtypes = info(init.name)
        nodes.append(node(name, "Initializer", shapes=shapes, dtypes=dtypes))
        producer[init.name] = name

    for onnx_node, raw_name in zip(graph.node, onnx_names, strict=True):
        name = names.unique(raw_name)
        op = onnx_node.op_type
        if onnx_node.domain not in ("", "ai.onnx"):
            op = f"{onnx_node.domain}::{op}"
        inputs = [producer[v] for v in onnx_node.input if v and v in producer]
        shapes, dtypes = [], []
        for value in onnx_node.output:
            shape, dtype = infos.get(value, (None, 0))
            shapes.append(shape)
            dtypes.append(dtype)
        attrs = {a.name: _attr(a) for a in onnx_node.attribute}
        nodes.append(
            node(name, op, inputs, shapes=shapes, dtypes=dtypes if any(dtypes) else [], attrs=attrs)
        )
        for k, value in enumerate(onnx_node.output):
            producer[value] = name if k == 0 else f"{name}:{k}"

    for value in graph.output:
        name = names.unique(f"output/{clean_name(value.name)}")
        shapes, dtypes = info(value.name)
        source = producer.get(value.name)
        inputs = [source] if source else []
        nodes.append(node(name, "IO Node", inputs, shapes=shapes, dtypes=dtypes))
    return graph_def(nodes)
