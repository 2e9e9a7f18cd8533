"""``tblog.patch()`` / ``unpatch()`` / ``TBLOG_PATCH=1`` / ``python -m tblog.patched``.

Every check runs in a fresh interpreter (``sys.executable -c``), so patching
never leaks into other tests and "torch is not imported" is meaningful.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
from tbutil import accumulate, scalars_from_accumulator

pytest.importorskip("torch", reason="patch() targets torch.utils.tensorboard")
pytest.importorskip("tensorboardX", reason="patch() targets tensorboardX")

NAMES = [
    "torch.utils.tensorboard",
    "torch.utils.tensorboard.writer",
    "torch.utils.tensorboard.summary",
    "tensorboardX",
    "tensorboardX.writer",
    "tensorboardX.summary",
]

# Shared by the snippets: what each name resolves to, as JSON-friendly facts.
_PRELUDE = textwrap.dedent("""
    import importlib, json, sys
    NAMES = %r
    def resolve():
        import tblog
        out = {}
        for name in NAMES:
            module = importlib.import_module(name)
            out[name] = {
                "stand_in": bool(vars(module).get("__tblog_patch__")),
                "tblog_writer": vars(module).get("SummaryWriter") is tblog.SummaryWriter,
                "tblog_file_writer": vars(module).get("FileWriter") is tblog.FileWriter,
            }
        return out
    def snapshot():
        # identity of every sys.modules entry and parent attribute patch() may touch
        import torch.utils
        ids = {n: id(sys.modules.get(n)) for n in NAMES}
        ids["attr:torch.utils.tensorboard"] = id(getattr(torch.utils, "tensorboard", None))
        for n in NAMES:
            module = sys.modules.get(n)
            for a in ("SummaryWriter", "FileWriter", "writer", "summary"):
                ids[f"{n}.{a}"] = id(vars(module).get(a)) if module is not None else 0
        return ids
