"""Test helpers that check event files with *stock* TensorBoard, never with tblog.

Three independent ways of reading what a writer produced:

* :func:`check_record_crcs` / :func:`check_event_file` -- TFRecord framing and
  both masked CRC32Cs of every record, computed here with the ``crc32c``
  package (and, for the latter, every record parsed as tensorboard's
  ``Event``).
* :func:`load_events`, :func:`load_run_events`, :func:`accumulate` --
  tensorboard's own Python loaders (``EventFileLoader``,
  ``plugin_event_accumulator.EventAccumulator``), the code behind
  ``tensorboard --load_fast=false``.
* :class:`TensorBoardServer` / :func:`tensorboard_server` -- a real
  ``tensorboard`` process (Rust data server with ``load_fast=True``, Python
  multiplexer with ``load_fast=False``) queried over HTTP like the web UI does.

Nothing in this module imports tblog.
"""

from __future__ import annotations

import contextlib
import dataclasses
import http.client
import json
import math
import os
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

import crc32c
import pytest
from google.protobuf.message import DecodeError
from tensorboard.backend.event_processing import event_file_loader, plugin_event_accumulator
from tensorboard.compat.proto import event_pb2
from tensorboard.util import tensor_util

T = TypeVar("T")

#: The body of the hparams plugin's ``/data/plugin/hparams/session_groups`` query the
#: web UI sends for every session group (no filters, first 100).
HPARAMS_SESSION_QUERY = {
    "experimentName": "",
    "allowedStatuses": ["STATUS_UNKNOWN", "STATUS_SUCCESS", "STATUS_FAILURE", "STATUS_RUNNING"],
    "colParams": [],
    "startIndex": 0,
    "sliceSize": 100,
}
PathLike = str | os.PathLike[str]

# --------------------------------------------------------------------------------------
# TFRecord framing and CRCs (independent of tblog)
# --------------------------------------------------------------------------------------

_MASK_DELTA = 0xA282EAD8
_HEADER = struct.Struct("<QI")  # u64 length, u32 masked crc32c(length bytes)
_FOOTER = struct.Struct("<I")  # u32 masked crc32c(data)


def masked_crc32c(data: bytes) -> int:
    """TFRecord's masked CRC32C: ``rotr15(crc) + 0xA282EAD8 (mod 2**32)``."""
    crc = crc32c.crc32c(data)
    return (((crc >> 15) | (crc << 17)) + _MASK_DELTA) & 0xFFFFFFFF


def frame_record(data: bytes) -> bytes:
    """``data`` wrapped in TFRecord framing (for hand-made, e.g. deliberately broken, files)."""
    header = struct.pack("<Q", len(data))
    return (
        header
        + struct.pack("<I", masked_crc32c(header))
        + data
        + struct.pack("<I", masked_crc32c(data))
    )


def iter_records(
    path: PathLike, *, allow_truncated_tail: bool = False
) -> Iterator[tuple[int, bytes]]:
    """Yield ``(offset, payload)`` for every TFRecord in ``path``, checking both CRCs.

    Raises AssertionError naming the file, record index and byte offset on a
    length-CRC or data-CRC mismatch, or when the file ends inside a record
    (trailing garbage / truncated tail). With ``allow_truncated_tail=True`` an
    incomplete *last* record is tolerated (what a killed writer leaves behind
    and what both TensorBoard loaders treat as "wait for more data"); a
    complete record with a bad CRC is still an error.
    """
    buf = Path(path).read_bytes()
    size = len(buf)
    offset = 0
    index = 0
    while offset < size:
        where = f"{path}: record #{index} at offset {offset} (file size {size})"
        if size - offset < _HEADER.size:
            if allow_truncated_tail:
                return
            raise AssertionError(
                f"{where}: {size - offset} trailing byte(s), too short for a record header"
            )
        length, length_crc = _HEADER.unpack_from(buf, offset)
        expected = masked_crc32c(buf[offset : offset + 8])
        if length_crc != expected:
            raise AssertionError(
                f"{where}: length CRC mismatch (stored {length_crc:#010x}, "
                f"computed {expected:#010x}, length field {length})"
            )
        start = offset + _HEADER.size
        end = start + length + _FOOTER.size
        if end > size:
            if allow_truncated_tail:
                return
            raise AssertionError(
                f"{where}: record of {length} bytes runs past end of file (needs {end} bytes)"
            )
        payload = buf[start : start + length]
        (data_crc,) = _FOOTER.unpack_from(buf, start + length)
        expected = masked_crc32c(payload)
        if data_crc != expected:
            raise AssertionError(
                f"{where}: data CRC mismatch (stored {data_crc:#010x}, computed {expected:#010x})"
            )
        yield offset, payload
        offset = end
        index += 1


