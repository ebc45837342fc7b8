"""Time-ordered identifiers.

Ids sort by creation time as plain strings, so a DynamoDB sort key made of them
pages through messages, sessions and calls in time order with no extra index.
Format: 13 hex digits of milliseconds since the epoch, then 12 random hex digits.
"""

from __future__ import annotations

import re
import secrets
import threading
import time

ID_PATTERN = re.compile(r"^[0-9a-f]{25}$")


_RANDOM_SPACE = 1 << 48
_lock = threading.Lock()
_last_ms = -1
_last_suffix = 0


def new_id(now_ms: int | None = None) -> str:
    """Ids made by one process in the same millisecond keep their call order (the random
    suffix counts up from a random start), so messages sent within one millisecond page
    in send order; across processes, ids only order by millisecond."""
    global _last_ms, _last_suffix
    ms = int(time.time() * 1000) if now_ms is None else now_ms
    with _lock:
        if ms == _last_ms and _last_suffix + 1 < _RANDOM_SPACE:
            suffix = _last_suffix + 1
        else:
            # Start in the lower half so a burst within one millisecond never runs out.
            suffix = secrets.randbelow(_RANDOM_SPACE // 2)
        _last_ms, _last_suffix = ms, suffix
    return f"{ms:013x}{suffix:012x}"


def id_time_ms(identifier: str) -> int:
    return int(identifier[:13], 16)


def is_id(value: str) -> bool:
    return bool(ID_PATTERN.match(value))


def now_ms() -> int:
    return int(time.time() * 1000)


def iso(ms: int) -> str:
    """RFC 3339 UTC with milliseconds, the one time format roomcast speaks."""
    seconds, millis = divmod(ms, 1000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + f".{millis:03d}Z"
