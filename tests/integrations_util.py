"""Helpers for tests/test_integrations_*.py: run training code in this process or in
a fresh one (for ``tblog.patch()``), and read what arrived with stock TensorBoard."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

from tbutil import accumulate, scalars_from_accumulator
from tensorboard.plugins.hparams import plugin_data_pb2

TESTS = Path(__file__).parent


def run_patched(code: str, *, timeout: float = 180) -> Any:
    """Run ``code`` in a fresh interpreter after ``import tblog; tblog.patch()``
    (before any framework is imported); return the JSON its last line printed."""
    prelude = textwrap.dedent(f"""
        import json, os, sys, warnings
        sys.path.insert(0, {str(TESTS)!r})
        warnings.filterwarnings("ignore")
        import tblog
        tblog.patch()
    """)
    env = dict(os.environ, HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1",
               TOKENIZERS_PARALLELISM="false")
    env.pop("TBLOG_PATCH", None)
    result = subprocess.run(
        [sys.executable, "-c", prelude + textwrap.dedent(code)],
        capture_output=True, text=True, timeout=timeout, env=env,
    )
    assert result.returncode == 0, f"rc={result.returncode}\n{result.stdout}\n{result.stderr}"
    return json.loads(result.stdout.strip().splitlines()[-1])


def scalars(run_dir: str | Path, tag: str) -> list[tuple[int, float]]:
    """``[(step, value), ...]`` of ``tag`` in ``run_dir``, read by TensorBoard's loader."""
    return scalars_from_accumulator(accumulate(run_dir), tag)


def tags(run_dir: str | Path) -> set[str]:
    """Every tensor tag of ``run_dir`` (scalars, histograms, hparams, ...)."""
    return set(accumulate(run_dir).Tags()["tensors"])


def hparams(run_dir: str | Path) -> tuple[set[str], set[str], dict[str, Any]]:
    """``(experiment hparam names, experiment metric tags, session hparams)`` of a run."""
    acc = accumulate(run_dir)
    found: dict[str, Any] = {}
    names: set[str] = set()
    metrics: set[str] = set()
    for tag in ("_hparams_/experiment", "_hparams_/session_start_info"):
        content = acc.SummaryMetadata(tag).plugin_data.content
        data = plugin_data_pb2.HParamsPluginData.FromString(content)
        if tag.endswith("experiment"):
            names = {h.name for h in data.experiment.hparam_infos}
            metrics = {m.name.tag for m in data.experiment.metric_infos}
        else:
            for key, value in data.session_start_info.hparams.items():
                kind = value.WhichOneof("kind")
                found[key] = getattr(value, kind)
    return names, metrics, found


def dump(obj: Any) -> str:
    """JSON for a subprocess's last line."""
    return json.dumps(obj)
