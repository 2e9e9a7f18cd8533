"""Reducing scalars over the ranks of multi-process training (``torch.distributed``).

``reduce_scalar`` / ``reduce_scalars`` average (or sum, min, max) values over
all ranks with ``torch.distributed.all_reduce`` so that rank 0 can log the
global value. They are collectives: every rank must call them, in the same
order, with the same keys. Which rank writes is ``tblog._ranks``' business.

torch is imported only by the functions that need it, and only when the
caller's process already imported it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from tblog import _convert
from tblog._ranks import initialized_torch_distributed, resolve_rank

__all__ = ["reduce_scalar", "reduce_scalars", "resolve_rank"]

_OPS = ("mean", "sum", "min", "max")


def reduce_scalars(
    values: Mapping[str, Any], op: str = "mean", group: Any = None
) -> dict[str, float]:
    """Reduce several scalars over all ranks in ONE ``all_reduce``.

    Every rank must call it with the same keys. Without an initialised
    ``torch.distributed`` process group (or with one rank) the values come back
    unchanged, as floats, so the same code runs on one process.

    Args:
        values: name -> number (Python, numpy, one-element tensor on any device).
        op: ``"mean"``, ``"sum"``, ``"min"`` or ``"max"``.
        group: a ``torch.distributed`` process group; default the world.

    Returns:
        name -> the reduced value, the same on every rank.

    Raises:
        TypeError: ``values`` is not a mapping of str to numbers.
        ValueError: unknown ``op``, or a value with more than one element.
    """
    if op not in _OPS:
        raise ValueError(f"op must be one of {', '.join(map(repr, _OPS))}, got {op!r}")
    if not isinstance(values, Mapping):
        raise TypeError(f"values must be a mapping of str to number, got {type(values).__name__}")
    floats = {}
    for key, value in values.items():
        if type(key) is not str:
            raise TypeError(f"reduce_scalars: keys must be str, got {key!r}")
        floats[key] = _convert.to_float(value, f"values[{key!r}]")
    dist = initialized_torch_distributed()
    if dist is None or not floats:
        return floats
    size = dist.get_world_size(group)
    if size == 1:
        return floats
    import torch

    # NCCL reduces only CUDA tensors; gloo and mpi take CPU tensors.
    backend = dist.get_backend(group)
    device = torch.device("cuda", torch.cuda.current_device()) if backend == "nccl" else "cpu"
    keys = sorted(floats)  # the same order on every rank, whatever the dict order
    tensor = torch.tensor([floats[k] for k in keys], dtype=torch.float64, device=device)
    reduce_op = {"mean": dist.ReduceOp.SUM, "sum": dist.ReduceOp.SUM,
                 "min": dist.ReduceOp.MIN, "max": dist.ReduceOp.MAX}[op]
    dist.all_reduce(tensor, op=reduce_op, group=group)
    if op == "mean":
        tensor /= size
    reduced = dict(zip(keys, tensor.tolist(), strict=True))
    return {key: reduced[key] for key in floats}


def reduce_scalar(value: Any, op: str = "mean", group: Any = None) -> float:
    """Reduce one scalar over all ranks (see ``reduce_scalars``); every rank must call it.

    Example::

        loss = tblog.reduce_scalar(loss, op="mean")   # on every rank
        writer.add_scalar("loss", loss, step)         # a no-op except on rank 0
    """
    return reduce_scalars({"value": value}, op, group)["value"]
