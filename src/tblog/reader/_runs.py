"""``tblog.read(logdir)`` and :class:`Runs`: the public face of the reader."""

from __future__ import annotations

import fnmatch
import os
import re
import sys
import warnings
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, Any, Union

from tblog.reader import _assemble, _discover, _purge
from tblog.reader._assemble import Run

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

Pattern = Union[str, "re.Pattern[str]", Iterable[Union[str, "re.Pattern[str]"]], None]
_PROGRESS_BYTES = 64 << 20


class ReadWarning(UserWarning):
    """A damaged event file: read up to the damage (file and offset in the message)."""


class CorruptEventFileError(ValueError):
    """A corrupt record (``strict=True``); ``path`` and ``offset`` say where."""

    def __init__(self, message: str, path: str, offset: int) -> None:
        super().__init__(message)
        self.path = path
        self.offset = offset


def _matcher(pattern: Pattern, name: str) -> Any:
    """A predicate for glob patterns (``fnmatch``) or compiled regexes (``search``).

    Raises:
        TypeError: ``pattern`` is not a string, a compiled regex or a list of those.
    """
    if pattern is None:
        return lambda _value: True
    try:
        items = [pattern] if isinstance(pattern, (str, re.Pattern)) else list(pattern)
    except TypeError:
        items = [pattern]
    for item in items:
        if not isinstance(item, (str, re.Pattern)):
            raise TypeError(f"{name} must be a glob string, a compiled regex or a list of "
                            f"those, not {type(item).__name__}")

    def match(value: str) -> bool:
        return any(
            item.search(value) is not None if isinstance(item, re.Pattern)
            else fnmatch.fnmatchcase(value, item)
            for item in items
        )

    return match


def read(
    logdir: str | os.PathLike[str],
    *,
    runs: Pattern = None,
    tags: Pattern = None,
    purge: str = "tensorboard",
    check_crc: bool = True,
    strict: bool = False,
    workers: int | None = None,
    progress: bool | None = None,
) -> Runs:
    """Read every run under ``logdir`` (a directory, one event file, or an fsspec URL).

    Args:
        logdir: local path or ``s3://``, ``gs://``, ``az://``, ``memory://`` ... URL;
            every directory below it that holds event files is a run.
        runs: only runs whose name (``"."`` for the logdir itself) matches: a glob
            (``"exp*/train"``), a compiled regex (searched), or a list of those.
        tags: only these tags (same forms); the frames take a ``tags`` filter too.
        purge: how restarts hide stale points: ``"tensorboard"`` (the rule of
            TensorBoard's Python loader, ``plugin_event_accumulator``: every
            ``SessionLog.START`` after the run's first drops the earlier points with
            a step >= its step), ``"legacy"`` (``event_accumulator``, used by
            tbparse: every START purges), ``"rust"`` (the default data server: per
            tag, a point hides the earlier points at its step or later) or
            ``"none"``. Frames record it in ``df.attrs["purge"]``.
        check_crc: check both CRCs of every record (``False`` reads faster).
        strict: raise on a corrupt record instead of warning and going on with the
            next file (a truncated last record only warns either way).
        workers: processes scanning files (default: one per core when the logdir
            is large; 1 reads in this process).
        progress: show a progress bar on stderr (default: for large logdirs
            when stderr is a terminal).

    Returns:
        The :class:`Runs` read (every point kept, no sampling).

    Raises:
        FileNotFoundError: ``logdir`` does not exist.
        ValueError: ``purge`` is not one of the modes above, or ``workers`` < 1.
        TypeError: ``runs`` or ``tags`` is not a pattern.
        CorruptEventFileError: a corrupt record and ``strict=True``.
    """
    _purge.check_mode(purge)
    if workers is not None and (not isinstance(workers, int) or workers < 1):
        raise ValueError(f"workers must be a positive int or None, not {workers!r}")
    run_match = _matcher(runs, "runs")
    tag_match = _matcher(tags, "tags")
    sources, fs = _discover.discover(logdir)
    sources = [s for s in sources if run_match(s.run)]
    total = sum(s.size for s in sources)
    show = progress if progress is not None else (
        total >= _PROGRESS_BYTES and sys.stderr.isatty())
    with _progress_bar(total if show else 0) as advance:
        scans = _discover.scan_all(sources, fs, check_crc, workers, advance)
    problems = []
    for scan in scans:
        if scan.problem is None:
            continue
        message, offset, truncated = scan.problem
        where = f"{scan.path}: {message} at offset {offset}"
        problems.append((scan.path, message, offset))
        if strict and not truncated:
            raise CorruptEventFileError(where, scan.path, offset)
        tail = ("read up to the last whole record" if truncated
                else f"read {scan.records} record(s) before it, going on with the next file")
        warnings.warn(f"{where}; {tail}", ReadWarning, stacklevel=2)
    by_run: dict[str, list[Any]] = {}
    for source, scan in zip(sources, scans, strict=True):
        by_run.setdefault(source.run, []).append(scan)
    built = [_assemble.assemble(name, by_run[name], purge) for name in sorted(by_run)]
    return Runs(os.fspath(logdir), built, sources, purge, check_crc, tag_match, problems)


class _progress_bar:  # noqa: N801 - used like a function
    """A byte-counting progress bar (rich, else tqdm, else nothing) for ``total`` > 0."""

    def __init__(self, total: int) -> None:
        self.total = total
        self.bar: Any = None
        self.rich: Any = None

    def __enter__(self) -> Any:
        if not self.total:
            return None
        try:
            from rich.console import Console
            from rich.progress import Progress

            self.rich = Progress(console=Console(stderr=True), transient=True)
            self.rich.start()
            task = self.rich.add_task("reading event files", total=self.total)
            return lambda n: self.rich.update(task, advance=n)
        except ImportError:
            pass
        try:
            from tqdm import tqdm
        except ImportError:
            return None
        self.bar = tqdm(total=self.total, unit="B", unit_scale=True, desc="reading",
                        leave=False)
        return self.bar.update

    def __exit__(self, *exc: object) -> None:
        if self.rich is not None:
            self.rich.stop()
        if self.bar is not None:
            self.bar.close()


