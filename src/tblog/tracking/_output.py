"""Terminal output capture: ``sys.stdout``/``sys.stderr`` tee'd into memory for
``{log_dir}/output.log``, passing everything through unchanged.

Only Python-level writes are seen (not those of C extensions or subprocesses
writing to the file descriptors). The original streams are put back at finish,
unless something replaced them after us, in which case our wrapper just stops
recording.
"""

from __future__ import annotations

import sys
import threading
from typing import Any

#: output.log keeps at most this many characters (the newest).
MAX_CHARS = 16 * 1024 * 1024


class _Tee:
    """A text stream that writes to ``stream`` and, while active, to ``sink``."""

    def __init__(self, stream: Any, sink: OutputTee) -> None:
        self._tblog_stream = stream
        self._tblog_sink = sink

    def write(self, text: str) -> int:
        result = self._tblog_stream.write(text)
        sink = self._tblog_sink
        if sink.active and isinstance(text, str):
            sink.record(text)
        return result

    def writelines(self, lines: Any) -> None:
        for line in lines:
            self.write(line)

    def __getattr__(self, name: str) -> Any:  # encoding, fileno, isatty, flush, buffer, ...
        return getattr(self._tblog_stream, name)


class OutputTee:
    """Tees ``sys.stdout`` and ``sys.stderr`` between :meth:`start` and :meth:`stop`."""

    def __init__(self) -> None:
        self.active = False
        self._parts: list[str] = []
        self._size = 0
        self._lock = threading.Lock()
        self._saved: dict[str, Any] = {}
        self._tees: dict[str, _Tee] = {}

    def start(self) -> None:
        for name in ("stdout", "stderr"):
            stream = getattr(sys, name)
            if stream is None:
                continue
            tee = _Tee(stream, self)
            self._saved[name], self._tees[name] = stream, tee
            setattr(sys, name, tee)
        self.active = True

    def record(self, text: str) -> None:
        with self._lock:
            self._parts.append(text)
            self._size += len(text)
            if self._size > 2 * MAX_CHARS:
                joined = "".join(self._parts)[-MAX_CHARS:]
                self._parts, self._size = [joined], len(joined)

    def contents(self) -> bytes:
        """Everything recorded so far (the newest ``MAX_CHARS`` characters), UTF-8."""
        with self._lock:
            text = "".join(self._parts)
            self._parts = [text]
        return text[-MAX_CHARS:].encode("utf-8", "replace")

    def stop(self) -> None:
        """Stop recording and put the original streams back where ours still are."""
        self.active = False
        for name, tee in self._tees.items():
            if getattr(sys, name) is tee:
                setattr(sys, name, self._saved[name])
        self._tees.clear()
