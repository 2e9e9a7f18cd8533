"""Pixel plumbing shared by images, figures and video: layouts, scaling, grids, PNG.

Everything here takes and returns numpy arrays; nothing imports Pillow. PNG is
encoded with numpy and the stdlib ``zlib`` (which releases the GIL while it
compresses), so ``add_image`` needs no optional dependency and can encode on a
worker thread.
"""

from __future__ import annotations

import math
import struct
import zlib

import numpy as np

# Valid dataformats by rank, as the canonical order the rest of the code uses.
_CANONICAL = {2: "HW", 3: "HWC", 4: "NHWC"}
_LETTERS = {2: "HW", 3: "CHW", 4: "NCHW"}

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# PNG colour type by channel count: gray, gray+alpha, RGB, RGBA.
_PNG_COLOR_TYPE = {1: 0, 2: 4, 3: 2, 4: 6}
# PNG row filter "Up" (byte minus the byte above): one vectorised subtraction,
# and it lets zlib find most of the redundancy a full adaptive filter would.
_FILTER_UP = 2
# Filtered data below this size is compressed without first testing a sample.
_SAMPLE_MIN_BYTES = 1 << 16
# The sample: this many bytes, in _SAMPLE_BANDS bands of rows spread over the image.
_SAMPLE_BYTES = 1 << 15
_SAMPLE_BANDS = 8
# A sample that zlib cannot shrink below this fraction is treated as noise.
_INCOMPRESSIBLE_RATIO = 0.97


def check_pixels_array(array: np.ndarray, name: str) -> None:
    """Reject arrays that cannot be pixels: non-numeric dtypes and empty arrays.

    Raises:
        TypeError: the dtype is not bool, integer or float.
        ValueError: the array has no elements.
    """
    if array.dtype.kind not in "biuf":
        raise TypeError(f"{name} must hold real numbers, got dtype {array.dtype}")
    if array.size == 0:
        raise ValueError(f"{name} is empty (shape {array.shape})")


def parse_dataformats(dataformats: object, allowed: tuple[int, ...], name: str) -> str:
    """Validate a dataformats string (e.g. ``"CHW"``, ``"hwc"``, ``"NHWC"``).

    Args:
        dataformats: the user's string; case-insensitive.
        allowed: the ranks accepted (2 -> a permutation of HW, 3 -> of CHW, 4 -> of NCHW).
        name: the argument name used in messages.

    Returns:
        The upper-cased string.

    Raises:
        TypeError: not a str.
        ValueError: not a permutation of one of the allowed letter sets.
    """
    if not isinstance(dataformats, str):
        raise TypeError(f"{name} must be a str such as 'CHW', got {type(dataformats).__name__}")
    upper = dataformats.upper()
    for rank in allowed:
        if len(upper) == rank and sorted(upper) == sorted(_LETTERS[rank]):
            return upper
    choices = ", ".join(f"a permutation of {_LETTERS[rank]!r}" for rank in allowed)
    raise ValueError(f"{name}={dataformats!r} is not valid; expected {choices}")


def to_canonical(array: np.ndarray, dataformats: str, name: str) -> np.ndarray:
    """A view of ``array`` in HW, HWC or NHWC order (per the rank of ``dataformats``).

    Raises:
        ValueError: the array's rank does not match ``dataformats``.
    """
    if array.ndim != len(dataformats):
        raise ValueError(
            f"{name} has shape {tuple(array.shape)} ({array.ndim}-D) but "
            f"dataformats={dataformats!r} needs a {len(dataformats)}-D array"
        )
    target = _CANONICAL[len(dataformats)]
    return array.transpose([dataformats.index(letter) for letter in target])


def _contiguous_copy(pixels: np.ndarray) -> np.ndarray:
    """A C-contiguous copy, channel by channel when the layout is transposed.

    numpy's generic transposing copy of bytes is several times slower than
    copying each channel plane into a strided slot (CHW -> HWC: ~5 ms vs ~1 ms
    for 3x512x512).
    """
    if pixels.flags.c_contiguous:
        return pixels.copy()
    out = np.empty(pixels.shape, dtype=pixels.dtype)
    for channel in range(pixels.shape[-1]):
        out[..., channel] = pixels[..., channel]
    return out


