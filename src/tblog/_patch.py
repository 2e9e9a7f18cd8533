"""``patch()``/``unpatch()``: torch's and tensorboardX's writer modules resolve to tblog.

After ``patch()``, ``torch.utils.tensorboard`` (and its ``writer`` and ``summary``
submodules) and ``tensorboardX`` (and ``tensorboardX.writer``/``.summary``) are
stand-in modules whose ``SummaryWriter``/``FileWriter`` are tblog's and whose
``summary`` functions come from ``tblog.torch_summary`` (imported on first use).
Modules imported before the call are swapped in ``sys.modules`` and in their
parents' attributes, and the writer classes on the original module objects are
replaced too; modules not imported yet are served by a meta-path finder, so
``patch()`` itself imports neither torch nor tensorboardX. ``unpatch()`` puts
back exactly what was there. See docs/integrations.md.
"""

from __future__ import annotations

import importlib
import importlib.machinery
import os
import sys
import threading
import types
from collections.abc import Sequence
from typing import Any

__all__ = ["is_patched", "patch", "unpatch"]

_TORCH = "torch.utils.tensorboard"
_TBX = "tensorboardX"
_PACKAGES = (_TORCH, _TBX)
# Every module name patch() serves, parents first.
NAMES: tuple[str, ...] = tuple(
    name for package in _PACKAGES for name in (package, f"{package}.writer", f"{package}.summary")
)
_WRITER_CLASSES = ("SummaryWriter", "FileWriter")
_MISSING: Any = object()


def _summary_getattr(name: str) -> Any:
    """Module ``__getattr__`` of the ``summary`` stand-ins: tblog.torch_summary's names."""
    if name.startswith("__"):
        raise AttributeError(name)
    from tblog import torch_summary

    try:
        return getattr(torch_summary, name)
    except AttributeError:
        raise AttributeError(
            f"tblog.patch(): tblog.torch_summary has no {name!r} (call tblog.unpatch() "
            "to use the original module)"
        ) from None


def _writer_getattr(module_name: str) -> Any:
    def getattr_(name: str) -> Any:
        if module_name in _PACKAGES and name in ("writer", "summary"):
            return importlib.import_module(f"{module_name}.{name}")
        raise AttributeError(
            f"tblog.patch(): module {module_name!r} is tblog's stand-in and has no {name!r}; "
            "it provides SummaryWriter and FileWriter (call tblog.unpatch() to use the original)"
        )

    return getattr_


def _make_module(name: str, search_path: Sequence[str] | None) -> types.ModuleType:
    """A fresh stand-in module for ``name`` (one of ``NAMES``)."""
    from tblog.writer import FileWriter, SummaryWriter

    module = types.ModuleType(name, f"tblog's stand-in for {name} (tblog.patch()).")
    module.__dict__["__tblog_patch__"] = True
    if name.endswith(".summary"):
        module.__getattr__ = _summary_getattr  # type: ignore[method-assign]
        return module
    module.SummaryWriter = SummaryWriter  # type: ignore[attr-defined]
    module.FileWriter = FileWriter  # type: ignore[attr-defined]
    module.__all__ = list(_WRITER_CLASSES)  # type: ignore[attr-defined]
    module.__getattr__ = _writer_getattr(name)  # type: ignore[method-assign]
    if name in _PACKAGES:
        # A package: the original's other submodules (if installed) still import.
        module.__path__ = list(search_path or [])  # type: ignore[attr-defined]
    return module


def _is_stand_in(module: object) -> bool:
    return isinstance(module, types.ModuleType) and module.__dict__.get("__tblog_patch__", False)


class _Loader:  # the loader protocol (importlib.abc costs 9 ms to import)
    def __init__(self, search_path: Sequence[str] | None) -> None:
        self._search_path = search_path

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> types.ModuleType:
        return _make_module(spec.name, self._search_path)

    def exec_module(self, module: types.ModuleType) -> None:
        # Re-set what the import system's attribute init may have overwritten.
        if module.__name__ in _PACKAGES:
            module.__path__ = list(self._search_path or [])  # type: ignore[attr-defined]


