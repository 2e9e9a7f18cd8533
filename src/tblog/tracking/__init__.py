"""Experiment tracking in the style of Weights & Biases, on TensorBoard event files.

``tblog.init`` starts a :class:`Run`; the module-level ``log``, ``config``,
``summary``, ``watch``, ``unwatch``, ``alert``, ``save`` and ``finish`` act on the
current run, so ``import tblog as wandb`` works for the common calls. See
docs/tracking.md.
"""

from __future__ import annotations

import importlib
from typing import Any

#: Public name -> the module defining it; imported on first use, so that
#: ``import tblog`` stays as fast as before.
_WHERE = {
    "Config": "_config",
    "Audio": "_media", "Histogram": "_media", "Image": "_media", "Table": "_media",
    "Text": "_media", "Video": "_media",
    "Run": "_run", "current_run": "_init", "init": "_init",
    "Summary": "_summary",
    "alert": "_api", "config": "_api", "finish": "_api", "log": "_api", "save": "_api",
    "unwatch": "_api", "watch": "_api",
}


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'tblog.tracking' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"tblog.tracking.{module}"), name)
    globals()[name] = value
    return value


__all__ = sorted(_WHERE)
