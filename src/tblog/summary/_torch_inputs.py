"""What ``add_graph`` feeds the model and collects from it.

``call_plan`` turns ``input_to_model`` into positional tensors plus a function
rebuilding the real ``forward`` arguments (so any structure traces, and
non-tensor values become constants of the trace) and names each tensor for its
``input/...`` node. ``flatten_outputs`` collects the output tensors of any
structure with a path for each ``output/...`` node.
"""

from __future__ import annotations

import dataclasses
import inspect
from collections.abc import Callable, Mapping
from typing import Any


def flatten_inputs(value: Any, path: str, leaves: list[Any], names: list[str]) -> Callable:
    """Collect tensor leaves of ``value``; return a function rebuilding it from them."""
    import torch

    if isinstance(value, torch.Tensor):
        index = len(leaves)
        leaves.append(value)
        names.append(path)
        return lambda flat: flat[index]
    if isinstance(value, Mapping):
        parts = {k: flatten_inputs(v, f"{path}.{k}", leaves, names) for k, v in value.items()}
        kind = type(value)  # keep OrderedDict, UserDict, BatchEncoding...
        try:
            kind({})
        except Exception:  # e.g. defaultdict: rebuild as a plain dict
            kind = dict
        return lambda flat: kind({k: f(flat) for k, f in parts.items()})
    if isinstance(value, (list, tuple)):
        items = [flatten_inputs(v, f"{path}.{i}", leaves, names) for i, v in enumerate(value)]
        if hasattr(value, "_fields"):  # a namedtuple
            return lambda flat: type(value)(*[f(flat) for f in items])
        return lambda flat: type(value)([f(flat) for f in items])
    return lambda flat: value  # ints, strings, None...: constants of the trace


def call_plan(model: Any, input_to_model: Any) -> tuple[list[Any], list[str], Callable]:
    """(input tensors, their names, ``flat -> (args, kwargs)``)."""
    import torch

    try:
        signature: inspect.Signature | None = inspect.signature(model.forward)
    except (TypeError, ValueError):
        signature = None
    if input_to_model is None:
        args, kwargs = (), {}
    elif isinstance(input_to_model, torch.Tensor):
        args, kwargs = (input_to_model,), {}
    elif isinstance(input_to_model, (list, tuple)) and not hasattr(input_to_model, "_fields"):
        args, kwargs = tuple(input_to_model), {}
    elif isinstance(input_to_model, Mapping):
        args, kwargs = dict_call(signature, input_to_model)
    else:
        args, kwargs = (input_to_model,), {}
    if signature is not None:
        try:
            signature.bind(*args, **kwargs)
        except TypeError as exc:
            raise TypeError(
                f"add_graph: input_to_model does not match "
                f"{type(model).__name__}.forward{signature}: {exc}"
            ) from None
    positional = positional_names(signature, len(args))
    leaves: list[Any] = []
    names: list[str] = []
    arg_fns = [flatten_inputs(a, positional[i], leaves, names) for i, a in enumerate(args)]
    kwarg_fns = {k: flatten_inputs(v, k, leaves, names) for k, v in kwargs.items()}

    def rebuild(flat: tuple[Any, ...]) -> tuple[tuple[Any, ...], dict[str, Any]]:
        return tuple(f(flat) for f in arg_fns), {k: f(flat) for k, f in kwarg_fns.items()}

    return leaves, names, rebuild


def dict_call(signature: inspect.Signature | None, inputs: Mapping) -> tuple[tuple, dict]:
    """A dict is keyword arguments when forward takes those names, else one argument."""
    if signature is None or not all(isinstance(k, str) for k in inputs):
        return (inputs,), {}
    try:
        signature.bind(**inputs)
        return (), dict(inputs)
    except TypeError as exc:
        try:
            signature.bind(inputs)
            return (inputs,), {}
        except TypeError:
            raise TypeError(
                f"add_graph: input_to_model is a dict with keys {sorted(inputs)}, which fit "
                f"forward{signature} neither as keyword arguments ({exc}) nor as its one argument"
            ) from None


def positional_names(signature: inspect.Signature | None, count: int) -> list[str]:
    names: list[str] = []
    if signature is not None:
        for param in signature.parameters.values():
            if param.kind == param.VAR_POSITIONAL:
                names.extend(f"{param.name}.{i}" for i in range(count - len(names)))
                break
            if param.kind in (param.POSITIONAL_ONLY, param.POSITIONAL_OR_KEYWORD):
                names.append(param.name)
    names.extend(f"input_{i}" for i in range(len(names), count))
    return names[:count]


def flatten_outputs(value: Any, path: str, tensors: list[Any], paths: list[str]) -> None:
    import torch

    if isinstance(value, torch.Tensor):
        tensors.append(value)
        paths.append(path or "output")
    elif isinstance(value, Mapping):
        for key, item in value.items():
            flatten_outputs(item, f"{path}.{key}" if path else str(key), tensors, paths)
    elif isinstance(value, (list, tuple)):
        # Field names of named tuples and of struct sequences like torch.return_types.max.
        keys = getattr(value, "_fields", None) or getattr(value, "__match_args__", None)
        keys = keys if keys and len(keys) == len(value) else range(len(value))
        for key, item in zip(keys, value, strict=False):
            flatten_outputs(item, f"{path}.{key}" if path else str(key), tensors, paths)
    elif dataclasses.is_dataclass(value) and not isinstance(value, type):
        for field in dataclasses.fields(value):
            item = getattr(value, field.name)
            flatten_outputs(item, f"{path}.{field.name}" if path else field.name, tensors, paths)
