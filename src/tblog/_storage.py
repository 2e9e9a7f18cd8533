"""Object-storage plumbing for ``tblog._remote``: URLs, fsspec, segments, and
the process-wide registry of open remote writers (exit, fork, signals).

Closing at exit runs from ``threading``'s exit hooks, BEFORE ``concurrent.futures``
shuts its executors down: fsspec backends resolve host names on an asyncio
executor, which refuses work afterwards (a plain ``atexit`` hook would lose
the last segment). After ``fork()`` every writer forgets the parent's data; in
a ``multiprocessing`` child (which leaves through ``os._exit``) a finalizer
closes the child's writers.
"""

from __future__ import annotations

import os
import re
import sys
import threading
import weakref
from concurrent.futures import Future
from typing import Any

from tblog._event_file import file_version_event
from tblog._record import frame

# Two characters at least: "C://x" is a Windows drive, not a URL.
_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.\-]+)://")


def url_protocol(logdir: str | os.PathLike[str]) -> str | None:
    """The ``scheme`` of a ``scheme://...`` logdir, lower-cased; None for a local path."""
    match = _SCHEME.match(os.fspath(logdir)) if isinstance(logdir, (str, os.PathLike)) else None
    return match.group(1).lower() if match else None


def filesystem(url: str) -> tuple[Any, str]:
    """``(fsspec filesystem, path)`` for ``url``.

    ``S3_ENDPOINT`` (the variable TensorBoard and tensorboardX read) sets the S3
    endpoint unless fsspec or botocore is already told one.
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
    """One sealed segment: its object path and records (framed bytes or futures)."""

    __slots__ = ("path", "parts", "wall_time", "data")

    def __init__(self, path: str, parts: list[bytes | Future[bytes]], wall_time: float) -> None:
        self.path = path
        self.parts = parts
        self.wall_time = wall_time
        self.data: bytes | None = None

    def size(self) -> int:
        """Bytes known so far (records still being encoded count as 0)."""
        if self.data is not None:
            return len(self.data)
        return sum(len(part) for part in self.parts if isinstance(part, bytes))

    def payload(self) -> tuple[bytes, BaseException | None]:
        """The object's bytes, built once; a record whose encoding raised is left
        out and its exception returned."""
        failure = None
        if self.data is None:
            chunks = [frame(file_version_event(self.wall_time))]
            for part in self.parts:
                if isinstance(part, Future):
                    try:
                        part = frame(part.result())
                    except Exception as exc:  # noqa: BLE001 - reported to the owner
                        failure = failure or exc
                        continue
                chunks.append(part)
            self.data = b"".join(chunks)
            self.parts = []
        return self.data, failure


_writers: weakref.WeakSet[Any] = weakref.WeakSet()


def register(writer: Any) -> None:
    """Track an open remote writer (for exit, fork and signal handling)."""
    _writers.add(writer)
    _register_multiprocessing_hook()


def unregister(writer: Any) -> None:
    _writers.discard(writer)


def _close_all() -> None:
    for writer in list(_writers):
        try:
            writer.close()
        except Exception as exc:  # noqa: BLE001 - at exit: report, keep closing the others
            print(f"tblog: {exc}", file=sys.stderr)


def flush_all_before_exit(deadline: float) -> None:
    """Upload what every open remote writer holds, giving up at ``deadline``
    (``time.monotonic()``); for a SIGTERM handler. Never raises."""
    for writer in list(_writers):
        writer._flush_before_exit(deadline)


def _after_fork_in_child() -> None:
    # The parent uploads its own data; the lock may have been held at fork.
    for writer in list(_writers):
        writer._forget_parent_state()


def _close_all_at_process_exit() -> None:
    """In a multiprocessing child: close our writers when it exits.

    multiprocessing's children leave through ``os._exit`` (no atexit hooks) after
    running its finalizers; the registry of those is cleared when the child
    starts, so the finalizer is added from its after-fork callback.
    """
    import multiprocessing.util

    multiprocessing.util.Finalize(None, _close_all, exitpriority=100)


class _ForkHook:
    """A weak-referenceable owner for multiprocessing's after-fork callback."""


_fork_hook = _ForkHook()
_fork_hook_registered = False


def _register_multiprocessing_hook() -> None:
    global _fork_hook_registered
    if not _fork_hook_registered:
        _fork_hook_registered = True
        import multiprocessing.util

        multiprocessing.util.register_after_fork(
            _fork_hook, lambda _owner: _close_all_at_process_exit()
        )


# Close (upload) at exit before concurrent.futures shuts its executors down
# (see the module docstring); plain atexit where threading lacks the hook.
_register = getattr(threading, "_register_atexit", None)
if _register is not None:
    _register(_close_all)
else:  # pragma: no cover
    import atexit

    atexit.register(_close_all)
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


# -- the facade's entry points (the storage core's contract) ----------------------


def open_event_writer(
    logdir: str, max_queue: int = 10, flush_secs: float = 120, filename_suffix: str = ""
) -> Any:
    """The event writer of ``logdir``: a local file, or rolling segments for a URL."""
    from tblog._remote import open_event_writer as open_writer

    return open_writer(logdir, max_queue, flush_secs, filename_suffix)


def check_name(name: str, what: str) -> str:
    """See ``tblog._event_file.check_name``."""
    from tblog._event_file import check_name as check

    return check(name, what)


def check_event_record(data: bytes) -> bytes:
    """See ``tblog._event_file.check_event_record``."""
    from tblog._event_file import check_event_record as check

    return check(data)
