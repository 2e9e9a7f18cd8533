"""Images, boxes, figures, video and audio with tblog.

    python examples/media.py [LOGDIR]        # default runs/media
    tensorboard --logdir runs/media          # Images and Audio tabs

Needs numpy; Pillow for boxes and video; matplotlib for the figure.
"""

from __future__ import annotations

import sys

import numpy as np

from tblog import SummaryWriter


def main(logdir: str = "runs/media") -> None:
    height, width = 96, 128
    y, x = np.mgrid[0:height, 0:width] / np.array([height, width])[:, None, None]
    with SummaryWriter(logdir) as writer:
        for step in range(5):
            phase = step / 5
            # float CHW in [0, 1]: multiplied by 255 (values outside are clipped)
            image = np.stack([x, y, 0.5 + 0.5 * np.sin(6 * (x + y + phase))])
            writer.add_image("image/chw_float", image, step)
            # uint8 HWC is taken as is
            writer.add_image(
                "image/hwc_uint8",
                (image.transpose(1, 2, 0) * 255).astype(np.uint8),
                step,
                dataformats="HWC",
            )
            # a batch of 12 gray images -> one grid, 8 per row
            batch = np.stack([np.roll(x, i * 8, axis=1) for i in range(12)])[:, None]
            writer.add_images("image/batch", batch, step)
            boxes = np.array([[10, 10, 50, 40], [60 + 10 * step, 30, 120, 90]])
            writer.add_image_with_boxes("image/boxes", image, boxes, step, labels=["a", "b"])
            # 2 clips of 8 frames, gray -> one GIF with the clips side by side
            frames = np.stack([np.roll(x, 4 * t, axis=1) for t in range(8)])
            video = np.stack([frames, frames[::-1]])[:, :, None]  # N T C H W
            writer.add_video("video/scroll", video, step, fps=8)
            # one second of a chord at 16 kHz, stereo (L, 2)
            t = np.linspace(0, 1, 16000, endpoint=False)
            left = 0.3 * np.sin(2 * np.pi * 440 * (1 + phase) * t)
            right = 0.3 * np.sin(2 * np.pi * 660 * t)
            writer.add_audio("audio/chord", np.stack([left, right], axis=1), step, 16000)
        try:
            import matplotlib

            matplotlib.use("Agg")
            import matplotlib.pyplot as plt
        except ImportError:
            print("matplotlib not installed: skipping add_figure")
        else:
            figure, axes = plt.subplots(figsize=(4, 3))
            axes.plot(np.sin(np.linspace(0, 10, 200)))
            writer.add_figure("figure/sine", figure, 0)  # closes the figure
    print(f"wrote {logdir}; run: tensorboard --logdir {logdir}")


if __name__ == "__main__":
    main(*sys.argv[1:2])
