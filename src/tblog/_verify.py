"""``tblog verify LOGDIR``: check every event file the way TensorBoard reads it.

For each ``*tfevents*`` file under LOGDIR, every record's length CRC and data
CRC are checked, the data is parsed as an ``Event`` and its ``wall_time`` must
be finite: the failures that make stock TensorBoard stop reading a file (its
Rust loader marks a file dead on a bad length CRC, an unparsable record or a
NaN wall_time; its Python loader stops at a bad CRC and its reload thread dies
on an unparsable record).

A file that ends inside its last record is reported as a *truncated tail* but
is not an error unless ``--strict`` is given: it is what a writer killed
mid-write (SIGKILL, power loss) legitimately leaves, and both TensorBoard
loaders read every complete record before it and wait for the rest.

Exit status: 0 when no file is corrupt, 1 when one is (or, with ``--strict``,
when one has a truncated tail), 2 when LOGDIR does not exist.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import os
import sys
from collections.abc import Sequence
from typing import TextIO

from google.protobuf.message import DecodeError

from tblog._record import RecordError, TruncatedRecord, read_records
from tblog.proto import event_pb2

OK = "ok"
TRUNCATED = "truncated"
CORRUPT = "corrupt"


@dataclasses.dataclass
class FileReport:
    """The verdict on one event file.

    Attributes:
        path: the file.
        status: ``"ok"``, ``"truncated"`` (ends inside a record) or ``"corrupt"``.
        records: complete, valid records before the problem (all of them if ok).
        offset: byte offset of the truncated or corrupt record, else None.
        reason: what is wrong, for a corrupt file.
    """

    path: str
    status: str
    records: int
    offset: int | None = None
    reason: str = ""

    def describe(self) -> str:
        """``OK (n records)``, ``truncated tail at offset X (n records ok)`` or
        ``corrupt at offset X: reason (n records ok before it)``."""
        if self.status == OK:
            return f"OK ({self.records} records)"
        if self.status == TRUNCATED:
            return f"truncated tail at offset {self.offset} ({self.records} records ok)"
        where = "" if self.offset is None else f" at offset {self.offset}"
        return f"corrupt{where}: {self.reason} ({self.records} records ok before it)"


def verify_file(path: str | os.PathLike[str]) -> FileReport:
    """Check every record of one event file (see the module docstring)."""
    path = os.fspath(path)
    records = 0
    offset = 0
    try:
        with open(path, "rb") as stream:
            for data in read_records(stream):
                try:
                    event = event_pb2.Event.FromString(data)
                except DecodeError as exc:
                    return FileReport(
                        path, CORRUPT, records, offset, f"record does not parse as an Event ({exc})"
                    )
                if not math.isfinite(event.wall_time):
                    return FileReport(
                        path, CORRUPT, records, offset, f"wall_time is {event.wall_time!r}"
                    )
                records += 1
                offset += 16 + len(data)
    except TruncatedRecord as exc:
        return FileReport(path, TRUNCATED, records, exc.offset)
    except RecordError as exc:
        return FileReport(path, CORRUPT, records, exc.offset, exc.reason)
    except OSError as exc:
        return FileReport(path, CORRUPT, records, None, f"cannot be read ({exc})")
    return FileReport(path, OK, records)


def find_event_files(logdir: str | os.PathLike[str]) -> list[str]:
    """Every file whose name contains ``tfevents`` under ``logdir`` (or ``logdir``
    itself if it is such a file), in a stable order; symlinked dirs are not followed."""
    logdir = os.fspath(logdir)
    if os.path.isfile(logdir):
        return [logdir]
    found = []
    for dirpath, dirnames, filenames in os.walk(logdir):
        dirnames.sort()
        names = sorted(name for name in filenames if "tfevents" in name)
        found.extend(os.path.join(dirpath, name) for name in names)
    return found


def verify_logdir(logdir: str | os.PathLike[str]) -> list[FileReport]:
    """:func:`verify_file` on every event file under ``logdir``."""
    return [verify_file(path) for path in find_event_files(logdir)]


def _printable(name: str) -> str:
    """``name`` as is, or its repr if it holds control characters or surrogates."""
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return repr(name)
    return name if name.isprintable() else repr(name)


def run(logdir: str, strict: bool = False, quiet: bool = False, out: TextIO | None = None) -> int:
    """Verify ``logdir``, print one line per file and a summary; return the exit status."""
    out = out or sys.stdout
    if not os.path.exists(logdir):
        print(f"tblog verify: {logdir}: no such file or directory", file=sys.stderr)
        return 2
    reports = verify_logdir(logdir)
    base = logdir if os.path.isdir(logdir) else os.path.dirname(logdir) or "."
    for report in reports:
        if quiet and report.status == OK:
            continue
        name = _printable(os.path.relpath(report.path, base))
        print(f"{name}: {report.describe()}", file=out)
    counts = {status: 0 for status in (OK, TRUNCATED, CORRUPT)}
    for report in reports:
        counts[report.status] += 1
    total = sum(r.records for r in reports)
    print(
        f"{len(reports)} event file(s), {total} valid record(s): {counts[OK]} ok, "
        f"{counts[TRUNCATED]} with a truncated tail, {counts[CORRUPT]} corrupt",
        file=out,
    )
    failed = counts[CORRUPT] + (counts[TRUNCATED] if strict else 0)
    return 1 if failed else 0


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The ``verify`` subcommand's arguments."""
    parser.add_argument("logdir", help="directory to search for *tfevents* files (or one file)")
    parser.add_argument(
        "--strict",
        action="store_true",
        help="also fail (exit 1) on a truncated tail, which a killed writer leaves and "
        "TensorBoard tolerates",
    )
    parser.add_argument("-q", "--quiet", action="store_true", help="print only files with problems")


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``tblog verify`` alone (see ``tblog.__main__``)."""
    parser = argparse.ArgumentParser(prog="tblog verify", description=__doc__.split("\n\n")[0])
    add_arguments(parser)
    args = parser.parse_args(argv)
    return run(args.logdir, strict=args.strict, quiet=args.quiet)
