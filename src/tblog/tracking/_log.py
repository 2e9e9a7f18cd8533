"""``run.log``'s dispatch: each value of the dict to the TensorBoard kind it becomes.

:func:`prepare` checks and converts a whole dict before anything is written, so a
bad value raises ``TypeError`` naming its key and nothing of that call is logged.
"""

from __future__ import annotations

import numbers
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

from tblog.tracking._media import Histogram, Media, Text, is_figure

if TYPE_CHECKING:
    from tblog.tracking._run import Run

SCALAR = 0
MEDIA = 1
MEDIA_LIST = 2

_PLAIN_NUMBERS = (float, int, bool)


class Row:
    """The values of one step: scalars (tag -> float) and the other kinds."""

    __slots__ = ("scalars", "media")

    def __init__(self) -> None:
        self.scalars: dict[str, float] = {}
        self.media: dict[str, tuple[int, Any]] = {}

    def __bool__(self) -> bool:
        return bool(self.scalars or self.media)

    def merge(self, newer: Row) -> None:
        """Take ``newer``'s values; a key keeps its last value (and kind)."""
        for key in newer.scalars.keys() & self.media.keys() if self.media else ():
            del self.media[key]
        for key in newer.media.keys() & self.scalars.keys() if newer.media else ():
            del self.scalars[key]
        self.scalars.update(newer.scalars)
        self.media.update(newer.media)


def _array_size(value: Any) -> int | None:
    """Element count of a numpy/torch/JAX array (None if ``value`` is not one)."""
    numel = getattr(value, "numel", None)
    if callable(numel) and type(value).__module__.startswith("torch"):
        return int(numel())
    if hasattr(value, "shape") and hasattr(value, "dtype"):
        return int(np.prod(value.shape)) if value.shape else 1
    return None


def _one(key: str, value: Any) -> tuple[int, Any] | None:
    if type(value) in _PLAIN_NUMBERS:
        return SCALAR, float(value)
    if isinstance(value, Media):
        return MEDIA, value
    if isinstance(value, str):
        return MEDIA, Text(value)
    if value is None:
        return None
    if isinstance(value, numbers.Real) and not isinstance(value, complex):
        return SCALAR, float(value)
    size = _array_size(value)
    if size is not None:
        if size == 1:
            try:
                item = value.item() if hasattr(value, "item") else value
                return SCALAR, float(item)
            except (TypeError, ValueError) as exc:
                raise TypeError(f"log: {key!r}: cannot convert to a number: {exc}") from None
        if size == 0:
            raise ValueError(f"log: {key!r} is an empty array")
        return MEDIA, Histogram(value, num_bins="tensorflow")
    if is_figure(value):
        from tblog.tracking._media import Image

        return MEDIA, Image(value)
    if isinstance(value, (list, tuple)) and value and all(isinstance(v, Media) for v in value):
        return MEDIA_LIST, list(value)
    raise TypeError(
        f"log: {key!r} is a {type(value).__name__}; values must be numbers, str, arrays/tensors, "
        "matplotlib figures, tblog.Image/Histogram/Video/Audio/Text/Table or lists of those"
    )


def prepare(data: Mapping[str, Any], out: Row, prefix: str = "") -> None:
    """Convert ``data`` into ``out``; nested dicts as ``a/b``.

    Raises:
        TypeError: ``data`` is not a mapping, a key is not a str, or a value is
            of no supported type.
    """
    if not isinstance(data, Mapping):
        raise TypeError(f"log: data must be a dict of str to values, got {type(data).__name__}")
    scalars, media = out.scalars, out.media
    for key, value in data.items():
        if type(key) is not str:
            raise TypeError(f"log: keys must be str, got {key!r}")
        name = prefix + key if prefix else key
        if type(value) in _PLAIN_NUMBERS:  # the common case, inline
            scalars[name] = float(value)
            continue
        if isinstance(value, Mapping):
            prepare(value, out, name + "/")
            continue
        item = _one(name, value)
        if item is None:
            continue
        if item[0] == SCALAR:
            scalars[name] = item[1]
            media.pop(name, None)
        else:
            media[name] = item
            scalars.pop(name, None)


def write(run: Run, row: Row, step: int) -> None:
    """Write a prepared ``row`` at ``step`` and update the run's summary."""
    add_scalar = run.writer.add_scalar
    summary = run.summary._data
    for key, value in row.scalars.items():
        add_scalar(key, value, step)
    summary.update(row.scalars)
    for key, (kind, value) in row.media.items():
        if kind == MEDIA:
            value._write(run, key, step)
            summary.setdefault(key, type(value).__name__)
        else:
            for index, media in enumerate(value):
                media._write(run, f"{key}/{index}", step)
            summary.setdefault(key, f"{len(value)} x {type(value[0]).__name__}")
