"""tblog: fast, crash-safe TensorBoard logging; a drop-in ``SummaryWriter``.

    from tblog import SummaryWriter   # instead of torch.utils.tensorboard's
"""

from tblog.writer import FileWriter, SummaryWriter

__version__ = "0.1.0"

__all__ = ["FileWriter", "SummaryWriter", "__version__"]
