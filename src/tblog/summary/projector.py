"""Projector embeddings: the bytes of its side files and of ``projector_config.pbtxt``.

No event record, and no I/O here: the writer stores what these functions return
through its storage backend (local or object storage).

Layout, as torch writes it, under the run directory ``logdir``::

    projector_config.pbtxt              one EmbeddingInfo per (tag, step)
    {step:05d}/{tag_dirname(tag)}/tensors.tsv
                                 /metadata.tsv   (optional)
                                 /sprite.png     (optional)

Escaping rules (documented in ``add_embedding``):

* Directory names: :func:`tag_dirname` percent-encodes every character except
  ``A-Z a-z 0-9 _ . - ~`` (so ``/``, ``\\``, ``%``, quotes and control
  characters never reach the file system); names made only of dots
  (``.``/``..``) have their dots encoded too, and names longer than 200
  characters are shortened with a hash. A tag can never leave the logdir.
* TSV cells: tab, CR, LF and the other line-breaking characters become a space;
  a row with nothing but blanks is written as ``(empty)``, because the
  projector skips blank lines and would shift every later label.
* ``tensor_name`` is ``f"{tag}:{step:05d}"`` with the tag unchanged; the
  pbtxt is written with protobuf's ``text_format``, which quotes it.
"""

from __future__ import annotations

import hashlib
import math
import urllib.parse
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
from google.protobuf import text_format

from tblog.proto import projector_config_pb2
from tblog.summary._image_utils import encode_png

CONFIG_FILENAME = "projector_config.pbtxt"
SPRITE_MAX_PX = 8192  # the projector refuses sprites wider or taller than this
EMPTY_ROW = "(empty)"
_MAX_DIRNAME = 200
_ROWS_PER_CHUNK = 256  # 32k values of 128 columns: a few MB of temporaries
# Line breaks for str.splitlines(); the projector's readers split on \n and \r.
_TSV_UNSAFE = str.maketrans({c: " " for c in "\t\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"})


def tag_dirname(tag: str) -> str:
    """The directory name of ``tag``: percent-encoded, never ``.``/``..``, <= 200 chars."""
    name = urllib.parse.quote(tag, safe="")
    if not name.strip("."):
        name = name.replace(".", "%2E")
    if len(name) > _MAX_DIRNAME:
        digest = hashlib.sha256(tag.encode("utf-8", "surrogatepass")).hexdigest()[:16]
        name = f"{name[: _MAX_DIRNAME - 17]}~{digest}"
    return name


def tensor_name(tag: str, step: int) -> str:
    """The name the projector shows (and its HTTP API takes): ``tag:00005``."""
    return f"{tag}:{step:05d}"


def subdir(tag: str, step: int) -> str:
    """The embedding's directory relative to the run, with ``/`` separators."""
    return f"{step:05d}/{tag_dirname(tag)}"


# -- tensors.tsv ---------------------------------------------------------------


# ASCII of every 4-digit and 2-digit group, so digits are gathered, not printed.
_DIGITS4 = np.frombuffer("".join(f"{i:04d}" for i in range(10_000)).encode(), np.uint8).reshape(
    -1, 4
)
_DIGITS2 = np.frombuffer("".join(f"{i:02d}" for i in range(100)).encode(), np.uint8).reshape(-1, 2)
_POW10 = 10.0 ** np.arange(-70, 71)  # _POW10[70 + k] == 10**k
_NONFINITE = np.frombuffer(b"nan            +inf           -inf           ", np.uint8)
_NONFINITE = _NONFINITE.reshape(3, 15)
_FIELD = 16  # "+d.dddddddde+xx" and a tab or newline


