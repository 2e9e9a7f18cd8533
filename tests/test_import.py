"""``import tblog`` needs only the core dependencies and imports no framework."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

_BLOCKED = textwrap.dedent("""
    import importlib.abc, sys

    class Block(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if name.partition(".")[0] in {"torch", "PIL", "matplotlib", "jax", "tensorboard",
                                          "tensorboardX", "fsspec"}:
                raise ImportError(f"blocked: {name}")
            return None

    sys.meta_path.insert(0, Block())
    import os, tempfile
    import numpy as np
    import tblog
    d = tempfile.mkdtemp()
    with tblog.SummaryWriter(d) as w:
        w.add_scalar("x", 1.0, 0)
        w.add_scalar("y", np.float32(2.0), 1, new_style=True)
        w.add_scalars("z", {"a": 1.0}, 2)
    print(sorted(os.listdir(d))[0].startswith("events.out.tfevents"))
""")


def test_import_with_optional_packages_blocked(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-c", _BLOCKED], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "True"


def test_import_does_not_load_frameworks() -> None:
    code = (
        "import sys, tblog; "
        "print(sorted(m for m in ('torch', 'PIL', 'matplotlib', 'jax') if m in sys.modules))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
