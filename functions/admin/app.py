"""Admin HTTP API (behind an X-Api-Key check): rooms, deliveries, broadcasts and connect tokens.

Routes, parameters and bodies are typed: Powertools validates them (enable_validation)
and the same declarations generate docs/openapi.json (scripts/gen_openapi.py;
docs/admin-api.md is the reference). Bodies are the models' own dump(), as before.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError
from aws_lambda_powertools.event_handler.openapi.params import Body, Path, Query
from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEventV2
from pydantic import ValidationError

from roomcast import auth
from roomcast.admin_routes import RoomPath, answers, edges, json_response
from roomcast.admin_routes import messaging as messaging_routes
from roomcast.admin_routes import moderation as moderation_routes
from roomcast.admin_routes.endpoints import router as endpoints_router
from roomcast.errors import (
    BadRequest,
    MethodNotAllowed,
    RoomcastError,
    error_body,
    http_status,
    over_http,
)
from roomcast.logic import closing, range_jobs, rooms, webhook_admin
from roomcast.models.admin import (
    CreateRoomRequest,
    HealthView,
    MintTokenRequest,
    RoomList,
    RoomView,
    TokenResponse,
)
from roomcast.models.common import NO_CONTROL
from roomcast.models.fanout import BroadcastRequest, BroadcastView
from roomcast.models.webhooks import CloseResponse, DeliveryList, ReplayResponse
from roomcast.observability import logger, metrics
from roomcast.settings import AdminSettings, configure
from roomcast.wiring import services

configure(AdminSettings)

# Bodies are parsed by the one bounded parser (roomcast/admin_routes/edges.py).
app = edges.AdminResolver(enable_validation=True, json_body_deserializer=edges.parse_json)
app.include_router(messaging_routes.router)
app.include_router(moderation_routes.router)
app.include_router(endpoints_router)
OPEN_PATHS = frozenset({"/health"})
API_KEY_HEADER = "x-api-key"


def _routes() -> list[Any]:
    # The resolver's compiled routes (regex and method): the one list 405s and body
    # checks are decided from, so they cannot drift from the routes themselves.
    return [*app._static_routes, *app._dynamic_routes]


@app.exception_handler(RoomcastError)
def _domain_error(exc: RoomcastError) -> Response:
    exc = over_http(exc)
    return json_response(http_status(exc), error_body(exc))


@app.not_found
def _no_route(exc: Exception) -> Response:
    """No route for this method and path: 405 with Allow when the path is served with other
    methods (HEAD and OPTIONS included), else API Gateway's own 404 body."""
    event = app.current_event
    allowed = edges.allowed_methods(_routes(), event.path)
    if allowed:
        refused = MethodNotAllowed(f"{event.http_method} is not served here; this path takes {', '.join(allowed)}")
        return Response(
            status_code=405,
            content_type="application/json",
            headers={"Allow": ", ".join(allowed)},
            body=json.dumps(error_body(refused)),
        )
    return Response(status_code=404, content_type="application/json", body=json.dumps(edges.NOT_FOUND_BODY))


@app.exception_handler(Exception)
def _unexpected(exc: Exception) -> Response:
    # Our error body with no detail, rather than API Gateway's bare 500; the trace is logged.
    logger.exception("admin request failed")
    return json_response(500, error_body(exc))


@app.exception_handler(RequestValidationError)
def _invalid_request(exc: RequestValidationError) -> Response:
    """Every parameter and body the resolver refuses: 400 bad_request, the first problem named."""
    first = exc.errors()[0]
    if first.get("type") == "json_invalid":
        return _domain_error(BadRequest("the body must be JSON"))
    loc = [str(p) for p in first.get("loc", ())]
    # ("body", "name") -> "name"; ("query", "limit") -> "limit": where, as the client wrote it.
    where = ".".join(loc[1:] if len(loc) > 1 else loc) or "body"
    return _domain_error(BadRequest(f"{where}: {first.get('msg', 'invalid')}"[:200]))


@app.exception_handler(ValidationError)
def _invalid(exc: ValidationError) -> Response:
    first = exc.errors(include_url=False, include_input=False)[0]
    where = ".".join(str(p) for p in first["loc"]) or "body"
    return _domain_error(BadRequest(f"{where}: {first['msg']}"[:200]))


_OPEN_ANSWERS = {k: v for k, v in answers(200, "the function answers", HealthView).items() if k not in (401, 403)}


@app.get("/health", summary="Liveness (no key needed)", responses=_OPEN_ANSWERS, tags=["health"])
def health():
    return HealthView(status="ok").dump()


@app.post(
    "/rooms",
    summary="Create a room",
    description="With a callback_url, its webhook secret is generated unless given, and shown once in this answer.",
    responses=answers(201, "the room", RoomView, {409: "conflict: the room id is taken", 400: "bad_request or unsafe_url"}),
    tags=["rooms"],
)
def create_room(request: Annotated[CreateRoomRequest, Body(embed=False)]):
    room, generated_secret = rooms.create_room_with_secret(services(), request)
    view = rooms.room_view(room)
    view.webhook_secret = generated_secret  # shown once, never again
    return json_response(201, view.dump())


@app.get(
    "/rooms",
    summary="List rooms, newest first",
    responses=answers(200, "a page of rooms (without members)", RoomList, {400: "bad_request or invalid_cursor"}),
    tags=["rooms"],
)
def list_rooms(
    limit: Annotated[int, Query(ge=1, le=100, description="rooms per page")] = 20,
    cursor: Annotated[str | None, Query(max_length=2048, description="next_cursor of the previous page")] = None,
):
    return rooms.list_rooms(services(), limit, cursor).dump()