class _Finder:  # the meta path finder protocol
    """Serves ``NAMES`` with stand-ins while patched (first on ``sys.meta_path``)."""

    def find_spec(
        self, fullname: str, path: Sequence[str] | None = None, target: Any = None
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname not in NAMES:
            return None
        search_path = None
        if fullname in _PACKAGES:
            real = importlib.machinery.PathFinder.find_spec(fullname, path)
            search_path = real.submodule_search_locations if real is not None else None
        spec = importlib.machinery.ModuleSpec(
            fullname, _Loader(search_path), is_package=fullname in _PACKAGES
        )
        if search_path is not None:
            spec.submodule_search_locations = list(search_path)
        return spec


class _State:
    """What patch() changed, to be put back by unpatch()."""

    def __init__(self) -> None:
        self.finder = _Finder()
        self.modules: dict[str, Any] = {}  # name -> original sys.modules entry
        self.attributes: list[tuple[object, str, Any]] = []  # (object, name, original)


_lock = threading.RLock()
_state: _State | None = None


def _set_attribute(state: _State, obj: object, name: str, value: Any) -> None:
    state.attributes.append((obj, name, getattr(obj, name, _MISSING)))
    setattr(obj, name, value)


def patch() -> None:
    """Make torch's and tensorboardX's writer modules resolve to tblog.

    Afterwards ``from torch.utils.tensorboard import SummaryWriter``,
    ``torch.utils.tensorboard.writer``/``.summary``, ``import tensorboardX``
    and ``tensorboardX.writer``/``.summary`` give tblog's ``SummaryWriter``,
    ``FileWriter`` and summary functions, whether or not torch or
    tensorboardX were imported before. Imports neither. Names bound before
    the call (``from torch.utils.tensorboard import SummaryWriter`` at the
    top of an already imported module) keep the original: patch early.
    Calling it again does nothing.
    """
    global _state
    with _lock:
        if _state is not None:
            return
        state = _State()
        for name in NAMES:
            original = sys.modules.get(name)
            if original is None or _is_stand_in(original):
                continue
            state.modules[name] = original
            module = _make_module(name, getattr(original, "__path__", None))
            sys.modules[name] = module
            if not name.endswith(".summary"):
                for cls in _WRITER_CLASSES:
                    if hasattr(original, cls):
                        _set_attribute(state, original, cls, getattr(module, cls))
        # Parents see the stand-ins: the originals (code may hold them) and new stand-ins.
        for name, original in state.modules.items():
            parent_name, _, child = name.rpartition(".")
            stand_in = sys.modules[name]
            if parent_name in state.modules:
                setattr(sys.modules[parent_name], child, stand_in)
            parent = state.modules.get(parent_name) or sys.modules.get(parent_name)
            if parent is not None and getattr(parent, child, None) is original:
                _set_attribute(state, parent, child, stand_in)
        sys.meta_path.insert(0, state.finder)
        _state = state


def unpatch() -> None:
    """Undo :func:`patch`: restore every module and attribute it replaced.

    Stand-ins imported while patched are removed from ``sys.modules`` (and
    from their parents), so the next import loads the original. Does nothing
    when not patched.
    """
    global _state
    with _lock:
        state, _state = _state, None
        if state is None:
            return
        try:
            sys.meta_path.remove(state.finder)
        except ValueError:
            pass
        for obj, name, original in reversed(state.attributes):
            if original is _MISSING:
                if name in vars(obj):
                    delattr(obj, name)
            else:
                setattr(obj, name, original)
        # Stand-ins imported or swapped in while patched leave sys.modules and
        # any original parent the import system bound them to.
        stand_ins = {n: sys.modules[n] for n in NAMES if _is_stand_in(sys.modules.get(n))}
        for name in stand_ins:
            if name in state.modules:
                sys.modules[name] = state.modules[name]
            else:
                del sys.modules[name]
        for name, stand_in in stand_ins.items():
            parent_name, _, child = name.rpartition(".")
            parent = sys.modules.get(parent_name) if parent_name else None
            if parent is not None and not _is_stand_in(parent):
                if vars(parent).get(child) is stand_in:
                    if name in state.modules:
                        setattr(parent, child, state.modules[name])
                    else:
                        delattr(parent, child)


def is_patched() -> bool:
    """Whether :func:`patch` is in effect."""
    return _state is not None


def patch_from_environment() -> None:
    """Call :func:`patch` when ``TBLOG_PATCH`` is set to anything but ``""``/``0``."""
    if os.environ.get("TBLOG_PATCH", "").strip() not in ("", "0"):
        patch()
