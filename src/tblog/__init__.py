"""tblog: fast, crash-safe TensorBoard logging; a drop-in ``SummaryWriter``.

    from tblog import SummaryWriter   # instead of torch.utils.tensorboard's

Experiment tracking in the style of W&B (``tblog.init``, ``tblog.log``, ...):
``tblog.tracking``, docs/tracking.md. ``tblog.summary`` stays the package of
summary builders and is also a mapping onto the current run's summary.
"""

from typing import Any

from tblog import _patch
from tblog._distributed import reduce_scalar, reduce_scalars
from tblog._patch import patch, unpatch
from tblog.tracking import _summary
from tblog.writer import FileWriter, NullSummaryWriter, SummaryWriter

_summary.install_summary_module()  # tblog.summary["k"] = v: the current run's summary
del _summary

__version__ = "0.1.0"


_TRACKING = frozenset({
    "Audio", "Histogram", "Image", "Run", "Table", "Text", "Video",
    "alert", "config", "finish", "init", "log", "save", "unwatch", "watch",
})


def __getattr__(name: str) -> Any:
    """The tracking API (tblog.tracking), imported on first use; ``tblog.run``."""
    if name in _TRACKING:
        from tblog import tracking

        value = getattr(tracking, name)
        globals()[name] = value
        return value
    if name in ("read", "Runs"):  # the reader: imported on first use, never pandas
        from tblog import reader

        value = getattr(reader, name)
        globals()[name] = value
        return value
    if name == "run":  # wandb.run: the current run, or None
        from tblog.tracking._init import current_run

        return current_run()
    raise AttributeError(f"module 'tblog' has no attribute {name!r}")


__all__ = [
    "__version__",
    "alert",
    "Audio",
    "config",
    "FileWriter",
    "finish",
    "Histogram",
    "Image",
    "init",
    "log",
    "NullSummaryWriter",
    "patch",
    "read",
    "reduce_scalar",
    "reduce_scalars",
    "Run",
    "Runs",
    "save",
    "summary",
    "SummaryWriter",
    "Table",
    "Text",
    "unpatch",
    "unwatch",
    "Video",
    "watch",
]

_patch.patch_from_environment()  # TBLOG_PATCH=1: docs/integrations.md
