"""The event file: naming, buffering, flushing and crash safety.

One ``EventFileWriter`` owns one ``events.out.tfevents.*`` file. Records are
framed on the caller's thread and collected in a byte buffer; the buffer goes
to the OS (one ``write``) when it holds ``max_queue`` records, when
``flush_secs`` have passed (checked by a single process-wide thread, not one
per writer), on ``flush()`` and on ``close()``. Bytes handed to the OS survive
a crash of the process, so a SIGKILL loses at most what was buffered.

Writers still open at interpreter exit are closed by an ``atexit`` hook; in a
``multiprocessing`` child (which ends with ``os._exit``, skipping atexit) by a
``multiprocessing`` finalizer; on SIGTERM, if nobody else handles it, by a
handler that flushes every writer and then dies of SIGTERM as it would have.
After ``fork()`` a child never touches the parent's file or buffer: its first
write opens a file of its own (the name carries the child's pid).

Failures are never silent: an I/O error is raised by the call that hit it (or,
when the background flush hit it, by the owner's next call), with the
unwritten records kept. Before writing (at most once a second, and on every
``flush()``/``close()``) the writer checks that its descriptor still is its
file: a deleted file or logdir, or a descriptor closed and reused outside
tblog, is reported instead of writing into the void or into another file.
See docs/reliability.md.
"""

from __future__ import annotations

import collections
import contextlib
import errno
import itertools
import math
import numbers
import os
import socket
import struct
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from typing import Protocol

from crc32c import crc32c

from tblog._convert import to_text
from tblog._lifecycle import registry as _registry
from tblog._lifecycle import worker_pool as _worker_pool
from tblog._record import _HEADER_CACHE, frame

FILE_VERSION = "brain.Event:2"

# Bytes buffered before a write even when fewer than max_queue records wait:
# keeps large records (images) from piling up in memory.
_MAX_BUFFER_BYTES = 1 << 20

# Deferred records (e.g. PNG encoding, which releases the GIL) waiting to be
# written before the caller blocks on the oldest: bounds memory and keeps order.
_MAX_DEFERRED = 16

# How often a write first checks that the descriptor is still this writer's
# file (an fstat, about a microsecond); flush() and close() always check.
_CHECK_INTERVAL = 1.0

# Longest file name (in bytes) common file systems accept.
_MAX_NAME_BYTES = 255

_U32 = struct.Struct("<I")
_side_file_lock = threading.Lock()
_file_counter = itertools.count()  # process-wide, so two writers never share a name


class _Serializable(Protocol):
    def SerializeToString(self) -> bytes: ...  # noqa: N802 (protobuf's name)


def event_file_name(filename_suffix: str = "") -> str:
    """``events.out.tfevents.{10-digit time}.{host}.{pid}.{counter}{suffix}``."""
    return (
        f"events.out.tfevents.{int(time.time()):010d}.{socket.gethostname()}."
        f"{os.getpid()}.{next(_file_counter)}{filename_suffix}"
    )


def check_name(name: str, what: str) -> str:
    """Return ``name`` if it can be one file or directory name inside a directory.

    Used for every name tblog derives from user input (run directories of
    ``add_scalars``, the ``filename_suffix``), so none can point outside the
    logdir or fail half-way through a call.

    Raises:
        ValueError: ``name`` is empty, ``.`` or ``..``, holds ``/``, ``\\`` or
            NUL, is not valid UTF-8 text (e.g. a lone surrogate), or is longer
            than 255 bytes.
    """
    if name in ("", ".", "..") or any(c in name for c in "/\\\0"):
        raise ValueError(
            f"{what} {name!r} must be a single file name: no path separators ('/', '\\') "
            "or NUL, and not '', '.' or '..'"
        )
    try:
        size = len(name.encode("utf-8"))
    except UnicodeEncodeError as exc:
        raise ValueError(f"{what} {name!r} is not valid UTF-8 text: {exc.reason}") from None
    if size > _MAX_NAME_BYTES:
        raise ValueError(f"{what} is {size} bytes long; file names are limited to 255 bytes")
    return name


