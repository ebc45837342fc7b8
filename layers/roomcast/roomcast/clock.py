"""The one clock webhook delivery reads (seconds since the epoch, as a float).

Retry schedules span days and SQS counts its 12-hour visibility limit from a receive, so
the tests move time forward by hand: they install a clock here and give moto the same
time, and every wait, deadline and record time of a delivery follows it.
"""

from __future__ import annotations

import time
from collections.abc import Callable

_now: Callable[[], float] = time.time


def now() -> float:
    return _now()


def now_ms() -> int:
    return int(_now() * 1000)


def install(source: Callable[[], float] | None) -> None:
    """Read time from `source` from now on (None: back to the system clock)."""
    global _now
    _now = source or time.time
