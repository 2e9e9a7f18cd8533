"""One run from its files' scans: sequence numbers, first metadata per tag, plugin
resolution of tensors, restart purges, and the hparams of the run."""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from tblog.reader import _purge, _tensors
from tblog.reader._scan import FileScan

HPARAMS_PLUGIN = "hparams"


@dataclasses.dataclass
class Run:
    """Everything read from one run directory (after purging)."""

    name: str
    files: list[FileScan]
    #: tag names of the scalar codes
    tags: list[str]
    tag: np.ndarray
    seq: np.ndarray
    step: np.ndarray
    wall: np.ndarray
    value: np.ndarray
    #: (seq, step, wall_time, tag, kind, data) of histograms, images, text, audio, tensors
    items: list[tuple[int, int, float, str, str, Any]]
    #: tag -> (plugin, content, display_name, description), first per tag in the run
    metadata: dict[str, tuple[str, bytes, str, str]]
    #: hparams plugin contents: "experiment", "session_start_info" (decoded messages)
    hparams: dict[str, Any]

    def tag_summary(self) -> dict[str, tuple[int, int, int]]:
        """tag -> (points, index of its first point, index of its last point)."""
        if not self.tag.size:
            return {}
        n = self.tag.size
        codes, first, counts = np.unique(self.tag, return_index=True, return_counts=True)
        _, last_reversed = np.unique(self.tag[::-1], return_index=True)
        last = n - 1 - last_reversed
        return {self.tags[c]: (int(k), int(f), int(la)) for c, k, f, la in zip(
            codes.tolist(), counts.tolist(), first.tolist(), last.tolist(), strict=True)}

    def plugin(self, tag: str) -> str:
        """The plugin named by the tag's first metadata ("" if none)."""
        meta = self.metadata.get(tag)
        return meta[0] if meta else ""


def assemble(name: str, scans: list[FileScan], purge: str) -> Run:
    """Merge the scans of one run's files (in name order) and apply ``purge``."""
    metadata: dict[str, tuple[str, bytes, str, str]] = {}
    for scan in scans:
        for tag, (_rec, plugin, content, display, description) in sorted(
            scan.metadata.items(), key=lambda kv: kv[1][0]
        ):
            metadata.setdefault(tag, (plugin, content, display, description))
    tag_index: dict[str, int] = {}
    parts: list[tuple[np.ndarray, ...]] = []
    items: list[tuple[int, int, float, str, str, Any]] = []
    events: list[tuple[int, int, bool, bool, float | None]] = []
    extra: list[tuple[int, int, int, float, float]] = []  # scalars found in tensor items
    base = 0
    for scan in scans:
        codes = np.empty(len(scan.series), dtype=np.int32)
        wanted = np.ones(len(scan.series), dtype=bool)
        for i, (tag, from_tensor) in enumerate(scan.series):
            codes[i] = tag_index.setdefault(tag, len(tag_index))
            meta = metadata.get(tag)
            if from_tensor and (meta is None or meta[0] != "scalars"):
                wanted[i] = False
        keep = wanted[scan.sid] if scan.sid.size else np.zeros(0, dtype=bool)
        parts.append((codes[scan.sid[keep]], scan.rec[keep] + base, scan.step[keep],
                      scan.wall[keep], scan.value[keep]))
        events.extend((rec + base, step, summary, start, version)
                      for rec, step, summary, start, version in scan.events)
        for rec, step, wall, tag, kind, data in scan.items:
            if kind == "tensor":
                resolved = _resolve(metadata.get(tag, ("",))[0], data)
                if resolved is None:
                    continue
                kind, data = resolved
                if kind == "scalar":
                    code = tag_index.setdefault(tag, len(tag_index))
                    extra.append((code, rec + base, step, wall, data))
                    continue
            items.append((rec + base, step, wall, tag, kind, data))
        base += scan.records
    tags = list(tag_index)
    tag, seq, step, wall, value = (
        np.concatenate([p[i] for p in parts]) if parts else np.zeros(0) for i in range(5)
    )
    if extra:
        more = list(zip(*extra, strict=True))
        tag = np.concatenate([tag, np.asarray(more[0], dtype=np.int32)])
        seq = np.concatenate([seq, np.asarray(more[1], dtype=np.int64)])
        step = np.concatenate([step, np.asarray(more[2], dtype=np.int64)])
        wall = np.concatenate([wall, np.asarray(more[3], dtype=np.float64)])
        value = np.concatenate([value, np.asarray(more[4], dtype=np.float64)])
        order = np.argsort(seq, kind="stable")
        tag, seq, step, wall, value = (a[order] for a in (tag, seq, step, wall, value))
    tag = tag.astype(np.int32)
    seq = seq.astype(np.int64)
    step = step.astype(np.int64)
    keep, item_keep = _purge_masks(purge, events, tags, tag, seq, step, items)
    if keep is not None:
        tag, seq, step, wall, value = (a[keep] for a in (tag, seq, step, wall, value))
    if item_keep is not None:
        items = [item for item, k in zip(items, item_keep, strict=True) if k]
    return Run(name, scans, tags, tag, seq, step, wall.astype(np.float64),
               value.astype(np.float64), items, metadata, _hparams(metadata))


