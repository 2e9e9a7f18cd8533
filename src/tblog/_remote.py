"""Event files on object storage (``s3://``, ``gs://``, ``az://``, ``memory://`` ...).

Object stores cannot append, and fsspec's ``"ab"`` mode is broken on them
(gcsfs overwrites, adlfs fails on block blobs, s3fs re-uploads the whole
object). So a ``SegmentedEventFileWriter`` never appends: every flush (the
``flush_secs`` timer, a size threshold, ``flush()``, ``close()``) uploads a NEW
immutable object holding a ``file_version`` event and the records added since
the previous one. Bytes uploaded grow linearly with the data written.

Segment names sort in write order (zero-padded sequence number) and carry host
and pid, so two writers never collide and TensorBoard's Python loader follows
them one after the other, with or without ``--reload_multifile``::

    events.out.tfevents.{time:010d}.{host}.{pid}.{counter}.{seq:06d}{suffix}

Uploads run on one background thread per writer, strictly in order (TensorBoard's
default loader never goes back to a name that sorts before the one it reads).
A failed upload is retried with backoff, then raised by the owner's next call;
its segment stays queued, so nothing is dropped silently. The caller blocks
while ``_MAX_PENDING`` sealed segments wait for upload (back-pressure).

After ``fork()`` a child never uploads the parent's buffer or segments: its
first write starts a segment series of its own (new pid in the name).
"""

from __future__ import annotations

import collections
import itertools
import math
import os
import socket
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any

from tblog import _event_file, _storage
from tblog._event_file import EventFileWriter, _Serializable, check_name, event_file_name
from tblog._record import frame
from tblog._storage import Segment, filesystem, url_protocol

__all__ = ["SegmentedEventFileWriter", "filesystem", "open_event_writer", "url_protocol"]

#: Seal the open segment once it holds this many bytes (bounds memory and object size).
_SEGMENT_BYTES = 8 << 20
#: Sealed segments waiting for upload before the caller blocks (back-pressure).
_MAX_PENDING = 4
#: Deferred records (off-thread encodes) in the open segment before the caller
#: waits for the oldest, as ``EventFileWriter`` does.
_MAX_DEFERRED = 16
#: Upload attempts per segment before the error is handed to the owner, and the
#: first backoff (doubled each time, capped). The fsspec backends already retry
#: transient HTTP errors inside each attempt.
_ATTEMPTS = 4
_BACKOFF_SECS = 0.5
_MAX_BACKOFF_SECS = 8.0
#: Errors that no retry will fix (missing bucket, no permission).
_PERMANENT = (FileNotFoundError, PermissionError, IsADirectoryError, NotADirectoryError)

_series_counter = itertools.count()


def open_event_writer(
    logdir: str | os.PathLike[str],
    max_queue: int = 10,
    flush_secs: float = 120,
    filename_suffix: str = "",
) -> EventFileWriter | SegmentedEventFileWriter:
    """The event writer for ``logdir``: local files, or segments for a ``scheme://`` URL.

    ``file://`` URLs are local paths. Every other scheme goes through fsspec.

    Raises:
        ImportError: a URL whose fsspec backend is not installed.
        OSError: the first (header) segment could not be uploaded.
    """
    path = os.fspath(logdir)
    protocol = url_protocol(path)
    if protocol is None:
        return EventFileWriter(path, max_queue, flush_secs, filename_suffix)
    if protocol == "file":
        return EventFileWriter(path[len("file://") :], max_queue, flush_secs, filename_suffix)
    return SegmentedEventFileWriter(path, max_queue, flush_secs, filename_suffix)


