"""Storage for event writers: the one entry point the facade uses.

``open_event_writer`` picks the backend from the log directory and returns an
``EventWriter`` (``tblog._event_writer``), the one buffering core::

    EventWriter (queue, deferred records, deadlines, kept errors)
        |-- LocalFile (tblog._local_file): plain paths and file:// URLs
        '-- Segments  (tblog._segments):   any other scheme://, through fsspec

Every writer is registered with the one process-wide registry of
``tblog._lifecycle`` (flush thread, worker pool, exit, fork, SIGTERM).
"""

from __future__ import annotations

import os

from tblog._event_writer import EventWriter, StorageError
from tblog._local_file import LocalFile
from tblog._names import FILE_VERSION, check_event_record, check_name, check_relative
from tblog._segments import Segments, filesystem, url_protocol

__all__ = [
    "FILE_VERSION",
    "EventWriter",
    "StorageError",
    "check_event_record",
    "check_name",
    "check_relative",
    "filesystem",
    "open_event_writer",
    "read_side_file",
    "url_protocol",
    "write_side_file",
]


def open_event_writer(
    logdir: str | os.PathLike[str],
    max_queue: int = 10,
    flush_secs: float = 120,
    filename_suffix: str = "",
) -> EventWriter:
    """The event writer for ``logdir``: a local file, or segments for a ``scheme://`` URL.

    ``file://`` URLs are local paths. Every other scheme goes through fsspec.
    Settings are checked the same way for both, before anything is created.

    Raises:
        TypeError: a setting of the wrong type.
        ValueError: a setting with a bad value.
        ImportError: a URL whose fsspec backend is not installed.
        OSError: the event file could not be created, or the first (header)
            segment not uploaded.
    """
    path = os.fspath(logdir)
    protocol = url_protocol(path)
    if protocol is None:
        return EventWriter(path, max_queue, flush_secs, filename_suffix, LocalFile)
    if protocol == "file":
        local = path[len("file://") :]
        return EventWriter(local, max_queue, flush_secs, filename_suffix, LocalFile)
    return EventWriter(path, max_queue, flush_secs, filename_suffix, Segments)


def _backend(logdir: str | os.PathLike[str]) -> LocalFile | Segments:
    """The backend of ``logdir`` for side files only: opens no event file."""
    path = os.fspath(logdir)
    protocol = url_protocol(path)
    if protocol is None:
        return LocalFile(path, "", _nothing)
    if protocol == "file":
        return LocalFile(path[len("file://") :], "", _nothing)
    return Segments(path, "", _nothing)


def _nothing() -> None:
    return None


def write_side_file(logdir: str | os.PathLike[str], relative: str, data: bytes) -> None:
    """Store a side file of a run without an event writer (e.g. after it was closed).

    The same backend and checks as ``EventWriter.write_file``.

    Raises:
        ValueError: ``relative`` would leave the run directory.
        OSError: the file could not be written.
    """
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise TypeError(f"side file data must be bytes, got {type(data).__name__}")
    _backend(logdir).write_file(check_relative(relative), bytes(data))


def read_side_file(logdir: str | os.PathLike[str], relative: str) -> bytes | None:
    """A side file's bytes, or None when it does not exist.

    Raises:
        ValueError: ``relative`` would leave the run directory.
        OSError: the file exists but could not be read.
    """
    return _backend(logdir).read_file(check_relative(relative))