def check_record_crcs(path: PathLike, *, allow_truncated_tail: bool = False) -> int:
    """Validate framing and both CRCs of EVERY record in ``path``; return the record count.

    See :func:`iter_records` for what raises AssertionError.
    """
    return sum(1 for _ in iter_records(path, allow_truncated_tail=allow_truncated_tail))


def check_event_file(path: PathLike) -> int:
    """:func:`check_record_crcs` plus: every record parses as tensorboard's ``Event``
    and has a finite ``wall_time``. Returns the record count.

    These are the failure modes that make stock TensorBoard stop reading a file
    (an unparsable record kills the Python reloader thread; a NaN wall_time
    marks the file dead in the Rust data server).
    """
    count = 0
    for offset, payload in iter_records(path):
        try:
            event = event_pb2.Event.FromString(payload)
        except DecodeError as exc:
            raise AssertionError(
                f"{path}: record #{count} at offset {offset}: not a parsable Event: {exc}"
            ) from exc
        if not math.isfinite(event.wall_time):
            raise AssertionError(
                f"{path}: record #{count} at offset {offset}: wall_time={event.wall_time!r}"
            )
        count += 1
    return count


@dataclasses.dataclass
class EventFileReport:
    """Result of :func:`validate_event_files`."""

    root: Path
    files: int = 0
    records: int = 0
    failures: list[str] = dataclasses.field(default_factory=list)

    def summary(self) -> str:
        status = f"{len(self.failures)} FAILED" if self.failures else "all valid"
        return (
            f"validated {self.files} tfevents file(s), {self.records} record(s) "
            f"(CRCs + Event parse) under {self.root}: {status}"
        )


def validate_event_files(root: PathLike, skip_prefix: str = "corrupt_") -> EventFileReport:
    """Run :func:`check_event_file` on every file under ``root`` whose name contains
    ``tfevents``, skipping directories whose name starts with ``skip_prefix``.
    Collects failures instead of raising."""
    report = EventFileReport(Path(root))
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith(skip_prefix))
        for name in sorted(filenames):
            if "tfevents" not in name:
                continue
            path = Path(dirpath, name)
            report.files += 1
            try:
                report.records += check_event_file(path)
            except (AssertionError, OSError) as exc:
                report.failures.append(str(exc))
    return report


# --------------------------------------------------------------------------------------
# tensorboard's Python loaders
# --------------------------------------------------------------------------------------


def event_files(run_dir: PathLike) -> list[Path]:
    """Files directly in ``run_dir`` whose name contains ``tfevents``, in name order
    (the order TensorBoard reads them)."""
    return sorted(p for p in Path(run_dir).iterdir() if "tfevents" in p.name and p.is_file())