""") % (NAMES,)


def run_python(code: str, *args: str, env: dict[str, str] | None = None,
               cwd: Path | None = None) -> Any:
    """Run ``code`` in a fresh interpreter; return the JSON it printed on its last line."""
    full_env = dict(os.environ)
    full_env.pop("TBLOG_PATCH", None)
    full_env.update(env or {})
    result = subprocess.run(
        [sys.executable, *args] if not code else [sys.executable, "-c", _PRELUDE + code, *args],
        capture_output=True, text=True, timeout=120, env=full_env, cwd=cwd,
    )
    assert result.returncode == 0, f"rc={result.returncode}\n{result.stdout}\n{result.stderr}"
    return json.loads(result.stdout.strip().splitlines()[-1])


def _all_tblog(resolved: dict[str, dict[str, bool]]) -> None:
    for name in NAMES:
        assert resolved[name]["stand_in"], name
        if not name.endswith(".summary"):
            assert resolved[name]["tblog_writer"], name
            assert resolved[name]["tblog_file_writer"], name


def test_patch_before_import_does_not_import_torch(logdir: Path) -> None:
    out = run_python(textwrap.dedent(f"""
        import tblog
        tblog.patch()
        before = sorted(m for m in ("torch", "tensorboardX", "tensorboard") if m in sys.modules)
        from torch.utils.tensorboard import SummaryWriter
        import torch
        import torch.utils.tensorboard as tb
        import tensorboardX
        with SummaryWriter({str(logdir)!r}) as w:
            for step in range(3):
                w.add_scalar("loss", 1.0 / (step + 1), step)
        # the summary stand-ins serve tblog.torch_summary, imported on first use
        lazy = "tblog.torch_summary" not in sys.modules
        from torch.utils.tensorboard.summary import hparams, scalar
        from tensorboardX.summary import hparams as hparams_x
        import tblog.torch_summary as ts
        print(json.dumps({{
            "summary": lazy and hparams is ts.hparams is hparams_x and scalar is ts.scalar,
            "before": before,
            "resolved": resolve(),
            "attr": torch.utils.tensorboard is tb and tb.writer is sys.modules[NAMES[1]],
            "tbx_attr": tensorboardX.writer is sys.modules["tensorboardX.writer"],
        }}))
    """))
    assert out["before"] == [] and out["summary"]
    _all_tblog(out["resolved"])
    assert out["attr"] and out["tbx_attr"]
    assert scalars_from_accumulator(accumulate(logdir), "loss") == [(0, 1.0), (1, 0.5),
                                                                  (2, pytest.approx(1 / 3))]


def test_unpatch_after_import_while_patched_loads_originals() -> None:
    out = run_python(textwrap.dedent("""
        import tblog
        tblog.patch()
        import torch.utils.tensorboard, tensorboardX.summary
        tblog.unpatch()
        gone = [n for n in NAMES if n in sys.modules]
        import torch
        has_attr = hasattr(torch.utils, "tensorboard")
        from torch.utils.tensorboard import SummaryWriter as T
        from tensorboardX import SummaryWriter as X
        print(json.dumps({"gone": gone, "has_attr": has_attr, "torch": T.__module__,
                          "tbx": X.__module__, "resolved": resolve()}))
    """))
    assert out["gone"] == [] and out["has_attr"] is False
    assert out["torch"] == "torch.utils.tensorboard.writer"
    assert out["tbx"] == "tensorboardX.writer"
    assert not any(v["stand_in"] or v["tblog_writer"] for v in out["resolved"].values())


def test_patch_after_import_swaps_and_unpatch_restores_exactly() -> None:
    out = run_python(textwrap.dedent("""
        import torch.utils.tensorboard as tb_orig, tensorboardX as tbx_orig
        import torch.utils.tensorboard.summary, tensorboardX.summary
        import tblog
        meta_path = list(sys.meta_path)
        before = snapshot()
        tblog.patch()
        tblog.patch()  # idempotent
        resolved = resolve()
        held = {  # references taken before patch() see tblog's classes on the old objects
            "tb": tb_orig.SummaryWriter is tblog.SummaryWriter,
            "tb_writer": tb_orig.writer.SummaryWriter is tblog.SummaryWriter,
            "tbx": tbx_orig.SummaryWriter is tblog.SummaryWriter,
            "tb_summary_attr": bool(vars(tb_orig.summary).get("__tblog_patch__")),
        }
        import torch
        parent = bool(vars(torch.utils.tensorboard).get("__tblog_patch__"))
        tblog.unpatch()
        tblog.unpatch()  # idempotent
        after = snapshot()
        print(json.dumps({"resolved": resolved, "held": held, "parent": parent,
                          "changed": sorted(k for k in before if before[k] != after[k]),
                          "meta_path": sys.meta_path == meta_path,
                          "again": resolve()}))
    """))
    _all_tblog(out["resolved"])
    assert out["held"] == {"tb": True, "tb_writer": True, "tbx": True, "tb_summary_attr": True}
    assert out["parent"]
    assert out["changed"] == [] and out["meta_path"]
    assert not any(v["stand_in"] or v["tblog_writer"] for v in out["again"].values())


def test_stand_in_names_what_it_lacks() -> None:
    out = run_python(textwrap.dedent("""
        import tblog
        tblog.patch()
        import tensorboardX
        try:
            tensorboardX.GlobalSummaryWriter
            message = None
        except AttributeError as exc:
            message = str(exc)
        print(json.dumps({"message": message, "patched": tblog._patch.is_patched()}))
    """))
    assert out["patched"]
    assert "GlobalSummaryWriter" in out["message"] and "unpatch" in out["message"]


@pytest.mark.parametrize("value, patched", [("1", True), ("0", False), ("", False)])
def test_tblog_patch_environment_variable(value: str, patched: bool) -> None:
    out = run_python(textwrap.dedent("""
        import tblog
        tblog_writer = False
        if tblog._patch.is_patched():  # the unpatched tensorboardX is slow to import
            from tensorboardX import SummaryWriter
            tblog_writer = SummaryWriter is tblog.SummaryWriter
        print(json.dumps({"patched": tblog._patch.is_patched(), "tblog": tblog_writer}))
    """), env={"TBLOG_PATCH": value})
    assert out == {"patched": patched, "tblog": patched}


_SCRIPT = """
import json, sys
from tensorboardX import SummaryWriter
import tblog
print(json.dumps({"argv": sys.argv, "name": __name__,
                  "tblog": SummaryWriter is tblog.SummaryWriter}))
"""


def test_python_m_tblog_patched_runs_a_script(tmp_path: Path) -> None:
    script = tmp_path / "train.py"
    script.write_text(_SCRIPT)
    out = run_python("", "-m", "tblog.patched", str(script), "--lr", "0.1")
    assert out == {"argv": [str(script), "--lr", "0.1"], "name": "__main__", "tblog": True}


def test_python_m_tblog_patched_runs_a_module(tmp_path: Path) -> None:
    (tmp_path / "trainmod.py").write_text(_SCRIPT)
    out = run_python("", "-m", "tblog.patched", "-m", "trainmod", "x",
                     env={"PYTHONPATH": str(tmp_path)}, cwd=tmp_path)
    assert out["name"] == "__main__" and out["tblog"] and out["argv"][1:] == ["x"]


def test_python_m_tblog_patched_passes_exit_status(tmp_path: Path) -> None:
    script = tmp_path / "fail.py"
    script.write_text("import sys\nsys.exit(3)\n")
    result = subprocess.run([sys.executable, "-m", "tblog.patched", str(script)],
                            capture_output=True, timeout=60)
    assert result.returncode == 3
    usage = subprocess.run([sys.executable, "-m", "tblog.patched"], capture_output=True,
                           text=True, timeout=60)
    assert usage.returncode == 2 and "usage" in usage.stderr