def scale_to_uint8(array: np.ndarray) -> np.ndarray:
    """Pixels as a new C-contiguous uint8 array of the same shape (channels last).

    uint8 is copied unchanged. Anything else is converted to float32, multiplied
    by 255 in float32 and clipped to [0, 255] before truncation, exactly as
    torch does (tensorboardX wraps instead). NaN becomes 0. The result never
    shares memory with ``array``, so it may be encoded later on another thread.
    """
    if array.dtype == np.uint8:
        return _contiguous_copy(array)
    # Arithmetic in the input's memory order (fast); the layout changes once, in uint8.
    # dtype=float32 makes numpy cast the input to float32 *before* multiplying,
    # like torch's astype(float32) * 255, so truncation gives the same bytes.
    scaled = np.multiply(array, np.float32(255), dtype=np.float32, casting="unsafe")
    np.fmax(scaled, 0, out=scaled)  # fmax, unlike clip, also maps NaN to 0
    np.fmin(scaled, 255, out=scaled)
    pixels = scaled.astype(np.uint8)
    return pixels if pixels.flags.c_contiguous else _contiguous_copy(pixels)


def grid_shape(count: int, ncols: int) -> tuple[int, int]:
    """(rows, cols) of torch's ``make_grid``: ``min(count, ncols)`` columns."""
    cols = min(count, ncols)
    return math.ceil(count / cols), cols


def tile(images: np.ndarray, rows: int, cols: int) -> np.ndarray:
    """Lay ``images`` (N, H, W, C) row-major into a zero-filled (rows*H, cols*W, C) grid."""
    count, height, width, channels = images.shape
    cells = np.zeros((rows * cols, height, width, channels), dtype=images.dtype)
    cells[:count] = images
    grid = cells.reshape(rows, cols, height, width, channels).transpose(0, 2, 1, 3, 4)
    return grid.reshape(rows * height, cols * width, channels)


def pad_to(images: list[np.ndarray]) -> np.ndarray:
    """Stack (H_i, W_i, C) arrays into (N, H, W, C), zero-padding each to the largest size."""
    height = max(image.shape[0] for image in images)
    width = max(image.shape[1] for image in images)
    stack = np.zeros((len(images), height, width, images[0].shape[2]), dtype=images[0].dtype)
    for index, image in enumerate(images):
        stack[index, : image.shape[0], : image.shape[1]] = image
    return stack


def gray_to_rgb(pixels: np.ndarray) -> np.ndarray:
    """(H, W, 1) -> (H, W, 3) by repeating the channel (torch's behaviour); others unchanged."""
    if pixels.shape[-1] != 1:
        return pixels
    return np.repeat(pixels, 3, axis=-1)


def _chunk(kind: bytes, data: bytes) -> bytes:
    crc = zlib.crc32(data, zlib.crc32(kind))
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)


def _looks_incompressible(scanlines: np.ndarray) -> bool:
    """Whether a few spread-out bands of filtered rows barely compress (e.g. noise)."""
    if scanlines.nbytes < _SAMPLE_MIN_BYTES:
        return False
    rows = scanlines.shape[0]
    band = max(1, _SAMPLE_BYTES // (_SAMPLE_BANDS * scanlines.shape[1]))
    starts = np.linspace(0, max(0, rows - band), num=min(_SAMPLE_BANDS, rows), dtype=np.int64)
    sample = b"".join(scanlines[start : start + band].tobytes() for start in np.unique(starts))
    return len(zlib.compress(sample, 1)) > _INCOMPRESSIBLE_RATIO * len(sample)


def encode_png(pixels: np.ndarray, compression: int) -> bytes:
    """PNG bytes of (H, W, C) uint8 pixels, C in 1..4 (gray, gray+alpha, RGB, RGBA).

    Rows use the "Up" filter and one zlib stream at level ``compression``
    (0-9). Data that a sample shows to be incompressible (noise) is stored at
    level 0: the file is as large either way, and zlib would spend tens of
    milliseconds per megapixel failing to shrink it. Thread-safe; the
    subtraction and compression release the GIL.
    """
    height, width, channels = pixels.shape
    scanlines = np.empty((height, width * channels + 1), dtype=np.uint8)
    body = scanlines[:, 1:].reshape(height, width, channels)  # a view into scanlines
    level = compression
    if level:
        scanlines[:, 0] = _FILTER_UP
        body[0] = pixels[0]
        np.subtract(pixels[1:], pixels[:-1], out=body[1:])
        if _looks_incompressible(scanlines):
            level = 0
    if not level:  # unfiltered: filtering cannot help stored data
        scanlines[:, 0] = 0
        body[...] = pixels
    header = struct.pack(">IIBBBBB", width, height, 8, _PNG_COLOR_TYPE[channels], 0, 0, 0)
    return b"".join(
        (
            _PNG_SIGNATURE,
            _chunk(b"IHDR", header),
            _chunk(b"IDAT", zlib.compress(scanlines, level)),
            _chunk(b"IEND", b""),
        )
    )
