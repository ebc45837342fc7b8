"""Schemathesis hooks for tests/e2e/test_admin_api_fuzz.py (loaded through
SCHEMATHESIS_HOOKS): the values a schema cannot generate are supplied, as any
Schemathesis setup supplies the ids of resources that exist.

- A webhook URL (`url`, `callback_url`) must reach a public address; no generated host
  does on this offline machine, so a valid request carries the local receiver's URL
  (loopback, allowed by the local runtime's WEBHOOK_ALLOW_LOOPBACK). A generated one is
  kept in negative cases, where it may be the invalid part.
- A `cursor` is whatever `next_cursor` the server handed out: a made-up string is
  refused `invalid_cursor` by contract, so valid requests go without one (the first page).

Nothing else is touched: every check runs on what was generated.
"""

from __future__ import annotations

import os
from typing import Any

import schemathesis

WEBHOOK_URL = os.environ.get("ROOMCAST_FUZZ_WEBHOOK_URL", "")


@schemathesis.hook
def before_call(context: Any, case: Any, kwargs: dict[str, Any]) -> None:
    meta = case.meta
    if meta is None or not meta.generation.mode.is_positive:
        return
    if isinstance(case.body, dict):
        for field in ("url", "callback_url"):
            if isinstance(case.body.get(field), str):
                case.body[field] = WEBHOOK_URL
    if isinstance(case.query, dict):
        case.query.pop("cursor", None)
