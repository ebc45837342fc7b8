"""A progress counter on stderr, so stdout stays clean for what scripts consume."""

from __future__ import annotations

import sys
import time
from typing import TextIO


class Progress:
    """On a terminal one line is rewritten in place; in a log (not a TTY) a line is
    written every `every` items or `interval` seconds, whichever comes first, so a long
    run shows it is alive without flooding the log."""

    def __init__(
        self,
        label: str,
        stream: TextIO | None = None,
        every: int = 100,
        interval: float = 5.0,
        total: int | None = None,
    ) -> None:
        self.label = label
        self.stream = stream if stream is not None else sys.stderr
        self.every = max(1, every)
        self.interval = interval
        self.total = total
        self.count = 0
        self._tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self._last_count = 0
        self._last_time = time.monotonic()

    def _line(self, extra: str = "") -> str:
        of = f"/{self.total}" if self.total is not None else ""
        return f"{self.label}: {self.count}{of}{extra}"

    def set(self, count: int, extra: str = "") -> None:
        self.count = count
        self._show(extra)

    def add(self, n: int = 1, extra: str = "") -> None:
        self.count += n
        self._show(extra)

    def _show(self, extra: str) -> None:
        now = time.monotonic()
        if self._tty:
            self.stream.write("\r" + self._line(extra) + "\x1b[K")
            self.stream.flush()
            return
        if self.count - self._last_count >= self.every or now - self._last_time >= self.interval:
            self.stream.write(self._line(extra) + "\n")
            self.stream.flush()
            self._last_count, self._last_time = self.count, now

    def done(self, extra: str = "") -> None:
        self.stream.write(
            ("\r" if self._tty else "") + self._line(extra) + ("\x1b[K" if self._tty else "") + "\n"
        )
        self.stream.flush()
