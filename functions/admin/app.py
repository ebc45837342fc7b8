"""Admin HTTP API (behind an X-Api-Key check): rooms and connect tokens."""

from __future__ import annotations

import json
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response
from aws_lambda_powertools.event_handler.middlewares import NextMiddleware
from pydantic import ValidationError

from roomcast import auth
from roomcast.dal.store import get_store
from roomcast.errors import (
    BadRequest,
    NotFound,
    RoomcastError,
    Unauthorized,
    error_body,
    http_status,
)
from roomcast.gateway import Gateway, management_endpoint
from roomcast.logic import closing, fanout, rooms, webhook_admin
from roomcast.logic.context import Services
from roomcast.models.admin import CreateRoomRequest, MintTokenRequest
from roomcast.models.fanout import BroadcastRequest
from roomcast.observability import logger, metrics

app = APIGatewayHttpResolver()
OPEN_PATHS = frozenset({"/health"})


def _json(status: int, body: dict[str, Any]) -> Response:
    return Response(status_code=status, content_type="application/json", body=json.dumps(body))


def require_api_key(router: APIGatewayHttpResolver, next_middleware: NextMiddleware) -> Response:
    if router.current_event.path not in OPEN_PATHS:
        provided = router.current_event.headers.get("x-api-key")
        if not auth.api_key_matches(provided, auth.admin_api_key()):
            raise Unauthorized("missing or invalid X-Api-Key")
    return next_middleware(router)


app.use(middlewares=[require_api_key])


@app.exception_handler(RoomcastError)
def _domain_error(exc: RoomcastError) -> Response:
    return _json(http_status(exc), error_body(exc))


@app.not_found
def _no_route(exc: Exception) -> Response:
    return _domain_error(NotFound("no such route"))


@app.exception_handler(Exception)
def _unexpected(exc: Exception) -> Response:
    # Our error body with no detail, rather than API Gateway's bare 500; the trace is logged.
    logger.exception("admin request failed")
    return _json(500, error_body(exc))


@app.exception_handler(ValidationError)
def _invalid(exc: ValidationError) -> Response:
    first = exc.errors(include_url=False, include_input=False)[0]
    where = ".".join(str(p) for p in first["loc"]) or "body"
    return _domain_error(BadRequest(f"{where}: {first['msg']}"[:200]))


def _body() -> Any:
    try:
        return app.current_event.json_body or {}
    except (ValueError, TypeError) as exc:
        raise BadRequest("the body must be JSON") from exc


def _int_query(name: str, default: int, low: int, high: int) -> int:
    raw = app.current_event.get_query_string_value(name, None)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError as exc:
        raise BadRequest(f"{name} must be an integer") from exc
    if not low <= value <= high:
        raise BadRequest(f"{name} must be between {low} and {high}")
    return value


@app.get("/health")
def health() -> dict[str, Any]:
    return {"status": "ok"}


@app.post("/rooms")
def create_room() -> Response:
    request = CreateRoomRequest.model_validate(_body())
    room, generated_secret = rooms.create_room_with_secret(get_store(), request)
    view = rooms.room_view(room)
    view.webhook_secret = generated_secret  # shown once, never again
    return _json(201, view.dump())


@app.get("/rooms")
def list_rooms() -> dict[str, Any]:
    limit = _int_query("limit", 20, 1, 100)
    cursor = app.current_event.get_query_string_value("cursor", None)
    return rooms.list_rooms(get_store(), limit, cursor).dump()


@app.get("/rooms/<room_id>")
def get_room(room_id: str) -> dict[str, Any]:
    return rooms.get_room(get_store(), room_id).dump()


def _services() -> Services:
    return Services(store=get_store(), gateway=Gateway(management_endpoint(None, None)))


@app.delete("/rooms/<room_id>")
def close_room(room_id: str) -> Response:
    closed_by = app.current_event.get_query_string_value("closed_by", None) or "admin-api"
    result = closing.close_room(_services(), room_id, closed_by[:128])
    return _json(202, result.dump())


@app.get("/rooms/<room_id>/deliveries")
def list_deliveries(room_id: str) -> dict[str, Any]:
    return webhook_admin.list_deliveries(get_store(), room_id).dump()


@app.post("/rooms/<room_id>/deliveries/<delivery_id>/replay")
def replay_delivery(room_id: str, delivery_id: str) -> Response:
    return _json(202, webhook_admin.replay(get_store(), room_id, delivery_id).dump())


@app.post("/broadcasts")
def create_broadcast() -> Response:
    request = BroadcastRequest.model_validate(_body())
    return _json(202, fanout.create_broadcast(_services(), request).dump())


@app.get("/broadcasts/<broadcast_id>")
def get_broadcast(broadcast_id: str) -> dict[str, Any]:
    return fanout.get_broadcast(_services(), broadcast_id).dump()


@app.post("/tokens")
def mint_token() -> Response:
    request = MintTokenRequest.model_validate(_body())
    return _json(201, rooms.mint(request, auth.jwt_secret()).dump())


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return app.resolve(event, context)
