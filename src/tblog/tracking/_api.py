"""The module-level calls (``tblog.log``, ``tblog.config``, ...) that act on the
current run, as wandb's do.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from tblog.tracking._init import current_run
from tblog.tracking._run import Run


def _run(what: str) -> Run:
    run = current_run()
    if run is None:
        raise RuntimeError(f"tblog.{what}: no run; call tblog.init() first")
    return run


def log(data: Mapping[str, Any], step: int | None = None, commit: bool | None = None) -> None:
    """``Run.log`` on the current run."""
    _run("log").log(data, step=step, commit=commit)


def watch(models: Any, criterion: Any = None, log: str | None = "gradients",
          log_freq: int = 1000, idx: int | None = None, log_graph: bool = False) -> None:
    """``Run.watch`` on the current run."""
    _run("watch").watch(models, criterion, log, log_freq, idx, log_graph)


def unwatch(models: Any = None) -> None:
    """``Run.unwatch`` on the current run."""
    _run("unwatch").unwatch(models)


def alert(title: str, text: str, level: str = "INFO", wait_duration: float = 0) -> bool:
    """``Run.alert`` on the current run."""
    return _run("alert").alert(title, text, level, wait_duration)


def save(glob_str: str | os.PathLike[str], base_path: str | None = None,
         policy: str = "live") -> list[str]:
    """``Run.save`` on the current run."""
    return _run("save").save(glob_str, base_path, policy)


def finish(exit_code: int | None = None, quiet: bool | None = None) -> None:
    """Finish the current run (nothing happens without one)."""
    run = current_run()
    if run is not None:
        run.finish(exit_code, quiet)


class _ConfigProxy:
    """``tblog.config``: the current run's ``Config``, whichever run that is."""

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        return getattr(_run("config").config, name)

    def __setattr__(self, name: str, value: Any) -> None:
        setattr(_run("config").config, name, value)

    def __getitem__(self, key: str) -> Any:
        return _run("config").config[key]

    def __setitem__(self, key: str, value: Any) -> None:
        _run("config").config[key] = value

    def __contains__(self, key: object) -> bool:
        return key in _run("config").config

    def __iter__(self) -> Any:
        return iter(_run("config").config)

    def __len__(self) -> int:
        return len(_run("config").config)

    def __repr__(self) -> str:
        run = current_run()
        return f"tblog.config -> {run.config!r}" if run else "tblog.config (no run)"


config = _ConfigProxy()
