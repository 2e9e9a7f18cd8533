"""Names and settings of event writers: the checks every storage backend shares.

Event file names, the ``file_version`` first event, the rule for one file or
directory name (``check_name``) and for a path inside the run directory
(``check_relative``), the check of records from outside tblog's encoders
(``check_event_record``), and the one validation of a writer's settings
(``check_settings``), so a local directory and an object-store URL accept and
refuse exactly the same arguments with the same errors.
"""

from __future__ import annotations

import itertools
import math
import numbers
import os
import socket
import time

from tblog._convert import to_text

FILE_VERSION = "brain.Event:2"

# Longest file name (in bytes) common file systems accept.
_MAX_NAME_BYTES = 255

# Room left in a name for the per-process counter and a segment's ".000123".
_NAME_TAIL = "0" * 16

_file_counter = itertools.count()  # process-wide, so two writers never share a name


def event_file_stem(counter: int | None = None) -> str:
    """``events.out.tfevents.{10-digit time}.{host}.{pid}.{counter}``: unique per call.

    ``counter`` defaults to the next value of the process-wide counter.
    """
    if counter is None:
        counter = next(_file_counter)
    return (
        f"events.out.tfevents.{int(time.time()):010d}.{socket.gethostname()}."
        f"{os.getpid()}.{counter}"
    )


def check_name(name: str, what: str) -> str:
    """Return ``name`` if it can be one file or directory name inside a directory.

    Used for every name tblog derives from user input (run directories of
    ``add_scalars``, the ``filename_suffix``, each part of a side file's path),
    so none can point outside the logdir or fail half-way through a call.

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


def check_relative(relative: str) -> list[str]:
    """The parts of ``relative``, a ``/``-separated path inside the run directory.

    Every part must pass :func:`check_name`, so ``../x``, ``/abs``,
    ``a/../../b``, ``a//b``, backslashes, NUL and lone surrogates are refused:
    a side file never lands outside the logdir.

    Raises:
        TypeError: ``relative`` is not a str.
        ValueError: a part is not a single valid file name.
    """
    if not isinstance(relative, str):
        raise TypeError(f"side file path must be a str, got {type(relative).__name__}")
    parts = relative.split("/")
    for part in parts:
        check_name(part, f"side file {relative!r}: part")
    return parts


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


def check_settings(max_queue: object, flush_secs: object, filename_suffix: object) -> tuple[
    int, float, str
]:
    """``(max_queue, flush_secs, filename_suffix)`` checked and normalised, for every backend.

    Raises:
        TypeError: ``max_queue`` is not an int (bools are refused), ``flush_secs``
            not a real number, ``filename_suffix`` not a str.
        ValueError: ``max_queue`` below 1, ``flush_secs`` not positive (or NaN),
            ``filename_suffix`` holding ``/``, ``\\`` or NUL, not valid text, or
            making file names longer than 255 bytes.
    """
    if not isinstance(max_queue, numbers.Integral) or isinstance(max_queue, bool):
        raise TypeError(f"max_queue must be an int, got {type(max_queue).__name__}")
    if max_queue < 1:
        raise ValueError(f"max_queue must be at least 1, got {max_queue!r}")
    if not isinstance(flush_secs, numbers.Real) or isinstance(flush_secs, bool):
        raise TypeError(f"flush_secs must be a number, got {type(flush_secs).__name__}")
    if not flush_secs > 0:  # also NaN
        raise ValueError(f"flush_secs must be positive, got {flush_secs!r}")
    suffix = to_text(filename_suffix, "filename_suffix")
    if any(c in suffix for c in "/\\\0"):
        raise ValueError(f"filename_suffix {suffix!r} must not contain '/', '\\' or NUL")
    # The longest name a backend makes (counter, segment number) must fit too.
    check_name(event_file_stem(0) + _NAME_TAIL + suffix, "filename_suffix")
    return int(max_queue), float(flush_secs), suffix
