"""The local-file storage backend: one ``events.out.tfevents.*`` file per writer.

Files are created with ``O_EXCL`` (never sharing or truncating another
writer's file) and ``O_APPEND``; the ``file_version`` header is written at
once. Before writing (at most once a second, and on every ``flush()`` and
``close()``) the backend checks that its descriptor still is its file: a
deleted file or logdir, or a descriptor closed and reused outside tblog, is
reported instead of writing into the void or into another file. After
``fork()`` the child closes its copy of the descriptor; its first write opens
a file of its own (the name carries the child's pid).

Side files (``write_file``, ``update_file``) are written to a temporary file
and moved into place with ``os.replace``, so readers never see half a file;
``update_file`` holds an exclusive ``flock`` on the directory of the file
(and a lock for this process's threads) around its read-modify-write.
See docs/reliability.md.
"""

from __future__ import annotations

import contextlib
import errno
import itertools
import os
import threading
import time
from collections.abc import Callable, Iterable, Iterator

from tblog._names import event_file_stem, file_version_event
from tblog._record import frame

# Bytes buffered before a write even when fewer than max_queue records wait:
# keeps large records (images) from piling up in memory.
_MAX_BUFFER_BYTES = 1 << 20

_update_lock = threading.Lock()  # flock below covers other processes
_temp_counter = itertools.count()


class LocalFile:
    """Appends to one event file in ``logdir`` (see the module docstring)."""

    byte_limit = _MAX_BUFFER_BYTES
    counts_records = True
    commits = False  # every write goes to the OS at once
    closes_early = False

    def __init__(self, logdir: str, suffix: str, wake: Callable[[], None]) -> None:
        self._logdir = logdir
        self._suffix = suffix
        self._fd: int | None = None
        self._fd_id = (0, 0)  # (st_dev, st_ino) of the file _fd was opened on
        self._size = 0  # bytes in the file after its last whole write
        self._size_before = 0  # ... before the chunk ``writing`` names
        self.writing: bytes | bytearray | None = None
        self.path = ""

    @property
    def is_open(self) -> bool:
        return self._fd is not None

    def open(self, first: bool) -> None:
        """Create a new event file and write its header."""
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND | getattr(os, "O_CLOEXEC", 0)
        try:
            os.makedirs(self._logdir, exist_ok=True)
            while True:  # O_EXCL: never truncate or share another writer's file
                path = os.path.join(self._logdir, event_file_stem() + self._suffix)
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
        self.path = path
        self._size = len(header)
        self.writing = None

    def write(self, chunk: bytes | bytearray) -> None:
        """Write the whole chunk (``os.write`` may take less than asked).

        ``writing`` and ``_size`` are updated in an order that keeps them right
        wherever an exception from a signal handler lands (see
        ``written_of_mark``).
        """
        self.writing, self._size_before = chunk, self._size
        written = 0
        try:
            while written < len(chunk):
                written += os.write(self._fd, chunk if not written else chunk[written:])  # type: ignore[arg-type]
        except OSError as exc:
            self.writing = None
            self._size += written
            if exc.errno == errno.EBADF and self._fd is not None:
                self._fd = None  # not ours any more: the next record opens a new file
                reason = f"its file descriptor was closed outside tblog ({exc.strerror})"
                error = OSError(errno.EBADF, reason)
                error.written = written  # type: ignore[attr-defined]
                raise error from exc
            exc.written = written  # type: ignore[attr-defined]
            raise
        self._size += written  # before the core removes the chunk

    def written_of_mark(self) -> int:
        """Bytes of the chunk ``writing`` names that are in the file (its size tells)."""
        self.writing = None
        if self._fd is None:
            return 0
        self._size = os.fstat(self._fd).st_size
        return self._size - self._size_before

    def commit(self, wait: bool) -> None:
        """Nothing to do (never called: ``commits`` is False)."""

    def check(self) -> None:
        """Raise OSError unless the descriptor is still this writer's live event file.

        A write alone would not notice a file deleted while open (with its
        logdir, say: the records vanish) nor a descriptor closed outside tblog
        whose number now belongs to another file (the records would corrupt
        it). The backend then lets go of the descriptor; the core keeps the
        unwritten records and the next record starts a new file.
        """
        fd = self._fd
        try:
            stat = os.fstat(fd)  # type: ignore[arg-type]
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
            os.close(fd)  # type: ignore[arg-type]
            raise OSError(
                errno.ENOENT,
                "the file was deleted while open (was the logdir removed?); "
                "the records written to it are lost",
            )

    def raise_pending(self) -> None:
        """Nothing runs in the background here."""

    def sync(self) -> None:
        """Written bytes are in the OS already (tblog does not fsync)."""

    def wait_stored(self, deadline: float) -> None:
        """As ``sync``."""

    def close(self) -> None:
        if self._fd is not None:
            fd, self._fd = self._fd, None
            with contextlib.suppress(OSError):
                os.close(fd)

    def forget_parent(self) -> None:
        self.writing = None
        if self._fd is not None:
            os.close(self._fd)  # the child's copy only; the parent keeps its own
            self._fd = None

    # -- side files ---------------------------------------------------------------

    def write_file(self, parts: list[str], data: bytes | Iterable[bytes]) -> None:
        directory = os.path.join(self._logdir, *parts[:-1])
        os.makedirs(directory, exist_ok=True)
        _replace(os.path.join(directory, parts[-1]), data)

    def read_file(self, parts: list[str]) -> bytes | None:
        try:
            with open(os.path.join(self._logdir, *parts), "rb") as file:
                return file.read()
        except FileNotFoundError:
            return None

    def update_file(self, parts: list[str], update: Callable[[bytes | None], bytes]) -> None:
        directory = os.path.join(self._logdir, *parts[:-1])
        os.makedirs(directory, exist_ok=True)
        path = os.path.join(directory, parts[-1])
        with _locked(directory):
            try:
                with open(path, "rb") as file:
                    old: bytes | None = file.read()
            except FileNotFoundError:
                old = None
            _replace(path, update(old))


def _replace(path: str, data: bytes | Iterable[bytes]) -> None:
    """Write ``path`` atomically: a temporary file beside it, then ``os.replace``."""
    directory = os.path.dirname(path)
    temp = os.path.join(directory, f".tblog-{os.getpid()}-{next(_temp_counter)}.tmp")
    try:
        with open(temp, "wb") as file:
            if isinstance(data, (bytes, bytearray, memoryview)):
                file.write(data)
            else:  # chunks, e.g. a large tensors.tsv: never all in memory
                for chunk in data:
                    file.write(chunk)
        os.replace(temp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.remove(temp)
        raise


@contextlib.contextmanager
def _locked(directory: str) -> Iterator[None]:
    """Serialise read-modify-write in ``directory`` across threads and processes."""
    with _update_lock:
        try:
            import fcntl
        except ImportError:  # Windows: threads of this process only
            yield
            return
        fd = os.open(directory, os.O_RDONLY)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)  # closing releases the lock
