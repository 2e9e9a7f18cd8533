"""PyTorch Lightning: ``tblog.integrations.lightning.TBLogLogger`` and, under
``tblog.patch()``, Lightning's stock ``TensorBoardLogger``, each training a tiny
model on CPU; stock TensorBoard reads the metrics, hparams and graph back."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
from integrations_util import hparams, run_patched, scalars, tags
from tbutil import accumulate

pl = pytest.importorskip("pytorch_lightning", reason="pytorch-lightning is not installed")
torch = pytest.importorskip("torch")

# Executed here and in the patched subprocess: a tiny regression model.
TRAIN = textwrap.dedent("""
    import warnings
    import torch
    import pytorch_lightning as pl

    warnings.filterwarnings("ignore")

    class Tiny(pl.LightningModule):
        def __init__(self, lr=0.05, hidden=8, optim={"name": "sgd", "nesterov": False}):
            super().__init__()
            self.save_hyperparameters()
            self.net = torch.nn.Sequential(torch.nn.Linear(4, hidden), torch.nn.ReLU(),
                                           torch.nn.Linear(hidden, 1))
            self.example_input_array = torch.zeros(2, 4)

        def forward(self, x):
            return self.net(x)

        def training_step(self, batch, batch_idx):
            x, y = batch
            loss = torch.nn.functional.mse_loss(self(x), y)
            self.log("train_loss", loss)
            self.log("hp_metric", loss)
            return loss

        def configure_optimizers(self):
            return torch.optim.SGD(self.parameters(), lr=self.hparams.lr)

    def train(logger, epochs=2, **trainer_kwargs):
        torch.manual_seed(0)
        data = torch.utils.data.TensorDataset(torch.randn(16, 4), torch.randn(16, 1))
        loader = torch.utils.data.DataLoader(data, batch_size=4)
        trainer = pl.Trainer(max_epochs=epochs, logger=logger, log_every_n_steps=1,
                             enable_checkpointing=False, enable_progress_bar=False,
                             enable_model_summary=False, accelerator="cpu",
                             **({"devices": 1} | trainer_kwargs))
        trainer.fit(Tiny(), loader)
        return trainer
