"""W&B's PyTorch quick-start, on tblog: an MLP on random data with config, watch,
per-batch logging, a table of predictions, an alert when the loss rises, a summary.

    python examples/tracking.py [DIR]          # default runs; writes DIR/quickstart/<run>
    tensorboard --logdir runs/quickstart       # Scalars, Histograms, Images, Text, HParams

Needs torch. Every wandb call below is spelled as in W&B's example; only the
import differs (``import tblog as wandb``).
"""

from __future__ import annotations

import os
import sys
import tempfile

import numpy as np
import torch
from torch import nn

import tblog as wandb


def main(directory: str = "runs") -> None:
    config = {
        "epochs": 3, "batch_size": 64, "learning_rate": 0.05,
        "model": {"hidden": 128, "dropout": 0.1}, "dataset": "random-mnist-shaped",
    }
    run = wandb.init(project="quickstart", config=config, dir=directory,
                     notes="MLP on random data", tags=["example"], system_interval=1.0)
    cfg = wandb.config
    torch.manual_seed(0)
    images = torch.rand(1024, 1, 28, 28)
    labels = torch.randint(0, 10, (1024,))
    model = nn.Sequential(
        nn.Flatten(), nn.Linear(784, cfg.model["hidden"]), nn.ReLU(),
        nn.Dropout(cfg.model["dropout"]), nn.Linear(cfg.model["hidden"], 10),
    )
    optimizer = torch.optim.SGD(model.parameters(), lr=cfg.learning_rate)
    loss_fn = nn.CrossEntropyLoss()
    wandb.watch(model, loss_fn, log="all", log_freq=10)

    previous = float("inf")
    for epoch in range(cfg.epochs):
        model.train()
        for start in range(0, len(images), cfg.batch_size):
            batch = images[start:start + cfg.batch_size]
            target = labels[start:start + cfg.batch_size]
            optimizer.zero_grad()
            loss = loss_fn(model(batch), target)
            loss.backward()
            optimizer.step()
            wandb.log({"train/loss": loss.item(), "epoch": epoch})
        model.eval()
        with torch.no_grad():
            logits = model(images[:256])
            val_loss = loss_fn(logits, labels[:256]).item()
            accuracy = (logits.argmax(1) == labels[:256]).float().mean().item()
        wandb.log({"val/loss": val_loss, "val/accuracy": accuracy, "val/logits": logits})
        if val_loss > previous:
            text = f"epoch {epoch}: {previous:.4f} -> {val_loss:.4f}"
            wandb.alert(title="val loss rose", text=text, level="WARN", wait_duration=300)
        previous = val_loss
        wandb.summary["best_val_loss"] = min(val_loss, wandb.summary.get("best_val_loss", 1e9))

    table = wandb.Table(columns=["image", "prediction", "target", "scores"])
    scores = torch.softmax(logits[:8], 1)
    for i in range(8):
        table.add_data(wandb.Image(images[i]), int(scores[i].argmax()), int(labels[i]),
                       np.round(scores[i].numpy(), 2).tolist())
    wandb.log({"predictions": table})
    checkpoint = os.path.join(tempfile.mkdtemp(), "model.pt")
    torch.save(model.state_dict(), checkpoint)
    wandb.save(checkpoint)  # copied to {log_dir}/files/model.pt
    print(f"logged {run.step} steps to {run.log_dir}")
    wandb.finish()
    print(f"tensorboard --logdir {run.log_dir.rsplit('/', 1)[0]}")


if __name__ == "__main__":
    main(*sys.argv[1:2])
