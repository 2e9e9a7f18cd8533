"""Helpers for the reliability tests: child Python processes and read-back.

Every child runs with a bounded timeout, so a hang fails the test instead of
the suite. Read-back goes through stock TensorBoard (``tbutil``: its loaders
and an independent CRC/parse check) and ``tblog verify``.
"""

from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
import textwrap
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from tbutil import event_files, iter_records, load_events
from tensorboard.compat.proto import event_pb2

from tblog import _verify

# What every child script starts with: the writer class, and a flushed stdout
# line per checkpoint the parent waits for.
#
# Ctrl-C: a child started by a background job of a non-interactive shell (as CI
# launches the suite) inherits SIGINT as ignored, and Python then installs no
# KeyboardInterrupt handler. Children restore it, so they behave the same under
# any launcher, unless a test asks for the inherited disposition on purpose
# (TBLOG_TEST_SIGINT=inherit, see start_python(sigint_ignored=True)).
PRELUDE = """\
import os, signal, sys, time
if os.environ.get("TBLOG_TEST_SIGINT") != "inherit":
    signal.signal(signal.SIGINT, signal.default_int_handler)
from tblog import SummaryWriter

def say(*words):
    print(*words, flush=True)
"""


def script(body: str) -> str:
    """A child script: :data:`PRELUDE` followed by ``body`` (dedented)."""
    return PRELUDE + textwrap.dedent(body)


def run_python(
    body: str,
    *args: str,
    timeout: float = 60.0,
    env: dict[str, str] | None = None,
    prelude: bool = True,
) -> subprocess.CompletedProcess[str]:
    """Run ``body`` in a fresh interpreter (``sys.executable -c``) and return the
    finished process; a child still running after ``timeout`` is killed and the
    test fails with its output."""
    code = script(body) if prelude else textwrap.dedent(body)
    try:
        return subprocess.run(
            [sys.executable, "-c", code, *args],
            capture_output=True,
            text=True,
            timeout=timeout,
            env=child_env(env),
        )
    except subprocess.TimeoutExpired as exc:
        raise AssertionError(
            f"child did not finish within {timeout}s (a hang?)\n"
            f"stdout: {exc.stdout!r}\nstderr: {exc.stderr!r}"
        ) from None


