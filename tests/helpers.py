"""Test helpers: WebSocket events built from the samples in events/, and what moto's
@connections endpoint received."""

from __future__ import annotations

import copy
import json
from typing import Any

from tests.conftest import ADMIN_KEY, JWT_SECRET, load_event


def ws_event(
    sample: str,
    connection_id: str = "conn-alice-1",
    user_id: str = "alice",
    name: str = "Alice",
    body: dict[str, Any] | str | None = None,
    rooms: list[str] | None = None,
    admin: bool = False,
) -> dict[str, Any]:
    """A sample WebSocket event for another connection/user, optionally with another body."""
    event = copy.deepcopy(load_event(sample))
    context = event["requestContext"]
    context["connectionId"] = connection_id
    if "authorizer" in context:
        context["authorizer"].update(
            principalId=user_id,
            user_id=user_id,
            name=name,
            admin=admin,
            rooms=json.dumps(rooms) if rooms is not None else "",
        )
    if body is not None:
        event["body"] = body if isinstance(body, str) else json.dumps(body)
        if isinstance(body, dict) and isinstance(body.get("action"), str):
            context["routeKey"] = body["action"]
    return event


def http_event(sample: str, api_key: str | None = ADMIN_KEY, body: Any = None) -> dict[str, Any]:
    event = copy.deepcopy(load_event(sample))
    if api_key is None:
        event["headers"].pop("x-api-key", None)
    else:
        event["headers"]["x-api-key"] = api_key
    if body is not None:
        event["body"] = body if isinstance(body, str) else json.dumps(body)
    return event


def reply_body(response: dict[str, Any]) -> dict[str, Any] | None:
    body = response.get("body")
    return json.loads(body) if body else None


def posted_frames(connection_id: str) -> list[dict[str, Any]]:
    """Every frame moto's @connections endpoint received for a connection, in order."""
    from moto.apigatewaymanagementapi.models import apigatewaymanagementapi_backends

    backend = apigatewaymanagementapi_backends["123456789012"]["us-east-1"]
    connection = backend.connections.get(connection_id)
    data = connection.data.decode() if connection else ""
    decoder = json.JSONDecoder()
    frames, index = [], 0
    while index < len(data):
        frame, index = decoder.raw_decode(data, index)
        frames.append(frame)
    return frames


def clear_posted() -> None:
    from moto.apigatewaymanagementapi.models import apigatewaymanagementapi_backends

    apigatewaymanagementapi_backends["123456789012"]["us-east-1"].connections.clear()


def token(user_id: str = "alice", name: str = "Alice", **kwargs: Any) -> str:
    from roomcast.auth import mint_token

    return mint_token(JWT_SECRET, user_id, name, kwargs.pop("ttl_seconds", 3600), **kwargs)[0]
