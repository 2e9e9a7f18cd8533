"""Argument checks and conversions of the structured ``SummaryWriter`` methods.

Everything here runs before anything is written, so bad input raises a
``TypeError`` / ``ValueError`` naming the argument and leaves no partial output.
Framework values go through ``tblog._convert``.
"""

from __future__ import annotations

import math
import os
import re
import time
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from tblog import _convert
from tblog._storage import check_name
from tblog.summary import hparams as hparams_summary

HParamValue = str | bool | float


def check_text(text: str, what: str) -> str:
    """``text`` if UTF-8 can encode it (not a lone surrogate), else ValueError."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ValueError(f"{what} {text!r} is not valid Unicode: {exc.reason}") from None
    return text


def embedding_matrix(mat: Any, where: str) -> np.ndarray:
    """``mat`` as an ``(N, D)`` float32 array."""
    try:
        array = _convert.to_numpy(mat, "mat")
    except TypeError as exc:
        raise TypeError(f"{where}: {exc}") from None
    if array.ndim != 2 or 0 in array.shape:
        raise ValueError(f"{where}: mat must be 2-D (N, D) with N, D > 0, got {array.shape}")
    if array.dtype != np.bool_ and not np.issubdtype(array.dtype, np.number):
        raise TypeError(f"{where}: mat must hold real numbers, got dtype {array.dtype}")
    if np.iscomplexobj(array):
        raise TypeError(f"{where}: mat must hold real numbers, got dtype {array.dtype}")
    return np.asarray(array, dtype=np.float32)


def metadata_rows(
    metadata: Any, header: Sequence[Any] | None, count: int, where: str
) -> list[Sequence[Any]] | None:
    """Rows of cells (one per column), or None without metadata."""
    if header is not None and (isinstance(header, str) or not isinstance(header, Sequence)):
        raise TypeError(f"{where}: metadata_header must be a list of column names, got {header!r}")
    if metadata is None:
        if header is not None:
            raise ValueError(f"{where}: metadata_header given without metadata")
        return None
    if isinstance(metadata, (str, bytes)) or isinstance(metadata, Mapping):
        raise TypeError(f"{where}: metadata must be a sequence of N labels or rows")
    if not isinstance(metadata, Sequence):
        try:
            metadata = _convert.to_numpy(metadata, "metadata").tolist()
        except TypeError as exc:
            raise TypeError(f"{where}: {exc}") from None
    if len(metadata) != count:
        raise ValueError(f"{where}: metadata has {len(metadata)} rows but mat has {count}")
    columns = 1 if header is None else len(header)
    rows = []
    for index, row in enumerate(metadata):
        if isinstance(row, (list, tuple, np.ndarray)):
            cells = list(row)
        else:
            cells = [row]
        if len(cells) != columns:
            need = "pass metadata_header to name the columns" if header is None else ""
            raise ValueError(
                f"{where}: metadata row {index} has {len(cells)} columns, expected {columns}"
                + (f"; {need}" if need else "")
            )
        rows.append(cells)
    return rows


def label_images(label_img: Any, count: int, where: str) -> np.ndarray:
    """``(N, C, H, W)`` label images as ``(N, H, W, C)`` uint8."""
    try:
        images = _convert.to_numpy(label_img, "label_img")
    except TypeError as exc:
        raise TypeError(f"{where}: {exc}") from None
    if images.ndim == 3:
        images = images[:, None]
    if images.ndim != 4 or images.shape[1] not in (1, 3, 4) or 0 in images.shape:
        raise ValueError(
            f"{where}: label_img must be (N, C, H, W) with C in 1, 3, 4, got {images.shape}"
        )
    if images.shape[0] != count:
        raise ValueError(f"{where}: label_img has {images.shape[0]} images but mat has {count}")
    if images.dtype != np.bool_ and not np.issubdtype(images.dtype, np.number):
        raise TypeError(f"{where}: label_img must hold numbers, got dtype {images.dtype}")
    from tblog.summary import projector  # on first use (its imports cost 11 ms)

    return projector.to_uint8_images(images)


def hparam_value(key: str, value: Any) -> HParamValue | None:
    """str, bool or float; None for None (skipped)."""
    if value is None:
        return None
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, str):
        return check_text(str(value), f"add_hparams: hparam_dict[{key!r}]")
    if isinstance(value, (Mapping, list, tuple, set, frozenset, bytes)):
        raise TypeError(
            f"add_hparams: hparam_dict[{key!r}] is a {type(value).__name__}; values must be "
            "str, bool, int, float or a one-element tensor (log str(value) for lists)"
        )
    try:
        array = _convert.to_numpy(value, f"hparam_dict[{key!r}]")
    except TypeError as exc:
        raise TypeError(f"add_hparams: {exc}") from None
    if array.size != 1:
        raise TypeError(
            f"add_hparams: hparam_dict[{key!r}] must be a single value, got shape {array.shape}"
        )
    if array.dtype == np.bool_:
        return bool(array.reshape(()))
    if array.dtype.kind in "US":
        return str(array.reshape(()).item())
    result = _convert.to_float(array, f"hparam_dict[{key!r}]")
    if not math.isfinite(result):
        raise ValueError(f"add_hparams: hparam_dict[{key!r}] must be finite, got {result}")
    return result


def convert_hparams(hparam_dict: Any) -> dict[str, HParamValue]:
    """name -> str, bool or float, without the None values."""
    if not isinstance(hparam_dict, Mapping):
        kind = type(hparam_dict).__name__
        raise TypeError(f"add_hparams: hparam_dict must be a dict, got {kind}")
    result = {}
    for key, value in hparam_dict.items():
        if type(key) is not str:
            raise TypeError(f"add_hparams: hparam_dict keys must be str, got {key!r}")
        check_text(key, "add_hparams: hparam_dict key")
        converted = hparam_value(key, value)
        if converted is not None:
            result[key] = converted
    return result


def convert_metrics(metric_dict: Any) -> dict[str, float | None]:
    """tag -> float, or None for a metric declared without a value."""
    if metric_dict is None:
        return {}
    if not isinstance(metric_dict, Mapping):
        kind = type(metric_dict).__name__
        raise TypeError(f"add_hparams: metric_dict must be a dict, got {kind}")
    result: dict[str, float | None] = {}
    for key, value in metric_dict.items():
        if type(key) is not str or not key:
            raise TypeError(f"add_hparams: metric_dict keys must be non-empty str, got {key!r}")
        check_text(key, "add_hparams: metric_dict key")
        try:
            name = f"metric_dict[{key!r}]"
            result[key] = None if value is None else _convert.to_float(value, name)
        except (TypeError, ValueError) as exc:
            raise type(exc)(f"add_hparams: {exc}") from None
    return result


def convert_domains(
    domains: Any, hparams: Mapping[str, HParamValue]
) -> dict[str, list[HParamValue]]:
    """name -> allowed values, each of the same kind as the hparam's value."""
    if domains is None:
        return {}
    if not isinstance(domains, Mapping):
        raise TypeError(
            f"add_hparams: hparam_domain_discrete must be a dict, got {type(domains).__name__}"
        )
    result = {}
    for key, values in domains.items():
        if key not in hparams:
            raise ValueError(
                f"add_hparams: hparam_domain_discrete[{key!r}] names no hparam in hparam_dict"
            )
        if isinstance(values, (str, bytes)) or not isinstance(values, Sequence):
            raise TypeError(f"add_hparams: hparam_domain_discrete[{key!r}] must be a list")
        converted = [hparam_value(key, v) for v in values]
        kind = hparams_summary.data_type(hparams[key])
        if any(v is None or hparams_summary.data_type(v) != kind for v in converted):
            raise TypeError(
                f"add_hparams: hparam_domain_discrete[{key!r}] must hold values of the same "
                f"type as hparam_dict[{key!r}] ({type(hparams[key]).__name__}), got {values!r}"
            )
        result[key] = converted
    return result


