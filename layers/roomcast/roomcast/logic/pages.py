"""Replies within API Gateway's 128 KB per message (docs/protocol.md, "Limits").

API Gateway refuses a WebSocket message over 128 KB, route responses and @connections posts
alike. A history page or a join reply is therefore bounded by its encoded size as well as
by its count: the newest messages that fit are kept, and `next_cursor` continues from the
oldest one kept, so paging on with `history(before=next_cursor)` loses nothing.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from roomcast.models.common import OutModel, encoded_size

# API Gateway's limit for one message to a client (route response or @connections post).
REPLY_LIMIT_BYTES = 128 * 1024
# Room left for what API Gateway or a later field adds (a request id echoed, counters).
REPLY_MARGIN_BYTES = 512

def first_that_fit(items: Iterable[OutModel], budget: int) -> int:
    """How many of the items, in order, fit in `budget` bytes of a JSON array's contents
    (the items plus their commas)."""
    count = 0
    for item in items:
        size = encoded_size(item.dump()) + (1 if count else 0)
        if size > budget:
            break
        budget -= size
        count += 1
    return count


def newest_that_fit(items: Sequence[OutModel], budget: int) -> int:
    """How many of the newest items (the end of an oldest-first list) fit in `budget`."""
    return first_that_fit(reversed(items), budget)


def budget_for(frame: OutModel, limit: int = REPLY_LIMIT_BYTES) -> int:
    """Bytes left for list contents once `frame` (with its lists empty) is encoded."""
    return limit - REPLY_MARGIN_BYTES - encoded_size(frame.dump())
