"""The libraries under test: key -> module that provides ``SummaryWriter``.

Imported by the child process *before* it times ``import <lib>``, so it must not import
anything itself.
"""

LIBRARIES: dict[str, str] = {
    "torch": "torch.utils.tensorboard",
    "tbx": "tensorboardX",
    "tblog": "tblog",
}
BASELINE = "torch"
"""Speedups are reported relative to this library."""
