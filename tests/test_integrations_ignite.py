"""pytorch-ignite: ``tblog.integrations.ignite.TBLogLogger`` with ignite's six
handlers and, under ``tblog.patch()``, ignite's stock ``TensorboardLogger``, each
training a tiny model on CPU; stock TensorBoard reads the values back."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import pytest
from integrations_util import hparams, run_patched, scalars, tags
from tbutil import accumulate

pytest.importorskip("ignite", reason="pytorch-ignite is not installed")
torch = pytest.importorskip("torch")

# Executed here and in the patched subprocess. ``logger_cls`` is TBLogLogger or
# ignite's TensorboardLogger; the handlers are ignite's own.
TRAIN = textwrap.dedent("""
    import torch
    from ignite.engine import Events, create_supervised_evaluator, create_supervised_trainer
    from ignite.handlers.tensorboard_logger import (
        GradsHistHandler, GradsScalarHandler, OptimizerParamsHandler, WeightsHistHandler,
        WeightsScalarHandler, global_step_from_engine)
    from ignite.metrics import Loss

    def train(logger_cls, log_dir, epochs=2):
        torch.manual_seed(0)
        model = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.ReLU(), torch.nn.Linear(8, 1))
        optimizer = torch.optim.SGD(model.parameters(), lr=0.05)
        loss_fn = torch.nn.MSELoss()
        data = torch.utils.data.TensorDataset(torch.randn(16, 4), torch.randn(16, 1))
        loader = torch.utils.data.DataLoader(data, batch_size=4)
        trainer = create_supervised_trainer(model, optimizer, loss_fn)
        evaluator = create_supervised_evaluator(model, metrics={"mse": Loss(loss_fn)})
        trainer.add_event_handler(Events.EPOCH_COMPLETED, lambda _: evaluator.run(loader))
        with logger_cls(log_dir=log_dir) as tb:
            every = Events.ITERATION_COMPLETED
            tb.attach_output_handler(trainer, every, tag="training",
                                     output_transform=lambda loss: {"loss": loss})
            tb.attach_output_handler(evaluator, Events.COMPLETED, tag="validation",
                                     metric_names=["mse"],
                                     global_step_transform=global_step_from_engine(trainer))
            tb.attach_opt_params_handler(trainer, every, optimizer)
            tb.attach(trainer, WeightsScalarHandler(model), every)
            tb.attach(trainer, GradsScalarHandler(model), every)
            tb.attach(trainer, WeightsHistHandler(model), Events.EPOCH_COMPLETED)
            tb.attach(trainer, GradsHistHandler(model), Events.EPOCH_COMPLETED)
            trainer.run(loader, max_epochs=epochs)
            # writer methods are reachable on the logger (tblog's writer in both cases)
            tb.add_hparams({"lr": 0.05, "hidden": 8}, {"validation/mse": None}, in_run=True)
            return type(tb.writer)
""")
STEPS = 8  # 2 epochs of 4 batches


def check_run(run: Path) -> None:
    loss = scalars(run, "training/loss")
    assert [step for step, _ in loss] == list(range(1, STEPS + 1))
    assert all(value > 0 for _, value in loss)
    assert [step for step, _ in scalars(run, "validation/mse")] == [1, 2]  # trainer epochs
    assert scalars(run, "lr/group_0") == [(step, pytest.approx(0.05))
                                          for step in range(1, STEPS + 1)]
    all_tags = tags(run)
    for prefix in ("weights_norm/", "grads_norm/", "weights/", "grads/"):
        assert any(t.startswith(prefix + "0/weight") for t in all_tags), (prefix, all_tags)
    acc = accumulate(run)
    histogram = acc.Tensors("weights/0/weight")
    assert [event.step for event in histogram] == [1, 2]  # epochs
    assert histogram[0].tensor_proto.tensor_shape.dim[1].size == 3  # TensorBoard's buckets
    _, metrics, values = hparams(run)
    assert values == {"lr": pytest.approx(0.05), "hidden": 8.0} and metrics == {"validation/mse"}


def test_tblog_logger_with_ignite_handlers(logdir: Path) -> None:
    import tblog
    from tblog.integrations import ignite as integration

    namespace: dict[str, Any] = {}
    exec(TRAIN, namespace)  # noqa: S102 - the test's own training code
    writer_type = namespace["train"](integration.TBLogLogger, str(logdir))
    assert writer_type is tblog.SummaryWriter
    check_run(logdir)
    assert integration.OutputHandler.__module__ == "ignite.handlers.tensorboard_logger"


def test_tblog_logger_is_ignites_logger(logdir: Path) -> None:
    from ignite.handlers.tensorboard_logger import TensorboardLogger

    from tblog.integrations.ignite import TBLogLogger

    with TBLogLogger(logdir, flush_secs=1, filename_suffix=".x") as logger:
        assert isinstance(logger, TensorboardLogger)
        logger.add_scalar("direct", 2.0, 5)  # writer methods on the logger, as ignite's
        assert logger.get_logdir() == str(logdir)
    assert scalars(logdir, "direct") == [(5, 2.0)]
    assert all(p.name.endswith(".x") for p in logdir.iterdir())


def test_stock_tensorboard_logger_under_patch(logdir: Path) -> None:
    out = run_patched(TRAIN + textwrap.dedent(f"""
        from ignite.handlers.tensorboard_logger import TensorboardLogger
        writer_type = train(TensorboardLogger, {str(logdir)!r})
        print(json.dumps({{"tblog": writer_type is tblog.SummaryWriter}}))
    """))
    assert out == {"tblog": True}
    check_run(logdir)
