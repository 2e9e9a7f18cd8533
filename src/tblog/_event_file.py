"""The event file: naming, buffering, flushing and crash safety.

One ``EventFileWriter`` owns one ``events.out.tfevents.*`` file. Records are
framed on the caller's thread and collected in a byte buffer; the buffer goes
to the OS (one ``write``) when it holds ``max_queue`` records, when
``flush_secs`` have passed (checked by a single process-wide thread, not one
per writer), on ``flush()`` and on ``close()``. Bytes handed to the OS survive
a crash of the process, so a SIGKILL loses at most what was buffered.

Writers still open at interpreter exit are closed by an ``atexit`` hook. After
``fork()`` a child never touches the parent's file or buffer: its first write
opens a file of its own (the name carries the child's pid).
"""

from __future__ import annotations

import atexit
import collections
import itertools
import math
import os
import socket
import threading
import struct
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Protocol

from crc32c import crc32c

from tblog._record import _HEADER_CACHE, frame

FILE_VERSION = "brain.Event:2"

# Bytes buffered before a write even when fewer than max_queue records wait:
# keeps large records (images) from piling up in memory.
_MAX_BUFFER_BYTES = 1 << 20

# Deferred records (e.g. PNG encoding, which releases the GIL) waiting to be
# written before the caller blocks on the oldest: bounds memory and keeps order.
_MAX_DEFERRED = 16

_U32 = struct.Struct("<I")
_file_counter = itertools.count()  # process-wide, so two writers never share a name


class _Serializable(Protocol):
    def SerializeToString(self) -> bytes: ...  # noqa: N802 (protobuf's name)


def event_file_name(filename_suffix: str = "") -> str:
    """``events.out.tfevents.{10-digit time}.{host}.{pid}.{counter}{suffix}``."""
    return "events.out.tfevents.%010d.%s.%d.%d%s" % (
        int(time.time()),
        socket.gethostname(),
        os.getpid(),
        next(_file_counter),
        filename_suffix,
    )


def file_version_event(wall_time: float, step: int = 0) -> bytes:
    """The serialized first event of every file: ``file_version = "brain.Event:2"``."""
    from tblog.proto import event_pb2

    return event_pb2.Event(wall_time=wall_time, step=step, file_version=FILE_VERSION).SerializeToString()


