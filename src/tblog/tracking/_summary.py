"""``run.summary`` (final value per key) and the ``tblog.summary`` module hook that
lets ``tblog.summary["k"] = v`` reach the current run's summary.
"""

from __future__ import annotations

import math
import sys
import types
from collections.abc import Mapping
from typing import Any

from tblog.tracking._mapping import KeyedValues


class Summary(KeyedValues):
    """Final values of a run: the last logged number of each key, or what you set.

    ``summary["best_acc"] = 0.95`` overrides a key until it is logged again.
    Numeric entries become metrics of the HParams dashboard (``summary/<key>``)
    and everything is written to ``summary.json`` at finish.
    """

    _KIND = "summary"

    def __init__(self, data: Mapping[str, Any] | None = None) -> None:
        object.__setattr__(self, "_data", dict(data or {}))

    def update(self, values: Mapping[str, Any] | None = None, **kwargs: Any) -> None:
        """Set several keys."""
        for key, value in {**dict(values or {}), **kwargs}.items():
            self[key] = value

    def metrics(self) -> dict[str, float]:
        """The finite numeric entries (bools excluded), for the HParams dashboard."""
        from tblog.tracking._config import _number

        found = {}
        for key, value in self._data.items():
            if isinstance(value, (bool, str)) or type(value).__name__ == "bool_":
                continue
            number = value if type(value) in (int, float) else _number(value)
            if isinstance(number, bool) or not isinstance(number, (int, float)):
                continue
            if math.isfinite(number):
                found[key] = float(number)
        return found

def project_metrics(log_dir: str) -> list[str]:
    """Summary metric names of the other runs of ``log_dir``'s project (their
    ``tblog-run.json``).

    TensorBoard takes the HParams table's columns from one run's experiment, so
    each run lists the metrics of the runs finished before it too.
    """
    import json

    from tblog.tracking._files import sibling_files
    from tblog.tracking._run import STATE_FILE

    names: list[str] = []
    for raw in sibling_files(log_dir, STATE_FILE):
        try:
            summary = json.loads(raw).get("summary") or {}
            names.extend(Summary(summary).metrics())
        except (ValueError, AttributeError, TypeError):
            continue
    return list(dict.fromkeys(names))


def _current_summary() -> Summary:
    from tblog.tracking._init import current_run

    run = current_run()
    if run is None:
        raise RuntimeError("tblog.summary: no run; call tblog.init() first")
    return run.summary


class SummaryModule(types.ModuleType):
    """The class given to the ``tblog.summary`` subpackage: still the package of
    summary builders (``from tblog.summary import image`` is unchanged), and
    also a mapping onto the current run's summary, as ``wandb.summary`` is."""

    def __getitem__(self, key: str) -> Any:
        return _current_summary()[key]

    def __setitem__(self, key: str, value: Any) -> None:
        _current_summary()[key] = value

    def __delitem__(self, key: str) -> None:
        del _current_summary()[key]

    def __contains__(self, key: object) -> bool:
        return key in _current_summary()

    def __bool__(self) -> bool:  # a module is true, whatever the summary holds
        return True

    def update(self, values: Mapping[str, Any] | None = None, **kwargs: Any) -> None:
        """``summary.update(...)`` on the current run."""
        _current_summary().update(values, **kwargs)

    def get(self, key: str, default: Any = None) -> Any:
        return _current_summary().get(key, default)

    def keys(self) -> Any:
        return _current_summary().keys()

    def items(self) -> Any:
        return _current_summary().items()


def install_summary_module() -> None:
    """Give ``tblog.summary`` the mapping behaviour (idempotent)."""
    module = sys.modules.get("tblog.summary")
    if module is not None and type(module) is types.ModuleType:
        module.__class__ = SummaryModule
