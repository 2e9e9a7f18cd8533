"""Reading TensorBoard logdirs back: ``tblog.read(logdir)`` returns :class:`Runs`.

The core (framing, CRCs, decoding) needs only numpy, protobuf and crc32c; the
frames need pandas (``pip install 'tblog[read]'``).
"""

from __future__ import annotations

from typing import Any

__all__ = ["CorruptEventFileError", "LazyImage", "ReadWarning", "Runs", "read"]


def __getattr__(name: str) -> Any:
    if name == "LazyImage":
        from tblog.reader._media import LazyImage

        return LazyImage
    if name in __all__:
        from tblog.reader import _runs

        return getattr(_runs, name)
    raise AttributeError(f"module 'tblog.reader' has no attribute {name!r}")
