"""pytorch-ignite: ``TBLogLogger``, ignite's ``TensorboardLogger`` writing through tblog.

    from tblog.integrations.ignite import OutputHandler, TBLogLogger
    tb_logger = TBLogLogger(log_dir="runs/exp1")
    tb_logger.attach_output_handler(trainer, Events.ITERATION_COMPLETED, tag="training",
                                    output_transform=lambda loss: {"loss": loss})

``TBLogLogger`` subclasses ignite's ``TensorboardLogger``, so ignite's own
handlers (re-exported here: ``OutputHandler``, ``OptimizerParamsHandler``,
``WeightsScalarHandler``, ``WeightsHistHandler``, ``GradsScalarHandler``,
``GradsHistHandler``) attach to it unchanged; they only call the writer's
``add_scalar``/``add_histogram``. ``tb_logger.writer`` is a
``tblog.SummaryWriter``, and every writer method (``add_hparams``,
``add_image``, ...) is reachable on the logger itself, as with ignite's.
"""

from __future__ import annotations

import os
from typing import Any

from tblog import SummaryWriter
from tblog.integrations._require import require

_tb = require("ignite.handlers.tensorboard_logger", "ignite", "pytorch-ignite")

OutputHandler = _tb.OutputHandler
OptimizerParamsHandler = _tb.OptimizerParamsHandler
WeightsScalarHandler = _tb.WeightsScalarHandler
WeightsHistHandler = _tb.WeightsHistHandler
GradsScalarHandler = _tb.GradsScalarHandler
GradsHistHandler = _tb.GradsHistHandler
global_step_from_engine = _tb.global_step_from_engine

__all__ = [
    "GradsHistHandler",
    "GradsScalarHandler",
    "OptimizerParamsHandler",
    "OutputHandler",
    "TBLogLogger",
    "WeightsHistHandler",
    "WeightsScalarHandler",
    "global_step_from_engine",
]


class TBLogLogger(_tb.TensorboardLogger):  # type: ignore[misc, name-defined]
    """ignite's ``TensorboardLogger`` with a ``tblog.SummaryWriter``.

    Attach handlers as with ignite's (``attach``, ``attach_output_handler``,
    ``attach_opt_params_handler``); use it as a context manager or call
    ``close()`` at the end (tblog also flushes at exit).

    Args:
        log_dir: the run directory (default: torch's ``runs/{date}_{host}``).
        *args: the rest of ``tblog.SummaryWriter``'s positional arguments.
        **kwargs: ``tblog.SummaryWriter`` keyword arguments (``flush_secs``,
            ``max_queue``, ``logdir``, ``rank``, ...).
    """

    def __init__(self, log_dir: str | os.PathLike[str] | None = None, *args: Any,
                 **kwargs: Any) -> None:
        # ignite's __init__ only imports a writer class and builds it: replaced.
        self.writer = SummaryWriter(log_dir, *args, **kwargs)
