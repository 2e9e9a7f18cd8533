"""``run.watch``: forward and gradient hooks on torch modules that record
histograms and norms of parameters and gradients every ``log_freq`` training
forwards.

The hooks hold only weak references (to their watcher, which holds the run and
the model weakly too), so watching never keeps a model alive and makes no
reference cycle. torch is never imported here: the model brought it.
"""

from __future__ import annotations

import functools
import sys
import warnings
import weakref
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tblog.tracking._run import Run

_LOG = ("gradients", "parameters", "all", None)


def _norm(tensor: Any) -> float:
    return float(tensor.detach().float().norm())


class Watcher:
    """The hooks on one model."""

    def __init__(self, run: Run, model: Any, log: str, log_freq: int, prefix: str) -> None:
        self._run = weakref.ref(run)
        self.model = weakref.ref(model)
        self.log_freq = log_freq
        self.prefix = prefix
        self.parameters = log in ("parameters", "all")
        self.gradients = log in ("gradients", "all")
        self.calls = 0
        self.armed: set[str] = set()
        self.armed_step = 0
        self.armed_at = 0
        self._grad_hooks: list[tuple[weakref.ref[Any], Any]] = []
        self._warned = False
        self._me = weakref.ref(self)
        self.handles = [model.register_forward_hook(functools.partial(_on_forward, self._me))]

    def arm(self, module: Any, step: int) -> None:
        """Hook every parameter's gradient for the coming backward only.

        Gradient hooks exist only from a recording forward until they fired
        (or two more forwards passed), so the other steps pay no hook calls.
        """
        self.disarm()
        self.armed_step, self.armed_at = step, self.calls
        for name, param in module.named_parameters():
            if param.requires_grad:
                handle = param.register_hook(functools.partial(_on_grad, self._me, name))
                self._grad_hooks.append((weakref.ref(param), handle))
                self.armed.add(name)

    def disarm(self) -> None:
        for param_ref, handle in self._grad_hooks:
            handle.remove()
            param = param_ref()
            if param is not None and not param._backward_hooks:
                # No hook left: forget the (empty) hook table as an unhooked tensor
                # has none, so autograd stops calling into Python for it.
                try:
                    param._backward_hooks = None
                except (AttributeError, RuntimeError):
                    pass
        self._grad_hooks = []
        self.armed = set()

    def remove(self) -> None:
        for handle in self.handles:
            handle.remove()
        self.handles = []
        self.disarm()

    def run(self) -> Run | None:
        run = self._run()
        return None if run is None or run.finished else run

    def record(self, kind: str, name: str, tensor: Any, step: int) -> None:
        run = self.run()
        if run is None:
            return
        tag = f"{kind}/{self.prefix}{name}"
        data = tensor.detach()
        try:
            run.writer.add_scalar(f"{tag}/norm", _norm(data), step)
            run.writer.add_histogram(tag, data, step)
        except ValueError as exc:  # NaN/inf: the norm shows it; no histogram can
            if not self._warned:
                warnings.warn(f"tblog watch: {tag}: {exc}", stacklevel=1)
                self._warned = True


def _on_forward(me: weakref.ref[Watcher], module: Any, inputs: Any, output: Any) -> None:
    watcher = me()
    if watcher is None or not module.training:
        return
    torch = sys.modules.get("torch")
    if torch is not None and not torch.is_grad_enabled():
        return
    calls = watcher.calls
    watcher.calls = calls + 1
    if watcher._grad_hooks and (not watcher.armed or calls - watcher.armed_at >= 2):
        watcher.disarm()  # the recorded backward is over (or never came)
    if calls % watcher.log_freq:
        return
    run = watcher.run()
    if run is None:
        return
    step = run.step
    if watcher.parameters:
        for name, param in module.named_parameters():
            watcher.record("parameters", name, param, step)
    if watcher.gradients:
        watcher.arm(module, step)


def _on_grad(me: weakref.ref[Watcher], name: str, grad: Any) -> None:
    watcher = me()
    if watcher is None or not watcher.armed or name not in watcher.armed:
        return None
    watcher.armed.discard(name)
    watcher.record("gradients", name, grad, watcher.armed_step)
    return None


def watch(run: Run, models: Any, log: str | None, log_freq: Any, log_graph: bool) -> None:
    """Install watchers (replacing earlier ones on the same models)."""
    if log not in _LOG:
        raise ValueError(
            f"watch: log must be 'gradients', 'parameters', 'all' or None, got {log!r}"
        )
    if isinstance(log_freq, bool) or not isinstance(log_freq, int) or log_freq < 1:
        raise ValueError(f"watch: log_freq must be an int >= 1, got {log_freq!r}")
    if log_graph:
        raise ValueError("watch: log_graph=True is not supported; use run.writer.add_graph")
    items = list(models) if isinstance(models, (list, tuple)) else [models]
    if not items:
        raise ValueError("watch: models is empty")
    for model in items:
        if not (hasattr(model, "register_forward_hook") and hasattr(model, "named_parameters")):
            raise TypeError(
                f"watch: models must be torch.nn.Module(s), got {type(model).__name__}"
            )
    if run.disabled or run.finished or log is None:
        return
    unwatch(run, items)
    for index, model in enumerate(items):
        prefix = f"model{index}/" if len(items) > 1 else ""
        run._watchers.append(Watcher(run, model, log, log_freq, prefix))


def unwatch(run: Run, models: Any = None) -> None:
    """Remove the watchers of ``models`` (all when None)."""
    if models is None:
        targets = None
    else:
        targets = {id(m) for m in (models if isinstance(models, (list, tuple)) else [models])}
    keep = []
    for watcher in run._watchers:
        model = watcher.model()
        if targets is None or model is None or id(model) in targets:
            watcher.remove()
        else:
            keep.append(watcher)
    run._watchers[:] = keep
