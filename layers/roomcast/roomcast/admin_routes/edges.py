"""The admin API's edges, in one place: what a request must be before a route sees it.

Every request goes through here before the resolver (functions/admin/app.py): a body is
read once - its media type, size, encoding, JSON syntax, nesting and number sizes - and
anything a client can get wrong is a 4xx with the error body, never a 500
(docs/admin-api.md, "Requests"). The resolver then parses text that is known to be
well-formed JSON. The resolver's not-found answer comes from here too: 405 with `Allow`
for a method the path does not serve, API Gateway's own 404 for a path that is not there.

Path parameters are not decoded here: API Gateway's HTTP API passes `rawPath` decoded
once (a `%40` arrives as `@`), and decoding again would turn `%2540` into `@` as well. The
routes validate what arrives.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from roomcast.errors import (
    BadRequest,
    PayloadTooLarge,
    RoomcastError,
    UnsupportedMediaType,
    error_body,
)

# Far above every body the routes take (a broadcast frame is at most 128 KB), far below
# API Gateway's 10 MB: a larger body is refused before it is parsed.
MAX_BODY_BYTES = 1024 * 1024
# DynamoDB nests 32 levels; the routes' own limits (meta, metadata, data) are lower still.
MAX_JSON_DEPTH = 32
# Python refuses integers over 4,300 digits with a ValueError; the largest DynamoDB takes
# has 38. Longer digit runs are refused while parsing, before int() is tried.
MAX_NUMBER_CHARS = 64
# API Gateway's own answer for a path no route serves (an HTTP API without a match).
NOT_FOUND_BODY = {"message": "Not Found"}


def _json_media_type(content_type: str) -> bool:
    """application/json or a +json type, with no charset but UTF-8 (RFC 8259 JSON is UTF-8)."""
    media, _, params = content_type.partition(";")
    media = media.strip().lower()
    if media != "application/json" and not (
        media.startswith("application/") and media.endswith("+json")
    ):
        return False
    for param in params.split(";"):
        name, _, value = param.partition("=")
        if name.strip().lower() == "charset" and value.strip().strip('"').lower() not in (
            "utf-8",
            "utf8",
        ):
            return False
    return True


def _refuse_constant(name: str) -> Any:
    # NaN and Infinity are not JSON (Python's parser accepts them); DynamoDB refuses them.
    raise BadRequest(f"the body must be JSON: {name} is not a JSON number")


def _bounded_int(text: str) -> int:
    if len(text.lstrip("-")) > MAX_NUMBER_CHARS:
        raise BadRequest(f"numbers are limited to {MAX_NUMBER_CHARS} digits")
    return int(text)


def _bounded_float(text: str) -> float:
    if len(text) > MAX_NUMBER_CHARS * 2:
        raise BadRequest(f"numbers are limited to {MAX_NUMBER_CHARS} digits")
    return float(text)


def _check_tree(value: Any) -> None:
    """Depth at most MAX_JSON_DEPTH and text that is UTF-8 (a JSON escape may name a lone
    surrogate, which no store or client can encode); walked without recursion."""
    pending: list[tuple[Any, int]] = [(value, 1)]
    while pending:
        item, depth = pending.pop()
        if isinstance(item, dict):
            children: Any = [*item.keys(), *item.values()]
        elif isinstance(item, list):
            children = item
        else:
            if isinstance(item, str):
                try:
                    item.encode("utf-8")
                except UnicodeEncodeError:
                    raise BadRequest(
                        "the body must be UTF-8 JSON: it names a lone surrogate"
                    ) from None
            continue
        if depth > MAX_JSON_DEPTH:
            raise BadRequest(f"the body nests deeper than {MAX_JSON_DEPTH} levels")
        pending.extend((child, depth + 1) for child in children)


def parse_json(text: str) -> Any:
    """The one JSON parser of admin bodies: a BadRequest for anything that is not JSON the
    routes can take (the resolver's json_body_deserializer)."""
    try:
        value = json.loads(
            text,
            parse_constant=_refuse_constant,
            parse_int=_bounded_int,
            parse_float=_bounded_float,
        )
    except RecursionError:
        raise BadRequest(f"the body nests deeper than {MAX_JSON_DEPTH} levels") from None
    except ValueError:
        raise BadRequest("the body must be JSON") from None
    _check_tree(value)
    return value


def read_body(event: dict[str, Any]) -> None:
    """Check a request's body as transport (media type, size, base64, UTF-8) and leave it in
    the event as text, so the resolver never decodes bytes; RoomcastError if it cannot be.

    Only routes that take a body call this: a body sent to one that takes none is ignored,
    as the resolver ignores it."""
    raw = event.get("body")
    if raw is None or raw == "":
        return
    headers = {str(k).lower(): str(v) for k, v in (event.get("headers") or {}).items()}
    content_type = headers.get("content-type", "").strip()
    # No Content-Type at all: JSON is the only thing the API takes, so it is read as JSON.
    if content_type and not _json_media_type(content_type):
        raise UnsupportedMediaType(
            f"the body must be Content-Type: application/json (UTF-8), not {content_type[:80]}"
        )
    if event.get("isBase64Encoded"):
        try:
            data = base64.b64decode(raw, validate=True)
        except (binascii.Error, ValueError):
            raise BadRequest("the body is not valid base64") from None
    else:
        data = raw.encode("utf-8", "surrogatepass") if isinstance(raw, str) else bytes(raw)
    if len(data) > MAX_BODY_BYTES:
        raise PayloadTooLarge(f"bodies are limited to {MAX_BODY_BYTES // 1024} KB")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise BadRequest("the body must be UTF-8 JSON") from None
    event["body"] = text
    event["isBase64Encoded"] = False
    # What was accepted is JSON, whatever JSON media type named it: the resolver reads it so.
    event["headers"] = {
        k: v for k, v in (event.get("headers") or {}).items() if str(k).lower() != "content-type"
    }
    event["headers"]["content-type"] = "application/json"


def allowed_methods(routes: list[Any], path: str) -> list[str]:
    """The methods the resolver's routes serve for `path` (empty: no route has the path)."""
    return sorted({route.method for route in routes if route.rule.match(path)})


def takes_body(routes: list[Any], method: str, path: str) -> bool:
    return any(
        route.method == method and route.rule.match(path) and route.dependant.body_params
        for route in routes
    )


def proxy_response(status: int, body: Any, headers: dict[str, str] | None = None) -> dict[str, Any]:
    """A Lambda proxy answer for what is refused before the resolver runs."""
    return {
        "statusCode": status,
        "headers": {"Content-Type": "application/json", **(headers or {})},
        "body": json.dumps(body),
        "isBase64Encoded": False,
    }


def refusal(exc: RoomcastError) -> dict[str, Any]:
    return proxy_response(exc.http_status, error_body(exc))
