"""SummaryWriter methods for histograms, PR curves, text, custom scalars, meshes, tensors."""

from __future__ import annotations


class TensorMethods:
    """Mixed into ``SummaryWriter``; uses its ``_step`` and ``_write_summary``."""
