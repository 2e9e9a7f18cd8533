"""tblog: fast, crash-safe TensorBoard logging; a drop-in ``SummaryWriter``.

    from tblog import SummaryWriter   # instead of torch.utils.tensorboard's
"""

from tblog._distributed import NullSummaryWriter, reduce_scalar, reduce_scalars
from tblog.writer import FileWriter, SummaryWriter

__version__ = "0.1.0"

__all__ = [
    "FileWriter",
    "NullSummaryWriter",
    "Runs",
    "SummaryWriter",
    "__version__",
    "read",
    "reduce_scalar",
    "reduce_scalars",
]


def __getattr__(name: str) -> object:
    # The reader (tblog.read, tblog.Runs) is imported on first use: `import tblog`
    # stays fast and never imports pandas.
    if name in ("read", "Runs"):
        from tblog import reader

        return getattr(reader, name)
    raise AttributeError(f"module 'tblog' has no attribute {name!r}")
