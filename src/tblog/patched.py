"""``python -m tblog.patched SCRIPT [ARGS...]``: run a script or module under ``tblog.patch()``.

For launchers and training scripts that never import tblog: the script runs as
``__main__`` with ``sys.argv`` set as if it had been started directly, with
torch's and tensorboardX's writer modules resolving to tblog
(docs/integrations.md). ``TBLOG_PATCH=1`` is set in the environment, so child
processes that import tblog patch themselves too. No ``.pth`` file or
``sitecustomize`` is involved. With torchrun::

    torchrun --nproc-per-node=2 -m tblog.patched train.py --epochs 3
"""

from __future__ import annotations

import os
import runpy
import sys
from collections.abc import Sequence

_USAGE = "usage: python -m tblog.patched SCRIPT [ARGS...] | -m MODULE [ARGS...]"


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``argv`` (``SCRIPT args...`` or ``-m MODULE args...``) patched; return 0.

    An exit status of the script (``sys.exit``) propagates as ``SystemExit``.
    """
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in ("-h", "--help"):
        print(_USAGE, file=sys.stderr if not args else sys.stdout)
        return 2 if not args else 0
    import tblog

    os.environ["TBLOG_PATCH"] = "1"
    tblog.patch()
    if args[0] == "-m":
        if len(args) < 2:
            print(_USAGE, file=sys.stderr)
            return 2
        sys.argv = [args[1], *args[2:]]
        runpy.run_module(args[1], run_name="__main__", alter_sys=True)
    else:
        sys.argv = args
        sys.path.insert(0, os.path.dirname(os.path.abspath(args[0])))
        runpy.run_path(args[0], run_name="__main__")
    return 0


if __name__ == "__main__":
    sys.exit(main())
