"""Images read from event files, decoded only when asked (Pillow)."""

from __future__ import annotations

import io
from typing import Any

import numpy as np

_MAGIC = ((b"\x89PNG", "png"), (b"GIF8", "gif"), (b"\xff\xd8", "jpeg"), (b"BM", "bmp"),
          (b"RIFF", "webp"))


class LazyImage:
    """One encoded image (PNG, GIF, ...) of an ``images()`` row.

    ``data`` is the encoded bytes as stored; :meth:`to_numpy` and :meth:`to_pil`
    decode it (Pillow needed). Notebooks show PNGs inline.
    """

    __slots__ = ("data", "width", "height")

    def __init__(self, data: bytes, width: int = 0, height: int = 0) -> None:
        self.data = data
        self.width = width
        self.height = height

    @property
    def format(self) -> str:
        """``"png"``, ``"gif"``, ``"jpeg"``, ... from the magic bytes (``""`` if unknown)."""
        for magic, name in _MAGIC:
            if self.data.startswith(magic):
                return name
        return ""

    def to_pil(self) -> Any:
        """The decoded ``PIL.Image.Image``.

        Raises:
            ImportError: Pillow is not installed.
        """
        try:
            from PIL import Image
        except ImportError as exc:
            raise ImportError("decoding images needs Pillow: pip install 'tblog[image]'") from exc
        image = Image.open(io.BytesIO(self.data))
        image.load()
        return image

    def to_numpy(self) -> np.ndarray:
        """The pixels as an ``(H, W, C)`` (or ``(H, W)``) uint8 array (first frame of a GIF)."""
        return np.asarray(self.to_pil())

    def _repr_png_(self) -> bytes | None:
        return self.data if self.format == "png" else None

    def __repr__(self) -> str:
        return f"<LazyImage {self.format or 'data'} {self.width}x{self.height}, {len(self.data)} B>"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, LazyImage) and other.data == self.data

    def __hash__(self) -> int:
        return hash(self.data)
