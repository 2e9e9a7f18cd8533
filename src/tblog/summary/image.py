"""Images: ``Summary.Image`` holding a PNG, as torch writes (shown by the images plugin).

Two steps, so that validation happens on the caller's thread and encoding may
happen on a worker thread:

* ``prepare_image`` / ``prepare_images`` / ``draw_boxes`` / ``rescale`` /
  ``figure_pixels`` turn user arrays into an owned (H, W, 3|4) uint8 array;
* ``image`` encodes it as PNG into a ``Summary``.

Pixel semantics follow torch: any non-uint8 dtype is multiplied by 255 in
float32 and clipped to [0, 255]; one channel (or HW input) is repeated to RGB;
4 channels are kept as RGBA; batches are tiled 8 per row, zero-filled.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from tblog import _limits
from tblog.proto import summary_pb2
from tblog.summary import _image_utils as utils

PLUGIN_NAME = "images"

#: zlib level of PNG encoding (0-9). PNG is lossless, so the level only trades
#: file size for time: level 1 is several times faster than Pillow's default 6
#: and within ~10% of its size on photos.
DEFAULT_PNG_COMPRESSION = 1

#: Images per grid row in ``add_images`` (torch's ``make_grid(ncols=8)``).
GRID_COLUMNS = 8

_CHANNELS = (1, 3, 4)


def check_png_compression(level: Any, name: str = "png_compression") -> int:
    """Validate a zlib level for PNG encoding.

    Raises:
        TypeError: not an int.
        ValueError: outside 0..9.
    """
    if isinstance(level, bool) or not isinstance(level, (int, np.integer)):
        raise TypeError(f"{name} must be an int from 0 to 9, got {type(level).__name__}")
    if not 0 <= level <= 9:
        raise ValueError(f"{name} must be from 0 (none, fastest) to 9 (smallest), got {level}")
    return int(level)


def _check_channels(view: np.ndarray, name: str, dataformats: str) -> None:
    channels = view.shape[-1]
    if channels not in _CHANNELS:
        raise ValueError(
            f"{name} must have 1, 3 or 4 channels (gray, RGB, RGBA) along 'C' of "
            f"dataformats={dataformats!r}, got {channels} (shape {view.shape})"
        )


def prepare_image(
    array: np.ndarray, dataformats: str, name: str = "img_tensor", *, batch: bool = True
) -> np.ndarray:
    """Validate and convert one image (or a batch, tiled into a grid) to uint8 pixels.

    Args:
        array: the pixels. 2-D (``HW`` and permutations), 3-D (``CHW``, ``HWC``,
            ...) or 4-D (``NCHW``, ``NHWC``, ...): a batch becomes one grid
            image, ``GRID_COLUMNS`` per row.
        dataformats: the axis order of ``array``, case-insensitive.
        name: the argument name used in messages.
        batch: whether 4-D batches (``NCHW``...) are accepted.

    Returns:
        A new (H, W, 3) or (H, W, 4) uint8 array that shares no memory with ``array``.

    Raises:
        TypeError: bad dtype or dataformats type.
        ValueError: empty array, unknown dataformats, rank mismatch, channels not 1, 3 or 4.
    """
    ranks = (2, 3, 4) if batch else (2, 3)
    dataformats = utils.parse_dataformats(dataformats, ranks, "dataformats")
    utils.check_pixels_array(array, name)
    view = utils.to_canonical(array, dataformats, name)
    if view.ndim == 2:
        view = view[:, :, None]
    _check_channels(view, name, dataformats)
    pixels = utils.scale_to_uint8(view)
    if pixels.ndim == 4:
        pixels = utils.tile(pixels, *utils.grid_shape(pixels.shape[0], GRID_COLUMNS))
    return utils.gray_to_rgb(pixels)


def prepare_images(
    images: np.ndarray | Sequence[np.ndarray], dataformats: str, name: str = "img_tensor"
) -> np.ndarray:
    """Like ``prepare_image``, also accepting a list of single images (tensorboardX).

    With a list, each item is one image in ``dataformats`` minus its ``N``
    (``"NCHW"`` -> ``"CHW"``; ``"CHW"`` and ``"HWC"`` are taken as they are);
    all items must have the same shape.

    Raises:
        TypeError, ValueError: as ``prepare_image``; also items of different shapes.
    """
    if not isinstance(images, (list, tuple)):
        return prepare_image(images, dataformats, name)
    if not images:
        raise ValueError(f"{name} is an empty list")
    fmt = utils.parse_dataformats(dataformats, (3, 4), "dataformats").replace("N", "")
    shapes = {tuple(item.shape) for item in images}
    if len(shapes) != 1:
        raise ValueError(f"{name}: all images of a list must have one shape, got {sorted(shapes)}")
    for item in images:
        utils.check_pixels_array(item, name)
    return prepare_image(np.stack(images), "N" + fmt, name)


def _box_array(boxes: np.ndarray, name: str) -> np.ndarray:
    if boxes.dtype.kind not in "biuf":
        raise TypeError(f"{name} must hold numbers, got dtype {boxes.dtype}")
    if boxes.ndim != 2 or boxes.shape[1] != 4:
        raise ValueError(f"{name} must have shape [N, 4] (x1, y1, x2, y2), got {boxes.shape}")
    boxes = boxes.astype(np.float64)
    if not np.isfinite(boxes).all():
        raise ValueError(f"{name} must be finite")
    return boxes


def check_boxes(
    boxes: np.ndarray, labels: str | Sequence[Any] | None, name: str = "box_tensor"
) -> tuple[np.ndarray, list[str] | None]:
    """Validate boxes ``[N, 4]`` (x1, y1, x2, y2 in pixels) and their labels.

    Returns:
        The boxes as float64 and the labels as a list of str (or None).

    Raises:
        TypeError: non-numeric boxes, or labels not a str or sequence.
        ValueError: boxes not [N, 4], non-finite, or a label count other than N.
    """
    boxes = _box_array(boxes, name)
    if labels is None:
        return boxes, None
    if isinstance(labels, str):
        labels = [labels]
    elif isinstance(labels, np.ndarray):
        labels = labels.tolist() if labels.ndim == 1 else labels
    if not isinstance(labels, Sequence):
        raise TypeError(f"labels must be a str or a list of str, got {type(labels).__name__}")
    if len(labels) != len(boxes):
        raise ValueError(f"got {len(labels)} labels for {len(boxes)} boxes; pass one label per box")
    return boxes, [str(label) for label in labels]


def draw_boxes(
    pixels: np.ndarray, boxes: np.ndarray, labels: list[str] | None = None
) -> np.ndarray:
    """Red 2-pixel box outlines, each label white on red above its box's top-left corner.

    Needs Pillow. Returns new pixels of the same shape.
    """
    from PIL import Image, ImageDraw, ImageFont

    canvas = Image.fromarray(np.ascontiguousarray(pixels))
    draw = ImageDraw.Draw(canvas)
    font = ImageFont.load_default()
    red = (255, 0, 0, 255)[: pixels.shape[2]]
    for index, (x1, y1, x2, y2) in enumerate(boxes.tolist()):
        left, right = sorted((x1, x2))
        top, bottom = sorted((y1, y2))
        draw.rectangle((left, top, right, bottom), outline=red, width=2)
        if labels is not None and labels[index]:
            text_box = draw.textbbox((0, 0), labels[index], font=font)
            text_h = text_box[3] - text_box[1] + 2
            # Above the box when there is room, else just inside its top edge.
            y = top - text_h if top - text_h >= 0 else top
            draw.rectangle((left, y, left + text_box[2] + 3, y + text_h), fill=red)
            draw.text((left + 2, y + 1 - text_box[1]), labels[index], font=font, fill="white")
    return np.asarray(canvas)


def check_rescale(rescale: Any, height: int, width: int) -> tuple[int, int]:
    """The (height, width) after scaling by ``rescale``, as torch computes it (truncated).

    Raises:
        TypeError: ``rescale`` is not a number.
        ValueError: not positive and finite, the result would be empty, or
            larger than ``tblog._limits.MAX_RESCALED_PIXELS``.
    """
    if isinstance(rescale, bool) or not isinstance(rescale, (int, float, np.number)):
        raise TypeError(f"rescale must be a number, got {type(rescale).__name__}")
    if not (np.isfinite(rescale) and rescale > 0):
        raise ValueError(f"rescale must be a positive finite number, got {rescale!r}")
    scaled = height * float(rescale), width * float(rescale)
    _limits.check_at_most(
        math.ceil(scaled[0] * scaled[1]), _limits.MAX_RESCALED_PIXELS, f"rescale={rescale!r}",
        f"pixels (a {scaled[0]:.0f}x{scaled[1]:.0f} image from {height}x{width})",
    )
    size = int(scaled[0]), int(scaled[1])
    if min(size) < 1:
        raise ValueError(f"rescale={rescale!r} shrinks the {height}x{width} image to nothing")
    return size


def resize(pixels: np.ndarray, height: int, width: int) -> np.ndarray:
    """Pixels resized with Pillow's Lanczos filter (torch's ``rescale``); needs Pillow."""
    if pixels.shape[:2] == (height, width):
        return pixels
    from PIL import Image

    image = Image.fromarray(np.ascontiguousarray(pixels))
    return np.asarray(image.resize((width, height), Image.Resampling.LANCZOS))


def figure_pixels(figure: Any) -> np.ndarray:
    """Render a matplotlib figure with the Agg canvas to (H, W, 3) uint8 (alpha dropped).

    The figure keeps its own canvas (an interactive figure stays interactive).

    Raises:
        TypeError: ``figure`` is not a matplotlib ``Figure``.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    if not isinstance(figure, Figure):
        raise TypeError(
            f"figure must be a matplotlib Figure or a list of them, got {type(figure).__name__}"
        )
    original = figure.canvas
    canvas = original if isinstance(original, FigureCanvasAgg) else FigureCanvasAgg(figure)
    try:
        canvas.draw()
        return np.array(np.asarray(canvas.buffer_rgba())[:, :, :3])
    finally:
        if canvas is not original:  # FigureCanvasAgg(figure) replaced the figure's canvas
            figure.set_canvas(original)


