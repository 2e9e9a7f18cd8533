"""One event file's bytes to columns: the TFRecord walk and the scalar hot path.

Records come from ``_frame``. Scalar events made of wall_time, step and one
``simple_value`` are decoded with numpy: records are grouped by the bytes between
the step and the float (the tag's layout), one record per group is parsed to
learn the tag, and the numbers are gathered at fixed offsets. Every other record
is parsed with the generated ``Event`` message.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np

from tblog.reader import _frame, _tensors, _wire

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
    parts = [_hot_rows(buf, raw, starts[lo : lo + _BATCH], ends[lo : lo + _BATCH], generic, lo)
             for lo in range(0, starts.size, _BATCH)]  # batches bound the temporaries
    hot, sid, steps = (np.concatenate([part[i] for part in parts]) if parts else
                       np.zeros(0, dtype) for i, dtype in enumerate((np.int64, np.int32, np.int64)))
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
        hot, sid, steps = hot[keep], sid[keep], steps[keep]
    out.records = records
    out.series = [key for key, _ in sorted(series.items(), key=lambda kv: kv[1])]
    hot_starts, hot_ends = starts[hot], ends[hot]
    walls = _frame.field(raw, hot_starts + 1, "<f8")
    values = _frame.field(raw, hot_ends - 4, "<f4").astype(np.float64)
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


def _varints(raw: np.ndarray, at: np.ndarray, limit: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Vectorized varints at ``at`` (each must end before ``limit``): (values, lengths).

    A length of 0 marks a varint that does not end in time.
    """
    n = raw.size
    value = np.zeros(at.size, dtype=np.uint64)
    length = np.zeros(at.size, dtype=np.int64)
    alive = np.ones(at.size, dtype=bool)
    for k in range(10):
        pos = at + k
        byte = raw[np.minimum(pos, n - 1)].astype(np.uint64)
        alive &= pos < limit
        value |= np.where(alive, (byte & 0x7F) << np.uint64(7 * k), np.uint64(0))
        ended = alive & (byte < 0x80)
        length[ended] = k + 1
        alive &= ~ended
        if not alive.any():
            break
    return value.view(np.int64), length


def _hot_rows(buf: bytes, raw: np.ndarray, starts: np.ndarray, ends: np.ndarray,
              generic: _Generic, base: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Records that are single ``simple_value`` scalar events of a known layout.

    ``starts``/``ends`` are records ``base, base + 1, ...`` of the file. Returns the
    record indices, series ids and steps of those records.
    """
    empty = np.zeros(0, np.int64), np.zeros(0, np.int32), np.zeros(0, np.int64)
    if not starts.size:
        return empty
    rows = np.flatnonzero((ends - starts > 11) & (raw[starts] == 9))
    s, e = starts[rows], ends[rows]
    p = s + 9
    has_step = raw[p] == 16
    step = np.zeros(rows.size, dtype=np.int64)
    values, lengths = _varints(raw, p[has_step] + 1, e[has_step])
    step[has_step] = values
    good = np.ones(rows.size, dtype=bool)
    good[has_step] = lengths > 0
    p[has_step] += 1 + lengths
    good &= p < e - 5
    pc = np.minimum(p, raw.size - 1)
    good &= (raw[pc] == 42) & (raw[e - 5] == 0x15)
    rows, s, e, p, step = rows[good], s[good], e[good], p[good], step[good]
    step_of = np.zeros(starts.size, dtype=np.int64)
    step_of[rows] = step
    key_length = e - 4 - p
    sid_of = np.full(starts.size, -1, dtype=np.int32)
    klens, klen_of, _ = _frame.distinct(key_length)
    for klen, group in zip(klens.tolist(), _frame.members(klen_of, klens.size), strict=True):
        # The key's bytes as little-endian u64 words read in place; the last word
        # is masked to the key (the bytes after it, float and CRC, are in the file).
        at = p[group]
        words = [_frame.field(raw, at + 8 * j, "<u8") for j in range(-(-klen // 8))]
        if klen % 8:
            words[-1] &= np.uint64((1 << (8 * (klen % 8))) - 1)
        digest = words[0].copy()
        for word in words[1:]:
            digest = digest * np.uint64(0x100000001B3) ^ word
        unique, inverse, first = _frame.distinct(digest)
        sids = np.empty(unique.size, dtype=np.int32)
        for u, row in enumerate(first.tolist()):
            r = int(group[row])
            sids[u] = generic.learn(buf, int(s[r]), int(e[r]), int(p[r]), base + int(rows[r]))
        sid = sids[inverse]
        same = sid >= 0
        for word in words:
            same &= word == word[first][inverse]
        sid_of[rows[group[same]]] = sid[same]
    hot = np.flatnonzero(sid_of >= 0)
    return hot + base, sid_of[hot], step_of[hot]


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
