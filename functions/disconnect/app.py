"""$disconnect: leave every room, end the sessions, forget the connection.

Best-effort by API Gateway's own rules: what it misses, TTL and the first 410 Gone clean.
"""

from __future__ import annotations

from typing import Any

from roomcast.logic.presence import drop_connection
from roomcast.observability import logger
from roomcast.settings import DisconnectSettings, configure
from roomcast.wiring import services_for

configure(DisconnectSettings)


@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    connection_id = (event.get("requestContext") or {}).get("connectionId")
    if connection_id:
        drop_connection(services_for(event), connection_id, reason="disconnect")
    return {"statusCode": 200}
