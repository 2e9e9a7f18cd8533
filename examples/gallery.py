"""One function per summary kind: the code shown on each page of the docs' gallery.

The last one, ``tracking``, logs through the W&B-style API (``tblog.init``, ...).

    python examples/gallery.py [LOGDIR]        # default runs/gallery; one sub-folder per kind
    tensorboard --logdir runs/gallery

``scripts/screenshots.py`` runs each function into a fresh logdir and captures the
TensorBoard dashboard that shows it; the gallery pages include the code between the
``--8<--`` markers below (pymdownx.snippets), so page, code and screenshot agree.

Needs numpy, Pillow (boxes, video) and matplotlib (figures); the graph needs torch.
"""

from __future__ import annotations

# --8<-- [start:imports]
import math

import numpy as np

from tblog import SummaryWriter

# --8<-- [end:imports]


# --8<-- [start:scalars]
def scalars(logdir: str) -> None:
    rng = np.random.default_rng(0)
    for lr in (0.1, 0.03):  # one run per learning rate: one line each per chart
        with SummaryWriter(f"{logdir}/lr={lr}") as writer:
            for step in range(300):
                loss = 2.0 * math.exp(-step * lr / 10) + 0.05 * rng.standard_normal()
                writer.add_scalar("loss/train", loss, step)
                writer.add_scalar("loss/valid", loss * 1.15 + 0.05, step)
                writer.add_scalar("accuracy", 1.0 - loss / 2.5, step)
# --8<-- [end:scalars]


# --8<-- [start:histograms]
def histograms(logdir: str) -> None:
    rng = np.random.default_rng(0)
    with SummaryWriter(logdir) as writer:
        for step in range(30):
            # a layer's weights spreading and drifting as training goes on
            weights = rng.normal(loc=0.05 * step, scale=1.0 + 0.05 * step, size=10_000)
            writer.add_histogram("layer1/weights", weights, step)
            # a bimodal activation, numpy's bin estimator instead of TensorBoard's buckets
            low, high = rng.normal(-2, 0.5, 5000), rng.normal(2 + step / 10, 0.5, 5000)
            activations = np.concatenate([low, high])
            writer.add_histogram("layer1/activations", activations, step, bins="auto")
# --8<-- [end:histograms]


def _pattern(height: int, width: int, phase: float) -> np.ndarray:
    """A smooth RGB test pattern, float CHW in [0, 1]."""
    y, x = np.mgrid[0:height, 0:width] / np.array([height, width])[:, None, None]
    return np.stack([x, y, 0.5 + 0.5 * np.sin(8 * (x + y) + phase)]).astype(np.float32)


# --8<-- [start:images]
def images(logdir: str) -> None:
    with SummaryWriter(logdir) as writer:
        for step in range(4):
            image = _pattern(128, 192, phase=step)  # float CHW in [0, 1]
            writer.add_image("samples/pattern", image, step)
            # uint8 HWC, as image libraries give it
            hwc = (image.transpose(1, 2, 0) * 255).astype(np.uint8)
            writer.add_image("samples/hwc", hwc, step, dataformats="HWC")
            # a batch (N, C, H, W) is tiled into one grid, 8 per row
            batch = np.stack([_pattern(48, 48, phase=step + i / 2) for i in range(16)])
            writer.add_images("samples/batch", batch, step)
            boxes = np.array([[20, 20, 90, 80], [100 + 10 * step, 40, 180, 120]])
            writer.add_image_with_boxes("detections", image, boxes, step, labels=["cat", "dog"])
# --8<-- [end:images]


# --8<-- [start:figures]
def figures(logdir: str) -> None:
    import matplotlib

    matplotlib.use("Agg")  # no display needed
    import matplotlib.pyplot as plt

    x = np.linspace(0, 4 * np.pi, 400)
    with SummaryWriter(logdir) as writer:
        for step in range(3):
            figure, axes = plt.subplots(figsize=(6, 3.5))
            axes.plot(x, np.sin(x + 1.5 / (step + 1)), label="prediction")
            axes.plot(x, np.sin(x), "--", label="target")
            axes.set_title(f"epoch {step}")
            axes.legend(loc="upper right")
            writer.add_figure("fit/curve", figure, step)  # rendered to PNG, then closed
# --8<-- [end:figures]


# --8<-- [start:video]
def video(logdir: str) -> None:
    height, width, frames = 64, 96, 24
    y, x = np.mgrid[0:height, 0:width]
    clips = np.zeros((2, frames, 3, height, width), np.float32)  # N, T, C, H, W
    for t in range(frames):
        for n in range(2):
            cx = width * (t / frames if n == 0 else 1 - t / frames)
            cy = height / 2 + 20 * math.sin(2 * math.pi * t / frames)
            blob = np.exp(-((x - cx) ** 2 + (y - cy) ** 2) / 60.0)
            clips[n, t] = np.stack([blob, 0.3 + 0.4 * blob, 1.0 - blob])
    with SummaryWriter(logdir) as writer:
        writer.add_video("rollout/ball", clips, 0, fps=12)  # an animated GIF, clips side by side