def _ignore_sigint() -> None:  # runs in the child between fork and exec
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def start_python(
    body: str, *args: str, env: dict[str, str] | None = None, sigint_ignored: bool = False
) -> subprocess.Popen[str]:
    """Start ``body`` in a fresh interpreter with piped, line-buffered text stdout.

    ``sigint_ignored=True`` starts it with SIGINT ignored, as a background job
    of a non-interactive shell is, and keeps it so (see :data:`PRELUDE`).
    """
    if sigint_ignored:
        env = {**(env or {}), "TBLOG_TEST_SIGINT": "inherit"}
    return subprocess.Popen(
        [sys.executable, "-c", script(body), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        bufsize=1,
        env=child_env(env),
        preexec_fn=_ignore_sigint if sigint_ignored else None,  # noqa: PLW1509
    )


def child_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONUNBUFFERED"] = "1"
    env.pop("TBLOG_SIGTERM_HANDLER", None)
    env.pop("TBLOG_TEST_SIGINT", None)
    env.update(extra or {})
    return env


def finish(proc: subprocess.Popen[str], timeout: float = 30.0) -> tuple[int, str, str]:
    """Wait (bounded) for ``proc``; return ``(returncode, rest of stdout, stderr)``."""
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        raise AssertionError(f"child did not exit within {timeout}s\n{out}\n{err}") from None
    return proc.returncode, out, err


def read_line(proc: subprocess.Popen[str], timeout: float = 30.0) -> str:
    """The child's next stdout line, failing (not hanging) if none comes in ``timeout``."""
    import selectors

    assert proc.stdout is not None
    with selectors.DefaultSelector() as selector:
        selector.register(proc.stdout, selectors.EVENT_READ)
        if not selector.select(timeout):
            proc.kill()
            raise AssertionError(f"no output from the child within {timeout}s")
    line = proc.stdout.readline()
    if not line:
        code, _, err = finish(proc)
        raise AssertionError(f"child exited ({code}) before printing a line:\n{err}")
    return line.strip()


def kill(proc: subprocess.Popen[str], sig: int = signal.SIGKILL) -> None:
    if proc.poll() is None:
        os.kill(proc.pid, sig)


def scalar_values(path: str | os.PathLike[str]) -> list[tuple[str, int, float]]:
    """``(tag, step, value)`` of every ``simple_value`` in one file, read by
    TensorBoard's ``LegacyEventFileLoader`` (the Events exactly as stored)."""
    return [
        (value.tag, event.step, value.simple_value)
        for event in load_events(path, migrate=False)
        for value in event.summary.value
    ]


def run_scalars(run_dir: str | os.PathLike[str]) -> list[tuple[str, int, float]]:
    """:func:`scalar_values` of every event file directly in ``run_dir``."""
    return [item for path in event_files(run_dir) for item in scalar_values(path)]


def parse_all(path: str | os.PathLike[str], *, allow_truncated_tail: bool = False) -> list:
    """Every record of ``path`` parsed as TensorBoard's ``Event`` (CRCs checked by
    ``tbutil``, independently of tblog); fast enough for 10^5 records."""
    return [
        event_pb2.Event.FromString(payload)
        for _, payload in iter_records(path, allow_truncated_tail=allow_truncated_tail)
    ]


def verify(logdir: str | os.PathLike[str], *args: str) -> tuple[int, str]:
    """``tblog verify`` in this process: ``(exit status, output)``."""
    out = io.StringIO()
    strict = "--strict" in args
    code = _verify.run(os.fspath(logdir), strict=strict, out=out)
    return code, out.getvalue()


def all_event_files(root: str | os.PathLike[str]) -> list[Path]:
    return sorted(p for p in Path(root).rglob("*") if "tfevents" in p.name and p.is_file())


def descriptor_of(path: str | os.PathLike[str]) -> int:
    """The descriptor this process has open on ``path`` (found through /proc/self/fd),
    so a test can close or redirect a writer's file the way outside code would."""
    if not os.path.isdir("/proc/self/fd"):
        import pytest

        pytest.skip("needs /proc/self/fd to find the writer's descriptor")
    target = os.stat(path)
    for name in os.listdir("/proc/self/fd"):
        fd = int(name)
        try:
            stat = os.fstat(fd)
        except OSError:
            continue
        if (stat.st_dev, stat.st_ino) == (target.st_dev, target.st_ino):
            return fd
    raise AssertionError(f"no descriptor open on {path}")


def files_outside(root: Path, allowed: Sequence[Path]) -> list[Path]:
    """Every file under ``root`` not under one of ``allowed``."""
    return [
        p
        for p in root.rglob("*")
        if p.is_file() and not any(p == a or a in p.parents for a in allowed)
    ]


#: Side-file paths that would leave the run directory or break a name: ValueError.
SIDE_FILE_ESCAPES = [
    "../x", "/abs", "a/../../b", "..", ".", "", "a//b", "a/", "back\\slash", "nul\0x",
    "bad\ud800", "x" * 300,
]


def check_side_files(writer: Any, read: Callable[[str], bytes | None]) -> None:
    """``write_file`` / ``update_file`` of an event writer, on any backend, read
    back with ``read(relative)`` (None: no such file); closes the writer."""
    import pytest

    writer.write_file("00001/tag/tensors.tsv", b"1\t2\n")
    assert read("00001/tag/tensors.tsv") == b"1\t2\n"
    writer.write_file("00001/tag/tensors.tsv", b"3\t4\n")  # replaced whole
    assert read("00001/tag/tensors.tsv") == b"3\t4\n"
    seen = []

    def append(old: bytes | None) -> bytes:
        seen.append(old)
        return (old or b"") + b"entry\n"

    writer.update_file("projector_config.pbtxt", append)
    writer.update_file("projector_config.pbtxt", append)
    assert seen == [None, b"entry\n"]
    assert read("projector_config.pbtxt") == b"entry\nentry\n"

    def broken(old: bytes | None) -> bytes:
        raise RuntimeError("bad update")

    with pytest.raises(RuntimeError, match="bad update"):
        writer.update_file("projector_config.pbtxt", broken)
    assert read("projector_config.pbtxt") == b"entry\nentry\n"  # left as it was
    for bad in SIDE_FILE_ESCAPES:
        with pytest.raises(ValueError, match="side file"):
            writer.write_file(bad, b"x")
        with pytest.raises(ValueError, match="side file"):
            writer.update_file(bad, append)
    with pytest.raises(TypeError):
        writer.write_file(3, b"x")
    with pytest.raises(TypeError):
        writer.write_file("a.txt", "not bytes")
    writer.close()
    with pytest.raises(ValueError, match="closed"):
        writer.write_file("after.txt", b"x")
