"""Event endpoints (docs/admin-api.md, "Event endpoints"; docs/webhooks.md, "Events and endpoints")."""

from __future__ import annotations

from typing import Annotated, Literal

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Body, Path, Query

from roomcast.admin_routes import answers, json_response
from roomcast.logic import endpoints
from roomcast.models.common import NO_CONTROL
from roomcast.models.events import (
    BatchList,
    CreateEndpointRequest,
    EndpointList,
    EndpointView,
    RecoverRequest,
    RecoverResponse,
    RotateSecretRequest,
    TestResponse,
    UpdateEndpointRequest,
)
from roomcast.wiring import services

router = Router()
EndpointPath = Annotated[str, Path(max_length=64, pattern=NO_CONTROL, description="the endpoint's id")]
_NOT_FOUND = {404: "not_found: no such endpoint"}


@router.post(
    "/endpoints",
    summary="Create an event endpoint",
    description="Its signing secret is generated unless given, and shown once in this answer.",
    responses=answers(201, "the endpoint", EndpointView, {400: "bad_request or unsafe_url",
                                                          409: "conflict: too many endpoints"}),
    tags=["endpoints"],
)
def create_endpoint(request: Annotated[CreateEndpointRequest, Body(embed=False)]):
    return json_response(201, endpoints.create(services(), request).dump())


@router.get("/endpoints", summary="Every event endpoint", responses=answers(200, "the endpoints", EndpointList),
            tags=["endpoints"])
def list_endpoints():
    return endpoints.list_all(services()).dump()


@router.get("/endpoints/<endpoint_id>", summary="An event endpoint",
            responses=answers(200, "the endpoint", EndpointView, _NOT_FOUND), tags=["endpoints"])
def get_endpoint(endpoint_id: EndpointPath):
    return endpoints.get(services(), endpoint_id).dump()


@router.patch(
    "/endpoints/<endpoint_id>",
    summary="Change an endpoint (enabled=true re-enables a disabled one)",
    responses=answers(200, "the endpoint", EndpointView, {**_NOT_FOUND, 400: "bad_request or unsafe_url"}),
    tags=["endpoints"],
)
def update_endpoint(endpoint_id: EndpointPath, request: Annotated[UpdateEndpointRequest, Body(embed=False)]):
    return endpoints.update(services(), endpoint_id, request).dump()


@router.delete("/endpoints/<endpoint_id>", summary="Delete an endpoint and its secret",
               responses={**answers(204, "deleted", EndpointView, _NOT_FOUND), 204: {"description": "deleted (no body)"}},
               tags=["endpoints"])
def delete_endpoint(endpoint_id: EndpointPath):
    endpoints.delete(services(), endpoint_id)
    return Response(status_code=204, body="")


@router.post(
    "/endpoints/<endpoint_id>/rotate-secret",
    summary="A new signing secret; the old one keeps signing beside it for grace_seconds",
    responses=answers(200, "the endpoint, with its new secret (shown once)", EndpointView, _NOT_FOUND),
    tags=["endpoints"],
)
def rotate_endpoint_secret(endpoint_id: EndpointPath, request: Annotated[RotateSecretRequest, Body(embed=False)]):
    return endpoints.rotate_secret(services(), endpoint_id, request).dump()


@router.post("/endpoints/<endpoint_id>/test", summary="Send an endpoint.test event through the pipeline",
             responses=answers(202, "queued", TestResponse, _NOT_FOUND), tags=["endpoints"])
def test_endpoint(endpoint_id: EndpointPath):
    return json_response(202, endpoints.send_test(services(), endpoint_id).dump())


@router.get(
    "/endpoints/<endpoint_id>/deliveries",
    summary="The endpoint's event batches (oldest first) with every attempt",
    responses=answers(200, "a page of batches", BatchList, {**_NOT_FOUND, 400: "bad_request or invalid_cursor"}),
    tags=["endpoints"],
)
def list_endpoint_deliveries(
    endpoint_id: EndpointPath,
    status: Annotated[Literal["pending", "retrying", "delivered", "disabled", "failed"] | None,
                      Query(description="only batches in this status")] = None,
    limit: Annotated[int, Query(ge=1, le=100, description="batches per page")] = 50,
    cursor: Annotated[str | None, Query(max_length=64, description="next_cursor of the previous page")] = None,
):
    return endpoints.deliveries(services(), endpoint_id, status, limit, cursor).dump()


@router.post(
    "/endpoints/<endpoint_id>/recover",
    summary="Send again the failed batches created since a time (same webhook-ids)",
    responses=answers(202, "queued", RecoverResponse, {**_NOT_FOUND, 400: "bad_request"}),
    tags=["endpoints"],
)
def recover_endpoint(endpoint_id: EndpointPath, request: Annotated[RecoverRequest, Body(embed=False)]):
    return json_response(202, endpoints.recover(services(), endpoint_id, request.since).dump())
