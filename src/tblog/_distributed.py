"""Logging from multi-process (data-parallel) training.

``SummaryWriter(log_dir, rank=...)``: by default only rank 0 writes; every other
rank gets a ``NullSummaryWriter`` whose methods return at once, without even
looking at their arguments (no tensor is copied off a GPU). With
``per_rank=True`` every rank writes its own run, ``{log_dir}/rank{r}``.

``reduce_scalar`` / ``reduce_scalars`` average (or sum, min, max) values over
all ranks with ``torch.distributed.all_reduce`` so that rank 0 can log the
global value. They are collectives: every rank must call them, in the same
order, with the same keys.

torch is imported only by the functions that need it, and only when the
caller's process already imported it.
"""

from __future__ import annotations

import operator
import os
import sys
from collections.abc import Mapping
from typing import Any

from tblog import _convert
from tblog.writer import SummaryWriter

_OPS = ("mean", "sum", "min", "max")


def _initialized_torch_distributed() -> Any:
    """``torch.distributed`` if this process initialised a process group, else None."""
    dist = sys.modules.get("torch.distributed")
    if dist is None or not dist.is_available() or not dist.is_initialized():
        return None
    return dist


def resolve_rank(rank: int | str) -> int:
    """The rank of this process.

    Args:
        rank: an int >= 0, or ``"auto"``: ``torch.distributed.get_rank()`` when a
            process group is initialised, else the ``RANK`` environment variable
            (set by torchrun, accelerate, DeepSpeed, Lightning), else 0.

    Raises:
        TypeError: ``rank`` is neither an int nor ``"auto"``.
        ValueError: a negative rank, or a ``RANK`` that is not an int >= 0.
    """
    if rank == "auto":
        dist = _initialized_torch_distributed()
        if dist is not None:
            return int(dist.get_rank())
        value = os.environ.get("RANK", "").strip()
        if not value:
            return 0
        try:
            rank = int(value)
        except ValueError:
            raise ValueError(
                f"rank='auto': RANK={value!r} in the environment is not an int"
            ) from None
        if rank < 0:
            raise ValueError(f"rank='auto': RANK={value!r} in the environment is negative")
        return rank
    if isinstance(rank, (bool, str)):
        raise TypeError(f"rank must be an int >= 0, 'auto' or None, got {rank!r}")
    try:
        rank = operator.index(rank)  # also numpy / torch integer scalars
    except TypeError:
        raise TypeError(f"rank must be an int >= 0, 'auto' or None, got {rank!r}") from None
    if rank < 0:
        raise ValueError(f"rank must be >= 0, got {rank}")
    return rank


def rank_log_dir(
    writer: SummaryWriter, log_dir: str, rank: int | str | None, per_rank: bool
) -> str | None:
    """The log_dir this rank writes to, or None after turning ``writer`` into a no-op.

    Called by ``SummaryWriter.__init__`` when ``rank`` or ``per_rank`` is given.
    """
    if not isinstance(per_rank, bool):
        raise TypeError(f"per_rank must be a bool, got {per_rank!r}")
    resolved = resolve_rank("auto" if rank is None else rank)
    if per_rank:
        return os.path.join(log_dir, f"rank{resolved}")
    if resolved == 0:
        return log_dir
    become_null(writer, log_dir, resolved)
    return None


def become_null(writer: SummaryWriter, log_dir: str, rank: int | None = None) -> None:
    """Turn a half-built ``writer`` into a ``NullSummaryWriter`` in place."""
    writer.__class__ = NullSummaryWriter
    NullSummaryWriter._setup(writer, log_dir, rank)


class _NullFileWriter:
    """The ``file_writer`` of a rank that does not log: accepts everything, writes nothing."""

    closed = False

    def __init__(self, log_dir: str) -> None:
        self._log_dir = log_dir

    def get_logdir(self) -> str:
        return self._log_dir

    def _noop(self, *args: Any, **kwargs: Any) -> None:
        return None

    add_event = add_summary = add_record = add_deferred = flush = close = reopen = _noop
    add_graph = add_onnx_graph = _noop


def _noop(self: Any, *args: Any, **kwargs: Any) -> None:
    """Does nothing: this rank does not log."""
    return None


class NullSummaryWriter(SummaryWriter):
    """The writer of a rank that does not log.

    Every ``add_*`` method, ``flush()`` and ``close()`` returns None at once;
    arguments are not even converted. Nothing is created on disk or in a bucket.
    ``isinstance(writer, SummaryWriter)`` still holds.
    """

    def __init__(self, log_dir: str | os.PathLike[str] | None = None, *args: Any, **kwargs: Any):
        self._setup(self, os.fspath(log_dir) if log_dir is not None else "", None)

    @staticmethod
    def _setup(writer: SummaryWriter, log_dir: str, rank: int | None) -> None:
        writer.log_dir = log_dir
        writer.rank = rank  # type: ignore[attr-defined]
        writer.purge_step = None
        writer.file_writer = _NullFileWriter(log_dir)  # type: ignore[assignment]
        writer.all_writers = {}

    def _get_file_writer(self) -> Any:
        return self.file_writer

    def __repr__(self) -> str:
        return f"NullSummaryWriter(log_dir={self.log_dir!r}, rank={getattr(self, 'rank', None)})"


# Every public method of SummaryWriter and its mixins (whatever they are now),
# plus the internal write paths, becomes a no-op.
_KEEP = {"get_logdir", "logdir"}
for _name in dir(SummaryWriter):
    if _name in _KEEP or (_name.startswith("_") and _name not in ("_write_summary", "_step")):
        continue
    if callable(getattr(SummaryWriter, _name, None)):
        setattr(NullSummaryWriter, _name, _noop)
del _name


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
    dist = _initialized_torch_distributed()
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