def load_events(path: PathLike, *, migrate: bool = True) -> list[event_pb2.Event]:
    """All events of one event file, read by tensorboard's own loader.

    ``migrate=True`` (default) uses ``EventFileLoader``, i.e. what the
    ``--load_fast=false`` server ingests: legacy values are rewritten by
    ``data_compat`` (``simple_value`` -> rank-0 DT_FLOAT ``tensor`` with
    ``scalars`` metadata, ``histo``/``image``/``audio`` -> tensors) and
    ``dataclass_compat`` may add events. ``migrate=False`` uses
    ``LegacyEventFileLoader``: the Event protos exactly as stored.

    Note: both loaders silently stop at the first bad record; use
    :func:`check_record_crcs` to assert the whole file is valid.
    """
    loader_cls = (
        event_file_loader.EventFileLoader if migrate else event_file_loader.LegacyEventFileLoader
    )
    return list(loader_cls(str(path)).Load())


def load_run_events(run_dir: PathLike, *, migrate: bool = True) -> list[event_pb2.Event]:
    """Events of all ``*tfevents*`` files directly in ``run_dir``, files in name order."""
    events: list[event_pb2.Event] = []
    for path in event_files(run_dir):
        events.extend(load_events(path, migrate=migrate))
    return events


def accumulate(
    run_dir: PathLike,
    size_guidance: Mapping[str, int] | None = None,
    tensor_size_guidance: Mapping[str, int] | None = None,
) -> plugin_event_accumulator.EventAccumulator:
    """A ``plugin_event_accumulator.EventAccumulator`` on ``run_dir``, already ``Reload()``ed.

    This is the accumulator behind ``tensorboard --load_fast=false``. By default it
    keeps every value (``STORE_EVERYTHING_SIZE_GUIDANCE``), unlike the server,
    which reservoir-samples (scalars 1000, images 10, ...). Pass
    ``tensor_size_guidance={"images": 10}`` etc. to mimic the server.
    """
    acc = plugin_event_accumulator.EventAccumulator(
        str(run_dir),
        size_guidance=dict(
            size_guidance or plugin_event_accumulator.STORE_EVERYTHING_SIZE_GUIDANCE
        ),
        tensor_size_guidance=dict(tensor_size_guidance or {}),
    )
    acc.Reload()
    return acc


def scalars_from_accumulator(
    acc: plugin_event_accumulator.EventAccumulator, tag: str
) -> list[tuple[int, float]]:
    """``[(step, value), ...]`` of one scalar tag (values are stored as tensors)."""
    return [
        (e.step, float(tensor_util.make_ndarray(e.tensor_proto).item())) for e in acc.Tensors(tag)
    ]


# --------------------------------------------------------------------------------------
# Polling
# --------------------------------------------------------------------------------------

#: Exceptions :func:`wait_for` treats as "not yet" by default.
RETRYABLE: tuple[type[BaseException], ...] = (
    AssertionError,
    KeyError,
    urllib.error.URLError,  # includes HTTPError
    http.client.HTTPException,
    ConnectionError,
    TimeoutError,
)


def wait_for(
    fn: Callable[[], T],
    timeout: float = 30.0,
    interval: float = 0.2,
    *,
    what: str = "",
    retry_on: tuple[type[BaseException], ...] = RETRYABLE,
    alive: Callable[[], str | None] | None = None,
) -> T:
    """Call ``fn()`` until it returns a truthy value and return that value.

    Exceptions in ``retry_on`` (assertions, HTTP errors, KeyError, ...) count as
    "not yet". Raises AssertionError after ``timeout`` seconds, showing the last
    result and exception. ``alive``, if given, is called each round and aborts the
    wait with its message when it returns a string (e.g. "the server died").
    """
    deadline = time.monotonic() + timeout
    last: Any = None
    error: BaseException | None = None
    while True:
        try:
            last = fn()
            error = None
            if last:
                return last
        except retry_on as exc:
            error = exc
        if alive is not None and (dead := alive()):
            raise AssertionError(f"gave up waiting for {what or repr(fn)}: {dead}")
        if time.monotonic() >= deadline:
            raise AssertionError(
                f"timed out after {timeout:.1f}s waiting for {what or repr(fn)}; "
                f"last result: {last!r}; last error: {error!r}"
            ) from error
        time.sleep(interval)