def check_event_record(data: bytes) -> bytes:
    """Return ``data`` if it is a serialized ``Event`` with a finite ``wall_time``.

    For bytes from outside tblog's own encoders: a record that does not parse
    kills TensorBoard's Python reloader (for every run), and a NaN wall_time
    makes its Rust loader drop the rest of the file.

    Raises:
        TypeError: ``data`` is not bytes.
        ValueError: it does not parse as an ``Event``, or its wall_time is not finite.
    """
    from google.protobuf.message import DecodeError

    from tblog.proto import event_pb2

    if not isinstance(data, (bytes, bytearray)):
        raise TypeError(f"record must be bytes (a serialized Event), got {type(data).__name__}")
    try:
        event = event_pb2.Event.FromString(data)
    except DecodeError as exc:
        raise ValueError(f"record is not a serialized Event: {exc}") from None
    if not math.isfinite(event.wall_time):
        raise ValueError(f"record's wall_time must be finite, got {event.wall_time!r}")
    return bytes(data)


def file_version_event(wall_time: float, step: int = 0) -> bytes:
    """The serialized first event of every file: ``file_version = "brain.Event:2"``."""
    from tblog.proto import event_pb2

    event = event_pb2.Event(wall_time=wall_time, step=step, file_version=FILE_VERSION)
    return event.SerializeToString()


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
        if not isinstance(max_queue, numbers.Integral) or isinstance(max_queue, bool):
            raise TypeError(f"max_queue must be an int, got {type(max_queue).__name__}")
        if max_queue < 1:
            raise ValueError(f"max_queue must be at least 1, got {max_queue!r}")
        if not isinstance(flush_secs, numbers.Real) or isinstance(flush_secs, bool):
            raise TypeError(f"flush_secs must be a number, got {type(flush_secs).__name__}")
        if not flush_secs > 0:  # also NaN
            raise ValueError(f"flush_secs must be positive, got {flush_secs!r}")
        to_text(filename_suffix, "filename_suffix")
        if any(c in filename_suffix for c in "/\\\0"):
            raise ValueError(
                f"filename_suffix {filename_suffix!r} must not contain '/', '\\' or NUL"
            )
        # The whole file name, with a generous counter width, must fit too.
        check_name(event_file_name("") + "0" * 8 + filename_suffix, "filename_suffix")
        max_queue = int(max_queue)
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
        self._error: BaseException | None = None  # raised by the next call
        self._closed = False
        self._fd: int | None = None
        self._fd_id = (0, 0)  # (st_dev, st_ino) of the file _fd was opened on
        self._next_check = 0.0  # monotonic time of the next descriptor check
        self._size = 0  # bytes in the current file, after its last whole write
        # (chunk, file size before it) of the write in progress: see _skip_written_head.
        self._writing: tuple[bytes | bytearray, int] | None = None
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

    @property
    def max_queue(self) -> int:
        return self._max_queue

    @property
    def flush_secs(self) -> float:
        return self._flush_secs

    @property
    def filename_suffix(self) -> str:
        return self._suffix

    def add_record(self, data: bytes) -> None:
        """Queue one serialized ``Event``; write the queue out if it is full."""
        # frame() inlined: this runs once per add_scalar.
        header = _HEADER_CACHE.get(len(data))
        if header is None:
            record = frame(data)
        else:
            crc = crc32c(data)
            crc = (((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF
            record = header + data + _U32.pack(crc)
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
            if self._writing is not None:  # before _buffer becomes another chunk
                self._skip_written_head()
            if self._buffer:
                self._queue.append(bytes(self._buffer))
                self._buffer = bytearray()
            self._queue.append(future)
            self._deferred += 1
            self._pending += 1
            if self._pending >= self._max_queue or self._deferred >= _MAX_DEFERRED:
                self._write_or_raise()

    def add_event(self, event: _Serializable) -> None:
        """Queue an ``Event`` message (tblog's or tensorboard's: same wire format).

        Raises:
            ValueError: its ``wall_time`` is NaN or infinite (TensorBoard's
                default loader stops reading a file at such an event).
        """
        wall_time = getattr(event, "wall_time", 0.0)
        if not math.isfinite(wall_time):
            raise ValueError(f"event wall_time must be finite, got {wall_time!r}")
        self.add_record(event.SerializeToString())

    def flush(self) -> None:
        """Hand every queued record to the OS before returning.

        Raises:
            OSError: writing failed, or the file was deleted or its descriptor
                closed outside tblog (the message says what became of the records).
        """
        with self._lock:
            self._flush_locked(closing=False)

    def close(self) -> None:
        """Flush and close the file. Calling it again does nothing.

        Raises:
            OSError: as ``flush()``; the writer is closed all the same.
        """
        with self._lock:
            if self._closed:
                return
            try:
                self._flush_locked(closing=True)
            finally:
                self._closed = True
                _registry.discard(self)
                if self._fd is not None:
                    fd, self._fd = self._fd, None
                    with contextlib.suppress(OSError):
                        os.close(fd)

    def write_file(self, relative: str, data: bytes) -> None:
        """Store a side file under the run directory (temp file + rename)."""
        parts = relative.split("/")
        for part in parts:
            check_name(part, "side file path part")
        path = os.path.join(self._logdir, *parts)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        temp = f"{path}.tmp.{os.getpid()}.{threading.get_ident()}"
        try:
            with open(temp, "wb") as file:
                file.write(data)
            os.replace(temp, path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.remove(temp)
            raise

    def update_file(self, relative: str, update: Callable[[bytes | None], bytes]) -> None:
        """Replace a side file by ``update(old bytes or None)`` under an exclusive lock."""
        import fcntl

        with _side_file_lock:
            fd = os.open(self._logdir, os.O_RDONLY)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)
                try:
                    with open(os.path.join(self._logdir, *relative.split("/")), "rb") as file:
                        old: bytes | None = file.read()
                except FileNotFoundError:
                    old = None
                self.write_file(relative, update(old))
            finally:
                os.close(fd)

    def __reduce__(self) -> tuple[object, ...]:
        raise TypeError(
            "an EventFileWriter cannot be pickled: its open file belongs to this process. "
            "Pickle the SummaryWriter instead; where it is unpickled it writes a new "
            "event file of its own in the same log_dir."
        )

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
        """Create a new event file and write its header; records already
        buffered (kept after the previous file was lost) follow it."""
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND | getattr(os, "O_CLOEXEC", 0)
        try:
            os.makedirs(self._logdir, exist_ok=True)
            while True:  # O_EXCL: never truncate or share another writer's file
                path = os.path.join(self._logdir, event_file_name(self._suffix))
                try:
                    fd = os.open(path, flags, 0o644)
                    break
                except FileExistsError:
                    continue
        except OSError as exc:
            raise OSError(
                exc.errno, f"cannot create an event file in {self._logdir!r}: {exc.strerror}"
            ) from exc
        try:
            stat = os.fstat(fd)
            header = frame(file_version_event(time.time()))
            written = 0
            while written < len(header):  # reaches disk at once, as torch's does
                written += os.write(fd, header[written:])
        except BaseException:
            # Records after a partial header would be unreadable: drop the file.
            os.close(fd)
            with contextlib.suppress(OSError):
                os.unlink(path)
            raise
        self._fd = fd
        self._fd_id = (stat.st_dev, stat.st_ino)
        self._size = len(header)
        self._writing = None  # whatever was cut short went to the old file
        self._next_check = time.monotonic() + _CHECK_INTERVAL
        self.path = path
        _registry.file_opened()

    def _check_file(self) -> None:
        """Raise OSError unless ``_fd`` is still this writer's live event file.

        A write alone would not notice a file deleted while open (with its
        logdir, say: the records vanish) nor a descriptor closed outside tblog
        whose number now belongs to another file (the records would corrupt
        it). The writer then lets go of the descriptor and keeps its unwritten
        records; the next record starts a new file.
        """
        fd = self._fd
        try:
            stat = os.fstat(fd)
        except OSError as exc:
            self._fd = None
            raise OSError(exc.errno, "its file descriptor was closed outside tblog") from exc
        if (stat.st_dev, stat.st_ino) != self._fd_id:
            self._fd = None  # another file's descriptor now: never write to or close it
            raise OSError(
                errno.EBADF,
                "its file descriptor was closed outside tblog and now belongs to another file",
            )
        if stat.st_nlink == 0:
            self._fd = None
            os.close(fd)
            raise OSError(
                errno.ENOENT,
                "the file was deleted while open (was the logdir removed?); "
                "the records written to it are lost",
            )

    def _flush_locked(self, closing: bool) -> None:
        if self._error is not None:
            self._raise_error(closing)
        if self._fd is None and not (self._buffer or self._queue):
            return  # a forked child that never wrote, or nothing left to write
        try:
            if self._fd is not None:
                self._check_file()
                self._next_check = time.monotonic() + _CHECK_INTERVAL
            if self._buffer or self._queue:
                if self._fd is None:
                    self._open_new_file()
                self._write_buffer()
        except OSError as exc:
            self._store_os_error(exc)
            self._raise_error(closing)

    def _write_buffer(self) -> None:
        now = time.monotonic()
        if now >= self._next_check:
            self._check_file()
            self._next_check = now + _CHECK_INTERVAL
        if self._writing is not None:
            self._skip_written_head()
        failure: Exception | None = None
        while self._queue:  # older deferred records first, in order
            item = self._queue[0]
            if isinstance(item, Future):
                try:
                    data = frame(item.result())
                except Exception as exc:
                    # A record that failed to build is dropped; the records
                    # after it are still written, then its error is raised.
                    self._queue.popleft()
                    self._deferred -= 1
                    self._pending -= 1
                    failure = failure or exc
                    continue
                # Framed bytes replace the future, so a partial write keeps the rest.
                item = self._queue[0] = data
                self._deferred -= 1
            self._write_all(item)
            self._queue.popleft()
        self._write_all(self._buffer)
        self._buffer = bytearray()
        self._writing = None
        self._pending = 0
        self._deadline = math.inf
        if failure is not None:
            raise failure

    def _write_all(self, chunk: bytes | bytearray) -> None:
        """Write the chunk at the head of _queue (or _buffer) to the file.

        The caller then removes it. ``_writing`` and ``_size`` are updated in
        an order that keeps them right wherever an exception from a signal
        handler lands (see ``_skip_written_head``).
        """
        self._writing = (chunk, self._size)
        written = 0
        try:
            while written < len(chunk):  # os.write may write less than asked
                written += os.write(self._fd, chunk if not written else chunk[written:])
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
        """Drop what a write cut short by an exception already put in the file.

        A signal handler's exception (KeyboardInterrupt on Ctrl-C) can land
        after ``os.write`` returned and before the chunk left the head of the
        queue; writing it again would duplicate its records. While the chunk
        ``_writing`` names is still at the head, the file's size (only this
        writer appends to it) tells how much of it went out. Once the chunk
        has left the head, ``_size`` already counts it and nothing is dropped.
        """
        (chunk, size_before), self._writing = self._writing, None
        head = self._queue[0] if self._queue else self._buffer
        if head is not chunk or self._fd is None:
            return
        self._size = os.fstat(self._fd).st_size
        written = self._size - size_before
        if head is self._buffer:
            self._buffer = self._buffer[written:]
        elif written >= len(head):
            self._queue.popleft()
        else:
            self._queue[0] = head[written:]

    def _write_or_raise(self) -> None:
        try:
            self._write_buffer()
        except OSError as exc:
            self._store_os_error(exc)
            self._raise_error()

    def _store_os_error(self, exc: OSError) -> None:
        if exc.errno == errno.EBADF and self._fd is not None:
            self._fd = None  # not ours any more: the next record opens a new file
            reason = f"its file descriptor was closed outside tblog ({exc.strerror})"
            exc = OSError(errno.EBADF, reason)
        self._error = exc

    def _raise_error(self, closing: bool = False) -> None:
        """Raise the pending error (once); unwritten records stay buffered."""
        error, self._error = self._error, None
        if not isinstance(error, OSError):
            raise error  # a deferred record's builder failed: its own exception
        unwritten = len(self._buffer) + sum(
            len(item) for item in self._queue if not isinstance(item, Future)
        )
        what = f"{unwritten} bytes of records"
        if self._deferred:
            what += f" and {self._deferred} records being encoded"
        if closing:
            fate = f"{what} could not be written and are lost"
        elif self._fd is None:
            fate = f"{what} not yet written are kept for a new file, opened by the next record"
        else:
            fate = f"{what} not yet written are kept and retried by the next write"
        raise OSError(
            error.errno,
            f"writing event file {self.path!r} failed: {error.strerror or error}; {fate}",
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
                    self._store_os_error(exc)  # raised by the owner's next call
                except Exception as exc:  # noqa: BLE001 - a deferred builder's; same
                    self._error = exc
        finally:
            self._lock.release()

    def _flush_before_exit(self, deadline: float) -> None:
        """Best-effort flush for the SIGTERM handler; never raises or blocks past ``deadline``."""
        if not self._lock.acquire(timeout=max(0.0, deadline - time.monotonic())):
            return
        try:
            if (self._buffer or self._queue) and self._fd is not None and not self._closed:
                self._write_buffer()
        except Exception:  # noqa: BLE001 - the process is about to die anyway
            pass
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
        self._error = None
        self._next_check = 0.0
        self._writing = None
        if self._fd is not None:
            os.close(self._fd)  # the child's copy only; the parent keeps its own
            self._fd = None
