"""$connect: register the connection (the authorizer has verified the token already)."""

from __future__ import annotations

from typing import Any

from roomcast import auth, wiring
from roomcast.errors import RoomcastError
from roomcast.ids import now_ms
from roomcast.models.records import Connection
from roomcast.observability import logger
from roomcast.settings import ConnectSettings, configure, get_settings
from roomcast.ws import caller_from_event

configure(ConnectSettings)


@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    try:
        caller = caller_from_event(event)
    except RoomcastError:
        return {"statusCode": 401}
    connected_at = now_ms()
    wiring.store().put_connection(
        Connection(
            connection_id=caller.connection_id,
            user_id=caller.identity.user_id,
            name=caller.identity.name,
            admin=caller.identity.admin,
            rooms=caller.identity.rooms,
            connected_at=connected_at,
            expires_at=connected_at // 1000 + get_settings().connection_ttl_seconds,
        )
    )
    logger.info("connected", extra={"connection_id": caller.connection_id, "user_id": caller.identity.user_id})
    response: dict[str, Any] = {"statusCode": 200}
    subprotocol = auth.chosen_subprotocol(event.get("headers"))
    if subprotocol:
        # Browsers drop a socket whose offered subprotocol is not echoed.
        response["headers"] = {"Sec-WebSocket-Protocol": subprotocol}
    return response