# --------------------------------------------------------------------------------------
# A real TensorBoard server
# --------------------------------------------------------------------------------------


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _load_fast_flag(load_fast: bool | str) -> str:
    if isinstance(load_fast, bool):
        return "true" if load_fast else "false"
    if load_fast not in ("true", "false", "auto"):
        raise ValueError(f"load_fast must be a bool or 'true'/'false'/'auto', not {load_fast!r}")
    return load_fast


#: ``/data/environment`` -> ``debug.data_provider`` prefix expected per ``--load_fast``.
_EXPECTED_PROVIDER = {"true": "GrpcDataProvider", "false": "MultiplexerDataProvider"}

#: ``@both_loaders`` parametrizes a test's ``load_fast`` argument over both readers.
both_loaders = pytest.mark.parametrize(
    "load_fast", [pytest.param(True, id="rust"), pytest.param(False, id="python")]
)


class TensorBoardHTTPError(Exception):
    """A non-2xx answer from TensorBoard."""

    def __init__(self, status: int, url: str, body: bytes) -> None:
        super().__init__(f"HTTP {status} for {url}: {body[:2000]!r}")
        self.status = status
        self.url = url
        self.body = body


class TensorBoardServer:
    """A stock ``tensorboard`` subprocess on ``--logdir logdir``, queried over HTTP.

    ``load_fast``: ``True`` -> Rust data server (``--load_fast=true``, verified via
    ``/data/environment``), ``False`` -> Python multiplexer, or the raw flag string.
    The server reloads every second. Its output goes to ``log_path`` (see
    :meth:`log_text`), which is appended to every error this class raises.

    Use as a context manager (or :meth:`start` / :meth:`stop`). Data loads
    asynchronously: poll with :meth:`wait_for` / :meth:`wait_for_tag` /
    :meth:`wait_for_scalars` rather than asserting on the first answer.
    """

    def __init__(
        self,
        logdir: PathLike,
        load_fast: bool | str = True,
        extra_args: Sequence[str] = (),
        *,
        workdir: PathLike | None = None,
        startup_timeout: float = 60.0,
        request_timeout: float = 30.0,
    ) -> None:
        self.logdir = Path(logdir)
        self.load_fast = _load_fast_flag(load_fast)
        self.extra_args = tuple(extra_args)
        self.startup_timeout = startup_timeout
        self.request_timeout = request_timeout
        self._own_workdir = workdir is None
        self.workdir = Path(workdir) if workdir else Path(tempfile.mkdtemp(prefix="tb-server-"))
        self.log_path = self.workdir / "tensorboard.log"
        self.port = 0
        self._proc: subprocess.Popen[bytes] | None = None
        # Never route 127.0.0.1 through an http_proxy from the environment.
        self._opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))

    # -- lifecycle ---------------------------------------------------------------------

    @property
    def url(self) -> str:
        """``http://127.0.0.1:<port>``."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int | None:
        """PID (and process-group id) of the running ``tensorboard``; None when stopped."""
        return self._proc.pid if self._proc else None

    def __enter__(self) -> TensorBoardServer:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def command(self) -> list[str]:
        """The ``tensorboard`` command line for the current port."""
        return [
            sys.executable,
            "-m",
            "tensorboard.main",
            "--logdir",
            str(self.logdir),
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            f"--load_fast={self.load_fast}",
            "--reload_interval",
            "1",
            *self.extra_args,
        ]

    def start(self) -> None:
        """Start the server and block until it answers (and uses the expected loader).

        Retries with a new port if the one picked was taken in the meantime.
        """
        if self._proc is not None:
            raise RuntimeError("server already started")
        for _attempt in range(3):
            self.port = free_port()
            self._spawn()
            try:
                self._wait_until_ready()
                return
            except AssertionError:
                in_use = "already in use" in self.log_text()
                self.stop()
                if not in_use:
                    raise
        raise AssertionError(f"could not find a free port for tensorboard{self._log_suffix()}")

    def _spawn(self) -> None:
        env = dict(os.environ)
        # Keep .tensorboard-info and the data server's temp files in our workdir.
        env["TMPDIR"] = str(self.workdir)
        env["PYTHONUNBUFFERED"] = "1"
        with open(self.log_path, "ab") as log:
            log.write(f"$ {' '.join(self.command())}\n".encode())
            log.flush()
            self._proc = subprocess.Popen(
                self.command(),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
                start_new_session=True,  # own process group: TB + its data server child
            )

    def _wait_until_ready(self) -> None:
        deadline = time.monotonic() + self.startup_timeout
        self.wait_for(
            lambda: self._get("/data/runs", timeout=1.0),  # b"[]" is truthy
            timeout=self.startup_timeout,
            interval=0.1,
            what=f"tensorboard on port {self.port} to answer /data/runs",
        )
        expected = _EXPECTED_PROVIDER.get(self.load_fast)
        if expected:
            self.wait_for(
                lambda: self.data_provider().startswith(expected),
                timeout=max(1.0, deadline - time.monotonic()),
                interval=0.1,
                what=f"/data/environment to report {expected}",
            )

    def _exit_reason(self) -> str | None:
        """``None`` while running, else a message saying how the process ended."""
        if self._proc is None:
            return "tensorboard is not running"
        rc = self._proc.poll()
        return None if rc is None else f"tensorboard exited with status {rc}"

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the server: SIGTERM to its process group, bounded wait, then SIGKILL.

        The group id is the PID of the process we started (``start_new_session``),
        so this reaches TensorBoard and its Rust data server child and nothing else.
        """
        proc, self._proc = self._proc, None
        if proc is None:
            return
        if proc.poll() is None:  # not reaped yet, so the pid/pgid cannot be reused
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout)

    def cleanup(self) -> None:
        """Stop and delete the workdir if this object created it."""
        self.stop()
        if self._own_workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)

    def log_text(self) -> str:
        """Everything TensorBoard (and its data server) printed so far."""
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def _log_suffix(self, tail: int = 6000) -> str:
        text = self.log_text()
        if len(text) > tail:
            text = "...\n" + text[-tail:]
        return f"\n--- tensorboard log ({self.log_path}) ---\n{text}\n--- end of log ---"

    # -- HTTP --------------------------------------------------------------------------

    def _full_url(self, path: str, params: Mapping[str, Any]) -> str:
        if not path.startswith("/"):
            path = "/" + path
        if params:
            sep = "&" if "?" in path else "?"
            path += sep + urllib.parse.urlencode(params, doseq=True)
        return self.url + path

    def _request(
        self,
        method: str,
        path: str,
        params: Mapping[str, Any],
        body: bytes | None = None,
        content_type: str | None = None,
        timeout: float | None = None,
    ) -> bytes:
        url = self._full_url(path, params)
        request = urllib.request.Request(url, data=body, method=method)
        if content_type:
            request.add_header("Content-Type", content_type)
        try:
            with self._opener.open(request, timeout=timeout or self.request_timeout) as resp:
                return resp.read()
        except urllib.error.HTTPError as exc:
            raise TensorBoardHTTPError(exc.code, url, exc.read()) from None

    def _get(self, path: str, timeout: float | None = None) -> bytes:
        return self._request("GET", path, {}, timeout=timeout)

    def get_bytes(self, path: str, **params: Any) -> bytes:
        """GET ``path`` (may already contain ``?query``); list values repeat the key."""
        return self._request("GET", path, params)

    def get_json(self, path: str, **params: Any) -> Any:
        """GET ``path`` and decode the JSON answer."""
        return json.loads(self.get_bytes(path, **params))

    def post_json(self, path: str, body_obj: Any) -> Any:
        """POST ``body_obj`` as ``application/json`` (e.g. ``hparams/session_groups``)."""
        body = json.dumps(body_obj).encode()
        return json.loads(self._request("POST", path, {}, body, "application/json"))

    def post_form(self, path: str, fields: Mapping[str, Any] | Iterable[tuple[str, Any]]) -> Any:
        """POST form-encoded ``fields`` (e.g. ``scalars/scalars_multirun``,
        ``timeseries/timeSeries`` with ``requests=json.dumps([...])``); decode JSON."""
        body = urllib.parse.urlencode(fields, doseq=True).encode()
        content_type = "application/x-www-form-urlencoded"
        return json.loads(self._request("POST", path, {}, body, content_type))

    # -- convenience -------------------------------------------------------------------

    def data_provider(self) -> str:
        """``debug.data_provider`` of ``/data/environment``, e.g. ``GrpcDataProvider(...)``."""
        return str(self.get_json("/data/environment")["debug"]["data_provider"])

    def runs(self) -> list[str]:
        """``/data/runs``: run names (the logdir itself is ``"."``)."""
        return list(self.get_json("/data/runs"))

    def scalars(self, run: str, tag: str) -> list[list[Any]]:
        """``/data/plugin/scalars/scalars``: ``[[wall_time, step, value], ...]``."""
        return list(self.get_json("/data/plugin/scalars/scalars", run=run, tag=tag))

    def wait_for(
        self,
        fn: Callable[[], T],
        timeout: float = 30.0,
        interval: float = 0.2,
        *,
        what: str = "",
    ) -> T:
        """Module :func:`wait_for`, failing fast if the server died; errors carry the log."""
        try:
            return wait_for(
                fn,
                timeout,
                interval,
                what=what,
                retry_on=RETRYABLE + (TensorBoardHTTPError,),
                alive=self._exit_reason,
            )
        except AssertionError as exc:
            raise AssertionError(f"{exc}{self._log_suffix()}") from exc.__cause__

    def wait_for_tag(self, plugin: str, run: str, tag: str, timeout: float = 30.0) -> Any:
        """Poll ``/data/plugin/<plugin>/tags`` until ``run`` lists ``tag``.

        Works for plugins answering ``{run: {tag: info}}`` (scalars, images,
        histograms, ...; returns ``info``) and ``{run: [tags]}`` (text; returns True).
        A listed tag does not mean all its data is loaded yet.
        """

        def probe() -> Any:
            tags = self.get_json(f"/data/plugin/{plugin}/tags").get(run, {})
            if tag not in tags:
                return None
            return (tags[tag] if isinstance(tags, dict) else None) or True

        return self.wait_for(probe, timeout, what=f"{plugin} tag {tag!r} in run {run!r}")

    def wait_for_scalars(
        self, run: str, tag: str, count: int, timeout: float = 30.0
    ) -> list[list[Any]]:
        """Poll until ``run``/``tag`` has at least ``count`` points; return them all.

        Remember the Rust loader keeps one point per step (a later write at step s
        evicts stored points with step >= s), so repeated steps count once there.
        """

        def probe() -> list[list[Any]] | None:
            points = self.scalars(run, tag)
            return points if len(points) >= count else None

        return self.wait_for(probe, timeout, what=f">= {count} scalars of {run!r}/{tag!r}")


@contextlib.contextmanager
def tensorboard_server(
    logdir: PathLike,
    load_fast: bool | str,
    extra_args: Sequence[str] = (),
    **kwargs: Any,
) -> Iterator[TensorBoardServer]:
    """Run a :class:`TensorBoardServer` for the ``with`` block; stop it afterwards.

    On an exception inside the block the server log is printed (pytest shows it
    under "Captured stdout"). A temporary workdir is removed unless ``workdir=``
    was given.
    """
    server = TensorBoardServer(logdir, load_fast, extra_args, **kwargs)
    try:
        server.start()  # its errors already carry the log
        try:
            yield server
        except BaseException:
            print(server._log_suffix())
            raise
    finally:
        server.cleanup()
