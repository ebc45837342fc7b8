"""What WebSocket handlers share: reading the request context, parsing frames, replying.

Handlers stay thin: they call `parse_frame`, one logic function, and `reply`.
"""

from __future__ import annotations

import json
import re
from typing import Any

from pydantic import TypeAdapter, ValidationError

from roomcast import jsontext
from roomcast.errors import InvalidFrame, PayloadTooLarge, Unauthorized, UnknownAction, error_body
from roomcast.logic.context import Caller
from roomcast.models.common import NO_CONTROL
from roomcast.models.records import Identity

# API Gateway's own limit for one WebSocket frame; larger bodies never reach a handler
# in the cloud, and the local runtime enforces the same limit.
MAX_FRAME_BYTES = 32 * 1024


def authorizer_context(identity: Identity) -> dict[str, Any]:
    """Identity as an authorizer context (values must be strings, numbers or booleans)."""
    return {
        "user_id": identity.user_id,
        "name": identity.name,
        "admin": identity.admin,
        "rooms": json.dumps(identity.rooms) if identity.rooms is not None else "",
    }


def identity_from_event(event: dict[str, Any]) -> Identity:
    context = (event.get("requestContext") or {}).get("authorizer") or {}
    user_id = context.get("user_id") or context.get("principalId")
    if not user_id:
        raise Unauthorized()
    rooms_raw = context.get("rooms") or ""
    admin_raw = context.get("admin")
    return Identity(
        user_id=str(user_id),
        name=str(context.get("name") or user_id),
        admin=admin_raw is True or str(admin_raw).lower() == "true",
        rooms=json.loads(rooms_raw) if rooms_raw else None,
    )


def caller_from_event(event: dict[str, Any]) -> Caller:
    connection_id = (event.get("requestContext") or {}).get("connectionId")
    if not connection_id:
        raise Unauthorized()
    return Caller(connection_id=connection_id, identity=identity_from_event(event))


def raw_body(event: dict[str, Any]) -> str:
    body = event.get("body")
    if body is None:
        raise InvalidFrame("empty frame")
    if event.get("isBase64Encoded"):
        raise InvalidFrame("binary frames are not supported; send JSON text")
    if len(body.encode("utf-8", "surrogatepass")) > MAX_FRAME_BYTES:
        raise PayloadTooLarge("frames are limited to 32 KB")
    return body


def request_id_of(event: dict[str, Any]) -> str | None:
    """Best-effort request_id for error replies, even from a frame that fails validation."""
    try:
        data = json.loads(event.get("body") or "")
    except (ValueError, TypeError, RecursionError):
        return None
    if isinstance(data, dict):
        rid = data.get("request_id")
        if isinstance(rid, str) and 0 < len(rid) <= 64 and _is_utf8(rid) and re.fullmatch(NO_CONTROL, rid):
            return rid
    return None


def _is_utf8(value: Any) -> bool:
    """False when a decoded frame holds lone surrogates: JSON may escape one ("\\ud800"),
    but it is not text - stored, it would break every later reply and fan-out that
    carries it."""
    try:
        json.dumps(value, ensure_ascii=False).encode("utf-8")
    except (UnicodeEncodeError, RecursionError):
        return False
    return True


def parse_frame(event: dict[str, Any], adapter: TypeAdapter[Any], actions: frozenset[str]) -> Any:
    body = raw_body(event)
    try:
        # The reader admin bodies share (roomcast/jsontext.py): integral numbers are ints,
        # NaN, huge integers, deep nesting and lone surrogates are refused.
        data = jsontext.loads(body)
    except jsontext.JsonRefused as exc:
        raise InvalidFrame(f"the frame {exc.reason}") from None
    if not isinstance(data, dict):
        raise InvalidFrame("frames must be JSON objects")
    action = data.get("action")
    if not isinstance(action, str) or action not in actions:
        raise UnknownAction(f"unknown action; expected one of: {', '.join(sorted(actions))}")
    try:
        return adapter.validate_python(data)
    except ValidationError as exc:
        raise InvalidFrame(_describe(exc)) from exc


def _describe(exc: ValidationError) -> str:
    first = exc.errors(include_url=False, include_input=False)[0]
    where = ".".join(str(p) for p in first["loc"][1:]) or "frame"
    return f"{where}: {first['msg']}"[:200]


def reply(payload: dict[str, Any] | None) -> dict[str, Any]:
    """The integration response; with the route's response, API Gateway sends `body` back."""
    if payload is None:
        return {"statusCode": 200}
    return {"statusCode": 200, "body": json.dumps(payload, separators=(",", ":"), ensure_ascii=False)}


def error_reply(exc: BaseException, event: dict[str, Any]) -> dict[str, Any]:
    return reply(error_body(exc, request_id_of(event)))


def run_action(
    event: dict[str, Any],
    adapter: TypeAdapter[Any],
    actions: frozenset[str],
    dispatch: Any,
) -> dict[str, Any]:
    """Parse a frame, run `dispatch(services, caller, frame)`, reply; every failure is an error frame."""
    from roomcast.errors import RoomcastError
    from roomcast.observability import logger, metrics
    from roomcast.wiring import services_for

    try:
        caller = caller_from_event(event)
        frame = parse_frame(event, adapter, actions)
        logger.append_keys(action=frame.action, connection_id=caller.connection_id)
        result = dispatch(services_for(event), caller, frame)
        metrics.add_metric(name=f"Action.{frame.action}", unit="Count", value=1)
        return reply(result.dump() if result is not None else None)
    except RoomcastError as exc:
        logger.info("frame refused", extra={"code": exc.code})
        metrics.add_metric(name=f"Refused.{exc.code}", unit="Count", value=1)
        return error_reply(exc, event)
    except Exception as exc:
        logger.exception("frame failed")
        metrics.add_metric(name="Failed", unit="Count", value=1)
        return error_reply(exc, event)
