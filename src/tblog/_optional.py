"""Optional dependencies (Pillow, matplotlib): imported when a feature needs them."""

from __future__ import annotations


def require(module: str, what: str, package: str) -> None:
    """Import ``module`` now (on the caller's thread, not a worker's), or raise an
    ``ImportError`` saying that ``what`` needs ``package`` and how to install it."""
    try:
        __import__(module)
    except ImportError as exc:
        raise ImportError(f"{what} needs {package}: pip install {package}") from exc