""")
STEPS = 8  # 2 epochs of 4 batches
EXPECTED_HPARAMS = {"lr": 0.05, "hidden": 8.0, "optim/name": "sgd", "optim/nesterov": False}


@pytest.fixture(scope="module")
def train() -> Any:
    namespace: dict[str, Any] = {}
    exec(TRAIN, namespace)  # noqa: S102 - the test's own training code
    return namespace["train"]


def check_run(run_dir: str | Path) -> None:
    """The metrics, hparams and graph of one TRAIN run, as stock TensorBoard reads them."""
    loss = scalars(run_dir, "train_loss")
    assert [step for step, _ in loss] == list(range(STEPS))
    hp_metric = scalars(run_dir, "hp_metric")
    assert hp_metric[0] == (0, -1.0)  # the default_hp_metric placeholder
    assert [value for _, value in hp_metric[1:]] == pytest.approx([v for _, v in loss])
    names, metrics, values = hparams(run_dir)
    assert names == set(EXPECTED_HPARAMS) and metrics == {"hp_metric"}
    assert values == pytest.approx(EXPECTED_HPARAMS)
    graph = accumulate(run_dir).Graph()
    ops = {node.op for node in graph.node}
    assert "aten::linear" in ops and any("net" in node.name for node in graph.node), ops


@pytest.fixture(scope="module")
def tblog_run(train: Any, tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, Any, Path]:
    from tblog.integrations.lightning import TBLogLogger

    root = tmp_path_factory.mktemp("logs_lightning")
    logger = TBLogLogger(root, log_graph=True, flush_secs=5)
    trainer = train(logger)
    return logger, trainer, root


def test_tblog_logger_metrics_hparams_graph(tblog_run: tuple[Any, Any, Path]) -> None:
    logger, trainer, root = tblog_run
    import tblog

    assert isinstance(logger.experiment, tblog.SummaryWriter)
    assert isinstance(logger, pl.loggers.TensorBoardLogger)
    expected = root / "lightning_logs" / "version_0"
    assert Path(logger.log_dir) == expected and Path(trainer.log_dir) == expected
    assert (logger.save_dir, logger.name, logger.version) == (str(root), "lightning_logs", 0)
    assert (expected / "hparams.yaml").is_file()  # Lightning's save() on success
    check_run(expected)


def test_hparams_dashboard_over_http(tblog_run: tuple[Any, Any, Path], tb_server: Any) -> None:
    _, _, root = tblog_run
    server = tb_server(root, load_fast=True)
    body = {"experimentName": "", "allowedStatuses": ["STATUS_SUCCESS", "STATUS_UNKNOWN"],
            "colParams": [], "startIndex": 0, "sliceSize": 10}

    def probe() -> Any:
        groups = server.post_json("/data/plugin/hparams/session_groups", body)["sessionGroups"]
        return groups if groups and groups[0]["metricValues"] else None

    (group,) = server.wait_for(probe, what="the run's session group with hp_metric")
    assert group["name"] == "lightning_logs/version_0"
    assert group["hparams"] == pytest.approx(EXPECTED_HPARAMS)
    (metric,) = group["metricValues"]
    assert metric["name"]["tag"] == "hp_metric" and metric["trainingStep"] == STEPS - 1


def test_versions_sub_dir_prefix_and_metric_dicts(train: Any, logdir: Path) -> None:
    from tblog.integrations.lightning import TBLogLogger

    first = TBLogLogger(logdir, name="exp", sub_dir="fold0", prefix="p")
    first.log_metrics({"acc": 0.5, "pair": {"a": 1.0, "b": 2.0}}, step=3)
    first.finalize("success")
    second = TBLogLogger(logdir, name="exp", default_hp_metric=False)
    second.log_hyperparams({"depth": 2, "t": torch.tensor(0.5), "grid": torch.zeros(2, 2)})
    with pytest.warns(UserWarning, match="already recorded different hparams"):
        second.log_hyperparams({"depth": 3})  # TensorBoard would not show it
    second.finalize("success")
    run0 = logdir / "exp" / "version_0" / "fold0"
    assert Path(first.log_dir) == run0 and first.sub_dir == "fold0"
    assert scalars(run0, "p-acc") == [(3, 0.5)]
    assert scalars(logdir / "exp" / "version_0" / "fold0" / "p-pair_a", "p-pair") == [(3, 1.0)]
    run1 = logdir / "exp" / "version_1"
    assert second.version == 1 and Path(second.log_dir) == run1
    _, metrics, values = hparams(run1)
    assert metrics == set() and values == {"depth": 2.0, "t": 0.5, "grid": str(torch.zeros(2, 2))}
    assert "hp_metric" not in tags(run1)


def test_other_ranks_write_nothing(logdir: Path) -> None:
    from pytorch_lightning.utilities import rank_zero_only

    from tblog.integrations.lightning import TBLogLogger

    logger = TBLogLogger(logdir, version=0)
    saved = rank_zero_only.rank
    rank_zero_only.rank = 1
    try:
        logger.log_metrics({"loss": 1.0}, step=0)
        logger.log_hyperparams({"lr": 0.1})
        experiment = logger.experiment
        logger.finalize("success")
    finally:
        rank_zero_only.rank = saved
    assert type(experiment).__name__ == "_DummyExperiment"
    assert list(logdir.iterdir()) == []


def test_ddp_two_processes_rank_zero_writes(logdir: Path, tmp_path: Path) -> None:
    """A real 2-process DDP run (gloo on CPU): one run directory, one event file."""
    script = tmp_path / "ddp_train.py"
    script.write_text(TRAIN + textwrap.dedent(f"""
        from tblog.integrations.lightning import TBLogLogger
        train(TBLogLogger({str(logdir)!r}), devices=2, strategy="ddp", num_nodes=1)
    """))
    launcher = ("RANK", "LOCAL_RANK", "WORLD_SIZE", "NODE_RANK", "MASTER_PORT")
    env = {k: v for k, v in os.environ.items() if k not in launcher}
    env["MASTER_ADDR"] = "127.0.0.1"  # Lightning picks a free port
    result = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                            timeout=180, env=env, cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-4000:]
    run = logdir / "lightning_logs" / "version_0"
    assert sorted(p.name for p in (logdir / "lightning_logs").iterdir()) == ["version_0"]
    assert len([p for p in run.iterdir() if "tfevents" in p.name]) == 1
    # 16 samples over 2 ranks in batches of 4: 2 steps per epoch
    assert [step for step, _ in scalars(run, "train_loss")] == [0, 1, 2, 3]
    assert hparams(run)[2] == pytest.approx(EXPECTED_HPARAMS)


def test_stock_tensorboard_logger_under_patch(logdir: Path) -> None:
    """log_hyperparams imports torch.utils.tensorboard.summary.hparams: tblog.torch_summary."""
    out = run_patched(TRAIN + textwrap.dedent(f"""
        from pytorch_lightning.loggers import TensorBoardLogger
        logger = TensorBoardLogger({str(logdir)!r}, log_graph=True)
        trainer = train(logger)
        print(json.dumps({{"tblog": isinstance(logger.experiment, tblog.SummaryWriter),
                          "log_dir": trainer.log_dir}}))
    """))
    assert out == {"tblog": True, "log_dir": str(logdir / "lightning_logs" / "version_0")}
    check_run(out["log_dir"])


def test_logger_class_per_flavour() -> None:
    from tblog.integrations import lightning

    assert lightning.logger_class("pytorch_lightning") is lightning.TBLogLogger
    assert issubclass(lightning.TBLogLogger, pl.loggers.TensorBoardLogger)
    with pytest.raises(ValueError, match="package must be one of"):
        lightning.logger_class("lightning_fabric")
    if importlib.util.find_spec("lightning") is None:
        with pytest.raises(ImportError, match="pip install lightning"):
            lightning.logger_class("lightning.pytorch")
    else:
        import lightning.pytorch as lpl

        assert issubclass(lightning.logger_class("lightning.pytorch"), lpl.loggers.Logger)
