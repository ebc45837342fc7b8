"""The one reader of JSON a client sends: admin API bodies and WebSocket frames alike.

JSON has one number type; a client's `5.0` is the integer 5 (JSON Schema's `integer`
says the same), so integral numbers are read as ints and the strict models see what the
documents promise: an integer field takes `5` and `5.0`, never `"5"` or `true`. What a
hostile client can make Python choke on is refused here, as a `JsonRefused` the caller
turns into its own 400 (`bad_request` over HTTP, `invalid_frame` on a socket):

- NaN and Infinity (Python reads them; they are not JSON, and no store takes them);
- integers of more than 64 digits (Python refuses over 4,300 with a ValueError, and
  parsing a long digit run costs quadratic time);
- nesting deeper than 32 levels (DynamoDB's limit; Python's parser raises
  RecursionError near 1,000);
- text that names a lone surrogate (`"\\ud800"`: not UTF-8, so no store, no reply and no
  client could encode it).
"""

from __future__ import annotations

import json
from typing import Any

MAX_DEPTH = 32
MAX_INT_DIGITS = 64


class JsonRefused(ValueError):
    """Why the text is not JSON the server takes; `reason` completes "the body ..."."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _refuse_constant(name: str) -> Any:
    raise JsonRefused(f"holds {name}, which is not a JSON number")


def _int(text: str) -> int:
    if len(text) - text.startswith("-") > MAX_INT_DIGITS:
        raise JsonRefused(f"has a number over {MAX_INT_DIGITS} digits")
    return int(text)


def _number(text: str) -> int | float:
    value = float(text)
    # An integral number (1.0, 1e3) is an integer, as JSON Schema reads it; inf stays a
    # float for the callers' range checks to refuse.
    return int(value) if value.is_integer() else value


def _check_tree(value: Any) -> None:
    """Depth and UTF-8, walked without recursion."""
    pending: list[tuple[Any, int]] = [(value, 1)]
    while pending:
        item, depth = pending.pop()
        if isinstance(item, str):
            try:
                item.encode("utf-8")
            except UnicodeEncodeError:
                raise JsonRefused("names a lone surrogate, which is not UTF-8 text") from None
            continue
        if isinstance(item, dict):
            children: list[Any] = [*item.keys(), *item.values()]
        elif isinstance(item, list):
            children = item
        else:
            continue
        if depth > MAX_DEPTH:
            raise JsonRefused(f"nests deeper than {MAX_DEPTH} levels")
        pending.extend((child, depth + 1) for child in children)


def loads(text: str | bytes) -> Any:
    """The value of a client's JSON text; JsonRefused if it is not JSON the server takes."""
    try:
        value = json.loads(
            text, parse_constant=_refuse_constant, parse_int=_int, parse_float=_number
        )
    except RecursionError:
        raise JsonRefused(f"nests deeper than {MAX_DEPTH} levels") from None
    except JsonRefused:
        raise
    except (ValueError, TypeError):
        raise JsonRefused("is not JSON") from None
    _check_tree(value)
    return value