# --8<-- [end:video]


# --8<-- [start:audio]
def audio(logdir: str) -> None:
    sample_rate = 16_000
    t = np.linspace(0, 2.0, 2 * sample_rate, endpoint=False)
    with SummaryWriter(logdir) as writer:
        for step, pitch in enumerate((220.0, 330.0, 440.0)):
            tone = 0.4 * np.sin(2 * np.pi * pitch * t) * np.exp(-t)  # mono: (L,) in [-1, 1]
            writer.add_audio("synth/tone", tone, step, sample_rate=sample_rate)
            stereo = np.stack([tone, np.roll(tone, 800)], axis=1)  # stereo: (L, 2)
            writer.add_audio("synth/stereo", stereo, step, sample_rate=sample_rate)
# --8<-- [end:audio]


# --8<-- [start:text]
def text(logdir: str) -> None:
    with SummaryWriter(logdir) as writer:
        writer.add_text("notes", "Run **baseline**: `lr=0.1`, *cosine* schedule.\n\n"
                                 "- data: 50k images\n- model: ResNet-18", 0)
        for step in range(3):
            writer.add_text("samples/generated", f"Epoch {step}: *hello #{step}*", step)
        # a 2-D list (or array) of strings is shown as a table; the first row is a row too
        writer.add_text("metrics/table", [
            ["metric", "train", "valid"],
            ["loss", "0.213", "0.298"],
            ["accuracy", "93.1%", "90.4%"],
        ], 0)
# --8<-- [end:text]


