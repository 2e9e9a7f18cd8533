"""The buffering core of every event writer: queue, deferred records, deadlines, kept errors.

One ``EventWriter`` serves one run directory over one storage backend (a local
file, ``tblog._local_file``, or object-store segments, ``tblog._segments``).
Records are framed on the caller's thread into a byte buffer; records built
off-thread (``add_deferred``) wait in the queue in order as futures. The
queue goes to the backend (``write_some`` chunk by chunk, then ``commit``)
when it holds ``max_queue`` records (local files only: an object per ten
records would flood a bucket) or the backend's byte limit, when
``flush_secs`` have passed (checked by the one process-wide flush thread of
``tblog._lifecycle``), on ``flush()`` and on ``close()``.

Failures are never silent: an I/O error is raised by the call that hit it
(or, when the background flush hit it, by the owner's next call), with the
unwritten records kept. A write cut short by an exception from a signal
handler (``KeyboardInterrupt``) duplicates nothing: the chunk being written
is marked first, and the next write asks the backend how much of it went out.
"""

from __future__ import annotations

import collections
import math
import struct
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from typing import Protocol

from crc32c import crc32c

from tblog._lifecycle import registry, worker_pool
from tblog._names import check_relative, check_settings
from tblog._record import _HEADER_CACHE, frame

# Deferred records (e.g. PNG encoding, which releases the GIL) waiting before the
# caller blocks on the oldest half: bounds memory and keeps order.
_MAX_DEFERRED = 16

# How often a write first checks the backend (local: that the descriptor is
# still this writer's file, an fstat of about a microsecond); flush() and
# close() always check.
_CHECK_INTERVAL = 1.0

_U32 = struct.Struct("<I")


class StorageError(OSError):
    """An error a backend has already described in full; raised as it is."""


class Backend(Protocol):
    """What the core needs of a storage backend. Called with the core's lock held,
    except ``sync`` and the side-file methods."""

    path: str  # the current file or segment (a URL for object storage)
    byte_limit: int  # buffered bytes that make the core write
    counts_records: bool  # whether max_queue makes the core write
    closes_early: bool  # closed from threading's exit hooks (see tblog._lifecycle)

    @property
    def is_open(self) -> bool: ...
    def open(self, first: bool) -> int: ...  # start a file or series; returns position()
    def write_some(self, data: bytes | bytearray) -> int: ...  # like os.write
    def position(self) -> int: ...  # bytes written so far (after a cut-short write)
    def commit(self, wait: bool) -> None: ...  # end of one batch of writes
    def check(self) -> None: ...  # raise OSError if the target is gone
    def raise_pending(self) -> None: ...  # raise a background failure (StorageError)
    def sync(self) -> None: ...  # wait until committed batches are stored
    def wait_stored(self, deadline: float) -> None: ...  # sync for a signal handler
    def close(self) -> None: ...
    def forget_parent(self) -> None: ...  # in a forked child
    def write_file(self, parts: list[str], data: bytes) -> None: ...
    def update_file(self, parts: list[str], update: Callable[[bytes | None], bytes]) -> None: ...


