"""The record queue of an event writer: framed chunks and deferred records, written in order.

``RecordQueue`` holds what a writer has not stored yet: a byte buffer of framed
records and, before it, a queue of older chunks and futures of records being
built off-thread. ``_drain`` hands them to the storage backend (``Backend``,
below) in order, chunk by chunk, then commits the batch. A write cut short by
an exception from a signal handler (``KeyboardInterrupt``) duplicates nothing:
the backend marks the chunk it writes, and the next drain asks it how much of
the marked chunk went out. ``tblog._event_writer.EventWriter`` builds on it.
"""

from __future__ import annotations

import collections
import math
import time
from collections.abc import Callable, Iterable
from concurrent.futures import Future
from typing import Protocol

from tblog._record import frame
from tblog._scalar_event import ScalarEventEncoder

# Deferred records (e.g. PNG encoding, which releases the GIL) waiting before the
# caller blocks on the oldest half: bounds memory and keeps order.
MAX_DEFERRED = 16

# Records the lane (see RecordQueue) holds before they move into the buffer, when
# max_queue allows more: bounds its memory whatever max_queue is.
LANE_MAX = 1024

# How often a write first checks the backend (local: that the descriptor is
# still this writer's file, an fstat of about a microsecond); flush() and
# close() always check.
CHECK_INTERVAL = 1.0


class StorageError(OSError):
    """An error a backend has already described in full; raised as it is."""


class Backend(Protocol):
    """What the core needs of a storage backend. Called with the core's lock held,
    except ``sync`` and the side-file methods."""

    path: str  # the current file or segment (a URL for object storage)
    byte_limit: int  # buffered bytes that make the core write
    counts_records: bool  # whether max_queue makes the core write
    commits: bool  # whether commit() must be called after each batch
    closes_early: bool  # closed from threading's exit hooks (see tblog._lifecycle)

    @property
    def is_open(self) -> bool: ...
    # The chunk of the last write, until the core clears it (see _skip_written_head).
    writing: bytes | bytearray | None

    def open(self, first: bool) -> None: ...  # start a file or series; clears ``writing``
    # Store the whole chunk, marking it in ``writing`` first. An OSError carries
    # ``written``: the bytes of the chunk stored before it.
    def write(self, chunk: bytes | bytearray) -> None: ...
    def written_of_mark(self) -> int: ...  # bytes of ``writing`` stored; clears it
    def commit(self, wait: bool) -> None: ...  # end of one batch of writes
    def check(self) -> None: ...  # raise OSError if the target is gone
    def raise_pending(self) -> None: ...  # raise a background failure (StorageError)
    def sync(self) -> None: ...  # wait until committed batches are stored
    def wait_stored(self, deadline: float) -> None: ...  # sync for a signal handler
    def close(self) -> None: ...
    def forget_parent(self) -> None: ...  # in a forked child
    def write_file(self, parts: list[str], data: bytes | Iterable[bytes]) -> None: ...
    def read_file(self, parts: list[str]) -> bytes | None: ...
    def update_file(self, parts: list[str], update: Callable[[bytes | None], bytes]) -> None: ...


