"""Which process of a multi-process (data-parallel) training run logs, and where.

``SummaryWriter(log_dir, rank=...)``: by default only rank 0 writes; every other
rank gets a ``NullSummaryWriter`` (see ``tblog.writer``). With ``per_rank=True``
every rank writes its own run, ``{log_dir}/rank{r}``. See docs/distributed.md.
"""

from __future__ import annotations

import operator
import os
import sys
from typing import Any


def initialized_torch_distributed() -> Any:
    """``torch.distributed`` if this process initialised a process group, else None.

    Never imports torch: a process that did not import it has no process group.
    """
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
        dist = initialized_torch_distributed()
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


def rank_log_dir(log_dir: str, rank: int | str | None, per_rank: bool) -> str | None:
    """The run directory this process writes, or None when it does not log.

    Raises:
        TypeError: ``per_rank`` is not a bool, or a bad ``rank`` (see ``resolve_rank``).
        ValueError: a negative rank.
    """
    if not isinstance(per_rank, bool):
        raise TypeError(f"per_rank must be a bool, got {per_rank!r}")
    resolved = resolve_rank("auto" if rank is None else rank)
    if per_rank:
        return os.path.join(log_dir, f"rank{resolved}")
    return log_dir if resolved == 0 else None
