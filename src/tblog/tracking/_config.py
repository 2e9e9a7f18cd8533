"""``run.config``: a dict with attribute access, and its conversions for the
HParams dashboard (flattened, TensorBoard types) and for ``config.yaml``.
"""

from __future__ import annotations

import json
import math
import numbers
import sys
from collections.abc import Callable, Mapping
from typing import Any

from tblog.tracking._mapping import KeyedValues


def _namespace(value: Any) -> bool:
    """An ``argparse.Namespace`` (argparse is not imported for this)."""
    argparse = sys.modules.get("argparse")
    return argparse is not None and isinstance(value, argparse.Namespace)


def as_mapping(value: Any, what: str) -> dict[str, Any]:
    """``value`` (a mapping, ``argparse.Namespace`` or None) as a plain dict.

    Raises:
        TypeError: any other type, or a key that is not a str.
    """
    if value is None:
        return {}
    if _namespace(value):
        value = vars(value)
    if isinstance(value, Config):
        value = value.as_dict()
    if not isinstance(value, Mapping):
        raise TypeError(
            f"{what} must be a dict, Mapping or argparse.Namespace, got {type(value).__name__}"
        )
    result = {}
    for key, item in value.items():
        if not isinstance(key, str):
            raise TypeError(f"{what}: keys must be str, got {key!r}")
        result[key] = item
    return result


class Config(KeyedValues):
    """The run's hyperparameters: ``config.lr``, ``config["lr"]``, ``config.update(...)``.

    Nested dicts stay nested here and in ``config.yaml``; the HParams dashboard
    shows them flattened (``optimizer.lr``).
    """

    _KIND = "config"
    _RESERVED = frozenset({"_data", "_on_change", "_locked"})

    def __init__(
        self, data: Mapping[str, Any] | None = None,
        on_change: Callable[[], None] | None = None,
    ) -> None:
        object.__setattr__(self, "_data", as_mapping(data, "config"))
        object.__setattr__(self, "_on_change", on_change)

    # -- mapping -------------------------------------------------------------

    def setdefaults(self, values: Mapping[str, Any]) -> None:
        """Set the keys of ``values`` that are not set yet (wandb's ``setdefaults``)."""
        for key, value in as_mapping(values, "setdefaults(values)").items():
            self._data.setdefault(key, value)
        self._changed()

    def update(self, values: Any = None, allow_val_change: bool = True, **kwargs: Any) -> None:
        """Merge ``values`` (dict, Mapping or ``argparse.Namespace``) and keywords.

        ``allow_val_change`` is accepted for wandb compatibility: values may
        always change (the HParams dashboard shows the values at finish).
        """
        merged = as_mapping(values, "config.update(values)")
        merged.update(kwargs)
        self._data.update(merged)
        self._changed()

    # -- attributes ----------------------------------------------------------

    def _changed(self) -> None:
        if self._on_change is not None:
            self._on_change()


def flatten(data: Mapping[str, Any], sep: str = ".", prefix: str = "") -> dict[str, Any]:
    """Nested mappings flattened: ``{"opt": {"lr": 1}}`` -> ``{"opt.lr": 1}``."""
    flat: dict[str, Any] = {}
    for key, value in data.items():
        name = f"{prefix}{key}"
        if _namespace(value):
            value = vars(value)
        if isinstance(value, Mapping) and value:
            flat.update(flatten(value, sep, name + sep))
        else:
            flat[name] = value
    return flat


def _number(value: Any) -> float | int | None:
    """A Python number for bools-excluded numeric scalars (numpy, one-element tensors)."""
    if isinstance(value, numbers.Number) and not isinstance(value, complex):
        return value.item() if hasattr(value, "item") else value  # type: ignore[union-attr]
    if hasattr(value, "numel") and hasattr(value, "item"):  # torch tensor
        try:
            if value.numel() == 1:
                return value.item()
        except Exception:  # noqa: BLE001 - anything odd is stringified instead
            return None
    size = getattr(value, "size", None)
    if type(size) is int and size == 1 and hasattr(value, "item") and hasattr(value, "dtype"):
        item = value.item()  # numpy 0-d / one-element array
        return item if isinstance(item, (int, float)) else None
    return None


def hparam_value(value: Any) -> str | bool | float:
    """One config value as TensorBoard can show it: bool, float or str.

    None, non-finite numbers, lists, objects: their text (never dropped).
    """
    if isinstance(value, bool):
        return value
    if value is None:
        return "None"
    if isinstance(value, str):
        return value.encode("utf-8", "replace").decode("utf-8")
    if type(value).__name__ == "bool_":  # numpy bool
        return bool(value)
    number = _number(value)
    if isinstance(number, bool):
        return number
    if isinstance(number, (int, float)):
        if math.isfinite(number):
            return float(number)
        return str(number)
    return _text(value)


def _text(value: Any) -> str:
    try:
        data = plain(value)
        text = data if isinstance(data, str) else json.dumps(data, sort_keys=False)
    except (TypeError, ValueError):
        text = str(value)
    return text.encode("utf-8", "replace").decode("utf-8")


def hparams(data: Mapping[str, Any]) -> dict[str, str | bool | float]:
    """``config`` for ``add_hparams``: flattened, every value shown."""
    return {key: hparam_value(value) for key, value in flatten(data).items()}


def plain(value: Any) -> Any:
    """``value`` as JSON/YAML-safe data: dicts, lists, str, int, float, bool, None.

    Numpy and torch scalars become numbers, arrays lists (small) or text;
    anything else its ``str``.
    """
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if _namespace(value):
        value = vars(value)
    if isinstance(value, (Mapping, Config)):
        return {str(key): plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        items = sorted(value, key=repr) if isinstance(value, (set, frozenset)) else value
        return [plain(item) for item in items]
    number = _number(value)
    if number is not None:
        return plain(number)
    if hasattr(value, "tolist") and getattr(value, "size", 1e9) <= 64:
        return plain(value.tolist())
    return str(value)


def config_file(data: Mapping[str, Any]) -> tuple[str, bytes]:
    """``("config.yaml", bytes)`` with PyYAML, else ``("config.json", bytes)``."""
    safe = plain(data)
    try:
        import yaml
    except ImportError:
        return "config.json", (json.dumps(safe, indent=2) + "\n").encode()
    text = yaml.safe_dump(safe, sort_keys=False, allow_unicode=True, default_flow_style=False)
    return "config.yaml", text.encode()