@app.get(
    "/rooms/<room_id>",
    summary="A room: stats, who is present, its latest calls, its delivery",
    responses=answers(200, "the room", RoomView, {404: "room_not_found"}),
    tags=["rooms"],
)
def get_room(room_id: RoomPath):
    return rooms.get_room(services(), room_id).dump()


ClosedBy = Annotated[
    str | None,
    Query(pattern=NO_CONTROL, description="who closed it (default admin-api; cut at 128 characters)"),
]
_CLOSE_ANSWERS = answers(202, "closing or closed; the room.closed delivery is queued", CloseResponse, {404: "room_not_found"})


@app.post(
    "/rooms/<room_id>/close",
    summary="Close a room (idempotent: a second close answers the same delivery)",
    description="The room stays readable once closed (its stats, members' sessions, deliveries, history).",
    responses=_CLOSE_ANSWERS,
    tags=["rooms"],
)
def close_room(room_id: RoomPath, closed_by: ClosedBy = None):
    result = closing.close_room(services(), room_id, (closed_by or "admin-api")[:128])
    return json_response(202, result.dump())


@app.delete(
    "/rooms/<room_id>",
    summary="Close a room: the older spelling of POST /rooms/{room_id}/close, kept for existing callers",
    description=(
        "Deprecated: a DELETE promises the resource is gone, and a closed room stays readable. "
        "Same answers as POST /rooms/{room_id}/close."
    ),
    responses=_CLOSE_ANSWERS,
    tags=["rooms"],
    deprecated=True,
)
def close_room_by_delete(room_id: RoomPath, closed_by: ClosedBy = None):
    return close_room(room_id, closed_by)


@app.get(
    "/rooms/<room_id>/deliveries",
    summary="The room's webhook deliveries with every attempt",
    responses=answers(200, "deliveries, newest first", DeliveryList, {404: "room_not_found"}),
    tags=["deliveries"],
)
def list_deliveries(room_id: RoomPath):
    return webhook_admin.list_deliveries(services(), room_id).dump()


@app.post(
    "/rooms/<room_id>/deliveries/<delivery_id>/replay",
    summary="Send a delivery again with the same webhook-ids (a new run)",
    responses=answers(
        202, "queued", ReplayResponse, {404: "room_not_found or not_found", 409: "conflict: the room is not closed yet"}
    ),
    tags=["deliveries"],
)
def replay_delivery(
    room_id: RoomPath, delivery_id: Annotated[str, Path(max_length=64, pattern=NO_CONTROL, description="the delivery's id")]
):
    return json_response(202, webhook_admin.replay(services(), room_id, delivery_id).dump())


@app.post(
    "/broadcasts",
    summary="Send a notification frame to every live connection, a room's members, or some users",
    description=(
        "The frame is stored and its range jobs queued; the answer is the broadcast's first view "
        "(state running). GET /broadcasts/{broadcast_id} follows its counts."
    ),
    responses=answers(
        202,
        "queued",
        BroadcastView,
        {404: "room_not_found (room_id given)", 413: "payload_too_large: the frame is over 128 KB"},
    ),
    tags=["broadcasts"],
)
def create_broadcast(request: Annotated[BroadcastRequest, Body(embed=False)]):
    return json_response(202, range_jobs.create_broadcast(services(), request).dump())


@app.get(
    "/broadcasts/<broadcast_id>",
    summary="A broadcast's state and counts",
    responses=answers(200, "the broadcast", BroadcastView, {404: "not_found"}),
    tags=["broadcasts"],
)
def get_broadcast(
    # No max_length: an id that cannot exist is not_found (404), as any unknown id.
    broadcast_id: Annotated[str, Path(pattern=NO_CONTROL, description="the broadcast's id")],
):
    return range_jobs.get_broadcast(services(), broadcast_id).dump()


@app.post(
    "/tokens",
    summary="Mint a connect token for the WebSocket API",
    responses=answers(201, "the token and when it expires", TokenResponse),
    tags=["tokens"],
)
def mint_token(request: Annotated[MintTokenRequest, Body(embed=False)]):
    return json_response(201, rooms.mint(services(), request).dump())


def _refusal(event: dict[str, Any]) -> dict[str, Any] | None:
    """A request without the right X-Api-Key, refused before anything else looks at it (the
    resolver validates parameters first: an unauthenticated caller must not learn which of
    its parameters were wrong). On AWS the admin authorizer refuses it at the gateway
    already; this answers the same bodies, so one contract holds however the function is
    reached: 401 {"message": "Unauthorized"} without a key, 403 {"message": "Forbidden"}
    for a wrong one (docs/admin-api.md, "Errors")."""
    path = event.get("rawPath") or (event.get("requestContext") or {}).get("http", {}).get("path")
    if path in OPEN_PATHS:
        return None
    headers = {k.lower(): v for k, v in (event.get("headers") or {}).items()}
    provided = headers.get(API_KEY_HEADER)
    if not provided:
        return edges.proxy_response(401, {"message": "Unauthorized"})
    try:
        if auth.api_key_matches(provided, auth.admin_api_key()):
            return None
    except Exception as exc:
        logger.exception("admin key check failed")
        return edges.proxy_response(http_status(exc), error_body(exc))
    return edges.proxy_response(403, {"message": "Forbidden"})


def _unreadable(event: dict[str, Any]) -> dict[str, Any] | None:
    """The refusal of a body the routes cannot read (media type, size, encoding), or None."""
    request = APIGatewayProxyEventV2(event)
    if not edges.takes_body(_routes(), request.http_method.upper(), request.path):
        return None
    try:
        edges.read_body(event)
    except RoomcastError as exc:
        return edges.refusal(exc)
    return None


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return _refusal(event) or _unreadable(event) or app.resolve(event, context)
