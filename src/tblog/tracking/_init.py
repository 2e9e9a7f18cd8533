"""``tblog.init`` and the current run: argument checks, default project and name,
and the process hooks (exit finishes the run; a forked child lets it be).
"""

from __future__ import annotations

import atexit
import os
import re
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

from tblog.tracking._run import Run

_MODES = ("online", "offline", "disabled")
_RESUME = (None, "never", "allow", "must")

_current: Run | None = None
_lock = threading.Lock()


def current_run() -> Run | None:
    """The run of the last ``init()`` that is not finished, or None."""
    return _current


def _default_project() -> str:
    script = os.path.basename(sys.argv[0]) if sys.argv and sys.argv[0] else ""
    stem = os.path.splitext(script)[0]
    if not stem or stem in ("-c", "-m", "__main__", "ipykernel_launcher", "pytest"):
        return "default"
    return re.sub(r"[^\w.\-]", "_", stem)


def _default_name() -> str:
    """Sortable and readable: ``20260102-130405-a1b2``."""
    return f"{time.strftime('%Y%m%d-%H%M%S')}-{os.urandom(2).hex()}"


def _component(value: Any, what: str) -> str:
    if not isinstance(value, str):
        raise TypeError(f"init: {what} must be a str, got {type(value).__name__}")
    if not value or value in (".", "..") or "/" in value or "\\" in value or "\0" in value:
        raise ValueError(f"init: {what}={value!r} must be one directory name (no '/', not '..')")
    return value


def forget(run: Run) -> None:
    """``run`` is finished: no longer the current run."""
    global _current
    with _lock:
        if _current is run:
            _current = None


def init(
    project: str | None = None,
    name: str | None = None,
    config: Any = None,
    dir: str | os.PathLike[str] = "runs",
    notes: str | None = None,
    tags: Any = None,
    resume: bool | str | None = None,
    mode: str = "online",
    *,
    id: str | None = None,
    system_interval: float | None = 10.0,
    capture_output: bool = True,
    alert_callback: Callable[..., Any] | None = None,
    alert_webhook: str | None = None,
    rank: int | str | None = None,
) -> Run:
    """Start a run writing into ``{dir}/{project}/{name}`` and make it the current run.

    A run started before and not finished is finished first.

    Args:
        project: groups runs (one TensorBoard logdir); default: the script's name.
        name: the run's directory; default a sortable id ``YYYYmmdd-HHMMSS-xxxx``.
        config: hyperparameters: a dict, Mapping or ``argparse.Namespace``.
        dir: where projects live: a local path or a ``s3://``-style URL.
        notes: text shown with the run (Text dashboard, tag ``run``).
        tags: strings shown with the run.
        resume: None/"never": the run directory must not hold a run yet.
            "allow" (or True): continue it if it exists. "must": it must exist.
        mode: "online" or "offline" (the same here: everything is local),
            or "disabled": a run whose calls do nothing.
        id: wandb's name for ``name`` when ``name`` is None.
        system_interval: seconds between system-metric samples; None or 0: off.
        capture_output: tee stdout and stderr into ``{log_dir}/output.log``.
        alert_callback: called as ``callback(title, text, level)`` by ``alert``.
        alert_webhook: URL that ``alert`` POSTs JSON to (e.g. a Slack webhook).
        rank: multi-process training: only rank 0 records (``"auto"``: from
            torch.distributed or ``$RANK``); others get a disabled run.

    Raises:
        TypeError, ValueError: a bad argument, named in the message.
    """
    global _current
    if mode not in _MODES:
        raise ValueError(f"init: mode must be one of {_MODES}, got {mode!r}")
    if resume is True:
        resume = "allow"
    elif resume is False:
        resume = None
    if resume not in _RESUME:
        raise ValueError(f"init: resume must be None, 'never', 'allow' or 'must', got {resume!r}")
    if not isinstance(dir, (str, os.PathLike)):
        raise TypeError(f"init: dir must be a str or path, got {type(dir).__name__}")
    if system_interval is not None and not (
        isinstance(system_interval, (int, float)) and system_interval >= 0
    ):
        raise ValueError(
            f"init: system_interval must be seconds >= 0 or None, got {system_interval!r}"
        )
    if alert_callback is not None and not callable(alert_callback):
        raise TypeError(f"init: alert_callback must be callable, got {alert_callback!r}")
    if alert_webhook is not None and not (
        isinstance(alert_webhook, str) and alert_webhook.startswith(("http://", "https://"))
    ):
        raise ValueError(f"init: alert_webhook must be an http(s) URL, got {alert_webhook!r}")
    if isinstance(tags, str):
        tags = (tags,)
    if tags is not None and (
        not hasattr(tags, "__iter__") or not all(isinstance(tag, str) for tag in tags)
    ):
        raise TypeError(f"init: tags must be a str or a list of str, got {tags!r}")
    if notes is not None and not isinstance(notes, str):
        raise TypeError(f"init: notes must be a str, got {type(notes).__name__}")
    project = _component(project if project is not None else _default_project(), "project")
    if name is None:
        name = id if id is not None else _default_name()
    name = _component(name, "name")
    previous = _current
    if previous is not None:
        previous.finish()
    run = Run(
        project=project, name=name, config=config, dir=os.fspath(dir), notes=notes, tags=tags,
        resume=resume, mode=mode, system_interval=system_interval,
        capture_output=capture_output, alert_callback=alert_callback,
        alert_webhook=alert_webhook, rank=rank,
    )
    with _lock:
        _current = run
    return run


def _finish_at_exit() -> None:
    run = _current
    if run is not None:
        try:
            run.finish(exit_code=0)
        except Exception as exc:  # noqa: BLE001 - never fail the interpreter's exit
            print(f"tblog: finishing run {run.name!r} at exit failed: {exc!r}", file=sys.stderr)


def _after_fork_in_child() -> None:
    run = _current
    if run is not None:
        if run._output is not None:
            run._output.stop()
        if run._sampler is not None:
            run._sampler.forget()


atexit.register(_finish_at_exit)
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)