# --8<-- [start:graph]
def graph(logdir: str) -> None:
    import torch
    from torch import nn

    class Classifier(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.features = nn.Sequential(
                nn.Conv2d(1, 8, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(8, 16, 3), nn.ReLU()
            )
            self.head = nn.Sequential(nn.Flatten(), nn.Linear(16 * 11 * 11, 10))

        def forward(self, image: torch.Tensor) -> torch.Tensor:
            return self.head(self.features(image)).softmax(-1)

    with SummaryWriter(logdir) as writer:
        writer.add_graph(Classifier(), torch.zeros(1, 1, 28, 28))  # traced once, on the CPU
# --8<-- [end:graph]


# --8<-- [start:projector]
def projector(logdir: str) -> None:
    rng = np.random.default_rng(0)
    centers = rng.normal(0, 5, (5, 32))  # 5 classes of points in 32 dimensions
    classes = np.repeat(np.arange(5), 60)
    points = centers[classes] + rng.normal(0, 1, (300, 32))
    # label images: one color per class, shown as the points' sprites
    palette = np.array([[1, .3, .2], [.2, .6, 1], [.3, .8, .3], [1, .8, .1], [.7, .3, .9]])
    thumbnails = np.broadcast_to(palette[classes][:, :, None, None], (300, 3, 16, 16))
    rows = [[f"point {i}", f"class {c}"] for i, c in enumerate(classes)]
    with SummaryWriter(logdir) as writer:
        writer.add_embedding(points, rows, thumbnails, 0, tag="features",
                             metadata_header=["name", "class"])
# --8<-- [end:projector]


# --8<-- [start:pr_curves]
def pr_curves(logdir: str) -> None:
    rng = np.random.default_rng(0)
    with SummaryWriter(logdir) as writer:
        for step in range(5):
            labels = rng.random(2000) < 0.4  # ground truth: True for the positive class
            margin = (2 * labels - 1) * (0.2 + 0.2 * step)  # improves every epoch
            predictions = 1 / (1 + np.exp(-(margin + rng.standard_normal(2000))))  # in [0, 1]
            writer.add_pr_curve("classifier/cat", labels, predictions, step)
# --8<-- [end:pr_curves]


# --8<-- [start:custom_scalars]
def custom_scalars(logdir: str) -> None:
    rng = np.random.default_rng(0)
    with SummaryWriter(logdir) as writer:
        writer.add_custom_scalars({  # category -> chart title -> [kind, tags or regexes]
            "training": {
                "losses": ["Multiline", ["loss/train", "loss/valid"]],
                "accuracy with a band": ["Margin", ["acc/mean", "acc/low", "acc/high"]],
            },
        })
        for step in range(100):
            loss = math.exp(-step / 30) + 0.03 * rng.standard_normal()
            writer.add_scalar("loss/train", loss, step)
            writer.add_scalar("loss/valid", loss + 0.1, step)
            acc = 1 - loss / 2
            writer.add_scalar("acc/mean", acc, step)
            writer.add_scalar("acc/low", acc - 0.1 * math.exp(-step / 50), step)
            writer.add_scalar("acc/high", acc + 0.1 * math.exp(-step / 50), step)
# --8<-- [end:custom_scalars]


# --8<-- [start:mesh]
def mesh(logdir: str) -> None:
    # a torus: a grid of (u, v) angles, two triangles per grid cell
    u, v = np.meshgrid(np.linspace(0, 2 * np.pi, 48, endpoint=False),
                       np.linspace(0, 2 * np.pi, 24, endpoint=False), indexing="ij")
    ring = 2 + 0.7 * np.cos(v)
    x, y, z = ring * np.cos(u), ring * np.sin(u), 0.7 * np.sin(v)
    y, z = 0.9 * y - 0.42 * z, 0.42 * y + 0.9 * z  # tilted by 25 degrees
    vertices = np.stack([x, y, z], axis=-1).reshape(1, -1, 3).astype(np.float32)  # (B, N, 3)
    colors = (255 * np.stack([(x + 3) / 6, (y + 3) / 6, (z + 2) / 4], -1)).reshape(1, -1, 3)
    i, j = np.meshgrid(np.arange(48), np.arange(24), indexing="ij")
    a, b = i * 24 + j, ((i + 1) % 48) * 24 + j
    c, d = ((i + 1) % 48) * 24 + (j + 1) % 24, i * 24 + (j + 1) % 24
    faces = np.concatenate([np.stack([a, b, c], -1), np.stack([a, c, d], -1)]).reshape(1, -1, 3)
    with SummaryWriter(logdir) as writer:
        writer.add_mesh("torus", vertices, colors=colors.astype(np.uint8), faces=faces,
                        global_step=0)
# --8<-- [end:mesh]


# --8<-- [start:hparams]
def hparams(logdir: str) -> None:
    with SummaryWriter(logdir) as writer:
        for lr in (0.1, 0.01, 0.001):
            for batch_size in (32, 128):
                for optimizer in ("sgd", "adam"):
                    accuracy = 0.92 - 0.08 * abs(math.log10(lr) + 2) + 0.02 * (optimizer == "adam")
                    accuracy -= 0.01 * (batch_size == 128)
                    writer.add_hparams(  # one sub-run per call, as torch lays it out
                        {"lr": lr, "batch_size": batch_size, "optimizer": optimizer},
                        {"hparam/accuracy": accuracy, "hparam/loss": 1 - accuracy},
                        run_name=f"lr={lr},bs={batch_size},{optimizer}",
                    )
# --8<-- [end:hparams]


# --8<-- [start:tracking]
def tracking(logdir: str) -> None:
    import tblog  # or: import tblog as wandb

    rng = np.random.default_rng(2)
    for lr in (0.1, 0.03, 0.01):  # three runs of one project: three rows in HParams
        run = tblog.init(project="quickstart", name=f"lr={lr}", dir=logdir,
                         config={"lr": lr, "epochs": 20},
                         system_interval=None)  # no system-metrics thread
        for epoch in range(run.config.epochs):
            loss = 2.0 * math.exp(-epoch * lr) + 0.02 * rng.standard_normal()
            acc = 0.95 - 0.3 * loss + 0.04 * rng.standard_normal()
            if acc > run.summary.get("best_acc", 0.0):
                run.summary["best_acc"] = acc  # kept as set: a metric column in HParams
            run.log({"loss": loss, "acc": acc})  # one step per call
        table = tblog.Table(columns=["sample", "label", "prediction", "confidence"])
        for i, label in enumerate(["cat", "dog", "bird", "dog"]):
            prediction = "cat" if i == 2 else label
            table.add_data(f"img_{i:03d}.png", label, prediction, round(0.9 - 0.1 * i, 2))
        run.log({"predictions": table})  # Text dashboard + tables/predictions/<step>.csv
        run.finish()  # config and summary go to the HParams dashboard
# --8<-- [end:tracking]


KINDS = {
    "scalars": scalars,
    "histograms": histograms,
    "images": images,
    "figures": figures,
    "video": video,
    "audio": audio,
    "text": text,
    "graph": graph,
    "projector": projector,
    "pr_curves": pr_curves,
    "custom_scalars": custom_scalars,
    "mesh": mesh,
    "hparams": hparams,
    "tracking": tracking,
}


def main(logdir: str = "runs/gallery") -> None:
    for name, log in KINDS.items():
        log(f"{logdir}/{name}")
    print(f"tensorboard --logdir {logdir}")


if __name__ == "__main__":
    import sys

    main(*sys.argv[1:2])
