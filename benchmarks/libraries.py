"""The libraries under test: key -> module that provides ``SummaryWriter``.

Imported by the child process *before* it times ``import <lib>``, so it must not import
anything itself.
"""

LIBRARIES: dict[str, str] = {
    "torch": "torch.utils.tensorboard",
    "tbx": "tensorboardX",
    "tblog": "tblog",
    # Not a library: the least work add_scalar needs (see _scalar_floor.py).
    "floor": "_scalar_floor",
}
BASELINE = "torch"
"""Speedups are reported relative to this library."""
