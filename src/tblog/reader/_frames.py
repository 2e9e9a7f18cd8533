"""pandas DataFrames from assembled runs (pandas is imported here only)."""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from tblog.reader._assemble import Run, hparam_value
from tblog.reader._discover import series_name
from tblog.reader._media import LazyImage


def pandas() -> Any:
    """The pandas module.

    Raises:
        ImportError: pandas is not installed (names the extra to install).
    """
    try:
        import pandas as pd
    except ImportError as exc:
        raise ImportError("tblog.read's frames need pandas: pip install 'tblog[read]'") from exc
    return pd


def _attrs(runs: Any, frame: Any) -> Any:
    frame.attrs.update(logdir=runs.logdir, purge=runs.purge, check_crc=runs.check_crc)
    return frame


def _categorical(pd: Any, codes: np.ndarray, names: list[str]) -> Any:
    return pd.Categorical.from_codes(codes.astype(np.int32), categories=names)


def scalars(runs: Any, chosen: list[Run], tag_match: Any, pivot: bool) -> Any:
    """See :meth:`Runs.scalars`."""
    pd = pandas()
    run_codes, tag_codes, steps, walls, values = [], [], [], [], []
    tag_names: list[str] = []
    tag_code: dict[str, int] = {}
    run_names = [run.name for run in chosen]
    for r, run in enumerate(chosen):
        if not run.tag.size:
            continue
        wanted = sorted((name, i) for i, name in enumerate(run.tags) if tag_match(name))
        if not wanted:
            continue
        rank = np.full(len(run.tags), -1, dtype=np.int64)
        for position, (name, i) in enumerate(wanted):
            rank[i] = position
            tag_code.setdefault(name, len(tag_code))
        local_rank = rank[run.tag]
        keep = local_rank >= 0
        order = np.flatnonzero(keep)
        ranks = local_rank[order]
        if len(wanted) < 1 << 15:
            ranks = ranks.astype(np.int16)  # a stable sort of int16 is a radix sort
        order = order[np.argsort(ranks, kind="stable")]
        to_global = np.array([tag_code[name] for name, _ in wanted], dtype=np.int32)
        run_codes.append(np.full(order.size, r, dtype=np.int32))
        tag_codes.append(to_global[local_rank[order]])
        steps.append(run.step[order])
        walls.append(run.wall[order])
        values.append(run.value[order])
    tag_names = list(tag_code)
    frame = pd.DataFrame({
        "run": _categorical(pd, join(run_codes, np.int32), run_names),
        "tag": _categorical(pd, join(tag_codes, np.int32), tag_names),
        "step": join(steps, np.int64),
        "wall_time": join(walls, np.float64),
        "value": join(values, np.float64),
    })
    if pivot:
        last = frame.drop_duplicates(["run", "tag", "step"], keep="last")
        frame = last.pivot(index=["run", "step"], columns="tag", values="value")
        frame.columns = frame.columns.astype(str)
        frame.columns.name = None
    return _attrs(runs, frame)


def join(parts: list[np.ndarray], dtype: Any) -> np.ndarray:
    """The arrays concatenated (an empty one of ``dtype`` for none)."""
    return np.concatenate(parts) if parts else np.zeros(0, dtype)


def _items(chosen: list[Run], tag_match: Any, kind: str) -> list[tuple[str, tuple]]:
    rows = []
    for run in chosen:
        picked = [item for item in run.items if item[4] == kind and tag_match(item[3])]
        picked.sort(key=lambda item: item[3])  # stable: keeps write order within a tag
        rows.extend((run.name, item) for item in picked)
    return rows


def histograms(runs: Any, chosen: list[Run], tag_match: Any) -> Any:
    """See :meth:`Runs.histograms`."""
    pd = pandas()
    records = []
    nan = float("nan")
    for name, (_seq, step, wall, tag, _kind, (buckets, stats)) in _items(
            chosen, tag_match, "histogram"):
        low, high, num, total, squares = stats if stats is not None else (nan,) * 5
        records.append((name, tag, step, wall, buckets, low, high, num, total, squares))
    columns = ["run", "tag", "step", "wall_time", "buckets", "min", "max", "num", "sum",
               "sum_squares"]
    return _attrs(runs, _typed(pd, pd.DataFrame.from_records(records, columns=columns)))


def _typed(pd: Any, frame: Any) -> Any:
    if "step" in frame:
        frame["step"] = frame["step"].astype(np.int64)
    for column in ("wall_time", "min", "max", "num", "sum", "sum_squares"):
        if column in frame:
            frame[column] = frame[column].astype(np.float64)
    for column in ("run", "tag"):
        if column in frame:
            frame[column] = frame[column].astype(object)
    return frame