def _purge_masks(purge: str, events: list, tags: list[str], tag: np.ndarray, seq: np.ndarray,
                 step: np.ndarray, items: list) -> tuple[np.ndarray | None, np.ndarray | None]:
    """Which scalars and items survive the purge rule (None: all)."""
    if purge == "none":
        return None, None
    scalar_names = set(tags)
    names = list(tags) + sorted({item[3] for item in items} - scalar_names)
    code_of = {n: i for i, n in enumerate(names)}
    item_tag = np.asarray([code_of[item[3]] for item in items], dtype=np.int32)
    item_seq = np.asarray([item[0] for item in items], dtype=np.int64)
    item_step = np.asarray([item[1] for item in items], dtype=np.int64)
    if purge == "rust":
        return _purge.rust_mask(step, tag), _purge.rust_mask(item_step, item_tag)
    found = _purge.purges(purge, events, (seq, step))
    if found is None:
        tags_of: dict[int, set[str]] = {}
        for s, t in zip(seq.tolist(), tag.tolist(), strict=True):
            tags_of.setdefault(s, set()).add(tags[t])
        for item in items:
            tags_of.setdefault(item[0], set()).add(item[3])
        found = _purge.purges(purge, events, (seq, step), tags_of)
    if not found:
        return None, None
    return (_purge.keep_mask(seq, step, tag, names, found),
            _purge.keep_mask(item_seq, item_step, item_tag, names, found))


def _resolve(plugin: str, tensor: Any) -> tuple[str, Any] | None:
    """A tensor value of a tag whose plugin is ``plugin``: (kind, data), or None to drop."""
    if plugin == HPARAMS_PLUGIN:
        return None
    try:
        array = _tensors.to_numpy(tensor)
    except _tensors.TensorError:
        return None
    try:
        if plugin == "scalars":
            if array.size != 1 or array.dtype == object:
                return None
            return "scalar", float(array.reshape(-1)[0])
        if plugin == "histograms":
            return "histogram", (_tensors.histogram_tensor(array), None)
        if plugin == "images":
            flat = array.reshape(-1)
            if flat.dtype != object or flat.size < 2:
                return None
            width, height = int(flat[0]), int(flat[1])
            return "image", [(width, height, bytes(blob)) for blob in flat[2:]]
        if plugin == "text":
            return "text", _tensors.strings(array)
        if plugin == "audio":
            if array.dtype != object:
                return None
            clips = array.reshape(-1, array.shape[-1])[:, 0] if array.ndim > 1 else array
            return "audio", [bytes(c) for c in clips]
    except (ValueError, TypeError, _tensors.TensorError):
        return None
    return "tensor", array


def _hparams(metadata: dict[str, tuple[str, bytes, str, str]]) -> dict[str, Any]:
    """The run's hparams plugin data: experiment and session_start_info messages."""
    found: dict[str, Any] = {}
    contents = [m[1] for m in metadata.values() if m[0] == HPARAMS_PLUGIN]
    if not contents:
        return found
    from tblog.proto import hparams_plugin_data_pb2

    for content in contents:
        try:
            data = hparams_plugin_data_pb2.HParamsPluginData.FromString(content)
        except Exception:  # noqa: BLE001 - a damaged plugin payload is ignored
            continue
        which = data.WhichOneof("data")
        if which in ("experiment", "session_start_info"):
            found.setdefault(which, getattr(data, which))
    return found


def hparam_value(value: Any) -> Any:
    """A ``google.protobuf.Value`` as a Python value."""
    kind = value.WhichOneof("kind")
    if kind == "number_value":
        return value.number_value
    if kind == "string_value":
        return value.string_value
    if kind == "bool_value":
        return value.bool_value
    if kind == "list_value":
        return [hparam_value(v) for v in value.list_value.values]
    return None
