"""Histograms, PR curves, text, custom scalars, a mesh and a raw tensor with tblog.

    python examples/tensors.py [LOGDIR]      # default runs/tensors
    tensorboard --logdir runs/tensors        # Histograms, Distributions, PR Curves,
                                             # Text, Custom Scalars and Mesh tabs

Needs only numpy (torch tensors work the same way, on any device).
"""

from __future__ import annotations

import sys

import numpy as np

from tblog import SummaryWriter


def main(logdir: str = "runs/tensors") -> None:
    rng = np.random.default_rng(0)
    with SummaryWriter(logdir) as writer:
        # Charts of the scalars below: a multi-line chart and a margin (band) chart.
        writer.add_custom_scalars({
            "training": {
                "losses": ["Multiline", ["loss/train", "loss/valid"]],
                "accuracy band": ["Margin", ["acc/mean", "acc/low", "acc/high"]],
            }
        })
        for step in range(10):
            spread = 1.0 / (step + 1)
            weights = rng.standard_normal(100_000).astype(np.float32) * spread
            writer.add_histogram("weights", weights, step)  # TensorBoard's default buckets
            writer.add_histogram("activations", np.abs(weights), step, bins="auto")

            labels = rng.random(5000) < 0.5
            predictions = np.clip(labels * (0.2 + 0.05 * step) + rng.random(5000) * 0.7, 0, 1)
            writer.add_pr_curve("classifier", labels, predictions, step)

            loss = 2.0 * spread
            writer.add_scalar("loss/train", loss, step)
            writer.add_scalar("loss/valid", loss * 1.1, step)
            writer.add_scalar("acc/mean", 1 - loss / 3, step)
            writer.add_scalar("acc/low", 1 - loss / 2, step)
            writer.add_scalar("acc/high", min(1.0, 1 - loss / 6), step)

            writer.add_text("notes", f"Step **{step}**: loss `{loss:.3f}`", step)
        # A table: rows of cells, rendered by the Text tab.
        writer.add_text("summary", [["metric", "value"], ["loss", "0.2"], ["acc", "0.93"]], 0)

        # A tetrahedron: vertices (B, N, 3), RGB colors 0-255, triangles as vertex indices.
        vertices = np.array([[[1, 1, 1], [-1, -1, 1], [1, -1, -1], [-1, 1, -1]]], np.float32)
        colors = np.array([[[255, 0, 0], [0, 255, 0], [0, 0, 255], [255, 0, 255]]], np.uint8)
        faces = np.array([[[0, 2, 3], [0, 3, 1], [0, 1, 2], [1, 3, 2]]], np.int32)
        writer.add_mesh("tetrahedron", vertices, colors=colors, faces=faces, global_step=0)

        # A whole tensor: kept by both TensorBoard loaders, read back with
        # EventAccumulator(...).Tensors("confusion"); no dashboard draws it.
        writer.add_tensor("confusion", np.array([[50, 3], [7, 40]]), 0)


if __name__ == "__main__":
    main(*sys.argv[1:2])
