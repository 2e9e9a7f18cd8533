"""Loggers and callbacks for training frameworks, each writing through tblog.

Import the one you need; each module imports its framework and raises a clear
``ImportError`` when it is not installed (this package itself imports nothing):

* ``tblog.integrations.lightning.TBLogLogger``: PyTorch Lightning ``Logger``.
* ``tblog.integrations.transformers.TBLogCallback``: Hugging Face ``TrainerCallback``.
* ``tblog.integrations.ignite.TBLogLogger``: pytorch-ignite logger and handlers.

Code that uses a framework's stock TensorBoard logger can call ``tblog.patch()``
instead. See docs/integrations.md.
"""

from __future__ import annotations

__all__: list[str] = []
