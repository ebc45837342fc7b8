"""Time-ordered identifiers.

Ids sort by creation time as plain strings, so a DynamoDB sort key made of them
pages through messages, sessions and calls in time order with no extra index.
Format: 13 hex digits of milliseconds since the epoch, then 12 random hex digits.
"""

from __future__ import annotations

import re
import secrets
import time

ID_PATTERN = re.compile(r"^[0-9a-f]{25}$")


def new_id(now_ms: int | None = None) -> str:
    ms = int(time.time() * 1000) if now_ms is None else now_ms
    return f"{ms:013x}{secrets.token_hex(6)}"


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