class EventFileWriter:
    """Appends framed records to one event file in ``logdir``.

    Thread-safe. ``flush()`` returns once every record added before it has been
    handed to the OS. An I/O error raised while writing in the background is
    kept and raised by the next call; the unwritten records stay buffered.
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
        if not isinstance(filename_suffix, str) or any(c in filename_suffix for c in "/\\\0"):
            raise ValueError(
                f"filename_suffix must be a str without path separators or NUL, "
                f"got {filename_suffix!r}"
            )
        self._logdir = os.fspath(logdir)
        self._max_queue = max_queue
        self._flush_secs = float(flush_secs)
        self._suffix = filename_suffix
        self._lock = threading.Lock()
        self._buffer = bytearray()
        # Records handed in before _buffer's that are still being encoded:
        # bytes chunks and futures, written in order ahead of _buffer.
        self._queue: collections.deque[bytes | Future[bytes]] = collections.deque()
        self._deferred = 0  # futures in _queue
        self._pending = 0  # records in _queue and _buffer
        self._deadline = math.inf  # monotonic time by which _buffer must be written
        self._error: OSError | None = None
        self._closed = False
        self._fd: int | None = None
        self.path = ""
        with self._lock:
            self._open_new_file()
        _registry.add(self)

    # -- public API ---------------------------------------------------------

    def get_logdir(self) -> str:
        """The directory this writer writes into."""
        return self._logdir

    @property
    def closed(self) -> bool:
        return self._closed

    def add_record(self, data: bytes) -> None:
        """Queue one serialized ``Event``; write the queue out if it is full."""
        # frame() inlined: this runs once per add_scalar.
        header = _HEADER_CACHE.get(len(data))
        if header is None:
            record = frame(data)
        else:
            crc = crc32c(data)
            record = header + data + _U32.pack((((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF)
        with self._lock:
            if self._fd is None or self._error is not None:
                self._check_writable()
            buffer = self._buffer
            if not buffer and not self._queue:
                self._deadline = time.monotonic() + self._flush_secs
            buffer += record
            self._pending += 1
            if self._pending >= self._max_queue or len(buffer) >= _MAX_BUFFER_BYTES:
                self._write_or_raise()

    def add_deferred(self, make_record: Callable[[], bytes]) -> None:
        """Queue a record whose serialized ``Event`` is built off this thread.

        ``make_record`` runs on a shared worker pool (use it for work that
        releases the GIL, like compression); records keep their order in the
        file. If it raises, the next call that writes raises its exception.
        """
        future = _worker_pool().submit(make_record)
        with self._lock:
            if self._fd is None or self._error is not None:
                try:
                    self._check_writable()
                except BaseException:
                    future.cancel()
                    raise
            if not self._buffer and not self._queue:
                self._deadline = time.monotonic() + self._flush_secs
            if self._buffer:
                self._queue.append(bytes(self._buffer))
                self._buffer = bytearray()
            self._queue.append(future)
            self._deferred += 1
            self._pending += 1
            if self._pending >= self._max_queue or self._deferred >= _MAX_DEFERRED:
                self._write_or_raise()

    def add_event(self, event: _Serializable) -> None:
        """Queue an ``Event`` message (tblog's or tensorboard's: same wire format)."""
        self.add_record(event.SerializeToString())

    def flush(self) -> None:
        """Hand every queued record to the OS before returning."""
        with self._lock:
            if self._error is not None:
                self._raise_error()
            if (self._buffer or self._queue) and self._fd is not None:
                self._write_or_raise()

    def close(self) -> None:
        """Flush and close the file. Calling it again does nothing."""
        with self._lock:
            if self._closed:
                return
            try:
                if self._error is not None:
                    self._raise_error()
                if (self._buffer or self._queue) and self._fd is not None:
                    self._write_or_raise()
            finally:
                self._closed = True
                _registry.discard(self)
                if self._fd is not None:
                    fd, self._fd = self._fd, None
                    os.close(fd)

    # -- internals (called with self._lock held) ------------------------------

    def _check_writable(self) -> None:
        """Raise if closed or failed; in a forked child, open the child's own file."""
        if self._closed:
            raise ValueError(f"event file writer for {self._logdir!r} is closed")
        if self._error is not None:
            self._raise_error()
        if self._fd is None:  # first write in a forked child
            self._open_new_file()

    def _open_new_file(self) -> None:
        os.makedirs(self._logdir, exist_ok=True)
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND | getattr(os, "O_CLOEXEC", 0)
        while True:  # O_EXCL: never truncate or share another writer's file
            path = os.path.join(self._logdir, event_file_name(self._suffix))
            try:
                self._fd = os.open(path, flags, 0o644)
                break
            except FileExistsError:
                continue
        self.path = path
        self._buffer = bytearray(frame(file_version_event(time.time())))
        self._pending = 1
        self._write_or_raise()  # the header reaches disk at once, as torch's does

    def _write_buffer(self) -> None:
        while self._queue:  # older deferred records first, in order
            item = self._queue[0]
            if isinstance(item, Future):
                try:
                    data = frame(item.result())
                except BaseException:
                    self._queue.popleft()  # a record that failed to build is dropped
                    self._deferred -= 1
                    self._pending -= 1
                    raise
                self._write_all(data)
                self._deferred -= 1
            else:
                self._write_all(item)
            self._queue.popleft()
        self._write_all(self._buffer)
        self._buffer = bytearray()
        self._pending = 0
        self._deadline = math.inf

    def _write_all(self, buffer: bytes | bytearray) -> None:
        written = 0
        try:
            while written < len(buffer):  # os.write may write less than asked
                written += os.write(self._fd, buffer if not written else buffer[written:])
        except OSError:
            if written:  # keep what did not reach the file
                if buffer is self._buffer:
                    del buffer[:written]
                else:
                    self._queue[0] = buffer[written:]
            raise

    def _write_or_raise(self) -> None:
        try:
            self._write_buffer()
        except OSError as exc:
            self._error = exc
            self._raise_error()

    def _raise_error(self) -> None:
        """Raise the pending I/O error (once); unwritten records stay buffered."""
        error, self._error = self._error, None
        raise OSError(
            error.errno,
            f"writing event file {self.path!r} failed ({len(self._buffer)} bytes "
            f"still buffered): {error.strerror or error}",
        ) from error

    def _flush_if_due(self, now: float) -> None:
        if now < self._deadline or not self._lock.acquire(blocking=False):
            return
        try:
            if (
                (self._buffer or self._queue)
                and self._fd is not None
                and self._error is None
                and now >= self._deadline
            ):
                try:
                    self._write_buffer()
                except OSError as exc:
                    self._error = exc  # raised by the owner's next call
        finally:
            self._lock.release()

    def _forget_parent_state(self) -> None:
        """In a forked child: drop the parent's buffer and file; reopen lazily."""
        self._lock = threading.Lock()
        self._buffer = bytearray()
        self._queue = collections.deque()
        self._deferred = 0
        self._pending = 0
        self._deadline = math.inf
        if self._fd is not None:
            os.close(self._fd)  # the child's copy only; the parent keeps its own
            self._fd = None


_pool: ThreadPoolExecutor | None = None
_pool_lock = threading.Lock()


def _worker_pool() -> ThreadPoolExecutor:
    global _pool
    if _pool is None:
        with _pool_lock:
            if _pool is None:
                workers = min(4, os.cpu_count() or 1)
                _pool = ThreadPoolExecutor(workers, thread_name_prefix="tblog-encode")
    return _pool


class _Registry:
    """Open writers of this process, for the flush thread, atexit and fork."""

    def __init__(self) -> None:
        self._writers: set[EventFileWriter] = set()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._wakeup = threading.Event()

    def add(self, writer: EventFileWriter) -> None:
        with self._lock:
            self._writers.add(writer)
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="tblog-flush", daemon=True
                )
                self._thread.start()

    def discard(self, writer: EventFileWriter) -> None:
        with self._lock:
            self._writers.discard(writer)

    def snapshot(self) -> list[EventFileWriter]:
        with self._lock:
            return list(self._writers)

    def _run(self) -> None:
        # Wakes once a second: flush_secs is honoured to about a second.
        while not self._wakeup.wait(1.0):
            now = time.monotonic()
            for writer in self.snapshot():
                writer._flush_if_due(now)

    def close_all(self) -> None:
        self._wakeup.set()
        for writer in self.snapshot():
            try:
                writer.close()
            except Exception:  # noqa: BLE001 - at exit, keep closing the others
                pass

    def after_fork_in_child(self) -> None:
        global _pool, _pool_lock
        _pool, _pool_lock = None, threading.Lock()  # the parent's threads are gone
        self._lock = threading.Lock()
        self._thread = None
        self._wakeup = threading.Event()
        for writer in list(self._writers):
            writer._forget_parent_state()
        if self._writers:
            self._thread = threading.Thread(target=self._run, name="tblog-flush", daemon=True)
            self._thread.start()


_registry = _Registry()
atexit.register(_registry.close_all)
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_registry.after_fork_in_child)
