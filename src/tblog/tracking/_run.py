"""``Run``: one tracked run's step counter, config, summary, side files, resume
and finish (``init`` and the current run: ``_init.py``).
"""

from __future__ import annotations

import json
import operator
import os
import posixpath
import time
import warnings
from collections.abc import Callable, Mapping
from typing import Any

from tblog._storage import url_protocol
from tblog.tracking import _config, _files, _log
from tblog.tracking._config import Config
from tblog.tracking._summary import Summary, project_metrics

STATE_FILE = "tblog-run.json"
#: Seconds between automatic writes of the state file and output.log during logging.
STATE_INTERVAL = 30.0


class Run:
    """One tracked run, writing into ``{dir}/{project}/{name}``. Made by ``tblog.init``.

    Attributes:
        config: hyperparameters (``Config``).
        summary: final values per key (``Summary``).
        writer: the run's ``SummaryWriter`` (a ``NullSummaryWriter`` when
            disabled): anything ``run.log`` does not cover can be written with it.
        log_dir: the run directory (or URL).
        disabled: True for ``mode="disabled"`` and on ranks other than 0.
    """

    def __init__(
        self,
        *,
        project: str,
        name: str,
        config: Any,
        dir: str,
        notes: str | None,
        tags: Any,
        resume: Any,
        mode: str,
        system_interval: float | None,
        capture_output: bool,
        alert_callback: Callable[..., Any] | None,
        alert_webhook: str | None,
        rank: int | str | None,
    ) -> None:
        self.project, self.name, self.id = project, name, name
        self.notes = notes
        self.tags = tuple(tags or ())
        self.dir = dir
        self.log_dir = (
            posixpath.join(dir.rstrip("/"), project, name) if url_protocol(dir)
            else os.path.join(dir, project, name)
        )
        self.config = Config(config)
        self.summary = Summary()
        self.writer: Any = None
        self.resumed = False
        self.finished = False
        self._step = 0
        self._pending = _log.Row()
        self._pid = os.getpid()
        self._end_files: list[tuple[str, str | None]] = []
        self._watchers: list[Any] = []
        self._sampler: Any = None
        self._output: Any = None
        self._last_state = time.monotonic()
        self._system_step = 0
        self._created = self._session_started = time.time()
        from tblog.tracking._alerts import Alerts

        self._alerts = Alerts(alert_callback, alert_webhook)
        self.disabled = mode == "disabled"
        self.rank: int | None = None
        if rank is not None:
            from tblog._ranks import resolve_rank

            self.rank = resolve_rank(rank)
            self.disabled = self.disabled or self.rank != 0
        if self.disabled:
            from tblog.writer import NullSummaryWriter

            self.writer = NullSummaryWriter(self.log_dir)  # writes and creates nothing
            return
        self._open(resume)
        if system_interval:
            from tblog.tracking._system import SystemSampler

            self._sampler = SystemSampler(self, float(system_interval), self._system_step)
            self._sampler.start()
        if capture_output:
            from tblog.tracking._output import OutputTee

            self._output = OutputTee()
            self._output.start()

    def _open(self, resume: Any) -> None:
        from tblog.writer import SummaryWriter

        raw = _files.read_run_file(self.log_dir, STATE_FILE)
        try:
            state = json.loads(raw) if raw else None
        except ValueError as exc:
            raise ValueError(
                f"init: {STATE_FILE} in {self.log_dir!r} is not a run's state: {exc}"
            ) from None
        if state is not None and resume in (None, "never"):
            raise ValueError(
                f"init: {self.log_dir!r} already holds run {self.name!r}; pass resume='allow' "
                "to continue it, or another name"
            )
        if state is None and resume == "must":
            raise ValueError(f"init(resume='must'): no run to resume in {self.log_dir!r}")
        purge = None
        if state is not None:
            self.resumed = True
            self._step = purge = int(state.get("step", 0))
            self._system_step = int(state.get("system_step", 0))
            self._created = float(state.get("created", self._created))
            # TensorBoard reads a run's event files in name order, which starts with
            # the creation second: the new file must not share the last one's.
            last = int(float(state.get("session_started", 0)))
            deadline = time.monotonic() + 1.1  # bounded, should the clock have gone back
            while int(time.time()) <= last and time.monotonic() < deadline:
                time.sleep(0.05)
            merged = dict(state.get("config") or {})
            merged.update(self.config.as_dict())
            object.__setattr__(self.config, "_data", merged)
            self.summary.update(state.get("summary") or {})
        self._session_started = time.time()
        self.writer = SummaryWriter(self.log_dir, purge_step=purge, flush_secs=10)
        self._write_state()
        self._write_config()
        if not self.resumed:
            info = [f"**{self.project} / {self.name}**", "", self.notes or ""]
            if self.tags:
                info += ["", "tags: " + ", ".join(f"`{tag}`" for tag in self.tags)]
            self.writer.add_text("run", "\n".join(info).strip(), 0)

    # -- side files ----------------------------------------------------------

    def _write_file(self, relative: str, data: bytes) -> None:
        _files.write_run_file(self.log_dir, relative, data)

    def _write_state(self, finished: bool = False) -> None:
        state = {
            "project": self.project,
            "name": self.name,
            "step": self._step,
            "system_step": self._sampler.step if self._sampler else self._system_step,
            "created": self._created,
            "session_started": self._session_started,
            "updated": time.time(),
            "finished": finished,
            "exit_code": getattr(self, "_exit_code", None),
            "notes": self.notes,
            "tags": list(self.tags),
            "config": _config.plain(self.config.as_dict()),
            "summary": _config.plain(dict(self.summary._data)),
        }
        self._write_file(STATE_FILE, (json.dumps(state, indent=2) + "\n").encode())
        self._last_state = time.monotonic()

    def _write_config(self) -> None:
        name, data = _config.config_file(self.config.as_dict())
        self._write_file(name, data)

    # -- logging -------------------------------------------------------------

    @property
    def step(self) -> int:
        """The step the next committed ``log`` call writes at."""
        return self._step

    def log(
        self, data: Mapping[str, Any], step: int | None = None, commit: bool | None = None
    ) -> None:
        """Log a dict of values at one step.

        Numbers become scalars, str and ``tblog.Text`` text, arrays/tensors with
        more than one element histograms (one element: a scalar), matplotlib
        figures and ``tblog.Image`` images, ``Histogram``/``Video``/``Audio``/
        ``Table`` their kinds; nested dicts become ``outer/inner`` tags.

        Args:
            data: tag -> value.
            step: None: the run's counter, advanced by every committed call. An
                explicit step lower than the current one is warned about and
                ignored (as wandb); a higher one writes what is pending first.
            commit: False: keep the values for the same step (written by the
                next committed call). None: True without ``step``; with
                ``step``, the values are written when a later step arrives, on
                ``commit=True`` or at finish, as wandb does.

        Raises:
            TypeError: ``data`` is not a dict of str, or a value of no supported
                type (nothing of the call is logged).
            ValueError: a negative ``step``.
        """
        if self.disabled:
            return
        if self.finished:
            warnings.warn(f"log: run {self.name!r} is finished; nothing logged", stacklevel=2)
            return
        items = _log.Row()
        _log.prepare(data, items)
        if step is not None:
            try:
                step = operator.index(step)
            except TypeError:
                raise TypeError(f"log: step must be an int, got {step!r}") from None
            if step < 0:
                raise ValueError(f"log: step must be >= 0, got {step}")
            if step < self._step:
                warnings.warn(
                    f"log: step {step} is lower than the run's current step {self._step}; "
                    "the data of this call is ignored",
                    stacklevel=2,
                )
                return
            if step > self._step:
                if self._pending:
                    self._commit()
                self._step = step
        pending = self._pending
        if pending:
            pending.merge(items)
        else:
            self._pending = pending = items
        if commit or (commit is None and step is None):
            self._commit()

    def _commit(self) -> None:
        pending, self._pending = self._pending, _log.Row()
        _log.write(self, pending, self._step)
        self._step += 1
        if time.monotonic() - self._last_state > STATE_INTERVAL:
            self.flush()

    def flush(self) -> None:
        """Hand logged events to the OS / bucket and update the state file and output.log."""
        if self.disabled or self.finished:
            return
        self.writer.flush()
        if self._sampler is not None:
            self._sampler.flush()
        self._write_state()
        if self._output is not None:
            self._write_file("output.log", self._output.contents())

    # -- features in their own modules --------------------------------------

    def watch(
        self, models: Any, criterion: Any = None, log: str | None = "gradients",
        log_freq: int = 1000, idx: int | None = None, log_graph: bool = False,
    ) -> None:
        """Record histograms and norms of gradients and/or parameters every ``log_freq``
        training forwards of ``models`` (one module or a list). See docs/tracking.md.

        Args:
            models: a ``torch.nn.Module`` or a sequence of them.
            criterion: accepted for wandb compatibility; unused.
            log: ``"gradients"``, ``"parameters"``, ``"all"`` or None (nothing).
            log_freq: every how many training forwards to record.
            idx: accepted for wandb compatibility; unused.
            log_graph: must be False (use ``run.writer.add_graph``).

        Raises:
            TypeError: ``models`` is not a module (or list of modules).
            ValueError: a bad ``log`` or ``log_freq``, or ``log_graph=True``.
        """
        from tblog.tracking._watch import watch

        watch(self, models, log, log_freq, log_graph)

    def unwatch(self, models: Any = None) -> None:
        """Remove the hooks of ``watch`` (of ``models``, or of every watched model)."""
        from tblog.tracking._watch import unwatch

        unwatch(self, models)

    def alert(
        self, title: str, text: str, level: str = "INFO", wait_duration: float = 0
    ) -> bool:
        """Raise an alert: text under tag ``alerts``, a line on stderr, and the sinks
        given to ``init`` (``alert_callback``, ``alert_webhook``).

        Args:
            title: short title; repeated alerts are rate-limited per title.
            text: the message.
            level: ``"INFO"``, ``"WARN"`` or ``"ERROR"`` (case-insensitive).
            wait_duration: seconds (or a ``timedelta``) during which further
                alerts with this title are dropped.

        Returns:
            True if the alert was raised, False if rate-limited or disabled.

        Raises:
            TypeError, ValueError: bad ``title``, ``text``, ``level`` or ``wait_duration``.
        """
        if self.disabled or self.finished:
            return False
        return self._alerts.alert(self, title, text, level, wait_duration)

    def save(
        self, glob_str: str | os.PathLike[str], base_path: str | None = None, policy: str = "live"
    ) -> list[str]:
        """Copy files into ``{log_dir}/files/``, keeping their path below ``base_path``.

        Args:
            glob_str: a path or glob (``**`` recursive) of files to copy.
            base_path: the directory the paths under ``files/`` are relative to;
                default: the glob's directory part.
            policy: ``"now"`` copies now, ``"end"`` at finish, ``"live"`` both.

        Returns:
            The paths under the run directory copied now (``files/...``).

        Raises:
            ValueError: a bad ``policy`` or a file outside ``base_path``.
        """
        if policy not in ("now", "end", "live"):
            raise ValueError(f"save: policy must be 'now', 'end' or 'live', got {policy!r}")
        if self.disabled or self.finished:
            return []
        matches = _files.matching_files(glob_str, base_path)  # checks now, whatever the policy
        if policy in ("end", "live"):
            self._end_files.append((os.fspath(glob_str), base_path))
        return [] if policy == "end" else _files.copy_files(self.log_dir, matches)

    # -- end -----------------------------------------------------------------

    def finish(self, exit_code: int | None = None, quiet: bool | None = None) -> None:
        """Write what is pending, the summary (HParams metrics, ``summary.json``), the
        config, files saved with policy ``end``, and close everything; idempotent."""
        if self.finished:
            return
        if os.getpid() != self._pid:  # a forked child: the parent owns the run's files
            self.finished = True
            return
        try:
            if not self.disabled:
                self._finish_files(exit_code)
        finally:
            self.finished = True
            from tblog.tracking._init import forget

            forget(self)

    def _finish_files(self, exit_code: int | None) -> None:
        """Every step runs even if one before it failed; the first error is raised."""
        errors: list[BaseException] = []

        def attempt(step: Callable[[], Any]) -> None:
            try:
                step()
            except Exception as exc:  # noqa: BLE001 - finish what can be finished
                errors.append(exc)

        if self._pending:
            attempt(self._commit)
        if self._sampler is not None:
            attempt(self._sampler.stop)
        for watcher in list(self._watchers):
            watcher.remove()
        self._watchers.clear()
        if self._output is not None:
            self._output.stop()
        for glob_str, base in self._end_files:
            attempt(lambda g=glob_str, b=base: _files.copy_files(
                self.log_dir, _files.matching_files(g, b)
            ))
        attempt(self._write_hparams)
        summary = _config.plain(dict(self.summary._data))
        attempt(lambda: self._write_file(
            "summary.json", (json.dumps(summary, indent=2) + "\n").encode()
        ))
        attempt(self._write_config)
        if self._output is not None:
            attempt(lambda: self._write_file("output.log", self._output.contents()))
        self._alerts.wait(5.0)
        attempt(self.writer.close)
        if self._sampler is not None:
            attempt(self._sampler.close)
        self._exit_code = exit_code
        attempt(lambda: self._write_state(finished=True))
        if errors:
            raise errors[0]

    def _write_hparams(self) -> None:
        """Config as this run's hparams; numeric summary entries as its metrics."""
        metrics: dict[str, float | None] = {
            f"summary/{key}": value for key, value in self.summary.metrics().items()
        }
        for key in project_metrics(self.log_dir):  # the other runs' columns
            metrics.setdefault(f"summary/{key}", None)
        self.writer.add_hparams(
            _config.hparams(self.config.as_dict()), metrics or None,
            in_run=True, global_step=self._step,
        )

    def __enter__(self) -> Run:
        return self

    def __exit__(self, exc_type: Any, *exc_info: Any) -> None:
        self.finish(exit_code=1 if exc_type else 0)

    def __repr__(self) -> str:
        state = "disabled" if self.disabled else "finished" if self.finished else "running"
        return f"Run(project={self.project!r}, name={self.name!r}, {state}, step={self._step})"
