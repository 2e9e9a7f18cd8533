"""The one process-wide registry of open event writers: what runs outside any call.

Every writer, local file or object-store segments, registers here
(``registry.add``); nothing else in tblog keeps a list of writers:

* one ``tblog-flush`` thread honours every writer's ``flush_secs``;
* one worker pool builds deferred records (PNG/GIF encodes);
* at interpreter exit every open writer is closed: those whose backend needs
  Python's thread pools (fsspec resolves host names on one) from
  ``threading``'s exit hooks, which run before ``concurrent.futures`` shuts its
  executors down, the others from an ``atexit`` hook (after non-daemon
  threads have finished logging); in a ``multiprocessing`` child (which ends
  with ``os._exit``) a finalizer closes them all;
* on SIGTERM, when nobody else handles it, every writer is flushed and the
  process then dies of SIGTERM as it would have;
* after ``fork()`` the child forgets the parent's buffers, files and uploads.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import signal
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Protocol

# How long the SIGTERM handler waits for writers busy in other threads.
_SIGTERM_FLUSH_TIMEOUT = 10.0


class _Writer(Protocol):
    """What the registry needs of an event writer (``tblog._event_writer.EventWriter``)."""

    @property
    def closes_early(self) -> bool: ...
    def close(self) -> None: ...
    def _flush_if_due(self, now: float) -> None: ...
    def _flush_before_exit(self, deadline: float) -> None: ...
    def _forget_parent_state(self) -> None: ...


_pool: ThreadPoolExecutor | None = None
_pool_lock = threading.Lock()


def worker_pool() -> ThreadPoolExecutor:
    """The process-wide pool that builds deferred records (created on first use)."""
    global _pool
    if _pool is None:
        with _pool_lock:
            if _pool is None:
                workers = min(4, os.cpu_count() or 1)
                _pool = ThreadPoolExecutor(workers, thread_name_prefix="tblog-encode")
    return _pool


class _Registry:
    """Open writers of this process, for the flush thread, atexit, SIGTERM and fork."""

    def __init__(self) -> None:
        self._writers: set[_Writer] = set()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._wakeup = threading.Event()
        self._sigterm_checked = False
        self._exit_hook_pid = 0

    def add(self, writer: _Writer) -> None:
        with self._lock:
            self._writers.add(writer)
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="tblog-flush", daemon=True
                )
                self._thread.start()
        # Signal handlers can only be set from the main thread: a writer made
        # in another thread leaves it to the next one made in the main thread.
        if not self._sigterm_checked and threading.current_thread() is threading.main_thread():
            self._sigterm_checked = True
            _install_sigterm_handler()

    def file_opened(self) -> None:
        """A writer opened a file or segment series: in a ``multiprocessing`` child,
        close the writers at its exit. Such a child ends with ``os._exit()``, which
        skips atexit, but runs ``multiprocessing``'s finalizers first (registered
        here, not at fork: the child clears the inherited ones when it starts)."""
        pid = os.getpid()
        if self._exit_hook_pid == pid:
            return
        process = sys.modules.get("multiprocessing.process")
        util = sys.modules.get("multiprocessing.util")
        if process is None or util is None or process.parent_process() is None:
            return
        self._exit_hook_pid = pid
        util.Finalize(None, self.close_all, exitpriority=0)

    def discard(self, writer: _Writer) -> None:
        with self._lock:
            self._writers.discard(writer)

    def snapshot(self) -> list[_Writer]:
        with self._lock:
            return list(self._writers)

    def _run(self) -> None:
        # Wakes once a second: flush_secs is honoured to about a second.
        while not self._wakeup.wait(1.0):
            now = time.monotonic()
            for writer in self.snapshot():
                writer._flush_if_due(now)

    def close_all(self) -> None:
        """Close every open writer (at exit); an error is printed, the rest still close."""
        self._wakeup.set()
        self._close(self.snapshot())

    def close_early(self) -> None:
        """Close the writers whose backend needs ``concurrent.futures`` (see the
        module docstring); runs from ``threading``'s exit hooks."""
        self._close([writer for writer in self.snapshot() if writer.closes_early])

    @staticmethod
    def _close(writers: list[_Writer]) -> None:
        for writer in writers:
            try:
                writer.close()
            except Exception as exc:  # noqa: BLE001 - at exit: report, keep closing the others
                print(f"tblog: {exc}", file=sys.stderr)

    def after_fork_in_child(self) -> None:
        global _pool, _pool_lock, _sigterm_state
        _pool, _pool_lock = None, threading.Lock()  # the parent's threads are gone
        _sigterm_state = _SIGTERM_IDLE
        self._lock = threading.Lock()
        self._thread = None
        self._wakeup = threading.Event()
        for writer in list(self._writers):
            writer._forget_parent_state()
        if self._writers:
            self._thread = threading.Thread(target=self._run, name="tblog-flush", daemon=True)
            self._thread.start()


# -- SIGTERM ------------------------------------------------------------------
#
# SIGTERM's default action ends the process without running atexit, losing
# what the writers buffered. If nobody has set a handler, tblog sets one that
# flushes every writer and then dies of SIGTERM as the default would (exit
# status -15 / 143). Python runs handlers in the main thread between bytecodes,
# possibly while that thread holds a writer's lock, so the handler flushes from
# another thread and returns; that thread then re-sends SIGTERM, which the
# handler answers by restoring the default action and killing the process.

_SIGTERM_IDLE, _SIGTERM_FLUSHING, _SIGTERM_FLUSHED = 0, 1, 2
_sigterm_state = _SIGTERM_IDLE


def _install_sigterm_handler() -> None:
    """Handle SIGTERM if it has its default action (never replaces a handler).

    ``TBLOG_SIGTERM_HANDLER=0`` in the environment leaves SIGTERM alone.
    """
    if os.environ.get("TBLOG_SIGTERM_HANDLER", "1") == "0" or not hasattr(signal, "SIGTERM"):
        return
    with contextlib.suppress(ValueError, OSError):  # e.g. not the main interpreter
        if signal.getsignal(signal.SIGTERM) is signal.SIG_DFL:
            signal.signal(signal.SIGTERM, _on_sigterm)


def _on_sigterm(signum: int, frame: object) -> None:
    global _sigterm_state
    if _sigterm_state == _SIGTERM_IDLE:
        _sigterm_state = _SIGTERM_FLUSHING
        try:
            threading.Thread(target=_flush_then_resend, name="tblog-sigterm", daemon=True).start()
            return
        except RuntimeError:  # no new threads at interpreter shutdown: die now
            pass
    elif _sigterm_state == _SIGTERM_FLUSHING:
        return  # the flushing thread re-sends SIGTERM when it is done
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    os.kill(os.getpid(), signal.SIGTERM)


def _flush_then_resend() -> None:
    global _sigterm_state
    deadline = time.monotonic() + _SIGTERM_FLUSH_TIMEOUT
    for writer in registry.snapshot():  # local files and object-store segments alike
        with contextlib.suppress(Exception):
            writer._flush_before_exit(deadline)
    _sigterm_state = _SIGTERM_FLUSHED
    os.kill(os.getpid(), signal.SIGTERM)


registry = _Registry()
atexit.register(registry.close_all)
# Registered after concurrent.futures.thread (imported above) registered its own
# hook: threading runs these last-in first-out, so ours runs before it.
_register_early = getattr(threading, "_register_atexit", None)
if _register_early is not None:
    _register_early(registry.close_early)
if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=registry.after_fork_in_child)
