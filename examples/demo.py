"""Log every summary kind into ./runs/demo and print how to open it in TensorBoard.

    python examples/demo.py [--logdir runs/demo]

Needs Pillow and matplotlib (``pip install tblog[all]``); the graph needs torch.
"""

from __future__ import annotations

import argparse
import math
import shutil
from pathlib import Path

import numpy as np

from tblog import SummaryWriter


def log_scalars(writer: SummaryWriter) -> None:
    for step in range(100):
        writer.add_scalar("loss/train", math.exp(-step / 30) + 0.05 * math.sin(step), step)
        writer.add_scalars("loss/compare", {"train": math.exp(-step / 30),
                                            "val": math.exp(-step / 40)}, step)


def log_histograms(writer: SummaryWriter, rng: np.random.Generator) -> None:
    for step in range(10):
        writer.add_histogram("weights", rng.normal(step * 0.1, 1.0, 10_000), step)


def log_media(writer: SummaryWriter, rng: np.random.Generator) -> None:
    y, x = np.mgrid[0:64, 0:64] / 63.0
    image = np.stack([x, y, 1 - x]).astype(np.float32)  # CHW in [0, 1]
    writer.add_image("image", image, 0)
    writer.add_images("batch", rng.random((8, 3, 32, 32), dtype=np.float32), 0)
    writer.add_image_with_boxes(
        "boxes", image, np.array([[5, 5, 30, 30], [20, 25, 60, 60]]), 0, labels=["a", "b"]
    )
    video = rng.random((2, 8, 3, 32, 32), dtype=np.float32)  # N, T, C, H, W
    writer.add_video("video", video, 0, fps=4)
    t = np.linspace(0, 1, 16_000, dtype=np.float32)
    writer.add_audio("audio/tone", 0.5 * np.sin(2 * np.pi * 440 * t), 0, sample_rate=16_000)
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib not installed: skipping add_figure")
    else:
        figure, axes = plt.subplots()
        axes.plot(np.sin(np.linspace(0, 6, 100)))
        writer.add_figure("figure", figure, 0)


def log_text_and_tensors(writer: SummaryWriter, rng: np.random.Generator) -> None:
    writer.add_text("notes", "**tblog** demo: *markdown* works", 0)
    writer.add_text("table", [["metric", "value"], ["accuracy", "0.93"]], 0)
    labels = rng.integers(0, 2, 1000)
    predictions = np.clip(labels * 0.6 + rng.random(1000) * 0.5, 0, 1)
    writer.add_pr_curve("pr", labels, predictions, 0)
    writer.add_custom_scalars_multilinechart(["loss/train"], category="demo", title="loss")
    vertices = rng.random((1, 100, 3), dtype=np.float32)
    faces = rng.integers(0, 100, (1, 50, 3))
    writer.add_mesh("mesh", vertices, faces=faces, global_step=0)
    writer.add_tensor("tensor", np.arange(6, dtype=np.float32).reshape(2, 3), 0)


def log_structured(writer: SummaryWriter, rng: np.random.Generator) -> None:
    writer.add_embedding(
        rng.normal(size=(100, 16)).astype(np.float32),
        metadata=[f"point {i}" for i in range(100)],
        label_img=rng.random((100, 3, 8, 8), dtype=np.float32),
        tag="points",
    )
    writer.add_hparams({"lr": 0.01, "batch": 32, "optimizer": "adam", "dropout": True},
                       {"hparam/accuracy": 0.93}, run_name="hparams_run")
    try:
        import torch
    except ImportError:
        print("torch not installed: skipping add_graph")
        return
    model = torch.nn.Sequential(
        torch.nn.Conv2d(3, 8, 3), torch.nn.ReLU(), torch.nn.Flatten(), torch.nn.LazyLinear(10)
    )
    example = torch.zeros(1, 3, 16, 16)
    model(example)
    writer.add_graph(model, example)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--logdir", default="runs/demo")
    logdir = Path(parser.parse_args().logdir)
    shutil.rmtree(logdir, ignore_errors=True)  # a fresh demo each time
    rng = np.random.default_rng(0)
    with SummaryWriter(logdir) as writer:
        log_scalars(writer)
        log_histograms(writer, rng)
        log_media(writer, rng)
        log_text_and_tensors(writer, rng)
        log_structured(writer, rng)
    print(f"Logged every summary kind into {logdir}. Open it with:\n")
    print(f"    tensorboard --logdir {logdir}\n")


if __name__ == "__main__":
    main()