def _format_rows(mat: np.ndarray) -> bytes:
    """Rows of float32 values as fixed-width ``+d.dddddddde+xx`` fields.

    Nine significant digits always read back as the same float32, and every
    digit is computed with numpy, so no Python call runs per value (2-3x faster
    than ``"%.9g" % row``). The decimal mantissa is ``round(|x| / 10**(e-8))``
    in float64: its error is far below the 1-in-10**8 that round-tripping a
    float32 tolerates.
    """
    x = mat.astype(np.float64)
    rows, cols = x.shape
    size = np.abs(x)
    finite = np.isfinite(size)
    with np.errstate(divide="ignore", invalid="ignore"):
        exponent = np.floor(np.log10(size))
    exponent[~finite | (size == 0)] = 0
    exponent = exponent.astype(np.int64)
    mantissa = np.rint(size * _POW10[78 - exponent])
    # log10 can be one off next to a power of ten, and rounding can reach 10**9.
    wrong = (mantissa >= 1e9) | ((mantissa < 1e8) & (size > 0) & finite)
    if wrong.any():
        exponent[wrong] += np.where(mantissa[wrong] >= 1e9, 1, -1)
        mantissa[wrong] = np.rint(size[wrong] * _POW10[78 - exponent[wrong]])
    mantissa = np.where(finite, mantissa, 0).astype(np.int32)  # < 10**9: int32 divides faster
    out = np.empty((rows, cols, _FIELD), np.uint8)
    out[..., 0] = np.where(np.signbit(x), ord("-"), ord("+"))
    lead, rest = np.divmod(mantissa, 100_000_000)
    out[..., 1] = lead + ord("0")
    out[..., 2] = ord(".")
    high, low = np.divmod(rest, 10_000)
    out[..., 3:7] = _DIGITS4[high]
    out[..., 7:11] = _DIGITS4[low]
    out[..., 11] = ord("e")
    out[..., 12] = np.where(exponent < 0, ord("-"), ord("+"))
    out[..., 13:15] = _DIGITS2[np.abs(exponent)]
    out[..., 15] = ord("\t")
    out[:, -1, 15] = ord("\n")
    if not finite.all():
        special = x[~finite]
        kind = np.where(np.isnan(special), 0, np.where(special > 0, 1, 2))
        out[~finite, :15] = _NONFINITE[kind]  # padded with spaces, which float() ignores
    return out.tobytes()


def tensor_tsv_chunks(mat: np.ndarray) -> Iterator[bytes]:
    """``mat`` (2-D float32) as TSV, a few thousand rows per chunk (bounded memory)."""
    for start in range(0, mat.shape[0], _ROWS_PER_CHUNK):
        yield _format_rows(mat[start : start + _ROWS_PER_CHUNK])


# -- metadata.tsv --------------------------------------------------------------


def tsv_cell(value: Any) -> str:
    """``str(value)`` with tabs and line breaks replaced by spaces."""
    return str(value).translate(_TSV_UNSAFE)


def _tsv_row(cells: Sequence[str]) -> str:
    line = "\t".join(cells)
    if not line.strip():  # the projector drops blank lines, shifting later labels
        line = "\t".join([EMPTY_ROW, *cells[1:]])
    return line


def metadata_tsv(rows: Sequence[Sequence[Any]], header: Sequence[Any] | None) -> bytes:
    """The metadata file: one row per point, tab-separated columns.

    A header row is written only for two or more columns: the projector reads a
    first line with a tab as the header and a file without tabs as labels only.

    Raises:
        UnicodeEncodeError: a cell is not valid Unicode (a lone surrogate).
    """
    lines = []
    if header is not None and len(header) > 1:
        lines.append(_tsv_row([tsv_cell(name) for name in header]))
    lines.extend(_tsv_row([tsv_cell(cell) for cell in row]) for row in rows)
    return ("\n".join(lines) + "\n").encode("utf-8")  # a lone surrogate raises


# -- sprite.png ----------------------------------------------------------------


def to_uint8_images(images: np.ndarray) -> np.ndarray:
    """``(N, C, H, W)`` numbers -> ``(N, H, W, C)`` uint8 (floats are 0..1)."""
    if images.dtype == np.uint8:
        out = images
    elif images.dtype == np.bool_:
        out = images.astype(np.uint8) * 255
    elif np.issubdtype(images.dtype, np.floating):
        scaled = np.nan_to_num(images.astype(np.float32), nan=0.0) * 255.0
        out = np.clip(np.rint(scaled), 0, 255).astype(np.uint8)
    else:
        out = np.clip(images, 0, 255).astype(np.uint8)
    return np.ascontiguousarray(out.transpose(0, 2, 3, 1))


