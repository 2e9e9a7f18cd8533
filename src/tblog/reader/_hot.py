"""The scalar hot path: single-scalar events decoded with numpy, by layout.

An event of wall_time, step and one summary value holding a scalar is the same
bytes, record after record, except for the wall time, the step and the number.
Records are grouped by a digest of those bytes (the *layout*); one record per
group is parsed with protobuf to learn the tag and where the number sits, every
member is checked byte for byte (as u64 words) against it, and wall times, steps
and numbers are then read at fixed offsets. Two layout kinds: ``simple_value``
(the float is the event's last 4 bytes) and rank-0 ``DT_FLOAT``/``DT_DOUBLE``
tensors of the scalars plugin (torch's ``new_style``, ``tf.summary.scalar``).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tblog.reader import _frame

_MIX = np.uint64(0x100000001B3)


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


def _words(raw: np.ndarray, at: np.ndarray, length: int) -> list[np.ndarray]:
    """``raw[a:a + length]`` for each ``a`` as u64 words read in place (never past
    ``a + length``: a last partial word overlaps the one before it)."""
    if length <= 0:
        return []
    if length < 8:  # the word ending at a + length, less the bytes before a
        return [_frame.field(raw, at + (length - 8), "<u8") >> np.uint64(8 * (8 - length))]
    words = [_frame.field(raw, at + 8 * j, "<u8") for j in range(length // 8)]
    if length % 8:
        words.append(_frame.field(raw, at + (length - 8), "<u8"))
    return words


def _digest(words: list[np.ndarray], size: int) -> np.ndarray:
    digest = np.full(size, np.uint64(len(words)))
    for word in words:
        digest = digest * _MIX ^ word
    return digest


def _equal_to(words: list[np.ndarray], reference: int, mask: np.ndarray) -> np.ndarray:
    for word in words:
        mask &= word == word[reference]
    return mask


def hot_rows(buf: bytes, raw: np.ndarray, starts: np.ndarray, ends: np.ndarray, learner: Any,
             base: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The single-scalar events among records ``base, base + 1, ...``.

    Args:
        buf: the file's bytes (``raw`` is the same as a uint8 array).
        starts: data start of each record; ``ends``: data end.
        learner: has ``learn(buf, start, end, p, rec) -> series or -1``,
            ``learn_tensor(...) -> (series, offset from p, size) or None`` and a
            ``failed_heads`` set (kept across batches).
        base: file record index of ``starts[0]``.

    Returns:
        Record indices, series ids, steps and values (float64) of those records.
    """
    count = starts.size
    empty = (np.zeros(0, np.int64), np.zeros(0, np.int32), np.zeros(0, np.int64),
             np.zeros(0, np.float64))
    if not count:
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
    good &= raw[np.minimum(p, raw.size - 1)] == 42  # the summary field
    rows, s, e, p, step = rows[good], s[good], e[good], p[good], step[good]
    sid_of = np.full(count, -1, dtype=np.int32)
    value_of = np.zeros(count, dtype=np.float64)
    step_of = np.zeros(count, dtype=np.int64)
    step_of[rows] = step
    simple = raw[e - 5] == 0x15
    _simple(buf, raw, learner, base, rows[simple], s[simple], e[simple], p[simple],
            sid_of, value_of)
    rest = sid_of[rows] < 0
    if rest.any():
        _tensors(buf, raw, learner, base, rows[rest], s[rest], e[rest], p[rest], sid_of,
                 value_of)
    hot = np.flatnonzero(sid_of >= 0)
    return hot + base, sid_of[hot], step_of[hot], value_of[hot]


def _simple(buf: bytes, raw: np.ndarray, learner: Any, base: int, rows: np.ndarray,
            s: np.ndarray, e: np.ndarray, p: np.ndarray, sid_of: np.ndarray,
            value_of: np.ndarray) -> None:
    """``simple_value`` layouts: the key is every byte from the summary to the float."""
    key_length = e - 4 - p
    klens, klen_of, _ = _frame.distinct(key_length)
    for klen, group in zip(klens.tolist(), _frame.members(klen_of, klens.size), strict=True):
        words = _words(raw, p[group], klen)
        unique, inverse, first = _frame.distinct(_digest(words, group.size))
        sids = np.empty(unique.size, dtype=np.int32)
        for u, row in enumerate(first.tolist()):
            r = int(group[row])
            sids[u] = learner.learn(buf, int(s[r]), int(e[r]), int(p[r]), base + int(rows[r]))
        sid = sids[inverse]
        same = sid >= 0
        for word in words:
            same &= word == word[first][inverse]
        members = group[same]
        sid_of[rows[members]] = sid[same]
        value_of[rows[members]] = _frame.field(raw, e[members] - 4, "<f4")


def _tensors(buf: bytes, raw: np.ndarray, learner: Any, base: int, rows: np.ndarray,
             s: np.ndarray, e: np.ndarray, p: np.ndarray, sid_of: np.ndarray,
             value_of: np.ndarray) -> None:
    """Tensor layouts: grouped by length and the first and last 8 bytes, then each
    group checked against its learnt layout around the number."""
    rest = e - p
    head = _words(raw, p, 8)[0]
    tail = _frame.field(raw, e - 8, "<u8")
    digest = (rest.astype(np.uint64) * _MIX ^ head) * _MIX ^ tail
    unique, inverse, _ = _frame.distinct(digest)
    # Summaries starting like one that held no tensor are not parsed again here
    # (histograms, images: their tails differ record by record).
    failed: set[int] = learner.failed_heads
    for group in _frame.members(inverse, unique.size):
        pending = group
        for _attempt in range(64):  # tags differing only in the middle share a digest
            if not pending.size:
                break
            r = int(pending[0])
            if int(head[r]) in failed:
                break
            layout = learner.learn_tensor(buf, int(s[r]), int(e[r]), int(p[r]),
                                          base + int(rows[r]))
            if not layout:
                if layout is None:
                    failed.add(int(head[r]))
                break
            sid, offset, size = layout
            length = int(rest[r])
            candidates = pending[rest[pending] == length]
            reference = int(np.flatnonzero(candidates == r)[0])
            same = np.ones(candidates.size, dtype=bool)
            same = _equal_to(_words(raw, p[candidates], offset), reference, same)
            after = offset + size
            same = _equal_to(_words(raw, p[candidates] + after, length - after), reference, same)
            members = candidates[same]
            sid_of[rows[members]] = sid
            value_of[rows[members]] = _frame.field(raw, p[members] + offset,
                                                   "<f4" if size == 4 else "<f8")
            pending = pending[sid_of[rows[pending]] < 0]