def figures_grid(images: list[np.ndarray]) -> np.ndarray:
    """Figures' pixels tiled like ``add_images`` (zero-padded to the largest figure)."""
    stack = utils.pad_to(images)
    return utils.tile(stack, *utils.grid_shape(len(images), GRID_COLUMNS))


def image_proto(
    pixels: np.ndarray, png_compression: int = DEFAULT_PNG_COMPRESSION
) -> summary_pb2.Summary.Image:
    """``Summary.Image{height, width, colorspace, encoded_image_string=PNG}`` of (H, W, C) uint8."""
    height, width, channels = pixels.shape
    return summary_pb2.Summary.Image(
        height=height,
        width=width,
        colorspace=channels,
        encoded_image_string=utils.encode_png(pixels, png_compression),
    )


def summary(
    tag: str, pixels: np.ndarray, *, png_compression: int = DEFAULT_PNG_COMPRESSION
) -> bytes:
    """Serialized ``Summary`` with one PNG image, as torch's ``add_image`` writes it.

    Args:
        tag: the image series name.
        pixels: (H, W, C) uint8, C in 1..4 (from ``prepare_image``).
        png_compression: zlib level 0-9.
    """
    return summary_pb2.Summary(
        value=[summary_pb2.Summary.Value(tag=tag, image=image_proto(pixels, png_compression))]
    ).SerializeToString()
