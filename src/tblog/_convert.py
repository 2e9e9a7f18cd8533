"""Turn user values (Python, numpy, torch, JAX, lists) into floats and arrays.

The one place that knows about frameworks. torch and JAX are recognised by the
module of the value's type, so neither is imported unless the user passed one
of their arrays.
"""

from __future__ import annotations

import numbers
from typing import Any

import numpy as np


def _framework(value: Any) -> str:
    module = type(value).__module__
    return module.partition(".")[0]


def _torch_to_numpy(tensor: Any) -> np.ndarray:
    tensor = tensor.detach()
    if str(tensor.dtype) == "torch.bfloat16":  # numpy has no bfloat16
        tensor = tensor.float()
    return tensor.cpu().numpy()


def to_numpy(value: Any, name: str = "value") -> np.ndarray:
    """Return ``value`` as a numpy array (no copy when it already is one).

    Accepts numpy arrays and scalars, torch tensors (any device, with or without
    grad), JAX arrays, anything with ``__array__``, Python numbers and nested
    lists/tuples of numbers.

    Raises:
        TypeError: naming ``name`` when the value is none of those.
    """
    if isinstance(value, np.ndarray):
        return value
    framework = _framework(value)
    if framework == "torch" and hasattr(value, "detach"):
        return _torch_to_numpy(value)
    if isinstance(value, (np.generic, numbers.Number, list, tuple)) or hasattr(
        value, "__array__"
    ):
        if isinstance(value, (str, bytes)):
            raise TypeError(f"{name} must be an array or number, got {type(value).__name__}")
        try:
            return np.asarray(value)
        except (ValueError, TypeError) as exc:
            raise TypeError(f"{name} could not be converted to an array: {exc}") from exc
    raise TypeError(
        f"{name} must be a numpy array, torch tensor, JAX array, number or list, "
        f"got {type(value).__module__}.{type(value).__qualname__}"
    )


def to_real_array(value: Any, name: str = "value") -> np.ndarray:
    """``value`` as a numpy array of real numbers (bool, int or float dtype).

    Raises:
        TypeError: not convertible (see ``to_numpy``), or another dtype.
    """
    array = to_numpy(value, name)
    if array.dtype.kind not in "biuf":
        raise TypeError(f"{name} must be real numbers, got dtype {array.dtype}")
    return array


# torch tensor classes met so far (torch.Tensor, nn.Parameter, subclasses).
_TORCH_TENSOR_TYPES: set[type] = set()


def to_float(value: Any, name: str = "value") -> float:
    """Return a single number as a Python float.

    Accepts Python numbers and bools, numpy scalars and one-element arrays,
    one-element torch tensors (on any device) and JAX arrays.

    Raises:
        TypeError: the value is not numeric.
        ValueError: the value has more than one element.
    """
    kind = type(value)
    if kind is float:
        return value
    if kind is int or kind is bool:
        return _int_to_float(value)
    if kind in _TORCH_TENSOR_TYPES or (_framework(value) == "torch" and hasattr(value, "item")):
        _TORCH_TENSOR_TYPES.add(kind)  # the next one skips the module lookup
        try:
            item = value.item()  # one call: copies a single element, even from a GPU
        except (RuntimeError, ValueError):
            raise ValueError(
                f"{name} must have exactly one element, got a tensor of shape "
                f"{tuple(value.shape)}"
            ) from None
        if isinstance(item, complex):
            raise TypeError(f"{name} must be real, got a complex tensor")
        return float(item)
    if isinstance(value, (str, bytes)) or value is None:
        raise TypeError(f"{name} must be a number, got {kind.__name__} {value!r:.60}")
    if isinstance(value, numbers.Real) and not isinstance(value, np.ndarray):
        return float(value)
    array = to_numpy(value, name)
    if array.size != 1:
        raise ValueError(f"{name} must have exactly one element, got shape {array.shape}")
    if not (np.issubdtype(array.dtype, np.number) or array.dtype == np.bool_) or np.iscomplexobj(
        array
    ):
        raise TypeError(f"{name} must be a real number, got dtype {array.dtype}")
    return float(array.reshape(()))


def _int_to_float(value: int) -> float:
    try:
        return float(value)
    except OverflowError:  # a Python int beyond float range
        return float("inf") if value > 0 else float("-inf")


def to_step(step: Any, name: str = "global_step") -> int:
    """Return a step as a Python int in int64 range (whole floats are accepted)."""
    if type(step) is int or (isinstance(step, numbers.Integral) and not isinstance(step, bool)):
        result = int(step)
    else:
        if isinstance(step, bool):
            raise TypeError(f"{name} must be an int, got bool")
        value = to_float(step, name)
        if not value.is_integer():
            raise ValueError(f"{name} must be a whole number, got {value!r}")
        result = int(value)
    if not -(2**63) <= result < 2**63:
        raise ValueError(f"{name} must fit in int64, got {result}")
    return result


def to_walltime(walltime: Any) -> float:
    """Return a finite wall time in seconds (TensorBoard's Rust loader drops NaN)."""
    try:
        result = to_float(walltime, "walltime")
    except (TypeError, ValueError) as exc:
        raise TypeError(f"walltime must be a number of seconds: {exc}") from exc
    if result != result or result in (float("inf"), float("-inf")):
        raise ValueError(f"walltime must be finite, got {result}")
    return result


def to_text(value: Any, name: str = "tag") -> str:
    """Return ``value`` if it is a str that UTF-8 can encode.

    The one rule for text (tags, run names, suffixes, labels): a str holding a
    lone surrogate (e.g. ``"\\ud800"``, which ``os.fsdecode`` makes of
    undecodable bytes) is rejected, never replaced, so two different names
    can never end up as one.

    Raises:
        TypeError: ``value`` is not a str.
        ValueError: ``value`` is not valid Unicode text.
    """
    if not isinstance(value, str):
        raise TypeError(f"{name} must be a str, got {type(value).__name__}")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ValueError(
            f"{name} {value!r} is not valid Unicode text ({exc.reason} at index {exc.start}); "
            "tblog does not replace characters"
        ) from None
    return value


def on_accelerator(value: Any) -> bool:
    """True for a torch tensor that lives on a device other than the CPU."""
    return getattr(value, "is_cpu", True) is False and _framework(value) == "torch"


class naming_errors:  # noqa: N801 - used as a context manager, reads like a function
    """Prefix a ``TypeError``/``ValueError`` raised inside with ``method(tag=...)``.

    Every ``add_*`` method wraps its argument conversion in one, so the user sees
    which call and tag failed: ``with naming_errors("add_image", tag): ...``.
    """

    __slots__ = ("prefix",)

    def __init__(self, method: str, tag: Any) -> None:
        self.prefix = f"{method}(tag={tag!r})"

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: type | None, exc: BaseException | None, tb: Any) -> bool:
        if isinstance(exc, (TypeError, ValueError)) and not str(exc).startswith(self.prefix):
            # Subclasses such as UnicodeEncodeError take other arguments: use the base.
            base = TypeError if isinstance(exc, TypeError) else ValueError
            raised = type(exc) if type(exc).__init__ is base.__init__ else base
            raise raised(f"{self.prefix}: {exc}") from None
        return False
