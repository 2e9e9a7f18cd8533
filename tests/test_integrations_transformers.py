"""Hugging Face transformers: ``TBLogCallback`` and, under ``tblog.patch()``,
``report_to="tensorboard"`` (transformers' own ``TensorBoardCallback``), each
training a tiny BERT built from a config on CPU (no downloads)."""

from __future__ import annotations

import json
import os
import textwrap
from pathlib import Path
from typing import Any

import pytest
from integrations_util import hparams, run_patched, scalars
from tbutil import accumulate

os.environ.setdefault("HF_HUB_OFFLINE", "1")
transformers = pytest.importorskip("transformers", reason="transformers is not installed")
pytest.importorskip("accelerate", reason="transformers' Trainer needs accelerate")
torch = pytest.importorskip("torch")

TRAIN = textwrap.dedent("""
    import os, warnings
    os.environ["HF_HUB_OFFLINE"] = "1"
    import torch
    import transformers
    from transformers import BertConfig, BertForSequenceClassification, Trainer, TrainingArguments

    warnings.filterwarnings("ignore")
    transformers.logging.set_verbosity_error()

    class Tokens(torch.utils.data.Dataset):
        def __len__(self):
            return 16

        def __getitem__(self, i):
            g = torch.Generator().manual_seed(i)
            return {"input_ids": torch.randint(0, 40, (8,), generator=g),
                    "labels": torch.tensor(i % 2)}

    def train(output_dir, report_to, callbacks=()):
        torch.manual_seed(0)
        config = BertConfig(vocab_size=40, hidden_size=16, num_hidden_layers=1,
                            num_attention_heads=2, intermediate_size=16,
                            max_position_embeddings=16, num_labels=2)
        args = TrainingArguments(
            output_dir=output_dir, max_steps=4, logging_steps=1, eval_strategy="steps",
            eval_steps=4, per_device_train_batch_size=4, per_device_eval_batch_size=8,
            learning_rate=1e-3, report_to=report_to, save_strategy="no", use_cpu=True,
            disable_tqdm=True, dataloader_num_workers=0,
        )
        trainer = Trainer(model=BertForSequenceClassification(config), args=args,
                          train_dataset=Tokens(), eval_dataset=Tokens(), callbacks=list(callbacks))
        trainer.train()
        return trainer
""")


@pytest.fixture(scope="module")
def train() -> Any:
    namespace: dict[str, Any] = {}
    exec(TRAIN, namespace)  # noqa: S102 - the test's own training code
    return namespace["train"]


def only_run(root: Path) -> Path:
    (run,) = [p for p in (root / "runs").iterdir() if p.is_dir()]
    return run


def check_metrics(run: Path) -> None:
    loss = scalars(run, "train/loss")
    assert [step for step, _ in loss] == [1, 2, 3, 4]
    assert all(0.1 < value < 2.0 for _, value in loss)
    assert [step for step, _ in scalars(run, "train/learning_rate")] == [1, 2, 3, 4]
    ((step, value),) = scalars(run, "eval/loss")
    assert step == 4 and 0.1 < value < 2.0
    texts = accumulate(run).Tags()["tensors"]
    assert "args/text_summary" in texts and "model_config/text_summary" in texts


def test_tblog_callback(train: Any, logdir: Path) -> None:
    from tblog.integrations.transformers import TBLogCallback

    callback = TBLogCallback(hparams={"hidden_size": 16})
    train(str(logdir), "none", [callback])
    run = only_run(logdir)
    assert Path(callback.log_dir) == run and callback.tb_writer is None  # closed at the end
    check_metrics(run)
    names, metrics, values = hparams(run)
    assert metrics == {"train/loss", "eval/loss"}
    assert {"learning_rate", "max_steps", "lr_scheduler_type", "model_type"} <= names
    assert values["learning_rate"] == pytest.approx(1e-3) and values["max_steps"] == 4
    assert values["model_type"] == "bert" and values["hidden_size"] == 16
    assert values["lr_scheduler_type"] == "linear"
    args = json.loads(accumulate(run).Tensors("args/text_summary")[0].tensor_proto.string_val[0])
    assert args["max_steps"] == 4


def test_tblog_callback_given_writer_and_log_dir(train: Any, logdir: Path) -> None:
    import tblog
    from tblog.integrations.transformers import TBLogCallback

    with tblog.SummaryWriter(logdir / "mine") as writer:
        callback = TBLogCallback(tb_writer=writer)
        train(str(logdir / "out"), "none", [callback])
        assert callback.tb_writer is writer and not writer.file_writer.closed  # not closed
    check_metrics(logdir / "mine")
    callback = TBLogCallback(log_dir=logdir / "fixed", flush_secs=1)
    trainer = train(str(logdir / "out2"), "none", [callback])
    trainer.evaluate()  # after training: a new event file in the same run
    assert [step for step, _ in scalars(logdir / "fixed", "eval/loss")] == [4, 4]


def test_report_to_tensorboard_under_patch(logdir: Path) -> None:
    out = run_patched(TRAIN + textwrap.dedent(f"""
        from transformers.integrations import TensorBoardCallback
        trainer = train({str(logdir)!r}, "tensorboard")
        (callback,) = [c for c in trainer.callback_handler.callbacks
                       if isinstance(c, TensorBoardCallback)]
        print(json.dumps({{"tblog": callback._SummaryWriter is tblog.SummaryWriter,
                          "torch": "torch.utils.tensorboard" in sys.modules and bool(
                              vars(sys.modules["torch.utils.tensorboard"]).get("__tblog_patch__"))}}))
    """))
    assert out == {"tblog": True, "torch": True}
    check_metrics(only_run(logdir))
