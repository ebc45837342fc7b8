"""The admin API's edges, in one place: what a request must be before a route sees it.

Every request goes through here before the resolver (functions/admin/app.py): a body is
read once - its media type, size and encoding here, its JSON syntax, nesting and number
sizes by roomcast/jsontext.py, the reader WebSocket frames share - and
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
import re
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver

from roomcast import jsontext
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
# API Gateway's own answer for a path no route serves (an HTTP API without a match).
NOT_FOUND_BODY = {"message": "Not Found"}


class AdminResolver(APIGatewayHttpResolver):
    """The HTTP resolver with path parameters that take any segment: Powertools' own pattern
    leaves out characters such as `"`, `#`, `\\` or a control character, so such a request
    met no route (a 404 naming no parameter) instead of the route's own validation (a 400
    that does). A parameter is one decoded segment, whatever it holds; the route's type
    decides whether it is valid."""

    @staticmethod
    def _compile_regex(rule: str, base_regex: str = "^{}$") -> re.Pattern[str]:
        return re.compile(base_regex.format(re.sub(r"<(\w+)>", r"(?P<\1>[^/]+)", rule)))


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


def parse_json(text: str) -> Any:
    """The resolver's json_body_deserializer: the one reader of client JSON
    (roomcast/jsontext.py), its refusals as 400 bad_request."""
    try:
        return jsontext.loads(text)
    except jsontext.JsonRefused as exc:
        raise BadRequest(f"the body {exc.reason}") from None


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
