"""Trace a ``torch.nn.Module`` and turn the trace into a ``GraphDef``.

The model runs once under ``torch.jit.trace`` inside a small wrapper module
that takes the input tensors positionally and returns the output tensors as a
flat tuple. That lets any input structure (a tensor, tuples/lists, a dict
passed as keyword arguments or as one argument, non-tensor values baked in)
and any output structure (dicts with mixed values, named tuples, dataclasses)
trace, which plain ``torch.jit.trace`` refuses.

The inlined trace is then walked node by node:

* Node names follow module scope: ``Net/Sequential[block]/Conv2d[0]/_convolution``
  (type and attribute name per level), so the dashboard shows one
  collapsible group per module.
* Parameters and buffers are nodes of op ``Parameter`` / ``Buffer`` inside
  their module's group; inputs and outputs are ``IO Node`` nodes named
  ``input/<argument>`` and ``output/<path>``.
* Every node carries ``_output_shapes`` and ``dtype`` where the trace knows
  them, and its device.
* Tuple packing done only to return values is looked through, and nodes that
  no output depends on are dropped.

torch is imported only here, and only when ``add_graph`` is called.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping
from typing import Any

from tblog.proto import graph_pb2, node_def_pb2
from tblog.summary import _torch_inputs
from tblog.summary.graph import DTYPES, NameTable, clean_name, graph_def, node

_TORCH_SCALAR_TYPES = {  # TensorType.scalarType() -> numpy-style dtype name
    "Float": "float32", "Double": "float64", "Half": "float16", "BFloat16": "bfloat16",
    "Char": "int8", "Short": "int16", "Int": "int32", "Long": "int64", "Byte": "uint8",
    "UInt16": "uint16", "UInt32": "uint32", "UInt64": "uint64", "Bool": "bool",
    "ComplexFloat": "complex64", "ComplexDouble": "complex128",
}  # fmt: skip
_MAX_ATTR_CHARS = 200


class GraphTraceError(RuntimeError):
    """``add_graph`` could not trace the model; nothing was written."""


def _dtype_enum(torch_dtype: Any) -> int:
    return DTYPES.get(str(torch_dtype).replace("torch.", ""), 0)


def _device_name(device: Any) -> str:
    if device is None:
        return ""
    kind = {"cpu": "CPU", "cuda": "GPU"}.get(device.type, device.type.upper())
    return f"/device:{kind}:{device.index or 0}"


def _wrapper(model: Any, rebuild: Callable, output_paths: list[str]) -> Any:
    import torch

    class Traced(torch.nn.Module):  # positional tensors in, flat tuple of tensors out
        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(self, *flat: Any) -> tuple[Any, ...]:
            args, kwargs = rebuild(flat)
            tensors: list[Any] = []
            output_paths.clear()
            _torch_inputs.flatten_outputs(self.model(*args, **kwargs), "", tensors, output_paths)
            if not tensors:
                raise GraphTraceError("forward returned no tensors")
            return tuple(tensors)

    return Traced()


# -- tracing ---------------------------------------------------------------------


def trace(
    model: Any, input_to_model: Any, strict: bool = True, verbose: bool = False
) -> graph_pb2.GraphDef:
    """Trace ``model`` on ``input_to_model`` and return its ``GraphDef``.

    The model is traced in eval mode (every submodule's mode is restored
    afterwards) without gradients.

    Raises:
        TypeError: ``model`` is not a module, or the inputs don't fit ``forward``.
        GraphTraceError: tracing failed; the message names the model and the cause.
    """
    import torch

    if not isinstance(model, torch.nn.Module):
        raise TypeError(f"add_graph: model must be a torch.nn.Module, got {type(model).__name__}")
    name = type(model).__name__
    leaves, input_names, rebuild = _torch_inputs.call_plan(model, input_to_model)
    output_paths: list[str] = []
    wrapper = _wrapper(model, rebuild, output_paths)
    modes = [(module, module.training) for module in model.modules()]
    model.eval()
    try:
        with torch.no_grad(), warnings.catch_warnings():
            # torch >= 2.10 deprecates jit.trace; it is still what records module scopes.
            warnings.filterwarnings("ignore", r".*torch\.jit\.trace", DeprecationWarning)
            traced = torch.jit.trace(wrapper, tuple(leaves), strict=strict, check_trace=False)
        graph = traced.inlined_graph
    except GraphTraceError as exc:
        raise GraphTraceError(f"add_graph: cannot trace {name}: {exc}") from None
    except Exception as exc:  # the tracer raises RuntimeError, TypeError, AssertionError...
        hint = "" if not strict else " (use_strict_trace=False allows mutable outputs)"
        raise GraphTraceError(
            f"add_graph: torch.jit.trace failed for {name}: {type(exc).__name__}: {exc}{hint}"
        ) from exc
    finally:
        for module, training in modes:
            module.training = training
    if verbose:
        print(graph)
    return graph_def(_GraphWalker(wrapper, name, input_names, output_paths).walk(graph))


class _GraphWalker:
    """Turns one inlined trace graph into ``NodeDef`` s."""

    def __init__(
        self, wrapper: Any, root: str, input_names: list[str], output_paths: list[str]
    ) -> None:
        self.wrapper = wrapper
        self.input_names = input_names
        self.output_paths = output_paths
        self.names = NameTable()
        # module path in the wrapper -> scope; the wrapper and the model share the root
        self.scopes = {"": clean_name(root), "model": clean_name(root)}
        for path, module in wrapper.named_modules(remove_duplicate=False):
            if path.startswith("model."):
                parent, _, attr = path.rpartition(".")
                kind = clean_name(type(module).__name__)
                self.scopes[path] = f"{self.scopes[parent]}/{kind}[{clean_name(attr)}]"
        # Each shared parameter or buffer becomes one node under its first name.
        self.canonical: dict[int, tuple[str, str, Any]] = {}
        for path, tensor in wrapper.named_parameters():
            self.canonical.setdefault(id(tensor), (path, "Parameter", tensor))
        for path, tensor in wrapper.named_buffers():
            self.canonical.setdefault(id(tensor), (path, "Buffer", tensor))
        self.param_names: dict[str, str] = {}
        self.produced: dict[int, str] = {}  # Value.unique() -> "node" or "node:k"
        self.modules: dict[int, str] = {}  # Value.unique() -> attribute path of a module
        self.alias: dict[int, Any] = {}  # Value.unique() -> the Value it stands for
        self.constants: dict[int, Any] = {}  # Value.unique() -> a prim::Constant's Value
        self.constant_names: dict[tuple[int, str], str] = {}  # (Value, scope) -> node
        self.nodes: dict[str, node_def_pb2.NodeDef] = {}

    def scope_of(self, scope_name: str) -> str:
        last = scope_name.rpartition("/")[2].replace("__module.", "", 1)
        return self.scopes.get(last, self.scopes[""])

    def resolve(self, value: Any) -> Any:
        while value.unique() in self.alias:
            value = self.alias[value.unique()]
        return value

    def walk(self, graph: Any) -> list[node_def_pb2.NodeDef]:
        inputs = list(graph.inputs())
        self.modules[inputs[0].unique()] = ""
        for value, name in zip(inputs[1:], self.input_names, strict=True):
            node_name = self.names.unique(f"input/{clean_name(name)}")
            self.add(node_name, "IO Node", [], [value])
            self.produced[value.unique()] = node_name
        for torch_node in graph.nodes():
            self.visit(torch_node)
        outputs = self.graph_outputs(graph)
        for value, path in zip(outputs, self.output_paths, strict=True):
            source = self.source(value, self.scopes[""])
            name = self.names.unique(f"output/{clean_name(path)}")
            self.add(name, "IO Node", [source] if source else [], [self.resolve(value)])
        return self.reachable(outputs)

    def graph_outputs(self, graph: Any) -> list[Any]:
        flat = []
        for value in graph.outputs():
            value = self.resolve(value)
            producer = value.node()
            if producer.kind() == "prim::TupleConstruct":
                flat.extend(self.resolve(v) for v in producer.inputs())
            else:
                flat.append(value)
        return flat

    def visit(self, torch_node: Any) -> None:
        kind = torch_node.kind()
        outputs = list(torch_node.outputs())
        if kind == "prim::GetAttr":
            self.get_attr(torch_node, outputs[0])
            return
        if kind in ("prim::TupleUnpack", "prim::ListUnpack"):
            source = self.resolve(torch_node.input()).node()
            if source.kind() in ("prim::TupleConstruct", "prim::ListConstruct"):
                for out, item in zip(outputs, source.inputs(), strict=False):
                    self.alias[out.unique()] = item
                return
        if kind == "prim::Constant" and len(outputs) == 1:
            self.constants[outputs[0].unique()] = outputs[0]  # a node per using scope, later
            return
        scope = self.scope_of(torch_node.scopeName())
        inputs = [self.source(value, scope) for value in torch_node.inputs()]
        name = self.names.unique(f"{scope}/{clean_name(kind.rpartition('::')[2])}")
        self.add(name, kind, [i for i in inputs if i is not None], outputs)
        for index, value in enumerate(outputs):
            self.produced[value.unique()] = name if index == 0 else f"{name}:{index}"

    def source(self, value: Any, scope: str) -> str | None:
        """The input name for ``value`` used in ``scope``; None for module references."""
        value = self.resolve(value)
        if value.unique() not in self.constants:
            return self.produced.get(value.unique())
        # The tracer shares one constant (0, 1, False...) across the whole graph;
        # one copy per module that uses it keeps edges from crossing modules for a literal.
        key = (value.unique(), scope)
        if key not in self.constant_names:
            name = self.names.unique(f"{scope}/Constant")
            self.constant_names[key] = name
            self.add(name, "prim::Constant", [], [value], {"value": _constant_text(value)})
        return self.constant_names[key]

    def get_attr(self, torch_node: Any, value: Any) -> None:
        parent = self.modules.get(self.resolve(torch_node.input()).unique())
        if parent is None:
            return
        path = f"{parent}.{torch_node.s('name')}".lstrip(".")
        try:
            attribute = self.wrapper.get_submodule(path)
            self.modules[value.unique()] = path
            return
        except AttributeError:
            attribute = _get_path(self.wrapper, path)
        if id(attribute) in self.canonical:
            self.produced[value.unique()] = self.parameter_node(*self.canonical[id(attribute)])
            return
        scope = self.scopes.get(path.rpartition(".")[0], self.scopes[""])
        name = self.names.unique(f"{scope}/{clean_name(torch_node.s('name'))}")
        self.add(name, "prim::GetAttr", [], [value], {"value": repr(attribute)[:_MAX_ATTR_CHARS]})
        self.produced[value.unique()] = name

    def parameter_node(self, path: str, kind: str, tensor: Any) -> str:
        """The node of a parameter or buffer (one per tensor, in its module's scope)."""
        if path not in self.param_names:
            parent, _, leaf = path.rpartition(".")
            scope = self.scopes.get(parent, self.scopes[""])
            name = self.names.unique(f"{scope}/{clean_name(leaf)}")
            self.param_names[path] = name
            self.nodes[name] = node(
                name,
                kind,
                shapes=[list(tensor.shape)],
                dtypes=[_dtype_enum(tensor.dtype)],
                device=_device_name(tensor.device),
                attrs={"requires_grad": bool(tensor.requires_grad)},
            )
        return self.param_names[path]

    def add(
        self,
        name: str,
        op: str,
        inputs: list[str],
        outputs: list[Any],
        attrs: Mapping[str, Any] | None = None,
    ) -> None:
        shapes, dtypes, device = [], [], ""
        for value in outputs:
            shape, dtype, value_device = _tensor_info(value)
            shapes.append(shape)
            dtypes.append(dtype)
            device = device or value_device
        if not any(dtypes):
            dtypes = []
        self.nodes[name] = node(
            name, op, inputs, shapes=shapes, dtypes=dtypes, device=device, attrs=attrs
        )

    def reachable(self, outputs: list[Any]) -> list[node_def_pb2.NodeDef]:
        """Nodes some output depends on, in trace order."""
        keep: set[str] = set()
        stack = [name for name in self.nodes if name.startswith("output/")]
        while stack:
            name = stack.pop()
            if name in keep or name not in self.nodes:
                continue
            keep.add(name)
            stack.extend(source.partition(":")[0] for source in self.nodes[name].input)
        keep.update(n for n in self.nodes if n.startswith("input/"))
        return [n for name, n in self.nodes.items() if name in keep]


def _get_path(root: Any, path: str) -> Any:
    value = root
    for part in path.split("."):
        value = getattr(value, part)
    return value


def _tensor_info(value: Any) -> tuple[list[int | None] | None, int, str]:
    import torch

    value_type = value.type()
    if not isinstance(value_type, torch._C.TensorType):
        return None, 0, ""
    sizes = value_type.sizes()
    scalar = value_type.scalarType()
    dtype = DTYPES.get(_TORCH_SCALAR_TYPES.get(scalar or "", ""), 0)
    return (list(sizes) if sizes is not None else None), dtype, _device_name(value_type.device())


def _constant_text(value: Any) -> str:
    try:
        constant = value.toIValue()
    except RuntimeError:
        return ""
    if hasattr(constant, "shape") and hasattr(constant, "dtype"):
        return f"tensor(shape={list(constant.shape)}, dtype={constant.dtype})"
    return repr(constant)[:_MAX_ATTR_CHARS]
