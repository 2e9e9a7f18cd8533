"""``run.alert``: the ``alerts`` text tag, stderr, a callable sink and a webhook
(JSON POST on a daemon thread, with a timeout and retries, never raising).
"""

from __future__ import annotations

import datetime
import json
import sys
import threading
import time
import urllib.error
import urllib.request
import warnings
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tblog.tracking._run import Run

LEVELS = ("INFO", "WARN", "ERROR")
#: Seconds one webhook request may take, attempts, and the pause between them.
WEBHOOK_TIMEOUT = 5.0
WEBHOOK_ATTEMPTS = 3
WEBHOOK_BACKOFF = 0.5


def post_json(
    url: str, body: dict[str, Any], timeout: float, attempts: int, backoff: float
) -> bool:
    """POST ``body`` as JSON; retry on errors and 5xx/429. Returns True on a 2xx.

    Never raises: the last failure is reported as a warning.
    """
    data = json.dumps(body).encode()
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    problem = ""
    for attempt in range(attempts):
        request = urllib.request.Request(
            url, data=data, method="POST", headers={"Content-Type": "application/json"}
        )
        try:
            with opener.open(request, timeout=timeout) as response:
                response.read()
                return True
        except urllib.error.HTTPError as exc:
            problem = f"HTTP {exc.code}"
            if exc.code < 500 and exc.code != 429:
                break  # the request itself is wrong: retrying will not help
        except Exception as exc:  # noqa: BLE001 - a sink must never crash training
            problem = repr(exc)
        if attempt + 1 < attempts:
            time.sleep(backoff * (2**attempt))
    warnings.warn(f"tblog alert webhook failed ({problem}); the alert was not delivered",
                  stacklevel=1)
    return False


class Alerts:
    """Per-run alert state: sinks, rate limits and webhook threads."""

    def __init__(self, callback: Callable[..., Any] | None, webhook: str | None) -> None:
        self.callback = callback
        self.webhook = webhook
        self._last: dict[str, float] = {}
        self._threads: list[threading.Thread] = []

    def alert(self, run: Run, title: Any, text: Any, level: Any, wait_duration: Any) -> bool:
        if not isinstance(title, str) or not title:
            raise TypeError(f"alert: title must be a non-empty str, got {title!r}")
        if not isinstance(text, str):
            raise TypeError(f"alert: text must be a str, got {type(text).__name__}")
        name = getattr(level, "value", level)  # also an enum with str values
        if not isinstance(name, str) or name.upper() not in LEVELS:
            raise ValueError(f"alert: level must be one of {LEVELS}, got {level!r}")
        level = name.upper()
        if isinstance(wait_duration, datetime.timedelta):
            wait_duration = wait_duration.total_seconds()
        if isinstance(wait_duration, bool) or not isinstance(wait_duration, (int, float)) or not (
            wait_duration >= 0
        ):
            raise ValueError(f"alert: wait_duration must be seconds >= 0, got {wait_duration!r}")
        now = time.monotonic()
        last = self._last.get(title)
        if last is not None and wait_duration and now - last < wait_duration:
            return False
        self._last[title] = now
        run.writer.add_text("alerts", f"**{level}** {title}\n\n{text}", run.step)
        print(f"tblog alert [{level}] {title}: {text}", file=sys.stderr)
        if self.callback is not None:
            try:
                self.callback(title, text, level)
            except Exception as exc:  # noqa: BLE001 - a sink must never crash training
                warnings.warn(f"tblog alert callback raised {exc!r}", stacklevel=3)
        if self.webhook is not None:
            body = {
                "text": f"[{level}] {title}: {text} ({run.project}/{run.name}, step {run.step})",
                "title": title, "message": text, "level": level,
                "project": run.project, "run": run.name, "step": run.step,
            }
            thread = threading.Thread(
                target=post_json,
                args=(self.webhook, body, WEBHOOK_TIMEOUT, WEBHOOK_ATTEMPTS, WEBHOOK_BACKOFF),
                name="tblog-alert-webhook", daemon=True,
            )
            self._threads = [t for t in self._threads if t.is_alive()]
            self._threads.append(thread)
            thread.start()
        return True

    def wait(self, timeout: float) -> None:
        """Give webhook requests in flight up to ``timeout`` seconds in all."""
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        self._threads = [t for t in self._threads if t.is_alive()]
