"""A model graph, projector embeddings and an hparams sweep with tblog.

    python examples/structured.py [LOGDIR]      # default runs/structured
    tensorboard --logdir runs/structured        # Graphs, Projector and HParams tabs

Needs numpy; the graph needs torch (skipped without it).
"""

from __future__ import annotations

import math
import sys

import numpy as np

from tblog import SummaryWriter


def log_graph(logdir: str) -> None:
    try:
        import torch
        from torch import nn
    except ImportError:
        print("torch is not installed: no graph")
        return

    class Classifier(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.features = nn.Sequential(nn.Conv2d(1, 8, 3), nn.ReLU(), nn.MaxPool2d(2))
            self.head = nn.Linear(8 * 13 * 13, 10)

        def forward(self, image: torch.Tensor, temperature: float = 1.0) -> dict:
            logits = self.head(self.features(image).flatten(1)) / temperature
            return {"logits": logits, "probs": logits.softmax(-1)}  # dict outputs work

    with SummaryWriter(f"{logdir}/graph") as writer:
        # A dict is passed as keyword arguments when forward takes those names.
        writer.add_graph(Classifier(), {"image": torch.randn(4, 1, 28, 28)})


def log_embeddings(logdir: str, rng: np.random.Generator) -> None:
    centers = rng.normal(0, 4, (5, 16))
    classes = np.repeat(np.arange(5), 40)
    points = centers[classes] + rng.normal(0, 1, (200, 16))
    # Label images: a bright square whose position encodes the class.
    images = np.zeros((200, 1, 12, 12), np.float32)
    for i, c in enumerate(classes):
        images[i, 0, 2 * c : 2 * c + 3, 2 * c : 2 * c + 3] = 1.0
    with SummaryWriter(f"{logdir}/embedding") as writer:
        for step in (0, 100):  # one projector entry per (tag, step)
            noisy = points + rng.normal(0, 3 / (step + 1), points.shape)
            rows = [[f"point {i}", f"class {c}"] for i, c in enumerate(classes)]
            writer.add_embedding(
                noisy, rows, images, step, tag="clusters", metadata_header=["name", "class"]
            )


def log_hparams(logdir: str) -> None:
    # The torch way: each call makes a sub-run of the writer's log_dir.
    with SummaryWriter(f"{logdir}/sweep") as writer:
        for lr in (0.1, 0.01, 0.001):
            for batchnorm in (True, False):
                accuracy = 0.9 - abs(math.log10(lr) + 2) * 0.1 + 0.05 * batchnorm
                writer.add_hparams(
                    {"lr": lr, "optimizer": "sgd", "batchnorm": batchnorm},
                    {"hparam/accuracy": accuracy},
                    run_name=f"lr={lr},bn={batchnorm}",
                )
    # Or in the training run itself, next to its curves, with a metric history.
    with SummaryWriter(f"{logdir}/training") as writer:
        hparams = {"lr": 0.05, "optimizer": "adam", "batchnorm": True}
        for epoch in range(5):
            writer.add_scalar("loss", math.exp(-epoch), epoch)
            writer.add_hparams(
                hparams, {"hparam/accuracy": 0.6 + 0.07 * epoch, "loss": None}, in_run=True
            )


def main() -> None:
    logdir = sys.argv[1] if len(sys.argv) > 1 else "runs/structured"
    log_graph(logdir)
    log_embeddings(logdir, np.random.default_rng(0))
    log_hparams(logdir)
    print(f"tensorboard --logdir {logdir}")


if __name__ == "__main__":
    main()