class RecordQueue:
    """The unstored records of one writer and their way to the backend.

    Every method is called with the owning writer's lock held. The owner sets
    ``_flush_secs`` and ``_record_limit`` (``max_queue``, or no limit where the
    backend does not count records).
    """

    def __init__(self, backend: Backend) -> None:
        self._backend = backend
        self._scalars = ScalarEventEncoder()
        self._commits = backend.commits
        self._reset()

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
        # Checked first by every call: closed, an error, a backend to (re)open.
        self._alert = True
        # The lane: scalar values (tag, value, step, wall_time) appended without the
        # lock (list.append, slicing and del of a slice are atomic in CPython),
        # newer than everything in _queue and _buffer. Locked paths encode them
        # into _buffer (_take_lane) before adding or writing anything else.
        self._lane: list[tuple[str, float, int, float]] = []
        self._lane_limit = 1  # lane length that makes the appender take the lock
        # (first entry, count, buffer length) while a take is under way: see _take_lane.
        self._lane_mark: tuple[tuple[str, float, int, float], int, int] | None = None

    def _take_lane(self) -> None:
        """Encode the lane's scalars into the buffer, in order.

        Done here, ten or more at a time, rather than in each call: in a
        training loop the encoder's tables are cold after every training step,
        and three paired runs measured 19.4 us of scalar logging per step this
        way against 23.0 us encoding in each call (docs/design.md).
        """
        if self._lane_mark is not None:
            self._finish_take()
        lane = self._lane
        if not lane:
            return
        buffer = self._buffer
        if not buffer and not self._queue:
            self._deadline = time.monotonic() + self._flush_secs
        count = len(lane)  # appends may go on meanwhile: they stay for next time
        record = self._scalars.record
        chunk = b"".join([record(tag, value, step, wall) for tag, value, step, wall
                          in lane[:count]])
        # An exception from a signal handler (KeyboardInterrupt) may land between
        # the append and the del: the mark lets the next take finish the job
        # instead of encoding the same values twice.
        self._lane_mark = (lane[0], count, len(buffer))
        buffer += chunk
        del lane[:count]
        self._pending += count
        self._lane_mark = None

    def _finish_take(self) -> None:
        """Complete a take that an exception cut short (see ``_take_lane``)."""
        first, count, size = self._lane_mark  # type: ignore[misc]
        if len(self._buffer) > size and self._lane and self._lane[0] is first:
            del self._lane[:count]  # the chunk went in, the values stayed: drop them
            self._pending += count
        self._lane_mark = None

    def _set_lane_limit(self) -> None:
        """Let the lane fill up to ``max_queue`` records in all, to about the byte
        limit (counting 64 bytes a record, a scalar's size), at most ``LANE_MAX``."""
        room = self._record_limit - self._pending
        by_size = (self._room - len(self._buffer)) >> 6
        if by_size < room:
            room = by_size
        self._lane_limit = LANE_MAX if room > LANE_MAX else room if room > 1 else 1

    def _resolve_oldest(self) -> None:
        """Wait for the oldest deferred records until half the limit stay open."""
        queue = self._queue
        for index in range(len(queue)):
            if self._deferred <= MAX_DEFERRED // 2:
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

    def _drain(self, wait: bool) -> Exception | None:
        """Hand every queued chunk to the backend in order, then commit the batch.

        A deferred record that failed to build is left out and its exception
        returned; the records after it are still written.
        """
        backend = self._backend
        now = time.monotonic()
        if now >= self._next_check:
            backend.check()
            self._next_check = now + CHECK_INTERVAL
        if backend.writing is not None:
            self._skip_written_head()
        if self._lane:
            self._take_lane()
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
            try:
                backend.write(item)
            except OSError as exc:
                if exc.written:  # type: ignore[attr-defined]
                    queue[0] = item[exc.written :]  # type: ignore[attr-defined]
                raise
            queue.popleft()  # only now: see _skip_written_head
        buffer = self._buffer
        try:
            backend.write(buffer)
        except OSError as exc:
            if exc.written:  # type: ignore[attr-defined]
                del buffer[: exc.written]  # type: ignore[attr-defined]
            raise
        self._buffer = bytearray()
        backend.writing = None
        self._pending = 0
        if self._queued:
            self._queued = 0
            self._room = backend.byte_limit
        self._deadline = math.inf
        self._set_lane_limit()
        if self._commits:
            backend.commit(wait)
        return failure

    def _skip_written_head(self) -> None:
        """Drop what a write cut short by an exception already stored.

        A signal handler's exception (KeyboardInterrupt on Ctrl-C) can land
        after the backend's write returned and before the chunk left the head
        of the queue; writing it again would duplicate its records. The
        backend marks each chunk it writes (``writing``) and, while the marked
        chunk is still at the head, tells how much of it went out (only this
        writer appends there).
        """
        backend = self._backend
        chunk = backend.writing
        written = backend.written_of_mark()
        head = self._queue[0] if self._queue else self._buffer
        if head is not chunk or not written:
            return
        if head is self._buffer:
            self._buffer = self._buffer[written:]
        elif written >= len(head):
            self._queue.popleft()
        else:
            self._queue[0] = head[written:]

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
        if self._lane:
            what += f" and {len(self._lane)} scalars"
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