class SegmentedEventFileWriter:
    """Writes event records to object storage as immutable rolling segments.

    Same interface as ``tblog._event_file.EventFileWriter``. ``max_queue`` is
    accepted for compatibility but does not cut segments: one object per few
    records would flood the bucket. Segments are cut every ``flush_secs``, at
    8 MiB, on ``flush()`` and on ``close()``; ``flush()`` returns once every
    record added before it is uploaded.

    Raises:
        TypeError: ``filename_suffix`` is not a str.
        ValueError: a bad ``max_queue``, ``flush_secs`` or ``filename_suffix``.
        ImportError: the URL's fsspec backend is missing.
        OSError: the header segment could not be uploaded (no bucket, no access).
    """

    def __init__(
        self,
        logdir: str | os.PathLike[str],
        max_queue: int = 10,
        flush_secs: float = 120,
        filename_suffix: str = "",
    ) -> None:
        if not isinstance(max_queue, int) or isinstance(max_queue, bool) or max_queue < 1:
            raise ValueError(f"max_queue must be a positive int, got {max_queue!r}")
        if not isinstance(flush_secs, (int, float)) or not flush_secs > 0:
            raise ValueError(f"flush_secs must be a positive number, got {flush_secs!r}")
        if not isinstance(filename_suffix, str):
            raise TypeError(f"filename_suffix must be a str, got {type(filename_suffix).__name__}")
        if filename_suffix:  # the longest name this writer makes must be valid too
            check_name(event_file_name("") + "0" * 16 + filename_suffix, "filename_suffix")
        self._logdir = os.fspath(logdir)
        self._max_queue = max_queue
        self._flush_secs = float(flush_secs)
        self._suffix = filename_suffix
        self._closed = False
        self._reset_state()
        self._start_series()
        # Upload the header-only first segment now: a wrong bucket or missing
        # credentials fail here, not minutes later on a background thread.
        header = Segment(self._next_path(), [], time.time())
        self._upload(header.path, header.payload()[0], attempts=1)
        self.path = header.path
        self._uploaded = self._sealed = 1
        _storage.register(self)

    # -- public API ---------------------------------------------------------

    def get_logdir(self) -> str:
        """The directory (URL) this writer writes into."""
        return self._logdir

    @property
    def closed(self) -> bool:
        return self._closed

    def add_record(self, data: bytes) -> None:
        """Queue one serialized ``Event``; cut a segment if the open one is full."""
        record = frame(data)
        with self._cond:
            self._check_open()
            if not self._buffer and not self._parts:
                self._opened_at = time.time()
                self._deadline = time.monotonic() + self._flush_secs
                self._cond.notify_all()  # the uploader's timer starts now
            self._buffer += record
            self._size += len(record)
            if self._size >= _SEGMENT_BYTES:
                self._seal_and_wait()

    def add_deferred(self, make_record: Callable[[], bytes]) -> None:
        """Queue a record whose serialized ``Event`` is built on a worker thread.

        Records keep their order. If ``make_record`` raises, the record is left
        out and the next call raises its exception.
        """
        future = _event_file._worker_pool().submit(make_record)
        with self._cond:
            try:
                self._check_open()
            except BaseException:
                future.cancel()
                raise
            if not self._buffer and not self._parts:
                self._opened_at = time.time()
                self._deadline = time.monotonic() + self._flush_secs
                self._cond.notify_all()
            if self._buffer:
                self._parts.append(bytes(self._buffer))
                self._buffer = bytearray()
            self._parts.append(future)
            self._deferred += 1
            if self._deferred >= _MAX_DEFERRED:
                self._resolve_deferred()
            if self._size >= _SEGMENT_BYTES:
                self._seal_and_wait()

    def add_event(self, event: _Serializable) -> None:
        """Queue an ``Event`` message (tblog's or tensorboard's: same wire format)."""
        self.add_record(event.SerializeToString())

    def flush(self) -> None:
        """Upload every queued record before returning.

        Raises:
            OSError: an upload failed after retries (its data stays queued).
        """
        with self._cond:
            if self._closed:
                return
            self._check_open()
            self._seal_and_wait()
            target = self._sealed
            while self._uploaded < target:
                self._raise_pending_error()
                self._cond.wait()
            self._raise_pending_error()

    def close(self) -> None:
        """Upload what is queued and stop the upload thread; idempotent.

        Segments that failed to upload get one more full round of retries here.

        Raises:
            OSError: some data could not be uploaded (it is lost; the message
                says how much).
            Exception: a deferred record's encoder raised (that record is left out).
        """
        with self._cond:
            if self._closed:
                return
            self._closed = True
            _storage.unregister(self)
            self._error = None  # resume a paused uploader for a last round
            self._seal()
            self._closing = True
            self._cond.notify_all()
            thread = self._thread
            if thread is None and self._pending:
                thread = self._start_thread()
        if thread is not None:
            thread.join()
        with self._cond:
            lost, self._pending = self._pending, collections.deque()
            failure, self._error = self._error, None
            record_error, self._record_error = self._record_error, None
        if lost:
            size = sum(segment.size() for segment in lost)
            raise OSError(
                f"closing event writer for {self._logdir!r}: {len(lost)} segment(s) "
                f"(about {size} bytes) could not be uploaded and are lost: {failure}"
            ) from failure
        if record_error is not None:
            raise record_error

    def __reduce__(self) -> tuple[object, ...]:
        raise TypeError(
            "a SegmentedEventFileWriter cannot be pickled: its buffer and upload thread "
            "belong to this process. Pickle the SummaryWriter instead."
        )

    # -- internals (called with self._cond held unless noted) -----------------

    def _reset_state(self) -> None:
        self._cond = threading.Condition(threading.Lock())
        self._fs: Any = None
        self._root = ""
        self._prefix = ""
        self._seq = 0
        self._buffer = bytearray()  # framed records after the last of _parts
        self._parts: list[bytes | Future[bytes]] = []
        self._size = 0  # bytes known to be in the open segment
        self._deferred = 0  # unresolved futures in _parts
        self._opened_at = 0.0
        self._deadline = math.inf
        self._pending: collections.deque[Segment] = collections.deque()
        self._sealed = 0  # segments sealed, ever
        self._uploaded = 0  # segments uploaded, ever
        self._error: BaseException | None = None  # upload failed; uploader paused
        self._record_error: BaseException | None = None  # a deferred record's encoder raised
        self._closing = False
        self._thread: threading.Thread | None = None
        self.path = ""

    def _start_series(self) -> None:
        """A new name series for this process: never shares a name with another."""
        self._fs, self._root = filesystem(self._logdir)
        self._root = self._root.rstrip("/")
        self._prefix = (
            f"events.out.tfevents.{int(time.time()):010d}.{socket.gethostname()}"
            f".{os.getpid()}.{next(_series_counter)}"
        )
        self._seq = 0

    def _next_path(self) -> str:
        if self._seq > 999_999:  # keep names sorting in write order
            self._start_series()
        path = f"{self._root}/{self._prefix}.{self._seq:06d}{self._suffix}"
        self._seq += 1
        return path

    def _check_open(self) -> None:
        if self._closed:
            raise ValueError(f"event file writer for {self._logdir!r} is closed")
        self._raise_pending_error()
        if self._thread is None:
            self._start_thread()

    def _start_thread(self) -> threading.Thread:
        self._thread = threading.Thread(target=self._run, name="tblog-upload", daemon=True)
        self._thread.start()
        return self._thread

    def _resolve_deferred(self) -> None:
        """Wait for the oldest deferred records so at most half the limit stay open."""
        for index, part in enumerate(self._parts):
            if self._deferred <= _MAX_DEFERRED // 2:
                break
            if isinstance(part, Future):
                self._deferred -= 1
                try:
                    data = frame(part.result())
                except BaseException:
                    del self._parts[index]
                    raise
                self._parts[index] = data
                self._size += len(data)

    def _seal(self) -> None:
        """Move the open segment to the upload queue (no-op when empty)."""
        if self._buffer:
            self._parts.append(bytes(self._buffer))
            self._buffer = bytearray()
        if not self._parts:
            return
        if not self._prefix:  # first segment of a forked child
            self._start_series()
        segment = Segment(self._next_path(), self._parts, self._opened_at)
        self._parts = []
        self._size = 0
        self._deferred = 0
        self._deadline = math.inf
        self._pending.append(segment)
        self._sealed += 1
        self._cond.notify_all()

    def _seal_and_wait(self) -> None:
        self._seal()
        while len(self._pending) > _MAX_PENDING:  # back-pressure
            self._raise_pending_error()
            self._cond.wait()

    def _raise_pending_error(self) -> None:
        """Raise a background error once. After an upload error the uploader
        resumes (its segment stayed queued); a failed encoder's record is gone."""
        if self._record_error is not None:
            error, self._record_error = self._record_error, None
            raise error
        if self._error is not None:
            error, self._error = self._error, None
            self._cond.notify_all()  # the uploader resumes
            raise OSError(
                f"uploading event segments to {self._logdir!r} failed after retries "
                f"({len(self._pending)} segment(s) kept queued; uploading resumes): {error}"
            ) from error

    def _run(self) -> None:
        """The upload thread: cuts segments when due and uploads them in order."""
        cond = self._cond
        with cond:
            while True:
                if self._pending and self._error is None:
                    segment = self._pending[0]
                    cond.release()
                    try:
                        data, failure = segment.payload()
                        error = self._upload(segment.path, data, _ATTEMPTS)
                    finally:
                        cond.acquire()
                    if failure is not None and self._record_error is None:
                        self._record_error = failure
                    if error is None:
                        self._pending.popleft()
                        self._uploaded += 1
                        self.path = segment.path
                    else:
                        self._error = error
                        if self._closing:
                            return
                    cond.notify_all()
                    continue
                if self._closing and (not self._pending or self._error is not None):
                    return
                now = time.monotonic()
                if now >= self._deadline:
                    self._seal()
                    continue
                timeout = None if self._deadline == math.inf else self._deadline - now
                cond.wait(timeout)

    def _upload(self, path: str, data: bytes, attempts: int) -> BaseException | None:
        """PUT one object (no lock held); the error after ``attempts`` tries, else None.

        With ``attempts=1`` (the constructor) the error is raised instead.
        """
        delay = _BACKOFF_SECS
        for attempt in range(attempts):
            try:
                self._fs.pipe_file(path, data)
                return None
            except Exception as exc:  # noqa: BLE001 - every backend has its own errors
                if attempts == 1:
                    raise OSError(f"cannot upload event file {path!r}: {exc}") from exc
                if isinstance(exc, _PERMANENT) or attempt == attempts - 1:
                    return exc
            time.sleep(delay)
            delay = min(delay * 2, _MAX_BACKOFF_SECS)
        return None  # not reached

    def _flush_before_exit(self, deadline: float) -> None:
        """Best-effort upload for a signal handler; never raises or blocks past
        ``deadline`` (``time.monotonic()``)."""
        if not self._cond.acquire(timeout=max(0.0, deadline - time.monotonic())):
            return
        try:
            if self._closed:
                return
            self._seal()
            if self._thread is None and self._pending:
                self._start_thread()
            target = self._sealed
            while self._uploaded < target and self._error is None:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return
                self._cond.wait(remaining)
        finally:
            self._cond.release()

    def _forget_parent_state(self) -> None:
        """In a forked child: drop the parent's records and queue; restart lazily.

        The parent uploads its own data; the child's first record starts a new
        series (its pid in the name), on a filesystem object of its own (the
        parent's fsspec event loop thread does not exist here).
        """
        closed = self._closed
        self._reset_state()
        self._closed = closed


