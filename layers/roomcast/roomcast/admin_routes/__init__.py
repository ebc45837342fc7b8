"""What every admin HTTP route module shares: the OpenAPI answers, the JSON response, path types.

functions/admin/app.py holds the resolver, the key check and the error mapping; each
capability's routes live in a module here as a Powertools `Router` that app.py includes
(docs/architecture.md, "Wiring"), so the routes of one capability read in one place.
"""

from __future__ import annotations

import json
from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Path

from roomcast.models.admin import ErrorBody, GatewayError
from roomcast.models.common import RoomId

# Every route may answer these; each route adds its own success and domain errors.
COMMON_ERRORS: dict[int, Any] = {
    400: {"description": "bad_request: a parameter or the body is invalid", "content": {"application/json": {"model": ErrorBody}}},
    401: {"description": "no X-Api-Key (API Gateway's answer, from the admin authorizer)", "content": {"application/json": {"model": GatewayError}}},
    403: {"description": "a wrong X-Api-Key (API Gateway's answer, from the admin authorizer)", "content": {"application/json": {"model": GatewayError}}},
    500: {"description": "internal_error (no detail; the trace is logged)", "content": {"application/json": {"model": ErrorBody}}},
}

RoomPath = Annotated[RoomId, Path(description="the room's id")]


def answers(status: int, description: str, model: Any, more: dict[int, str] | None = None) -> dict[int, Any]:
    """The OpenAPI responses of a route: its success, the common errors, and `more` (status -> description).

    Routes carry no return annotation: the resolver would re-serialise the model with its
    None fields as nulls; the bodies stay the models' own dump(), as documented here."""
    result: dict[int, Any] = {status: {"description": description, "content": {"application/json": {"model": model}}}}
    result.update(COMMON_ERRORS)
    for code, text in (more or {}).items():
        result[code] = {"description": text, "content": {"application/json": {"model": ErrorBody}}}
    return result


def json_response(status: int, body: dict[str, Any]) -> Response:
    return Response(status_code=status, content_type="application/json", body=json.dumps(body))
