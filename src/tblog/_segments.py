"""The object-storage backend (``s3://``, ``gs://``, ``az://``, ``memory://``...): rolling segments.

Object stores cannot append, and fsspec's ``"ab"`` mode is broken on them
(gcsfs overwrites, adlfs fails on block blobs, s3fs re-uploads the whole
object). So this backend never appends: every batch the core commits (the
``flush_secs`` deadline, 8 MiB, ``flush()``, ``close()``) becomes a NEW
immutable object holding a ``file_version`` event and the batch's records.
Bytes uploaded grow linearly with the data written. The first, header-only
segment is uploaded when the writer opens, so a wrong bucket or missing
credentials fail in the constructor.

Segment names sort in write order (zero-padded sequence number) and carry host
and pid, so two writers never collide and TensorBoard's Python loader follows
them one after the other, with or without ``--reload_multifile``::

    events.out.tfevents.{time:010d}.{host}.{pid}.{counter}.{seq:06d}{suffix}

Uploads run on one background thread per writer, strictly in order, each with
``fs.pipe_file(path, data)`` on the filesystem ``filesystem(logdir)`` returns
(the seam tests patch). A failed upload is retried with backoff, then raised by
the owner's next call; its segment stays queued, so nothing is dropped
silently. The caller blocks while ``_MAX_PENDING`` sealed segments wait for
upload (back-pressure). After ``fork()`` a child never uploads the parent's
segments: its first write starts a series of its own (its pid in the names).
"""

from __future__ import annotations

import collections
import os
import re
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

from tblog._event_queue import StorageError
from tblog._names import event_file_stem, file_version_event
from tblog._record import frame

#: Seal the open segment once it holds this many bytes (bounds memory and object size).
_SEGMENT_BYTES = 8 << 20
#: Sealed segments waiting for upload before the caller blocks (back-pressure).
_MAX_PENDING = 4
#: Upload attempts per segment before the error is handed to the owner, and the
#: first backoff (doubled each time, capped). The fsspec backends already retry
#: transient HTTP errors inside each attempt.
_ATTEMPTS = 4
_BACKOFF_SECS = 0.5
_MAX_BACKOFF_SECS = 8.0
#: Errors that no retry will fix (missing bucket, no permission).
_PERMANENT = (FileNotFoundError, PermissionError, IsADirectoryError, NotADirectoryError)

# Two characters at least: "C://x" is a Windows drive, not a URL.
_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.\-]+)://")


def url_protocol(logdir: str | os.PathLike[str]) -> str | None:
    """The ``scheme`` of a ``scheme://...`` logdir, lower-cased; None for a local path."""
    match = _SCHEME.match(os.fspath(logdir)) if isinstance(logdir, (str, os.PathLike)) else None
    return match.group(1).lower() if match else None


def filesystem(url: str) -> tuple[Any, str]:
    """``(fsspec filesystem, path)`` for ``url``: the very objects a writer uses.

    ``S3_ENDPOINT`` (the variable TensorBoard and tensorboardX read) sets the S3
    endpoint unless fsspec or botocore is already told one.

    Raises:
        ImportError: fsspec or the URL's backend is missing (names the extra).
    """
    try:
        import fsspec
    except ImportError as exc:
        raise ImportError(
            f"logging to {url!r} needs fsspec and its backend: pip install 'tblog[remote]'"
        ) from exc
    options: dict[str, Any] = {}
    protocol = url_protocol(url)
    endpoint = os.environ.get("S3_ENDPOINT")
    if (
        protocol in ("s3", "s3a")
        and endpoint
        and "endpoint_url" not in fsspec.config.conf.get("s3", {})
        and not any(
            os.environ.get(name)
            for name in ("AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL", "FSSPEC_S3_ENDPOINT_URL")
        )
    ):
        options["endpoint_url"] = endpoint
    try:
        return fsspec.core.url_to_fs(url, **options)
    except ImportError as exc:
        extras = {"s3": "s3", "s3a": "s3", "gs": "gcs", "gcs": "gcs", "az": "azure"}
        extra = extras.get(protocol or "", "azure" if protocol == "abfs" else "remote")
        raise ImportError(f"logging to {url!r}: {exc} (pip install 'tblog[{extra}]')") from exc


