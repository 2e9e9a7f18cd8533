"""Suite-wide fixtures: log directories, TensorBoard servers, and a session-end
check that every event file the suite wrote is readable by stock TensorBoard.

Every test that writes event files should write them under ``logdir`` (or
``tmp_path`` / ``tmp_path_factory``): all of those live under pytest's one
session base directory, which is walked after the last test. Files that are
broken on purpose belong under ``corrupt_logdir`` (any directory whose name
starts with ``corrupt_`` is skipped).
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

# Make `import tbutil` work for conftest and test modules under any --import-mode.
if str(Path(__file__).parent) not in sys.path:
    sys.path.insert(0, str(Path(__file__).parent))

from tbutil import EventFileReport, TensorBoardServer, validate_event_files  # noqa: E402

# Bounded memory, with the peak and the tests that raised it in the summary.
pytest_plugins = ["memory_guard"]

_REPORT_KEY = pytest.StashKey[EventFileReport]()
_SERVERS_KEY = pytest.StashKey[list[TensorBoardServer]]()


def _short_name(request: pytest.FixtureRequest, prefix: str) -> str:
    name = re.sub(r"\W", "_", request.node.name)[:40]
    return f"{prefix}{name}"


@pytest.fixture
def logdir(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest) -> Path:
    """A fresh, empty directory for one test's event files (checked at session end)."""
    return tmp_path_factory.mktemp(_short_name(request, "logs_"))


@pytest.fixture
def corrupt_logdir(
    tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Path:
    """A fresh directory for deliberately broken event files (NOT checked at session end)."""
    return tmp_path_factory.mktemp(_short_name(request, "corrupt_"))


@pytest.fixture(scope="session", autouse=True)
def _event_files_are_valid_at_session_end(
    tmp_path_factory: pytest.TempPathFactory, pytestconfig: pytest.Config
) -> Iterator[None]:
    """After the last test: every ``*tfevents*`` file under the session base
    directory (except under ``corrupt_*`` dirs) must pass
    ``tbutil.check_event_file`` (framing, both CRCs, parsable Event, finite
    wall_time). A failure is reported as an error in the teardown of the last
    test, so the run goes red and exits non-zero."""
    yield
    report = validate_event_files(tmp_path_factory.getbasetemp())
    pytestconfig.stash[_REPORT_KEY] = report
    if report.failures:
        details = "\n".join(f"  {failure}" for failure in report.failures)
        pytest.fail(
            f"Session-end event-file check: {len(report.failures)} event file(s) written "
            "by this test session are not readable by stock TensorBoard (put deliberate "
            f"corruption under corrupt_logdir):\n{details}",
            pytrace=False,
        )


def pytest_terminal_summary(terminalreporter: Any, config: pytest.Config) -> None:
    """Print how many event files and records the session-end check validated."""
    report = config.stash.get(_REPORT_KEY, None)
    if report is None:
        return
    terminalreporter.write_sep("-", "event-file check")
    terminalreporter.write_line(report.summary(), red=bool(report.failures))


@pytest.fixture
def tb_server(
    tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Iterator[Callable[..., TensorBoardServer]]:
    """Factory: ``tb_server(logdir, load_fast=True, extra_args=(), **kw)`` starts a
    stock TensorBoard (ready to answer, loader verified) and returns it.

    Every server is stopped at teardown; if the test fails, each server's log
    is attached to the report.
    """
    servers: list[TensorBoardServer] = []
    request.node.stash[_SERVERS_KEY] = servers

    def start(
        logdir: str | Path,
        load_fast: bool | str = True,
        extra_args: Sequence[str] = (),
        **kwargs: Any,
    ) -> TensorBoardServer:
        workdir = tmp_path_factory.mktemp(_short_name(request, "tbserver_"))
        server = TensorBoardServer(logdir, load_fast, extra_args, workdir=workdir, **kwargs)
        servers.append(server)
        server.start()
        return server

    yield start
    for server in servers:
        server.stop()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    """Attach TensorBoard server logs to the report of a failing test."""
    report = yield
    if report.failed:
        for server in item.stash.get(_SERVERS_KEY, []):
            title = f"tensorboard log (load_fast={server.load_fast}, port {server.port})"
            report.sections.append((title, server.log_text()))
    return report
