"""SummaryWriter methods for graphs, projector embeddings and hparams."""

from __future__ import annotations


class StructuredMethods:
    """Mixed into ``SummaryWriter``; uses its ``_step`` and ``_write_summary``."""
