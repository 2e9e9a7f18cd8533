"""Model graphs for the ``graphs`` dashboard: ``GraphDef`` and run metadata.

A graph is not a ``Summary``: it goes in ``Event.graph_def`` (the serialized
``GraphDef``), followed, as torch writes it, by an ``Event.tagged_run_metadata``
tagged ``step1`` whose ``RunMetadata`` names the device. Node names use ``/``
for scopes, which the dashboard draws as collapsible groups; an input written
``name:k`` is output ``k`` of node ``name``.

This module builds nodes from plain values; ``tblog.summary._torch_graph``
walks a traced torch module and ``tblog.summary._onnx_graph`` an ONNX model.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence

from tblog.proto import (
    attr_value_pb2,
    config_pb2,
    event_pb2,
    graph_pb2,
    node_def_pb2,
    step_stats_pb2,
    tensor_shape_pb2,
    types_pb2,
)

PLUGIN_NAME = "graphs"
RUN_METADATA_TAG = "step1"  # torch's tag for the run metadata next to its graph
GRAPH_PRODUCER = 22  # VersionDef.producer that torch writes
_UNSAFE = re.compile(r"[^A-Za-z0-9_.\-\[\]]")

#: numpy / torch dtype names -> TensorFlow ``DataType`` (what the dashboard shows).
DTYPES = {
    "float32": types_pb2.DT_FLOAT,
    "float64": types_pb2.DT_DOUBLE,
    "float16": types_pb2.DT_HALF,
    "bfloat16": types_pb2.DT_BFLOAT16,
    "int8": types_pb2.DT_INT8,
    "int16": types_pb2.DT_INT16,
    "int32": types_pb2.DT_INT32,
    "int64": types_pb2.DT_INT64,
    "uint8": types_pb2.DT_UINT8,
    "uint16": types_pb2.DT_UINT16,
    "uint32": types_pb2.DT_UINT32,
    "uint64": types_pb2.DT_UINT64,
    "bool": types_pb2.DT_BOOL,
    "complex64": types_pb2.DT_COMPLEX64,
    "complex128": types_pb2.DT_COMPLEX128,
    "string": types_pb2.DT_STRING,
}


def clean_name(text: str) -> str:
    """``text`` usable as one segment of a node name.

    ``/`` would open a scope and ``:`` would read as an output index, so every
    character outside ``A-Z a-z 0-9 _ . - [ ]`` becomes ``_``.
    """
    return _UNSAFE.sub("_", text) or "_"


class NameTable:
    """Hands out unique node names: ``a/b``, then ``a/b_1``, ``a/b_2``, ..."""

    def __init__(self) -> None:
        self._used: set[str] = set()

    def unique(self, name: str) -> str:
        candidate, index = name, 0
        while candidate in self._used:
            index += 1
            candidate = f"{name}_{index}"
        self._used.add(candidate)
        return candidate


def shape_proto(dims: Sequence[int | None] | None) -> tensor_shape_pb2.TensorShapeProto:
    """A shape; ``None`` dims are unknown (-1), ``None`` shape is unknown rank."""
    if dims is None:
        return tensor_shape_pb2.TensorShapeProto(unknown_rank=True)
    return tensor_shape_pb2.TensorShapeProto(
        dim=[tensor_shape_pb2.TensorShapeProto.Dim(size=-1 if d is None else int(d)) for d in dims]
    )


def node(
    name: str,
    op: str,
    inputs: Iterable[str] = (),
    *,
    shapes: Sequence[Sequence[int | None] | None] = (),
    dtypes: Sequence[int] = (),
    device: str = "",
    attrs: Mapping[str, str | int | float | bool | Sequence[int]] | None = None,
) -> node_def_pb2.NodeDef:
    """One ``NodeDef``.

    Args:
        name: unique, ``/``-scoped name.
        op: the op type shown in the dashboard.
        inputs: producer names (``name:k`` for output ``k > 0``).
        shapes: one shape per output (``_output_shapes``, the edge labels).
        dtypes: one ``DataType`` per output; a single one is written as
            ``dtype``, several as a ``dtype`` list.
        device: e.g. ``/device:CPU:0``.
        attrs: more attributes (str, int, float, bool, or a list of ints).
    """
    result = node_def_pb2.NodeDef(name=name, op=op, input=list(inputs), device=device)
    if shapes:
        result.attr["_output_shapes"].list.shape.extend([shape_proto(s) for s in shapes])
    if len(dtypes) == 1:
        result.attr["dtype"].type = dtypes[0]
    elif dtypes:
        result.attr["dtype"].list.type.extend(dtypes)
    for key, value in (attrs or {}).items():
        result.attr[key].CopyFrom(attr_value(value))
    return result


def attr_value(value: str | bytes | int | float | bool | Sequence[int]) -> attr_value_pb2.AttrValue:
    """An ``AttrValue`` from a Python value (bool before int: bool is an int)."""
    if isinstance(value, bool):
        return attr_value_pb2.AttrValue(b=value)
    if isinstance(value, int):
        return attr_value_pb2.AttrValue(i=value)
    if isinstance(value, float):
        return attr_value_pb2.AttrValue(f=value)
    if isinstance(value, str):
        return attr_value_pb2.AttrValue(s=value.encode("utf-8", "backslashreplace"))
    if isinstance(value, bytes):
        return attr_value_pb2.AttrValue(s=value)
    return attr_value_pb2.AttrValue(list=attr_value_pb2.AttrValue.ListValue(i=list(value)))


def graph_def(nodes: Iterable[node_def_pb2.NodeDef]) -> graph_pb2.GraphDef:
    """A ``GraphDef`` of ``nodes`` with torch's producer version."""
    return graph_pb2.GraphDef(node=list(nodes), versions={"producer": GRAPH_PRODUCER})


def run_metadata(tag: str = RUN_METADATA_TAG, device: str = "/device:CPU:0") -> bytes:
    """Serialized ``TaggedRunMetadata`` torch writes after a graph: one device, no stats.

    The writer puts it in an ``Event.tagged_run_metadata``; the graph itself goes
    in ``Event.graph_def`` as ``graph.SerializeToString()``.
    """
    metadata = config_pb2.RunMetadata(
        step_stats=step_stats_pb2.StepStats(
            dev_stats=[step_stats_pb2.DeviceStepStats(device=device)]
        )
    )
    return event_pb2.TaggedRunMetadata(
        tag=tag, run_metadata=metadata.SerializeToString()
    ).SerializeToString()
