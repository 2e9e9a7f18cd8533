"""``tblog.integrations`` imports no framework; each integration module raises an
``ImportError`` naming what to install when its framework is missing."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

_CODE = textwrap.dedent("""
    import importlib.abc, json, sys

    class Block(importlib.abc.MetaPathFinder):
        def find_spec(self, name, path=None, target=None):
            if name.partition(".")[0] in {"lightning", "pytorch_lightning", "transformers",
                                          "ignite"}:
                raise ImportError(f"blocked: {name}")
            return None

    sys.meta_path.insert(0, Block())
    import tblog.integrations
    heavy = sorted(m for m in ("torch", "lightning", "pytorch_lightning", "transformers",
                               "ignite") if m in sys.modules)
    errors = {}
    for name in ("lightning", "transformers", "ignite"):
        try:
            __import__(f"tblog.integrations.{name}")
            errors[name] = None
        except ImportError as exc:
            errors[name] = str(exc)
    print(json.dumps({"heavy": heavy, "errors": errors}))
""")


def test_integrations_need_their_framework() -> None:
    result = subprocess.run([sys.executable, "-c", _CODE], capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout.strip().splitlines()[-1])
    assert out["heavy"] == []
    errors = out["errors"]
    assert "pip install pytorch-lightning" in errors["lightning"]
    assert "pip install transformers" in errors["transformers"]
    assert "pip install pytorch-ignite" in errors["ignite"]