def _box_resize(images: np.ndarray, size: int) -> np.ndarray:
    """Shrink ``(N, S, S, C)`` uint8 images to ``size`` x ``size`` by area averaging."""
    side = images.shape[1]
    edges = (np.arange(size) * side) // size
    counts = np.diff(np.append(edges, side)).astype(np.float32)
    sums = np.add.reduceat(images.astype(np.float32), edges, axis=1)
    sums = np.add.reduceat(sums, edges, axis=2)
    means = sums / counts[None, :, None, None] / counts[None, None, :, None]
    return np.clip(np.rint(means), 0, 255).astype(np.uint8)


def sprite(images: np.ndarray) -> tuple[np.ndarray, int]:
    """Tile ``(N, H, W, C)`` uint8 images into one square sprite.

    Each image is padded (centred, black) to a square cell, ``ceil(sqrt(N))``
    cells per row, the sheet padded to a square. When that would exceed the
    projector's 8192 px, cells are shrunk to fit.

    Returns:
        The ``(S, S, C)`` sprite and the cell side in pixels.

    Raises:
        ValueError: more images than fit at one pixel per cell.
    """
    count, height, width, channels = images.shape
    cell = max(height, width)
    if height != width:
        padded = np.zeros((count, cell, cell, channels), np.uint8)
        top, left = (cell - height) // 2, (cell - width) // 2
        padded[:, top : top + height, left : left + width] = images
        images = padded
    per_row = math.ceil(math.sqrt(count))
    if per_row * cell > SPRITE_MAX_PX:
        cell = SPRITE_MAX_PX // per_row
        if cell < 1:
            raise ValueError(
                f"label_img: {count} images do not fit in the projector's "
                f"{SPRITE_MAX_PX}x{SPRITE_MAX_PX} px sprite even at 1 px each"
            )
        images = _box_resize(images, cell)
    rows = math.ceil(count / per_row)
    sheet = np.zeros((per_row * cell, per_row * cell, channels), np.uint8)
    full = np.zeros((rows * per_row, cell, cell, channels), np.uint8)
    full[:count] = images
    grid = full.reshape(rows, per_row, cell, cell, channels).transpose(0, 2, 1, 3, 4)
    sheet[: rows * cell] = grid.reshape(rows * cell, per_row * cell, channels)
    return sheet, cell


def sprite_png(images: np.ndarray) -> tuple[bytes, int]:
    """:func:`sprite` encoded as PNG; returns (PNG bytes, cell side in pixels)."""
    sheet, cell = sprite(images)
    return encode_png(sheet, 6), cell


# -- projector_config.pbtxt ----------------------------------------------------


def embedding_info(
    tag: str, step: int, shape: tuple[int, int], has_metadata: bool, sprite_cell: int | None
) -> projector_config_pb2.EmbeddingInfo:
    """The config entry of one embedding (paths relative to the run directory)."""
    directory = subdir(tag, step)
    info = projector_config_pb2.EmbeddingInfo(
        tensor_name=tensor_name(tag, step),
        tensor_path=f"{directory}/tensors.tsv",
        tensor_shape=list(shape),
    )
    if has_metadata:
        info.metadata_path = f"{directory}/metadata.tsv"
    if sprite_cell is not None:
        info.sprite.image_path = f"{directory}/sprite.png"
        info.sprite.single_image_dim.extend([sprite_cell, sprite_cell])
    return info


def merged_config(old: bytes | None, info: projector_config_pb2.EmbeddingInfo) -> bytes:
    """``projector_config.pbtxt`` with ``info`` added to ``old``, keeping every other entry.

    For the storage backend's read-modify-write (``update_file``): ``old`` is the
    file's current bytes or None. An entry with the same ``tensor_name`` is replaced.

    Raises:
        ValueError: ``old`` is not a valid ``ProjectorConfig``.
    """
    config = projector_config_pb2.ProjectorConfig()
    if old is not None:
        try:
            text_format.Parse(old.decode("utf-8"), config)
        except (text_format.ParseError, UnicodeDecodeError) as exc:
            raise ValueError(
                f"add_embedding: cannot merge into {CONFIG_FILENAME}: not a valid projector "
                f"config ({exc}); fix or remove it"
            ) from None
    kept = [e for e in config.embeddings if e.tensor_name != info.tensor_name]
    del config.embeddings[:]
    config.embeddings.extend([*kept, info])
    return text_format.MessageToString(config).encode("utf-8")
