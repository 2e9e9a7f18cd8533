"""Restart purges: which points TensorBoard's loaders drop after a restart.

``"tensorboard"``: the rule of ``plugin_event_accumulator`` (``tensorboard
--load_fast=false``, ``EventAccumulator`` of that module): once a
``file_version`` >= 2 was seen, every ``SessionLog.START`` except the run's first
drops the points with a step >= its step (all tags) written before it; before
that (old files) an event whose step is below the last summary step drops the
larger steps of its own tags. ``"legacy"``: ``event_accumulator`` (tbparse and
most scripts): every START purges. ``"rust"``: the data server's rule, per tag:
a point hides every earlier point with a step >= its own. ``"none"``: keep all.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

PURGE_MODES = ("tensorboard", "legacy", "rust", "none")

# A purge: (seq of the event that purges, its step, tags it purges or None = all).
Purge = tuple[int, int, frozenset[str] | None]


def check_mode(purge: str) -> str:
    """``purge`` itself.

    Raises:
        ValueError: not one of :data:`PURGE_MODES`.
    """
    if purge not in PURGE_MODES:
        raise ValueError(f"purge must be one of {', '.join(map(repr, PURGE_MODES))}, not {purge!r}")
    return purge


def purges(
    mode: str,
    events: Sequence[tuple[int, int, bool, bool, float | None]],
    points: tuple[np.ndarray, np.ndarray],
    tags_of: dict[int, set[str]] | None = None,
) -> list[Purge] | None:
    """The purges of one run.

    Args:
        mode: ``"tensorboard"`` or ``"legacy"`` (the others need no list).
        events: events off the hot path, by seq: (seq, step, has summary,
            START?, file_version).
        points: ``(seq, step)`` of the hot-path scalar events (summaries).
        tags_of: seq -> tags of the values of that event; needed only when a
            summary event comes before any ``file_version`` >= 2 (returns None
            to ask for it).

    Returns:
        The purges in event order, or None when ``tags_of`` is needed.
    """
    found: list[Purge] = []
    version: float | None = None
    seen_start = False
    old_regime_seqs: list[int] = []
    for seq, step, _has_summary, start, file_version in events:
        if file_version is not None:
            version = file_version
        if version and version >= 2:
            if start:
                if mode == "legacy" or seen_start:
                    found.append((seq, step, None))
                seen_start = True
        else:
            old_regime_seqs.append(seq)
    point_seq = points[0]
    if point_seq.size and not _all_new_regime(events, point_seq):
        old_regime_seqs.append(-1)
    if not old_regime_seqs:
        return found
    if tags_of is None:
        return None
    return _simulate(mode, events, points, tags_of)


def _all_new_regime(events: Sequence[tuple[int, int, bool, bool, float | None]],
                    point_seq: np.ndarray) -> bool:
    """Whether every hot-path point comes after a file_version >= 2 (and no downgrade)."""
    version: float | None = None
    boundaries: list[tuple[int, bool]] = []
    for seq, _step, _summary, _start, file_version in events:
        if file_version is not None:
            version = file_version
            boundaries.append((seq, bool(version and version >= 2)))
    if not boundaries or not boundaries[0][1]:
        first_ok = None
    else:
        first_ok = boundaries[0][0]
    if first_ok is None or any(not ok for _, ok in boundaries):
        return False
    return bool(point_seq.min() > first_ok)


def _simulate(mode: str, events: Sequence[tuple[int, int, bool, bool, float | None]],
              points: tuple[np.ndarray, np.ndarray], tags_of: dict[int, set[str]]) -> list[Purge]:
    """Event-by-event replay of the accumulator's state (old files without a version)."""
    merged = [(int(s), int(t), True, False, None) for s, t in zip(*points, strict=True)]
    merged.extend(events)
    merged.sort(key=lambda e: e[0])
    found: list[Purge] = []
    version: float | None = None
    seen_start = False
    recent = -1
    for seq, step, has_summary, start, file_version in merged:
        if file_version is not None:
            version = file_version
        purged = False
        if version and version >= 2:
            if start:
                if mode == "legacy" or seen_start:
                    found.append((seq, step, None))
                seen_start = True
        elif step < recent and has_summary:
            found.append((seq, step, frozenset(tags_of.get(seq, ()))))
            purged = True
        if mode == "legacy":
            if not (version and version >= 2) and not purged:
                recent = step
        elif has_summary:
            recent = step
    return found


def keep_mask(seq: np.ndarray, step: np.ndarray, tags: np.ndarray, names: Sequence[str],
              found: list[Purge]) -> np.ndarray:
    """Which points survive ``found``; ``tags`` are indices into ``names``."""
    keep = np.ones(seq.shape, dtype=bool)
    for pseq, pstep, ptags in found:
        hit = (seq < pseq) & (step >= pstep)
        if ptags is not None:
            codes = [i for i, name in enumerate(names) if name in ptags]
            hit &= np.isin(tags, codes)
        keep &= ~hit
    return keep


def rust_mask(step: np.ndarray, tags: np.ndarray) -> np.ndarray:
    """Per tag, in order: a point survives if every later point has a larger step."""
    keep = np.zeros(step.shape, dtype=bool)
    if not step.size:
        return keep
    order = np.argsort(tags, kind="stable")
    sorted_tags = tags[order]
    sorted_steps = step[order]
    bounds = np.flatnonzero(np.diff(sorted_tags)) + 1
    for chunk in np.split(np.arange(order.size), bounds):
        steps = sorted_steps[chunk]
        later_min = np.minimum.accumulate(steps[::-1])[::-1]
        survive = np.ones(steps.size, dtype=bool)
        survive[:-1] = steps[:-1] < later_min[1:]
        keep[order[chunk]] = survive
    return keep
