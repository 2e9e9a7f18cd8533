"""tblog: fast, crash-safe TensorBoard logging; a drop-in ``SummaryWriter``.

    from tblog import SummaryWriter   # instead of torch.utils.tensorboard's
"""

from tblog import _patch
from tblog._distributed import reduce_scalar, reduce_scalars
from tblog._patch import patch, unpatch
from tblog.writer import FileWriter, NullSummaryWriter, SummaryWriter

__version__ = "0.1.0"

__all__ = [
    "FileWriter",
    "NullSummaryWriter",
    "SummaryWriter",
    "__version__",
    "patch",
    "reduce_scalar",
    "reduce_scalars",
    "unpatch",
]

_patch.patch_from_environment()  # TBLOG_PATCH=1: docs/integrations.md
