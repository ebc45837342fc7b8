"""The browser client's typings name every error code the server can send."""

from __future__ import annotations

import re
from pathlib import Path

from roomcast import errors

ROOT = Path(__file__).resolve().parents[2]


def _server_codes() -> set[str]:
    found, pending = set(), [errors.RoomcastError]
    while pending:
        cls = pending.pop()
        found.add(cls.code)
        pending.extend(cls.__subclasses__())
    return found


def test_every_server_error_code_is_in_the_client_typings():
    typings = (ROOT / "client" / "roomcast.d.ts").read_text()
    union = typings[typings.index("export type ErrorCode") :].split(";", 1)[0]
    declared = set(re.findall(r'"([a-z_]+)"', union))
    assert _server_codes() - declared == set()