class Segment:
    """One sealed segment: its object path, name, and framed records."""

    __slots__ = ("path", "name", "parts", "wall_time")

    def __init__(self, path: str, name: str, parts: list[bytes], wall_time: float) -> None:
        self.path = path
        self.name = name
        self.parts = parts
        self.wall_time = wall_time

    def size(self) -> int:
        return sum(len(part) for part in self.parts)

    def payload(self) -> bytes:
        """The object's bytes: a ``file_version`` event, then the records."""
        return b"".join([frame(file_version_event(self.wall_time)), *self.parts])


class Segments:
    """Writes a run's records to object storage as immutable rolling segments."""

    counts_records = False  # one object per ten records would flood the bucket
    commits = True  # each batch becomes one object
    closes_early = True  # fsspec needs concurrent.futures' executors: see tblog._lifecycle

    def __init__(self, logdir: str, suffix: str, wake: Callable[[], None]) -> None:
        self.byte_limit = _SEGMENT_BYTES
        self._url = logdir.rstrip("/")
        self._suffix = suffix
        self._wake = wake  # tells the core a background error waits
        self._side_lock = threading.Lock()
        self._reset()

    def _reset(self) -> None:
        self._cond = threading.Condition(threading.Lock())
        self._fs: Any = None
        self._root = ""
        self._prefix = ""
        self._seq = 0
        self._parts: list[bytes] = []  # the open segment
        self.writing: bytes | bytearray | None = None  # the core's chunk last written
        self._parts_before = 0  # len(_parts) before ``writing`` was appended
        self._pending: collections.deque[Segment] = collections.deque()
        self._sealed = 0  # segments sealed, ever
        self._uploaded = 0  # segments uploaded, ever
        self._error: BaseException | None = None  # upload failed; uploader paused
        self._closing = False
        self._thread: threading.Thread | None = None
        self.is_open = False
        self.path = ""

    # -- the core's calls ------------------------------------------------------

    def open(self, first: bool) -> None:
        """Start a name series; the first time, upload the header-only segment."""
        self._start_series()
        self.is_open = True
        if first:
            # A wrong bucket or missing credentials fail here, not minutes later.
            path, name = self._next_path()
            header = Segment(path, name, [], time.time())
            self._upload(header.path, header.payload(), attempts=1)
            self.path = f"{self._url}/{name}"
            self._uploaded = self._sealed = 1
        self.writing = None

    def write(self, chunk: bytes | bytearray) -> None:
        self.writing, self._parts_before = chunk, len(self._parts)
        self._parts.append(bytes(chunk))  # a copy: the core reuses its buffers

    def written_of_mark(self) -> int:
        """All of the marked chunk once it is in the open segment, else nothing."""
        chunk, self.writing = self.writing, None
        if chunk is None or len(self._parts) <= self._parts_before:
            return 0
        return len(chunk)

    def commit(self, wait: bool) -> None:
        """Seal the open segment for upload; with ``wait``, block while too many wait."""
        if not self._parts:
            return
        path, name = self._next_path()
        segment = Segment(path, name, self._parts, time.time())
        self._parts = []
        with self._cond:
            self._pending.append(segment)
            self._sealed += 1
            if self._thread is None:
                self._start_thread()
            self._cond.notify_all()
            while wait and len(self._pending) > _MAX_PENDING:  # back-pressure
                self._raise_pending_locked()
                self._cond.wait()

    def check(self) -> None:
        """Nothing to check before writing: uploads report their own errors."""

    def raise_pending(self) -> None:
        with self._cond:
            self._raise_pending_locked()

    def sync(self) -> None:
        """Return once every committed segment is uploaded (raise a failure)."""
        with self._cond:
            target = self._sealed
            while self._uploaded < target and not self._closing:  # close() reports the rest
                self._raise_pending_locked()
                self._cond.wait()
            self._raise_pending_locked()

    def wait_stored(self, deadline: float) -> None:
        """As ``sync``, for a signal handler: gives up at ``deadline``, never raises."""
        with self._cond:
            target = self._sealed
            while self._uploaded < target and self._error is None and not self._closing:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return
                self._cond.wait(remaining)

    def close(self) -> None:
        """Upload what is queued (one more full round of retries) and stop the thread.

        Raises:
            StorageError: some segments could not be uploaded (they are lost).
        """
        with self._cond:
            self.is_open = False
            self._error = None  # resume a paused uploader for a last round
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
        if lost:
            size = sum(segment.size() for segment in lost)
            raise StorageError(
                f"closing event writer for {self._url!r}: {len(lost)} segment(s) "
                f"(about {size} bytes) could not be uploaded and are lost: {failure}"
            ) from failure

    def forget_parent(self) -> None:
        """In a forked child: drop the parent's segments; the child's first write
        starts a new series on a filesystem object of its own (the parent's
        fsspec event loop thread does not exist here)."""
        self._reset()

    # -- side files ---------------------------------------------------------------

    def write_file(self, parts: list[str], data: bytes | Iterable[bytes]) -> None:
        if not isinstance(data, (bytes, bytearray, memoryview)):
            data = b"".join(data)  # one object, one PUT
        path = self._side_path(parts)
        try:
            self._fs.pipe_file(path, data)
        except Exception as exc:  # noqa: BLE001 - every backend has its own errors
            raise OSError(f"cannot upload {self._url}/{'/'.join(parts)!s}: {exc}") from exc

    def read_file(self, parts: list[str]) -> bytes | None:
        path = self._side_path(parts)
        try:
            return self._fs.cat_file(path)
        except FileNotFoundError:
            return None
        except Exception as exc:  # noqa: BLE001 - every backend has its own errors
            raise OSError(f"cannot read {self._url}/{'/'.join(parts)}: {exc}") from exc

    def update_file(self, parts: list[str], update: Callable[[bytes | None], bytes]) -> None:
        """Read, update, write: last writer wins across processes (a lock within this one)."""
        with self._side_lock:
            self.write_file(parts, update(self.read_file(parts)))

    def _side_path(self, parts: list[str]) -> str:
        if self._fs is None:  # a forked child that has not written yet
            self._connect()
        return "/".join([self._root, *parts])

    # -- internals --------------------------------------------------------------------

    def _connect(self) -> None:
        fs, root = filesystem(self._url)
        self._fs, self._root = fs, root.rstrip("/")

    def _start_series(self) -> None:
        """A new name series for this process: never shares a name with another."""
        self._connect()
        self._prefix = event_file_stem()
        self._seq = 0

    def _next_path(self) -> tuple[str, str]:
        if self._seq > 999_999:  # keep names sorting in write order
            self._start_series()
        name = f"{self._prefix}.{self._seq:06d}{self._suffix}"
        self._seq += 1
        return f"{self._root}/{name}", name

    def _start_thread(self) -> threading.Thread:
        self._thread = threading.Thread(target=self._run, name="tblog-upload", daemon=True)
        self._thread.start()
        return self._thread

    def _raise_pending_locked(self) -> None:
        """Raise an upload error once; the uploader resumes (its segment stayed queued)."""
        if self._error is not None:
            error, self._error = self._error, None
            self._cond.notify_all()  # the uploader resumes
            raise StorageError(
                f"uploading event segments to {self._url!r} failed after retries "
                f"({len(self._pending)} segment(s) kept queued; uploading resumes): {error}"
            ) from error

    def _run(self) -> None:
        """The upload thread: uploads sealed segments in order."""
        cond = self._cond
        with cond:
            while True:
                if self._pending and self._error is None:
                    segment = self._pending[0]
                    cond.release()
                    try:
                        error = self._upload(segment.path, segment.payload(), _ATTEMPTS)
                    finally:
                        cond.acquire()
                    if error is None:
                        self._pending.popleft()
                        self._uploaded += 1
                        self.path = f"{self._url}/{segment.name}"
                    else:
                        self._error = error
                        self._wake()
                        if self._closing:
                            return
                    cond.notify_all()
                    continue
                if self._closing and (not self._pending or self._error is not None):
                    return
                cond.wait()

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
