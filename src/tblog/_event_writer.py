"""The buffering core of every event writer: one class over both storage backends.

One ``EventWriter`` serves one run directory over one storage backend (a local
file, ``tblog._local_file``, or object-store segments, ``tblog._segments``).
Records are framed on the caller's thread into a byte buffer; records built
off-thread (``add_deferred``) wait in order as futures (``tblog._event_queue``).
They go to the backend when ``max_queue`` records wait (local files only: an
object per ten records would flood a bucket) or the backend's byte limit is
reached, when ``flush_secs`` have passed (checked by the one process-wide flush
thread of ``tblog._lifecycle``), on ``flush()`` and on ``close()``.

Failures are never silent: an I/O error is raised by the call that hit it
(or, when the background flush hit it, by the owner's next call), with the
unwritten records kept. Settings are checked once for both backends
(``tblog._names.check_settings``).
"""

from __future__ import annotations

import math
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator

from tblog._event_queue import CHECK_INTERVAL, MAX_DEFERRED, Backend, RecordQueue, StorageError
from tblog._lifecycle import registry, worker_pool
from tblog._names import check_relative, check_settings
from tblog._record import frame

__all__ = ["Backend", "EventWriter", "StorageError"]


class EventWriter(RecordQueue):
    """Writes framed event records to one run directory through a backend.

    Made by ``tblog._storage.open_event_writer``. Thread-safe. ``flush()``
    returns once every record added before it is stored (handed to the OS, or
    uploaded). An error raised in the background is kept and raised by the
    next call; the unwritten records stay queued.

    Raises:
        TypeError: a setting of the wrong type.
        ValueError: a setting with a bad value.
        OSError: the backend could not start (no directory, no bucket).
    """

    def __init__(
        self,
        logdir: str,
        max_queue: int,
        flush_secs: float,
        filename_suffix: str,
        backend: Callable[[str, str, Callable[[], None]], Backend],
    ) -> None:
        max_queue, flush_secs, filename_suffix = check_settings(
            max_queue, flush_secs, filename_suffix
        )
        self._logdir = logdir
        self._max_queue = max_queue
        self._flush_secs = flush_secs
        self._suffix = filename_suffix
        self._lock = threading.Lock()
        self._closed = False
        super().__init__(backend(logdir, filename_suffix, self._raise_alert))
        self._record_limit = max_queue if self._backend.counts_records else sys.maxsize
        self._set_lane_limit()
        with self._lock:
            self._open_backend(first=True)
        registry.add(self)

    # -- public API -----------------------------------------------------------

    @property
    def logdir(self) -> str:
        """The run directory (a local path, or a URL)."""
        return self._logdir

    @property
    def path(self) -> str:
        """The current event file (or, on object storage, the last segment uploaded)."""
        return self._backend.path

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def max_queue(self) -> int:
        return self._max_queue

    @property
    def flush_secs(self) -> float:
        return self._flush_secs

    @property
    def filename_suffix(self) -> str:
        return self._suffix

    @property
    def closes_early(self) -> bool:
        """Closed at exit before Python's thread pools shut down (object storage)."""
        return self._backend.closes_early

    def add_record(self, data: bytes) -> None:
        """Queue one serialized ``Event`` (from tblog's own encoders); write if full."""
        self._add_locked(frame(data))

    def add_scalar(self, tag: str, value: float, step: int, wall_time: float) -> None:
        """Queue one ``simple_value`` scalar event (the hot path of ``add_scalar``).

        ``tag`` must be a str that encodes as UTF-8, ``value`` a float and
        ``step`` an int in int64 range; the caller checks. Without the lock:
        the value joins the lane (``tblog._event_queue``) and the
        ``max_queue``-th one takes the lock to encode the lane into the buffer
        and write. ``_alert`` is read again after the append: a call that raced
        with ``close()`` or a failure settles under the lock, and raises only if
        its value was left out (as a locked add would).
        """
        if self._alert:
            self._add_locked(self._scalars.record(tag, value, step, wall_time))
            return
        lane = self._lane
        entry = (tag, value, step, wall_time)
        lane.append(entry)
        if len(lane) >= self._lane_limit or self._alert:
            self._settle_lane(entry)

    def _add_locked(self, record: bytes) -> None:
        with self._lock:
            if self._alert:
                self._check_writable()
            self._take_lane()
            buffer = self._buffer
            if not buffer and not self._queue:
                self._deadline = time.monotonic() + self._flush_secs
            buffer += record
            self._pending += 1
            if self._pending >= self._record_limit or len(buffer) >= self._room:
                self._write_or_raise()
            self._set_lane_limit()

    def _settle_lane(self, entry: tuple[str, float, int, float]) -> None:
        with self._lock:
            if self._alert:
                try:
                    self._check_writable()
                except BaseException:
                    left_out = self._withdraw(entry)
                    if self._closed and not left_out:
                        return  # close() took the lane, this value with it
                    raise
            if self._pending + len(self._lane) >= self._record_limit:
                self._write_or_raise()  # which takes the lane and sets its limit
                return
            self._take_lane()
            if len(self._buffer) >= self._room:
                self._write_or_raise()
            else:
                self._set_lane_limit()

    def _withdraw(self, entry: tuple[str, float, int, float]) -> bool:
        """Take ``entry`` (this very object) out of the lane; whether it was there."""
        lane = self._lane
        for index in range(len(lane) - 1, -1, -1):  # appends only add at the end
            if lane[index] is entry:
                del lane[index]
                return True
        return False

    def add_deferred(self, make_record: Callable[[], bytes]) -> None:
        """Queue a record whose serialized ``Event`` is built off this thread.

        ``make_record`` runs on the shared worker pool (use it for work that
        releases the GIL, like compression); records keep their order. Once
        16 wait, the caller waits for the oldest half. If it raises, the record
        is left out and a later call (the one that writes it) raises its exception.
        """
        future = worker_pool().submit(make_record)
        with self._lock:
            if self._alert:
                try:
                    self._check_writable()
                except BaseException:
                    future.cancel()
                    raise
            self._take_lane()
            if not self._buffer and not self._queue:
                self._deadline = time.monotonic() + self._flush_secs
            if self._buffer:  # moved, not copied: a cut-short write keeps its mark
                self._queued += len(self._buffer)
                self._queue.append(self._buffer)
                self._buffer = bytearray()
            self._queue.append(future)
            self._deferred += 1
            self._pending += 1
            if self._deferred >= MAX_DEFERRED:
                self._resolve_oldest()
            self._room = self._backend.byte_limit - self._queued
            if self._pending >= self._record_limit or self._room <= 0:
                self._write_or_raise()
            self._set_lane_limit()

    def flush(self) -> None:
        """Store every queued record before returning.

        Raises:
            OSError: writing or uploading failed, or the file was deleted or its
                descriptor closed outside tblog (the message says what became
                of the records).
        """
        with self._lock:
            failure = self._flush_locked(closing=False)
        self._backend.sync()  # without the lock: other threads go on logging
        if failure is not None:
            raise failure

    def close(self) -> None:
        """Flush and close; calling it again does nothing.

        Raises:
            OSError: as ``flush()``; the writer is closed all the same.
        """
        with self._lock:
            if self._closed:
                return
            self._alert = True  # from here on, appenders to the lane settle under the lock
            failure = None
            try:
                failure = self._flush_locked(closing=True)
            finally:
                self._closed = self._alert = True
                registry.discard(self)
                self._backend.close()
        if failure is not None:
            raise failure

    def write_file(self, relative: str, data: bytes | Iterable[bytes]) -> None:
        """Store ``data`` (bytes, or an iterable of bytes chunks) as the file
        ``relative`` (``/``-separated) in the run directory.

        Readers never see half a file (local: temp file + ``os.replace``; object
        storage: one PUT).

        Raises:
            TypeError: ``relative`` is not a str or ``data`` not bytes.
            ValueError: ``relative`` would leave the run directory (see
                ``tblog._names.check_relative``), or the writer is closed.
            OSError: the file could not be written.
        """
        parts = check_relative(relative)
        if not isinstance(data, (bytes, bytearray, memoryview)):
            if isinstance(data, str) or not isinstance(data, Iterable):
                raise TypeError(f"side file data must be bytes, got {type(data).__name__}")
            data = _Chunks(data)  # streamed to a local file, joined for one PUT
        self._check_open()
        self._backend.write_file(parts, data)

    def update_file(self, relative: str, update: Callable[[bytes | None], bytes]) -> None:
        """Replace the file ``relative`` by ``update(its bytes, or None if missing)``.

        Local files: under an exclusive lock (threads and processes), replaced
        atomically. Object storage: read, then one PUT; concurrent updates from
        other processes are last-writer-wins.

        Raises:
            TypeError, ValueError: as ``write_file``; and whatever ``update`` raises
                (the file is then left as it was).
            OSError: the file could not be read or written.
        """
        parts = check_relative(relative)
        self._check_open()
        self._backend.update_file(parts, update)

    def __reduce__(self) -> tuple[object, ...]:
        raise TypeError(
            "an event writer cannot be pickled: its open file or upload queue belongs to "
            "this process. Pickle the SummaryWriter instead; where it is unpickled it "
            "writes a new event file of its own in the same log_dir."
        )

    # -- internals (called with self._lock held) --------------------------------

    def _raise_alert(self) -> None:
        """The backend's upload thread failed: the next call must look."""
        self._alert = True

    def _check_open(self) -> None:
        if self._closed:
            raise ValueError(f"event file writer for {self._logdir!r} is closed")

    def _check_writable(self) -> None:
        """Raise if closed or failed; in a forked child (or after losing the file),
        start the backend again. Leaves ``_alert`` set while anything is amiss."""
        self._check_open()  # before clearing _alert: a closed writer's stays set
        self._alert = False
        backend = self._backend
        try:
            if self._error is not None:
                self._raise_error()
            backend.raise_pending()
            if not backend.is_open:
                self._open_backend(first=False)
        finally:
            if self._closed or self._error is not None or not backend.is_open:
                self._alert = True

    def _open_backend(self, first: bool) -> None:
        """Start a new file (or segment series); records already queued follow it."""
        self._backend.open(first)  # whatever was cut short went to the old file
        self._next_check = time.monotonic() + CHECK_INTERVAL
        registry.file_opened()

    def _flush_locked(self, closing: bool) -> BaseException | None:
        """Write everything queued; returns a deferred builder's exception to raise."""
        if self._error is not None:
            self._raise_error(closing)
        backend = self._backend
        if not closing:
            backend.raise_pending()
        self._take_lane()
        has_data = bool(self._buffer or self._queue)
        if not backend.is_open and not has_data:
            return None  # a forked child that never wrote, or nothing left to write
        try:
            if backend.is_open:
                backend.check()
                self._next_check = time.monotonic() + CHECK_INTERVAL
            if has_data:
                if not backend.is_open:
                    self._open_backend(first=False)
                return self._drain(wait=not closing)
        except StorageError:
            raise
        except OSError as exc:
            self._error = exc
            self._raise_error(closing)
        return None

    def _write_or_raise(self) -> None:
        try:
            failure = self._drain(wait=True)
        except StorageError:
            raise
        except OSError as exc:
            self._error = exc
            self._raise_error()
        if failure is not None:
            raise failure

    # -- called by tblog._lifecycle ------------------------------------------------

    def _flush_if_due(self, now: float) -> None:
        if self._lane and self._deadline == math.inf and self._lock.acquire(blocking=False):
            try:  # the lane's first records since a write: their flush_secs start now
                self._take_lane()
            finally:
                self._lock.release()
        if now < self._deadline or not self._lock.acquire(blocking=False):
            return
        try:
            if (
                (self._buffer or self._queue)
                and self._backend.is_open
                and self._error is None
                and now >= self._deadline
            ):
                try:
                    failure = self._drain(wait=False)
                except Exception as exc:  # noqa: BLE001 - raised by the owner's next call
                    failure = exc
                if failure is not None:
                    self._error = failure
                    self._alert = True
        finally:
            self._lock.release()

    def _flush_before_exit(self, deadline: float) -> None:
        """Best-effort flush for the SIGTERM handler; never raises or blocks past ``deadline``."""
        if not self._lock.acquire(timeout=max(0.0, deadline - time.monotonic())):
            return
        try:
            if not self._closed and self._backend.is_open:
                self._take_lane()
                if self._buffer or self._queue:
                    self._drain(wait=False)
                self._backend.wait_stored(deadline)
        except Exception:  # noqa: BLE001 - the process is about to die anyway
            pass
        finally:
            self._lock.release()

    def _forget_parent_state(self) -> None:
        """In a forked child: drop the parent's records and file; restart lazily."""
        self._lock = threading.Lock()
        self._backend.forget_parent()
        self._reset()
        self._set_lane_limit()


class _Chunks:
    """Side-file content given as chunks: iterated once, by the backend."""

    __slots__ = ("chunks",)

    def __init__(self, chunks: Iterable[bytes]) -> None:
        self.chunks = chunks

    def __iter__(self) -> Iterator[bytes]:
        for chunk in self.chunks:
            if not isinstance(chunk, (bytes, bytearray, memoryview)):
                raise TypeError(f"side file chunks must be bytes, got {type(chunk).__name__}")
            yield chunk
