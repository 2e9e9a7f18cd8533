"""``KeyedValues``: a dict readable as attributes too, the base of ``Config`` and ``Summary``."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any


class KeyedValues:
    """Values by str key, as ``obj["lr"]`` and ``obj.lr`` (wandb's config and summary).

    Subclasses name themselves in ``_KIND`` (for messages), list their own
    attributes in ``_RESERVED`` (which attribute assignment must not turn into
    keys), and hook ``_changed`` to hear of every change.
    """

    _KIND = "values"
    _RESERVED: frozenset[str] = frozenset({"_data"})
    _data: dict[str, Any]

    def __getitem__(self, key: str) -> Any:
        return self._data[key]

    def __setitem__(self, key: str, value: Any) -> None:
        if not isinstance(key, str):
            raise TypeError(f"{self._KIND} keys must be str, got {key!r}")
        self._data[key] = value
        self._changed()

    def __delitem__(self, key: str) -> None:
        del self._data[key]
        self._changed()

    def __contains__(self, key: object) -> bool:
        return key in self._data

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def keys(self) -> Any:
        return self._data.keys()

    def items(self) -> Any:
        return self._data.items()

    def values(self) -> Any:
        return self._data.values()

    def get(self, key: str, default: Any = None) -> Any:
        return self._data.get(key, default)

    def as_dict(self) -> dict[str, Any]:
        """A shallow copy of the values."""
        return dict(self._data)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        try:
            return self._data[name]
        except KeyError:
            raise AttributeError(f"{self._KIND} has no key {name!r}") from None

    def __setattr__(self, name: str, value: Any) -> None:
        if name in self._RESERVED:
            raise AttributeError(f"{name!r} is reserved")
        self[name] = value

    def __delattr__(self, name: str) -> None:
        try:
            del self[name]
        except KeyError:
            raise AttributeError(f"{self._KIND} has no key {name!r}") from None

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._data!r})"

    def _changed(self) -> None:
        """Called after every change; nothing by default."""