def hparams_run(run_name: Any, in_run: bool) -> str | None:
    """The sub-run directory relative to log_dir (``/``-joined); None: the writer's run."""
    if run_name is not None and type(run_name) is not str:
        raise TypeError(f"add_hparams: run_name must be a str, got {type(run_name).__name__}")
    if in_run:
        if run_name not in (None, "."):
            raise ValueError(
                f"add_hparams: in_run=True records in this run; got run_name {run_name!r}"
            )
        return None
    if run_name == ".":
        return None
    name = run_name or str(time.time())
    absolute = os.path.isabs(name) or name.startswith(("/", "\\")) or os.path.splitdrive(name)[0]
    if absolute or "\0" in name:
        raise ValueError(f"add_hparams: run_name must be a relative path, got {run_name!r}")
    parts = [p for p in re.split(r"[\\/]", name) if p not in ("", ".")]
    if ".." in parts:
        raise ValueError(f"add_hparams: run_name must stay inside log_dir, got {run_name!r}")
    for part in parts:  # each a valid directory name (UTF-8, at most 255 bytes)
        check_name(part, f"add_hparams: run_name {run_name!r} has a part")
    return "/".join(parts) or None


class HParamsRecord:
    """What a writer's ``add_hparams`` calls recorded so far, per run.

    TensorBoard takes the dashboard's columns from ONE run's experiment, picked
    arbitrarily, so each new experiment lists every hparam, metric and domain
    this writer has recorded so far, not just the call's.
    """

    def __init__(self) -> None:
        self.runs: dict[str, dict[str, HParamValue]] = {}  # run dir -> its hparams
        self.hparams: dict[str, HParamValue] = {}
        self.metrics: dict[str, float | None] = {}
        self.domains: dict[str, list[HParamValue]] = {}

    def check(self, run_dir: str, run: str | None, hparams: Mapping[str, HParamValue]) -> None:
        """Raise ValueError if ``run_dir`` already recorded other hparams."""
        recorded = self.runs.get(run_dir)
        if recorded is not None and recorded != hparams:
            raise ValueError(
                f"add_hparams: run {run or '.'!r} already recorded different hparams "
                f"({recorded}); TensorBoard shows only the first, use another run_name"
            )

    def new_run(
        self,
        run_dir: str,
        hparams: dict[str, HParamValue],
        metrics: Mapping[str, float | None],
        domains: Mapping[str, list[HParamValue]],
    ) -> list[bytes] | None:
        """The three serialized summaries of a run not recorded before, else None."""
        if run_dir in self.runs:
            return None
        for seen, new in ((self.hparams, hparams), (self.metrics, metrics),
                          (self.domains, domains)):
            for key, value in new.items():
                seen.setdefault(key, value)  # type: ignore[attr-defined]
        self.runs[run_dir] = hparams
        now = time.time()
        return [
            hparams_summary.experiment(self.hparams, list(self.metrics), self.domains, now),
            hparams_summary.session_start(hparams, now),
            hparams_summary.session_end("success", now),
        ]
