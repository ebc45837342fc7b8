"""Admin routes of server-side messaging (issue 13; docs/admin-api.md, "Messaging"):
messages to rooms, batches, notifications to users, streamed messages."""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Body, Path

from roomcast.admin_routes import RoomPath, answers, json_response
from roomcast.logic import messaging, streams
from roomcast.models.admin import (
    BatchMessagesRequest,
    BatchMessagesResult,
    ChunkRequest,
    ChunkResult,
    NotificationRequest,
    NotificationResult,
    OpenStreamRequest,
    PostMessageRequest,
    StreamView,
)
from roomcast.models.common import NO_CONTROL, UserId
from roomcast.models.frames import AckFrame
from roomcast.wiring import services

router = Router()

UserPath = Annotated[UserId, Path(description="the user's id")]
# No pattern: an id that cannot exist is not_found (404), as any unknown id.
StreamPath = Annotated[str, Path(max_length=64, pattern=NO_CONTROL, description="the stream's id (its message id)")]

_MESSAGE_ERRORS = {
    404: "room_not_found",
    409: "room_closed",
    413: "payload_too_large: text over MAX_MESSAGE_CHARS or meta over 2 KB",
}


@router.post(
    "/rooms/<room_id>/messages",
    summary="Publish a message to a room as the server (system or bot)",
    description=(
        "The same path as a WebSocket send: stored, then fanned out to every member; the answer is the "
        "ack a sender gets. A client_msg_id already used by this sender in this room answers the "
        "original with duplicate: true and sends nothing."
    ),
    responses={
        **answers(201, "stored and sent", AckFrame, _MESSAGE_ERRORS),
        200: {
            "description": "a repeat of a client_msg_id: the original, duplicate: true, nothing sent",
            "content": {"application/json": {"model": AckFrame}},
        },
    },
    tags=["messaging"],
)
def post_message(room_id: RoomPath, request: Annotated[PostMessageRequest, Body(embed=False)]):
    ack = messaging.post_message(services(), room_id, request)
    return json_response(200 if ack.duplicate else 201, ack.dump())


@router.post(
    "/messages/batch",
    summary="Publish one message to up to 100 rooms, with a result per room",
    description="Rooms are published independently: a room refused (unknown, closed) fails alone.",
    responses=answers(200, "a result per room, in request order", BatchMessagesResult, {413: _MESSAGE_ERRORS[413]}),
    tags=["messaging"],
)
def post_batch(request: Annotated[BatchMessagesRequest, Body(embed=False)]):
    return messaging.post_batch(services(), request).dump()


@router.post(
    "/users/<user_id>/notifications",
    summary="Send a notification frame to every live connection of one user, optionally kept in their inbox",
    responses=answers(201, "sent (and stored)", NotificationResult),
    tags=["messaging"],
)
def notify_user(user_id: UserPath, request: Annotated[NotificationRequest, Body(embed=False)]):
    return json_response(201, messaging.notify_user(services(), user_id, request).dump())


@router.post(
    "/rooms/<room_id>/streams",
    summary="Open a streamed message (a bot's reply written as it is produced)",
    responses=answers(201, "the open stream", StreamView, {404: "room_not_found", 409: "room_closed"}),
    tags=["streams"],
)
def open_stream(room_id: RoomPath, request: Annotated[OpenStreamRequest, Body(embed=False)]):
    return json_response(201, streams.open_stream(services(), room_id, request).dump())


@router.post(
    "/rooms/<room_id>/streams/<stream_id>/chunks",
    summary="Append a chunk by sequence number (repeats ignored, gaps held)",
    responses=answers(
        200,
        "accepted, held or a repeat",
        ChunkResult,
        {
            404: "room_not_found or not_found (no such stream)",
            409: "stream_ended, or conflict: seq more than STREAM_MAX_HELD_CHUNKS ahead of next_seq",
            413: "payload_too_large: chunk over STREAM_MAX_CHUNK_CHARS or stream over STREAM_MAX_CHARS",
            429: "rate_limited (retry_after_ms)",
        },
    ),
    tags=["streams"],
)
def append_chunk(room_id: RoomPath, stream_id: StreamPath, request: Annotated[ChunkRequest, Body(embed=False)]):
    return streams.append_chunk(services(), room_id, stream_id, request).dump()


@router.post(
    "/rooms/<room_id>/streams/<stream_id>/end",
    summary="Finish a stream: its whole text becomes one message in history",
    description=(
        "Repeating it answers the stored message with duplicate: true, as does an end after the room "
        "closed (the close ended the stream: its message has stream_ended_by room_closed). A stream "
        "with no text yet is discarded: 204, nothing is written or sent, and it is gone (404)."
    ),
    responses={
        **answers(200, "the message's ack", AckFrame, {404: "room_not_found or not_found (no such stream)"}),
        204: {"description": "the stream had no text: discarded, no message"},
    },
    tags=["streams"],
)
def end_stream(room_id: RoomPath, stream_id: StreamPath):
    ack = streams.end_stream(services(), room_id, stream_id)
    if ack is None:
        return Response(status_code=204, body="")
    return ack.dump()
