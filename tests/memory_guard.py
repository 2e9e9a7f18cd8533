"""A pytest plugin that keeps the suite's memory bounded and says which test used it.

* A hard cap: the test process's private writable memory (``RLIMIT_DATA``, which
  child processes inherit) is limited to ``TBLOG_TEST_MEMORY_LIMIT_MB`` (default
  8192). An allocation past it raises ``MemoryError`` inside the test that made
  it, which then fails with its name, instead of the kernel's OOM killer taking
  the whole run (and the machine) down.
* A recorded peak: the peak RSS of this process and of its children
  (``getrusage``) is read before and after every test; the test during which a
  peak rose is remembered. The terminal summary lists the peaks and the tests
  that raised them most, and the run fails if the process's peak went above
  ``TBLOG_TEST_MAX_RSS_MB`` (default 4096; the suite needs about 1 GB), naming
  the test.
"""

from __future__ import annotations

import os
import resource
import sys
from collections.abc import Iterator
from typing import Any

import pytest

_MB = 1 << 20
LIMIT_MB = int(os.environ.get("TBLOG_TEST_MEMORY_LIMIT_MB", "8192"))
MAX_RSS_MB = int(os.environ.get("TBLOG_TEST_MAX_RSS_MB", "4096"))

# ru_maxrss is in KiB on Linux, bytes on macOS.
_RSS_UNIT = 1 if sys.platform == "darwin" else 1024


def _peaks() -> tuple[int, int]:
    """(peak RSS of this process, largest peak RSS of a waited-for child), bytes."""
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * _RSS_UNIT
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss * _RSS_UNIT
    return own, children


class MemoryGuard:
    def __init__(self) -> None:
        self.growth: list[tuple[int, str]] = []  # (bytes the own peak rose by, test id)
        self.own_peak_test = "(before the first test)"
        self.child_peak_test = "(before the first test)"

    def set_limit(self) -> None:
        limit = LIMIT_MB * _MB
        soft, hard = resource.getrlimit(resource.RLIMIT_DATA)
        if hard != resource.RLIM_INFINITY:
            limit = min(limit, hard)
        if soft == resource.RLIM_INFINITY or soft > limit:
            resource.setrlimit(resource.RLIMIT_DATA, (limit, hard))

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_protocol(self, item: pytest.Item, nextitem: Any) -> Iterator[None]:
        own, children = _peaks()
        try:
            return (yield)
        finally:
            own_after, children_after = _peaks()
            if own_after > own:
                self.growth.append((own_after - own, item.nodeid))
                self.own_peak_test = item.nodeid
            if children_after > children:
                self.child_peak_test = item.nodeid

    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        own, _ = _peaks()
        if own > MAX_RSS_MB * _MB and session.exitstatus == 0:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        own, children = _peaks()
        write = terminalreporter.write_line
        terminalreporter.write_sep("-", "memory")
        write(
            f"peak RSS: pytest {own / _MB:.0f} MB (bound {MAX_RSS_MB} MB, reached during "
            f"{self.own_peak_test}); largest child {children / _MB:.0f} MB "
            f"(during {self.child_peak_test}); RLIMIT_DATA {LIMIT_MB} MB"
        )
        for grew, nodeid in sorted(self.growth, reverse=True)[:5]:
            write(f"  +{grew / _MB:7.1f} MB  {nodeid}")
        if own > MAX_RSS_MB * _MB:
            write(
                f"FAILED: the test process's peak RSS {own / _MB:.0f} MB is above the "
                f"{MAX_RSS_MB} MB bound; it was reached during {self.own_peak_test}",
                red=True,
            )


def pytest_configure(config: pytest.Config) -> None:
    guard = MemoryGuard()
    guard.set_limit()
    config.pluginmanager.register(guard, "tblog-memory-guard")