class Runs:
    """The runs of a logdir as read by :func:`read`; each method builds a DataFrame.

    Every frame has ``attrs`` ``{"logdir", "purge", "check_crc"}``. Rows come by run
    (name order), tag (name order), then in the order they were written.
    """

    def __init__(self, logdir: str, runs: list[Run], sources: list[Any], purge: str,
                 check_crc: bool, tag_match: Any, problems: list[tuple[str, str, int]]) -> None:
        self.logdir = logdir
        self._runs = runs
        self._sources = sources
        self.purge = purge
        self.check_crc = check_crc
        self._tag_match = tag_match
        #: ``(path, message, offset)`` of every damaged file read
        self.problems = problems

    @property
    def runs(self) -> list[str]:
        """Run names (``"."`` is the logdir itself)."""
        return [run.name for run in self._runs]

    def __len__(self) -> int:
        return len(self._runs)

    def __iter__(self) -> Iterator[str]:
        return iter(self.runs)

    def __repr__(self) -> str:
        return f"<Runs {self.logdir!r}: {len(self._runs)} run(s), purge={self.purge!r}>"

    def _select(self, runs: Pattern, tags: Pattern) -> tuple[list[Run], Any]:
        run_match = _matcher(runs, "runs")
        tag_match = _matcher(tags, "tags")
        chosen = [r for r in self._runs if run_match(r.name)]
        return chosen, lambda tag: self._tag_match(tag) and tag_match(tag)

    def scalars(self, tags: Pattern = None, runs: Pattern = None,
                pivot: bool = False) -> pd.DataFrame:
        """Scalars in long form: ``run, tag, step, wall_time, value`` (float64).

        Both encodings (``simple_value`` and rank-0 tensors of any float or int
        dtype with the scalars plugin) are included; every point is kept.

        Args:
            tags: tag filter (glob, regex or a list of those).
            runs: run filter (same forms).
            pivot: one column per tag, indexed by ``(run, step)``; a step written
                more than once keeps its last value.

        Returns:
            A pandas DataFrame.

        Raises:
            ImportError: pandas is not installed.
        """
        from tblog.reader import _frames

        chosen, tag_match = self._select(tags=tags, runs=runs)
        return _frames.scalars(self, chosen, tag_match, pivot)

    def histograms(self, tags: Pattern = None, runs: Pattern = None) -> pd.DataFrame:
        """Histograms: ``run, tag, step, wall_time, buckets`` (TensorBoard's ``[k, 3]``
        left/right/count array, float64) and ``min, max, num, sum, sum_squares``
        (NaN for v2 tensor histograms).

        Args:
            tags: tag filter (glob, regex or a list of those).
            runs: run filter (same forms).

        Raises:
            ImportError: pandas is not installed.
        """
        from tblog.reader import _frames

        chosen, tag_match = self._select(tags=tags, runs=runs)
        return _frames.histograms(self, chosen, tag_match)

    def images(self, tags: Pattern = None, runs: Pattern = None) -> pd.DataFrame:
        """Images: ``run, tag, step, wall_time, index, width, height, image``, where
        ``image`` is a :class:`~tblog.reader.LazyImage` (decoded on demand).

        Args:
            tags: tag filter (glob, regex or a list of those).
            runs: run filter (same forms).

        Raises:
            ImportError: pandas is not installed.
        """
        from tblog.reader import _frames

        chosen, tag_match = self._select(tags=tags, runs=runs)
        return _frames.images(self, chosen, tag_match)

    def text(self, tags: Pattern = None, runs: Pattern = None) -> pd.DataFrame:
        """Text summaries: ``run, tag, step, wall_time, text`` (``str``, or an array of
        ``str`` for a table).

        Args:
            tags: tag filter (glob, regex or a list of those).
            runs: run filter (same forms).

        Raises:
            ImportError: pandas is not installed.
        """
        from tblog.reader import _frames

        chosen, tag_match = self._select(tags=tags, runs=runs)
        return _frames.text(self, chosen, tag_match)

    def hparams(self, runs: Pattern = None) -> pd.DataFrame:
        """One row per run with hparams (``session_start_info``): ``run``, one column
        per hyperparameter, then one per metric (its last value, as TensorBoard's
        hparams dashboard shows it).

        Args:
            runs: run filter (glob, regex or a list of those).

        Raises:
            ImportError: pandas is not installed.
        """
        from tblog.reader import _frames

        chosen, _ = self._select(tags=None, runs=runs)
        return _frames.hparams(self, chosen, self._runs)

    def tags(self, runs: Pattern = None) -> pd.DataFrame:
        """Every tag: ``run, tag, kind, plugin, count, first_step, last_step,
        last_value`` (scalars only), ``last_wall_time``.

        Args:
            runs: run filter (glob, regex or a list of those).

        Raises:
            ImportError: pandas is not installed.
        """
        from tblog.reader import _frames

        chosen, tag_match = self._select(tags=None, runs=runs)
        return _frames.tags(self, chosen, tag_match)

    def files(self) -> pd.DataFrame:
        """Event files read: ``run, path, series, size, records, last_wall_time, problem``
        (``series``: tblog's segments of one writer share it).

        Raises:
            ImportError: pandas is not installed.
        """
        from tblog.reader import _frames

        return _frames.files(self, self._runs, self._sources)
