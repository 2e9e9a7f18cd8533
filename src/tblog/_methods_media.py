"""SummaryWriter methods for images, figures, video and audio (thin: convert, build, write)."""

from __future__ import annotations


class MediaMethods:
    """Mixed into ``SummaryWriter``; uses its ``_step`` and ``_write_summary``."""
