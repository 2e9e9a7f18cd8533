"""Hugging Face transformers: ``TBLogCallback``, a ``TrainerCallback`` writing through tblog.

    from tblog.integrations.transformers import TBLogCallback
    trainer = Trainer(..., args=TrainingArguments(..., report_to="none"),
                      callbacks=[TBLogCallback()])

It logs what transformers' ``TensorBoardCallback`` logs, in the same places
(``train/``, ``eval/``, ``test/`` scalars at ``state.global_step``, the
``args`` and ``model_config`` texts, ``{output_dir}/runs/{date}_{host}`` or
``TENSORBOARD_LOGGING_DIR``), and adds the HParams dashboard: the training
arguments of :data:`HPARAM_ARGS` (and any ``hparams=`` you give) with the
logged losses as its metric columns. With ``report_to="tensorboard"``,
``tblog.patch()`` makes transformers' own callback write through tblog
instead (docs/integrations.md).
"""

from __future__ import annotations

import enum
import os
from collections.abc import Mapping, Sequence
from typing import Any

from tblog import SummaryWriter
from tblog.integrations._require import require
from tblog.writer import default_log_dir

_transformers = require("transformers", "transformers", "transformers")

__all__ = ["HPARAM_ARGS", "TBLogCallback"]

#: ``TrainingArguments`` fields recorded as hparams (those an instance has).
HPARAM_ARGS: tuple[str, ...] = (
    "learning_rate", "per_device_train_batch_size", "gradient_accumulation_steps",
    "num_train_epochs", "max_steps", "weight_decay", "adam_beta1", "adam_beta2",
    "adam_epsilon", "max_grad_norm", "warmup_ratio", "warmup_steps", "lr_scheduler_type",
    "optim", "seed", "fp16", "bf16",
)
_PREFIXES = (("eval_", "eval/"), ("test_", "test/"))


def _tag(key: str) -> str:
    """A log key as TensorBoardCallback tags it: ``eval_loss`` -> ``eval/loss``."""
    for prefix, group in _PREFIXES:
        if key.startswith(prefix):
            return group + key[len(prefix):]
    return "train/" + key


def _hparam(value: Any) -> Any:
    if isinstance(value, enum.Enum):  # lr_scheduler_type, optim: str enums
        value = value.value
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return str(value)


class TBLogCallback(_transformers.TrainerCallback):  # type: ignore[misc]
    """Logs a ``Trainer``'s metrics, texts and hparams with ``tblog.SummaryWriter``.

    Only the main process (``state.is_world_process_zero``) writes.

    Args:
        tb_writer: a writer to use (any ``SummaryWriter``); it is not closed
            at the end of training. Default: one is created per training run.
        log_dir: where the created writer writes. Default:
            ``TENSORBOARD_LOGGING_DIR``, else ``{output_dir}/runs/{date}_{host}``
            (``{output_dir}/runs/{date}_{host}/{trial}`` in a hyperparameter search).
        hparams: extra hparams (e.g. the model's size) for the HParams dashboard.
        hparam_args: the ``TrainingArguments`` fields recorded as hparams.
        **writer_kwargs: ``tblog.SummaryWriter`` keyword arguments.
    """

    def __init__(
        self,
        tb_writer: SummaryWriter | None = None,
        log_dir: str | os.PathLike[str] | None = None,
        hparams: Mapping[str, Any] | None = None,
        hparam_args: Sequence[str] = HPARAM_ARGS,
        **writer_kwargs: Any,
    ) -> None:
        self.tb_writer = tb_writer
        self._own_writer = tb_writer is None
        env_dir = os.environ.get("TENSORBOARD_LOGGING_DIR")
        chosen = log_dir if log_dir is not None else env_dir
        self.log_dir = os.path.expanduser(os.fspath(chosen)) if chosen is not None else None
        self._fixed_dir = self.log_dir is not None
        self._hparams = dict(hparams or {})
        self._hparam_args = tuple(hparam_args)
        self._writer_kwargs = writer_kwargs

    def _writer(self, args: Any) -> SummaryWriter:
        if self.tb_writer is None:
            if self.log_dir is None:
                self.log_dir = os.path.join(args.output_dir, default_log_dir())
            self.tb_writer = SummaryWriter(self.log_dir, **self._writer_kwargs)
        return self.tb_writer

    def _record_hparams(self, writer: SummaryWriter, args: Any, model: Any) -> None:
        values = {name: _hparam(getattr(args, name)) for name in self._hparam_args
                  if hasattr(args, name)}
        config = getattr(model, "config", None)
        if getattr(config, "model_type", None):
            values["model_type"] = str(config.model_type)
        values.update({key: _hparam(value) for key, value in self._hparams.items()})
        metrics: dict[str, None] = {"train/loss": None}
        strategy = getattr(args, "eval_strategy", getattr(args, "evaluation_strategy", "no"))
        if str(getattr(strategy, "value", strategy)) != "no":
            metrics["eval/loss"] = None
        best = getattr(args, "metric_for_best_model", None)
        if best:
            metrics[_tag(best if best.startswith("eval_") else f"eval_{best}")] = None
        writer.add_hparams(values, metrics, in_run=True)

    def on_train_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        """Open the writer and log ``args``, ``model_config`` and the hparams."""
        if not state.is_world_process_zero:
            return
        if state.is_hyper_param_search and state.trial_name is not None and not self._fixed_dir:
            if self._own_writer and self.tb_writer is not None:
                self.tb_writer.close()
                self.tb_writer = None
            self.log_dir = os.path.join(args.output_dir, default_log_dir(), state.trial_name)
        writer = self._writer(args)
        writer.add_text("args", args.to_json_string())
        model = kwargs.get("model")
        config = getattr(model, "config", None)
        if config is not None and hasattr(config, "to_json_string"):
            writer.add_text("model_config", config.to_json_string())
        try:
            self._record_hparams(writer, args, model)
        except ValueError:
            pass  # a second train() with other hparams: TensorBoard shows the first

    def on_log(self, args: Any, state: Any, control: Any, logs: Mapping[str, Any] | None = None,
               **kwargs: Any) -> None:
        """Log numbers as scalars and strings as text at ``state.global_step``."""
        if not state.is_world_process_zero or not logs:
            return
        writer = self._writer(args)
        step = state.global_step
        for key, value in logs.items():
            tag = _tag(key)
            if isinstance(value, str):
                writer.add_text(tag, value, step)
                continue
            try:
                writer.add_scalar(tag, value, step)
            except (TypeError, ValueError):
                _transformers.utils.logging.get_logger(__name__).warning(
                    "TBLogCallback: dropped %r = %r (not a number or a string)", key, value
                )
        writer.flush()  # as TensorBoardCallback: each log call is visible at once

    def on_train_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        """Close the writer this callback created (a later evaluate() opens a new file)."""
        if self.tb_writer is not None:
            if self._own_writer:
                self.tb_writer.close()
                self.tb_writer = None
            else:
                self.tb_writer.flush()
