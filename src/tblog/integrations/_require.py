"""One helper: import a framework or raise an ``ImportError`` that says what to install."""

from __future__ import annotations

import importlib
from types import ModuleType


def require(module: str, integration: str, install: str) -> ModuleType:
    """``importlib.import_module(module)``, or ImportError naming the pip package."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise ImportError(
            f"tblog.integrations.{integration} needs {module.partition('.')[0]}: "
            f"pip install {install} (or tblog[integrations])"
        ) from exc