def images(runs: Any, chosen: list[Run], tag_match: Any) -> Any:
    """See :meth:`Runs.images`."""
    pd = pandas()
    records = []
    for name, (_seq, step, wall, tag, _kind, data) in _items(chosen, tag_match, "image"):
        for index, (width, height, blob) in enumerate(data):
            records.append((name, tag, step, wall, index, width, height,
                            LazyImage(blob, width, height)))
    columns = ["run", "tag", "step", "wall_time", "index", "width", "height", "image"]
    return _attrs(runs, _typed(pd, pd.DataFrame.from_records(records, columns=columns)))


def text(runs: Any, chosen: list[Run], tag_match: Any) -> Any:
    """See :meth:`Runs.text`."""
    pd = pandas()
    records = [(name, tag, step, wall, data)
               for name, (_seq, step, wall, tag, _kind, data) in _items(chosen, tag_match, "text")]
    columns = ["run", "tag", "step", "wall_time", "text"]
    return _attrs(runs, _typed(pd, pd.DataFrame.from_records(records, columns=columns)))


def _last_values(run: Run) -> dict[str, float]:
    return {tag: float(run.value[last]) for tag, (_, _, last) in run.tag_summary().items()}


def hparams(runs: Any, chosen: list[Run], every_run: list[Run]) -> Any:
    """See :meth:`Runs.hparams`."""
    pd = pandas()
    metrics: list[tuple[str, str]] = []
    for run in every_run:
        experiment = run.hparams.get("experiment")
        if experiment is None:
            continue
        for info in experiment.metric_infos:
            key = (info.name.group, info.name.tag)
            if key not in metrics:
                metrics.append(key)
    by_name = {run.name: run for run in every_run}
    rows = []
    for run in chosen:
        start = run.hparams.get("session_start_info")
        if start is None:
            continue
        row: dict[str, Any] = {"run": run.name}
        for key in sorted(start.hparams):
            row[key] = hparam_value(start.hparams[key])
        for group, tag in metrics:
            source = os.path.normpath(os.path.join(run.name, group)).replace(os.sep, "/")
            other = by_name.get(source)
            value = _last_values(other).get(tag) if other is not None else None
            column = f"{group}/{tag}" if group else tag
            row[column if column not in row else f"metric:{column}"] = (
                float("nan") if value is None else value)
        rows.append(row)
    return _attrs(runs, pd.DataFrame(rows))


def tags(runs: Any, chosen: list[Run], tag_match: Any) -> Any:
    """See :meth:`Runs.tags`."""
    pd = pandas()
    rows = []
    for run in chosen:
        per: dict[tuple[str, str], list[Any]] = {}
        for name, (count, first, last) in run.tag_summary().items():
            if tag_match(name):
                per[(name, "scalars")] = [count, int(run.step[first]), int(run.step[last]),
                                          float(run.value[last]), float(run.wall[last])]
        for _seq, step, wall, tag, kind, _data in run.items:
            if not tag_match(tag):
                continue
            kind_name = {"histogram": "histograms", "image": "images", "tensor": "tensors"}.get(
                kind, kind)
            entry = per.get((tag, kind_name))
            if entry is None:
                per[(tag, kind_name)] = [1, step, step, float("nan"), wall]
            else:
                entry[0] += 1
                entry[2] = step
                entry[4] = wall
        for (name, kind), (count, first, last, value, wall) in sorted(per.items()):
            rows.append((run.name, name, kind, run.plugin(name) or kind, count, first, last,
                         value, wall))
    columns = ["run", "tag", "kind", "plugin", "count", "first_step", "last_step", "last_value",
               "last_wall_time"]
    frame = pd.DataFrame.from_records(rows, columns=columns)
    return _attrs(runs, frame)


def files(runs: Any, chosen: list[Run], sources: list[Any]) -> Any:
    """See :meth:`Runs.files`."""
    pd = pandas()
    rows = []
    scans = [scan for run in chosen for scan in run.files]
    by_path = {s.path: s for s in sources}
    for scan in scans:
        source = by_path.get(scan.path)
        problem = None if scan.problem is None else f"{scan.problem[0]} at offset {scan.problem[1]}"
        rows.append((source.run if source else "", scan.path,
                     series_name(os.path.basename(scan.path)), scan.size, scan.records,
                     scan.last_wall or float("nan"), problem))
    columns = ["run", "path", "series", "size", "records", "last_wall_time", "problem"]
    return _attrs(runs, pd.DataFrame.from_records(rows, columns=columns))
