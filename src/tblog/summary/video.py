"""Video: an animated GIF in a ``Summary.Image`` (the images plugin plays it).

torch encodes with moviepy (broken with moviepy >= 2, where it silently writes
an empty value); tblog encodes with Pillow. A batch of N clips is tiled into
one grid per frame. Gray clips (1 channel) are stored exactly; RGB frames are
quantized by Pillow to an adaptive 256-colour palette per frame (exact when a
frame has at most 256 colours), as GIF requires.
"""

from __future__ import annotations

import io
import math
from typing import Any

import numpy as np

from tblog.proto import summary_pb2
from tblog.summary import _image_utils as utils
from tblog.summary import image as image_summary

PLUGIN_NAME = image_summary.PLUGIN_NAME

_LETTERS = "NTCHW"


def grid_shape(count: int) -> tuple[int, int]:
    """(rows, cols) for ``count`` clips.

    A power of two gets torch's layout (2**floor(log2(N)/2) rows, e.g. 8 ->
    2x4, 16 -> 4x4). Other counts get ``floor(sqrt(N))`` rows and as many
    columns as needed, so fewer blank cells than torch, which first pads the
    batch to the next power of two (5 clips: 2x3 here, 2x4 in torch).
    """
    if count & (count - 1) == 0:
        rows = 2 ** ((count.bit_length() - 1) // 2)
    else:
        rows = math.isqrt(count)
    return rows, math.ceil(count / rows)


def parse_dataformats(dataformats: Any) -> str:
    """Validate a permutation of ``NTCHW`` (tensorboardX's ``dataformats``), any case."""
    if not isinstance(dataformats, str):
        raise TypeError(
            f"dataformats must be a str such as 'NTCHW', got {type(dataformats).__name__}"
        )
    upper = dataformats.upper()
    if sorted(upper) != sorted(_LETTERS):
        raise ValueError(f"dataformats={dataformats!r} is not a permutation of 'NTCHW'")
    return upper


def prepare_video(
    array: np.ndarray, dataformats: str = "NTCHW", name: str = "vid_tensor"
) -> np.ndarray:
    """Validate a batch of clips and tile it into frames of uint8 pixels.

    Args:
        array: 5-D, (N, T, C, H, W) by default; uint8 is kept, anything else is
            multiplied by 255 and clipped, as for images. C is 1 or 3.
        dataformats: the axis order of ``array``.
        name: the argument name used in messages.

    Returns:
        New (T, rows*H, cols*W, C) uint8 frames.

    Raises:
        TypeError: non-numeric array or bad dataformats type.
        ValueError: not 5-D, empty, unknown dataformats, C not 1 or 3.
    """
    dataformats = parse_dataformats(dataformats)
    utils.check_pixels_array(array, name)
    if array.ndim != 5:
        raise ValueError(
            f"{name} must be 5-D ({dataformats}: clips, frames, channels, height, width), "
            f"got shape {tuple(array.shape)}"
        )
    view = array.transpose([dataformats.index(letter) for letter in "NTHWC"])
    count, frames, height, width, channels = view.shape
    if channels not in (1, 3):
        raise ValueError(
            f"{name} must have 1 or 3 channels (gray or RGB; GIF has no alpha), got {channels} "
            f"(shape {tuple(array.shape)}, dataformats={dataformats!r})"
        )
    pixels = utils.scale_to_uint8(view)
    rows, cols = grid_shape(count)
    if count == 1:
        return pixels[0]
    # Frames first, then the clips of each frame laid out as a grid.
    cells = np.zeros((rows * cols, frames, height, width, channels), dtype=np.uint8)
    cells[:count] = pixels
    grid = cells.reshape(rows, cols, frames, height, width, channels).transpose(2, 0, 3, 1, 4, 5)
    return grid.reshape(frames, rows * height, cols * width, channels)


def check_fps(fps: Any) -> float:
    """Validate frames per second: a positive finite number.

    Raises:
        TypeError: not a number.
        ValueError: not positive and finite.
    """
    if isinstance(fps, bool) or not isinstance(fps, (int, float, np.number)):
        raise TypeError(f"fps must be a number, got {type(fps).__name__}")
    if not (math.isfinite(fps) and fps > 0):
        raise ValueError(f"fps must be a positive finite number, got {fps!r}")
    return float(fps)


def encode_gif(frames: np.ndarray, fps: float) -> bytes:
    """An endlessly looping GIF of (T, H, W, C) uint8 frames, C 1 (gray) or 3 (RGB).

    GIF delays are whole hundredths of a second, so 1/fps is rounded to one
    (at least 0.01 s); browsers play delays under 0.02 s more slowly. Pillow
    merges consecutive identical frames into one longer frame. Needs Pillow.
    """
    from PIL import Image

    images = [Image.fromarray(frame[:, :, 0] if frame.shape[2] == 1 else frame) for frame in frames]
    delay_ms = 10 * max(1, round(100 / fps))
    output = io.BytesIO()
    images[0].save(
        output, format="GIF", save_all=True, append_images=images[1:], duration=delay_ms, loop=0
    )
    return output.getvalue()


def summary(tag: str, frames: np.ndarray, fps: float = 4) -> bytes:
    """Serialized ``Summary`` with one animated GIF, stored like torch's ``add_video``.

    Args:
        tag: the series name.
        frames: (T, H, W, C) uint8 from ``prepare_video``.
        fps: frames per second.
    """
    _, height, width, channels = frames.shape
    gif = summary_pb2.Summary.Image(
        height=height,
        width=width,
        colorspace=channels,
        encoded_image_string=encode_gif(frames, fps),
    )
    return summary_pb2.Summary(
        value=[summary_pb2.Summary.Value(tag=tag, image=gif)]
    ).SerializeToString()
