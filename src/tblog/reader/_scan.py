"""One event file's bytes to columns: the TFRecord walk and the scalar hot path.

Records come from ``_frame``; single-scalar events are decoded with numpy by
``_hot``, which asks :meth:`_Generic.learn` / :meth:`_Generic.learn_tensor` about
one record per layout. Every other record is parsed with the generated ``Event``
message.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from tblog.reader import _frame, _hot, _tensors, _wire

_BATCH = 1 << 20  # records per batch of the hot path

_START = 1  # SessionLog.START


@dataclasses.dataclass
class FileScan:
    """What one event file holds, in record order (``rec`` = record index)."""

    path: str
    size: int = 0
    records: int = 0
    #: scalar series: index -> (tag, from a tensor?)
    series: list[tuple[str, bool]] = dataclasses.field(default_factory=list)
    sid: np.ndarray = dataclasses.field(default_factory=lambda: np.zeros(0, np.int32))
    rec: np.ndarray = dataclasses.field(default_factory=lambda: np.zeros(0, np.int64))
    step: np.ndarray = dataclasses.field(default_factory=lambda: np.zeros(0, np.int64))
    wall: np.ndarray = dataclasses.field(default_factory=lambda: np.zeros(0, np.float64))
    value: np.ndarray = dataclasses.field(default_factory=lambda: np.zeros(0, np.float64))
    #: events other than hot-path scalars: (rec, step, has summary, START?, file_version)
    events: list[tuple[int, int, bool, bool, float | None]] = dataclasses.field(
        default_factory=list
    )
    #: other values: (rec, step, wall_time, tag, kind, data)
    items: list[tuple[int, int, float, str, str, Any]] = dataclasses.field(default_factory=list)
    #: first metadata of each tag in this file: tag -> (rec, plugin, content, display, description)
    metadata: dict[str, tuple[int, str, bytes, str, str]] = dataclasses.field(
        default_factory=dict
    )
    last_wall: float = 0.0
    #: why reading stopped early: (message, byte offset, truncated tail?)
    problem: tuple[str, int, bool] | None = None


def scan(buf: bytes, path: str = "", check_crc: bool = True) -> FileScan:
    """Read every whole record of ``buf`` (one event file's bytes).

    Never raises on bad bytes: a truncated tail or a corrupt record ends the scan
    and is described in ``FileScan.problem``.
    """
    out = FileScan(path, len(buf))
    starts, ends, out.problem = _frame.frame(buf, check_crc)
    raw = np.frombuffer(buf, dtype=np.uint8)
    series: dict[tuple[str, bool], int] = {}
    generic = _Generic(out, series)
    parts = [_hot.hot_rows(buf, raw, starts[lo : lo + _BATCH], ends[lo : lo + _BATCH],
                           generic, lo)
             for lo in range(0, starts.size, _BATCH)]  # batches bound the temporaries
    dtypes = (np.int64, np.int32, np.int64, np.float64)
    hot, sid, steps, values = (np.concatenate([part[i] for part in parts]) if parts else
                               np.zeros(0, dtype) for i, dtype in enumerate(dtypes))
    cold = np.ones(starts.size, dtype=bool)
    cold[hot] = False
    records = starts.size
    for k in np.flatnonzero(cold).tolist():
        if not generic.decode(buf, int(starts[k]), int(ends[k]), k):
            out.problem = ("record is not a parsable Event", int(starts[k]) - 12, False)
            records = k
            break
    if records < starts.size:
        keep = hot < records
        hot, sid, steps, values = hot[keep], sid[keep], steps[keep], values[keep]
    out.records = records
    out.series = [key for key, _ in sorted(series.items(), key=lambda kv: kv[1])]
    walls = _frame.field(raw, starts[hot] + 1, "<f8")
    rec = hot.astype(np.int64)
    if generic.g_sid:
        sid = np.concatenate([sid, np.asarray(generic.g_sid, dtype=np.int32)])
        rec = np.concatenate([rec, np.asarray(generic.g_rec, dtype=np.int64)])
        steps = np.concatenate([steps, np.asarray(generic.g_step, dtype=np.int64)])
        walls = np.concatenate([walls, np.asarray(generic.g_wall, dtype=np.float64)])
        values = np.concatenate([values, np.asarray(generic.g_value, dtype=np.float64)])
        order = np.argsort(rec, kind="stable")
        sid, rec, steps, walls, values = (a[order] for a in (sid, rec, steps, walls, values))
    out.sid, out.rec, out.step = sid.astype(np.int32), rec, steps
    out.wall, out.value = walls, values
    finite = walls[np.isfinite(walls)]
    if finite.size:
        out.last_wall = max(out.last_wall, float(finite.max()))
    return out


class _Generic:
    """Records off the hot path: parsed by the generated ``Event`` message."""

    def __init__(self, out: FileScan, series: dict[tuple[str, bool], int]) -> None:
        from tblog.proto import event_pb2

        self.event_class = event_pb2.Event
        self.out = out
        self.series = series
        self.g_sid: list[int] = []
        self.g_rec: list[int] = []
        self.g_step: list[int] = []
        self.g_wall: list[float] = []
        self.g_value: list[float] = []
        #: first summary words of layouts that are no tensor scalar (for ``_hot``)
        self.failed_heads: set[int] = set()

    def _series(self, tag: str, tensor: bool) -> int:
        key = (tag, tensor)
        sid = self.series.get(key)
        if sid is None:
            sid = self.series[key] = len(self.series)
        return sid

    def _point(self, sid: int, rec: int, step: int, wall: float, value: float) -> None:
        self.g_sid.append(sid)
        self.g_rec.append(rec)
        self.g_step.append(step)
        self.g_wall.append(wall)
        self.g_value.append(value)

    def _metadata(self, tag: str, meta: Any, rec: int) -> None:
        known = self.out.metadata.get(tag)
        if known is None or known[0] > rec:
            self.out.metadata[tag] = (
                rec, meta.plugin_data.plugin_name, bytes(meta.plugin_data.content),
                meta.display_name, meta.summary_description,
            )

    def learn(self, buf: bytes, start: int, end: int, p: int, rec: int) -> int:
        """The series of a hot-path layout (``buf[p:end-4]``), or -1 if it is not one."""
        try:
            event = self.event_class.FromString(buf[start:end])
        except Exception:  # noqa: BLE001 - left to the record-by-record decoder
            return -1
        values = event.summary.value
        if len(values) != 1 or values[0].WhichOneof("value") != "simple_value":
            return -1
        found = _wire.scalar_location(buf, start, end)
        if found is None or found[0] != p or found[1] != end - 4:
            return -1
        value = values[0]
        tag = value.tag or value.node_name
        if value.HasField("metadata"):
            self._metadata(tag, value.metadata, rec)
        return self._series(tag, False)

    def learn_tensor(self, buf: bytes, start: int, end: int, p: int,
                     rec: int) -> tuple[int, int, int] | bool | None:
        """For a one-value tensor scalar layout: ``(series, offset of the number from
        p, its size)``. None if the record holds no single tensor value, False for
        a tensor that is no scalar here (or whose plugin this file has not named
        ``scalars`` yet)."""
        try:
            event = self.event_class.FromString(buf[start:end])
        except Exception:  # noqa: BLE001 - left to the record-by-record decoder
            return None
        values = event.summary.value
        if len(values) != 1 or values[0].WhichOneof("value") != "tensor":
            return None
        value = values[0]
        tag = value.tag or value.node_name
        if value.HasField("metadata"):
            self._metadata(tag, value.metadata, rec)
        known = self.out.metadata.get(tag)
        tensor = value.tensor
        if known is None or known[1] != "scalars" or tensor.dtype not in (1, 2):
            return False
        if any(dim.size != 1 for dim in tensor.tensor_shape.dim):
            return False
        found = _wire.scalar_location(buf, start, end)
        if found is None or found[0] != p or found[2] != (4 if tensor.dtype == 1 else 8):
            return False
        return self._series(tag, True), found[1] - p, found[2]

    def decode(self, buf: bytes, start: int, end: int, rec: int) -> bool:
        """Decode one record; False when it is not a parsable ``Event``."""
        try:
            event = self.event_class.FromString(buf[start:end])
        except Exception:  # noqa: BLE001 - DecodeError, or worse on random bytes
            return False
        out = self.out
        wall, step = event.wall_time, event.step
        if wall == wall and wall > out.last_wall:
            out.last_wall = wall
        file_version = None
        if event.file_version:
            version = event.file_version.rsplit(":", 1)[-1]
            try:
                file_version = float(version)
            except ValueError:
                file_version = -1.0
        has_summary = event.HasField("summary")
        start_log = event.HasField("session_log") and event.session_log.status == _START
        out.events.append((rec, step, has_summary, start_log, file_version))
        if not has_summary:
            return True
        values = event.summary.value
        for value in values:
            tag = value.tag or value.node_name
            if value.HasField("metadata"):
                self._metadata(tag, value.metadata, rec)
            kind = value.WhichOneof("value")
            if kind == "simple_value":
                sid = self._series(tag, False)
                self._point(sid, rec, step, wall, value.simple_value)
            elif kind == "tensor":
                self._tensor(rec, step, wall, tag, value.tensor)
            elif kind == "histo":
                h = value.histo
                stats = (h.min, h.max, h.num, h.sum, h.sum_squares)
                self._item(rec, step, wall, tag, "histogram",
                           (_tensors.histogram_buckets(h), stats))
            elif kind == "image":
                image = value.image
                self._item(rec, step, wall, tag, "image",
                           [(image.width, image.height, bytes(image.encoded_image_string))])
            elif kind == "audio":
                self._item(rec, step, wall, tag, "audio", [bytes(value.audio.encoded_audio_string)])
        return True

    def _item(self, rec: int, step: int, wall: float, tag: str, kind: str, data: Any) -> None:
        self.out.items.append((rec, step, wall, tag, kind, data))

    def _tensor(self, rec: int, step: int, wall: float, tag: str, tensor: Any) -> None:
        meta = self.out.metadata.get(tag)
        if meta is not None and meta[1] == "scalars":
            try:
                array = _tensors.to_numpy(tensor)
            except _tensors.TensorError:
                return
            if array.size != 1 or array.dtype == object:
                return
            sid = self._series(tag, True)
            self._point(sid, rec, step, wall, float(array.reshape(-1)[0]))
            return
        # The plugin may be named in an earlier file of the run: decided per run.
        self._item(rec, step, wall, tag, "tensor", tensor)