class EventWriter:
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
        self._backend = backend(logdir, filename_suffix, self._raise_alert)
        self._record_limit = max_queue if self._backend.counts_records else sys.maxsize
        self._lock = threading.Lock()
        self._closed = False
        self._reset()
        with self._lock:
            self._open_backend(first=True)
        registry.add(self)

    def _reset(self) -> None:
        self._buffer = bytearray()  # framed records after the last of _queue
        # Chunks before _buffer: framed bytes and futures of deferred records, in order.
        self._queue: collections.deque[bytes | bytearray | Future[bytes]] = collections.deque()
        self._queued = 0  # framed bytes in _queue
        self._room = self._backend.byte_limit  # bytes _buffer may hold before a write
        self._deferred = 0  # futures in _queue
        self._pending = 0  # records in _queue and _buffer
        self._deadline = math.inf  # monotonic time by which the queue must be written
        self._error: BaseException | None = None  # raised by the next call
        self._next_check = 0.0  # monotonic time of the next backend check
        self._size = 0  # backend position after the last whole write
        # (chunk, position before it) of the write in progress: see _skip_written_head.
        self._writing: tuple[bytes | bytearray, int] | None = None
        # Checked first by every call: closed, an error, a backend to (re)open.
        self._alert = True

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
        # frame() inlined: this runs once per add_scalar.
        header = _HEADER_CACHE.get(len(data))
        if header is None:
            record = frame(data)
        else:
            crc = crc32c(data)
            crc = (((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF
            record = header + data + _U32.pack(crc)
        with self._lock:
            if self._alert:
                self._check_writable()
            buffer = self._buffer
            if not buffer and not self._queue:
                self._deadline = time.monotonic() + self._flush_secs
            buffer += record
            self._pending += 1
            if self._pending >= self._record_limit or len(buffer) >= self._room:
                self._write_or_raise()

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
            if not self._buffer and not self._queue:
                self._deadline = time.monotonic() + self._flush_secs
            if self._buffer:  # moved, not copied: a cut-short write keeps its mark
                self._queued += len(self._buffer)
                self._queue.append(self._buffer)
                self._buffer = bytearray()
            self._queue.append(future)
            self._deferred += 1
            self._pending += 1
            if self._deferred >= _MAX_DEFERRED:
                self._resolve_oldest()
            self._room = self._backend.byte_limit - self._queued
            if self._pending >= self._record_limit or self._room <= 0:
                self._write_or_raise()

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
            failure = None
            try:
                failure = self._flush_locked(closing=True)
            finally:
                self._closed = self._alert = True
                registry.discard(self)
                self._backend.close()
        if failure is not None:
            raise failure

    def write_file(self, relative: str, data: bytes) -> None:
        """Store ``data`` as the file ``relative`` (``/``-separated) in the run directory.

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
            raise TypeError(f"side file data must be bytes, got {type(data).__name__}")
        self._check_open()
        self._backend.write_file(parts, bytes(data))

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
        self._alert = False
        backend = self._backend
        try:
            self._check_open()
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
        self._size = self._backend.open(first)
        self._writing = None  # whatever was cut short went to the old file
        self._next_check = time.monotonic() + _CHECK_INTERVAL
        registry.file_opened()

    def _resolve_oldest(self) -> None:
        """Wait for the oldest deferred records until half the limit stay open."""
        queue = self._queue
        for index in range(len(queue)):
            if self._deferred <= _MAX_DEFERRED // 2:
                break
            item = queue[index]
            if isinstance(item, Future):
                self._deferred -= 1
                try:
                    data = frame(item.result())
                except BaseException:
                    del queue[index]
                    self._pending -= 1
                    raise
                queue[index] = data
                self._queued += len(data)

    def _flush_locked(self, closing: bool) -> BaseException | None:
        """Write everything queued; returns a deferred builder's exception to raise."""
        if self._error is not None:
            self._raise_error(closing)
        backend = self._backend
        if not closing:
            backend.raise_pending()
        has_data = bool(self._buffer or self._queue)
        if not backend.is_open and not has_data:
            return None  # a forked child that never wrote, or nothing left to write
        try:
            if backend.is_open:
                backend.check()
                self._next_check = time.monotonic() + _CHECK_INTERVAL
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

    def _drain(self, wait: bool) -> Exception | None:
        """Hand every queued chunk to the backend in order, then commit the batch.

        A deferred record that failed to build is left out and its exception
        returned; the records after it are still written.
        """
        backend = self._backend
        now = time.monotonic()
        if now >= self._next_check:
            backend.check()
            self._next_check = now + _CHECK_INTERVAL
        if self._writing is not None:
            self._skip_written_head()
        failure: Exception | None = None
        queue = self._queue
        while queue:  # older chunks and deferred records first, in order
            item = queue[0]
            if isinstance(item, Future):
                try:
                    data = frame(item.result())
                except Exception as exc:
                    queue.popleft()
                    self._deferred -= 1
                    self._pending -= 1
                    failure = failure or exc
                    continue
                # Framed bytes replace the future, so a partial write keeps the rest.
                item = queue[0] = data
                self._deferred -= 1
            self._write_all(item)
            queue.popleft()
        self._write_all(self._buffer)
        self._buffer = bytearray()
        self._writing = None
        self._pending = self._queued = 0
        self._room = backend.byte_limit
        self._deadline = math.inf
        backend.commit(wait)
        return failure

    def _write_all(self, chunk: bytes | bytearray) -> None:
        """Write the chunk at the head of _queue (or _buffer) to the backend.

        The caller then removes it. ``_writing`` and ``_size`` are updated in
        an order that keeps them right wherever an exception from a signal
        handler lands (see ``_skip_written_head``).
        """
        self._writing = (chunk, self._size)
        written = 0
        write = self._backend.write_some
        try:
            while written < len(chunk):  # a write may take less than asked
                written += write(chunk if not written else chunk[written:])
        except OSError:
            self._writing = None
            self._size += written
            if written:  # keep what did not reach the file
                if chunk is self._buffer:
                    del chunk[:written]
                else:
                    self._queue[0] = chunk[written:]
            raise
        self._size += written  # before the caller removes the chunk: see below

    def _skip_written_head(self) -> None:
        """Drop what a write cut short by an exception already stored.

        A signal handler's exception (KeyboardInterrupt on Ctrl-C) can land
        after the write returned and before the chunk left the head of the
        queue; writing it again would duplicate its records. While the chunk
        ``_writing`` names is still at the head, the backend's position (only
        this writer appends there) tells how much of it went out. Once the
        chunk has left the head, ``_size`` already counts it.
        """
        (chunk, size_before), self._writing = self._writing, None
        head = self._queue[0] if self._queue else self._buffer
        if head is not chunk or not self._backend.is_open:
            return
        self._size = self._backend.position()
        written = self._size - size_before
        if head is self._buffer:
            self._buffer = self._buffer[written:]
        elif written >= len(head):
            self._queue.popleft()
        else:
            self._queue[0] = head[written:]

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

    def _raise_error(self, closing: bool = False) -> None:
        """Raise the pending error (once); unwritten records stay queued."""
        error, self._error = self._error, None
        self._alert = True  # the next call looks again (a file to reopen, say)
        if not isinstance(error, OSError) or isinstance(error, StorageError):
            raise error  # a deferred record's builder failed: its own exception
        unwritten = len(self._buffer) + sum(
            len(item) for item in self._queue if not isinstance(item, Future)
        )
        what = f"{unwritten} bytes of records"
        if self._deferred:
            what += f" and {self._deferred} records being encoded"
        if closing:
            fate = f"{what} could not be written and are lost"
        elif not self._backend.is_open:
            fate = f"{what} not yet written are kept for a new file, opened by the next record"
        else:
            fate = f"{what} not yet written are kept and retried by the next write"
        raise OSError(
            error.errno,
            f"writing event file {self.path!r} failed: {error.strerror or error}; {fate}",
        ) from error

    # -- called by tblog._lifecycle ------------------------------------------------

    def _flush_if_due(self, now: float) -> None:
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
