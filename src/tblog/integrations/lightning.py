"""PyTorch Lightning: ``TBLogLogger``, Lightning's ``TensorBoardLogger`` writing through tblog.

    from tblog.integrations.lightning import TBLogLogger
    trainer = Trainer(logger=TBLogLogger("lightning_logs"))

It subclasses Lightning's own ``TensorBoardLogger`` (so ``Trainer.log_dir``,
checkpoint paths, ``version_N`` numbering, ``sub_dir``, ``prefix`` and
``hparams.yaml`` behave the same) and replaces the two places that use torch's
writer: ``experiment`` is a ``tblog.SummaryWriter`` and ``log_hyperparams``
writes the HParams dashboard with ``SummaryWriter.add_hparams(in_run=True)``.
Works with the ``lightning`` package (``lightning.pytorch``) and with
``pytorch_lightning``; see :func:`logger_class`.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from collections.abc import Mapping
from typing import Any

from tblog import SummaryWriter
from tblog.integrations._require import require

__all__ = ["TBLogLogger", "logger_class"]

_PACKAGES = {"lightning.pytorch": "lightning.fabric", "pytorch_lightning": "lightning_fabric"}
_classes: dict[str, type] = {}


def _default_package() -> str:
    """The Lightning flavour already imported, else ``lightning`` if installed."""
    for package in _PACKAGES:
        if package in sys.modules:
            return package
    try:
        if importlib.util.find_spec("lightning") is not None:
            return "lightning.pytorch"
    except (ImportError, ValueError):
        pass
    return "pytorch_lightning"


def _hparam_value(value: Any) -> Any:
    """A value ``add_hparams`` takes: numbers, bools, str; a one-element tensor's item."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    numel = getattr(value, "numel", None)
    if callable(numel) and numel() == 1:
        return value.item()
    return str(value)


def logger_class(package: str | None = None) -> type:
    """The ``TBLogLogger`` class for ``"lightning.pytorch"`` or ``"pytorch_lightning"``.

    ``TBLogLogger`` is the one for ``package=None``: the flavour already
    imported when this module is, else ``lightning`` if installed, else
    ``pytorch_lightning``. Use this when both are installed and you train
    with the other one.

    Raises:
        ImportError: that package is not installed.
        ValueError: an unknown package name.
    """
    package = package or _default_package()
    if package not in _PACKAGES:
        raise ValueError(f"package must be one of {sorted(_PACKAGES)}, got {package!r}")
    if package not in _classes:
        _classes[package] = _build(package)
    return _classes[package]


def _build(package: str) -> type:
    install = "lightning" if package.startswith("lightning.") else "pytorch-lightning"
    loggers = require(f"{package}.loggers", "lightning", install)
    logger_module = importlib.import_module(f"{package}.loggers.logger")
    fabric = _PACKAGES[package]
    rank_zero = importlib.import_module(f"{fabric}.utilities.rank_zero")
    utilities = importlib.import_module(f"{fabric}.utilities.logger")
    rank_zero_only = rank_zero.rank_zero_only
    rank_zero_experiment = logger_module.rank_zero_experiment

    class TBLogLogger(loggers.TensorBoardLogger):  # type: ignore[misc, name-defined]
        """Lightning's ``TensorBoardLogger``, writing with ``tblog.SummaryWriter``.

        Takes ``TensorBoardLogger``'s arguments; the directory layout is
        ``{save_dir}/{name}/version_{N}[/{sub_dir}]`` as there. Extra keyword
        arguments go to ``tblog.SummaryWriter`` (e.g. ``flush_secs``,
        ``max_queue``, ``png_compression``). Only global rank 0 writes:
        ``experiment`` is Lightning's dummy elsewhere.

        Args:
            save_dir: the root directory.
            name: experiment directory under ``save_dir`` ("" for none).
            version: int (``version_{N}``) or str (used as is); None: the next free N.
            log_graph: log the model's graph (``example_input_array``) at fit start.
            default_hp_metric: log ``hp_metric = -1`` with the hparams, so the
                HParams dashboard lists the run before you log ``hp_metric``.
            prefix: prepended (with ``-``) to every metric name.
            sub_dir: a directory under the version directory.
            **kwargs: ``tblog.SummaryWriter`` keyword arguments.
        """

        def __init__(
            self,
            save_dir: Any,
            name: str | None = "lightning_logs",
            version: int | str | None = None,
            log_graph: bool = False,
            default_hp_metric: bool = True,
            prefix: str = "",
            sub_dir: Any = None,
            **kwargs: Any,
        ) -> None:
            # log_graph is kept here: Lightning's check for the tensorboard
            # package does not apply, tblog's add_graph needs only torch.
            super().__init__(save_dir, name=name, version=version, log_graph=False,
                             default_hp_metric=default_hp_metric, prefix=prefix,
                             sub_dir=sub_dir, **kwargs)
            self._log_graph = log_graph
            self._writer_kwargs = dict(kwargs)

        @property
        @rank_zero_experiment
        def experiment(self) -> SummaryWriter:
            """The ``tblog.SummaryWriter`` of ``log_dir`` (created on first use, rank 0)."""
            if self._experiment is None:
                self._experiment = SummaryWriter(self.log_dir, **self._writer_kwargs)
            return self._experiment

        @rank_zero_only
        def log_hyperparams(
            self,
            params: Mapping[str, Any] | Any,
            metrics: Mapping[str, Any] | Any = None,
            step: int | None = None,
        ) -> None:
            """Record hyperparameters for the HParams dashboard and ``hparams.yaml``.

            Nested dicts are flattened with ``/``; values other than numbers,
            bools and str are written as their ``str``. ``metrics`` (a dict,
            or one number for ``hp_metric``) are logged as scalars at ``step``
            (0 when None) and listed as the dashboard's metric columns;
            ``hp_metric = -1`` when None and ``default_hp_metric``. Hparams
            that differ from those already recorded for this run are not shown
            by TensorBoard: a warning says so and only the metrics are logged.
            """
            params = utilities._convert_params(params)
            self.hparams.update(params)  # what save() writes to hparams.yaml
            flat = self._sanitize_params(utilities._flatten_dict(dict(params)))
            flat = {str(key): _hparam_value(value) for key, value in flat.items()}
            if metrics is None:
                metrics = {"hp_metric": -1} if self._default_hp_metric else {}
            elif not isinstance(metrics, Mapping):
                metrics = {"hp_metric": metrics}
            metrics = {key: _hparam_value(value) for key, value in metrics.items()}
            try:
                self.experiment.add_hparams(flat, metrics, global_step=step or 0, in_run=True)
            except ValueError as exc:
                if "already recorded different hparams" not in str(exc):
                    raise
                rank_zero.rank_zero_warn(f"TBLogLogger.log_hyperparams: {exc}")
                if metrics:
                    self.log_metrics(metrics, step)

    TBLogLogger.__module__ = __name__
    TBLogLogger.__qualname__ = "TBLogLogger"
    return TBLogLogger


TBLogLogger = logger_class()
