"""Membership and moderation over the admin API (issue 14; docs/admin-api.md): room
rosters, bans, mutes, kicks, message deletion, search, presence, online status and
forced disconnects. The logic is logic/moderation.py, shared with the moderators'
WebSocket actions; every act is recorded (MODLOG#) and goes into room.closed.
"""

from __future__ import annotations

from typing import Annotated

from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Body, Path, Query

from roomcast.admin_routes import RoomPath, answers, json_response
from roomcast.logic import moderation
from roomcast.models.admin import (
    DisconnectRequest,
    DisconnectResponse,
    KickRequest,
    MemberList,
    ModerationView,
    OnlineRequest,
    OnlineResponse,
    PresencePage,
    PutMemberRequest,
    PutMemberResponse,
    RestrictRequest,
    SearchPage,
)
from roomcast.models.common import NO_CONTROL, Rfc3339, UserId
from roomcast.wiring import services

router = Router()

UserPath = Annotated[UserId, Path(description="the user's id")]
By = Annotated[
    str | None, Query(max_length=128, pattern=NO_CONTROL, description="who the admin API acts for (default admin-api)")
]
Limit = Annotated[int, Query(ge=1, le=100, description="entries per page")]
Cursor = Annotated[str | None, Query(max_length=256, description="next_cursor of the previous page")]
_ACT = {404: "room_not_found or user_not_found", 409: "room_closed"}


def _by(by: str | None) -> str:
    return by or moderation.ADMIN_API


@router.put(
    "/rooms/<room_id>/members/<user_id>",
    summary="List a user in the room (or change their role): member, moderator or admin",
    description="A members-only room admits only listed users (and its admin_user_ids). Logged member_added / role_changed.",
    responses=answers(200, "the entry; changed false when it was already so", PutMemberResponse, _ACT),
    tags=["moderation"],
)
def put_member(room_id: RoomPath, user_id: UserPath, request: Annotated[PutMemberRequest, Body(embed=False)]):
    return moderation.put_member(services(), room_id, user_id, request.role, _by(request.by)).dump()


@router.delete(
    "/rooms/<room_id>/members/<user_id>",
    summary="Take a user off the room's list",
    description="In a members-only room their live connections leave it and get `kicked` (cause removed).",
    responses=answers(200, "the act as logged", ModerationView, _ACT),
    tags=["moderation"],
)
def remove_member(room_id: RoomPath, user_id: UserPath, by: By = None):
    return moderation.remove_member(services(), room_id, user_id, _by(by)).dump()


@router.get(
    "/rooms/<room_id>/members",
    summary="The room's listed users, by user id (paged)",
    responses=answers(200, "a page", MemberList, {404: "room_not_found"}),
    tags=["moderation"],
)
def list_members(room_id: RoomPath, limit: Limit = 50, cursor: Cursor = None):
    return moderation.list_members(services(), room_id, limit, cursor).dump()


@router.post(
    "/rooms/<room_id>/bans",
    summary="Ban a user (optionally for duration_seconds): their joins are refused, live connections removed",
    responses=answers(201, "the act as logged", ModerationView, _ACT),
    tags=["moderation"],
)
def ban(room_id: RoomPath, request: Annotated[RestrictRequest, Body(embed=False)]):
    done = moderation.ban(services(), room_id, request.user_id, _by(request.by), request.duration_seconds, request.reason)
    return json_response(201, done.dump())


@router.delete(
    "/rooms/<room_id>/bans/<user_id>",
    summary="Lift a ban",
    responses=answers(200, "the act as logged", ModerationView, _ACT),
    tags=["moderation"],
)
def unban(room_id: RoomPath, user_id: UserPath, by: By = None):
    return moderation.lift(services(), "ban", room_id, user_id, _by(by)).dump()


@router.post(
    "/rooms/<room_id>/mutes",
    summary="Mute a user (optionally for duration_seconds): they read, their sends and typing answer `muted`",
    responses=answers(201, "the act as logged", ModerationView, _ACT),
    tags=["moderation"],
)
def mute(room_id: RoomPath, request: Annotated[RestrictRequest, Body(embed=False)]):
    done = moderation.mute(services(), room_id, request.user_id, _by(request.by), request.duration_seconds, request.reason)
    return json_response(201, done.dump())


@router.delete(
    "/rooms/<room_id>/mutes/<user_id>",
    summary="Lift a mute",
    responses=answers(200, "the act as logged", ModerationView, _ACT),
    tags=["moderation"],
)
def unmute(room_id: RoomPath, user_id: UserPath, by: By = None):
    return moderation.lift(services(), "mute", room_id, user_id, _by(by)).dump()


@router.post(
    "/rooms/<room_id>/kicks",
    summary="Kick a user: their connections leave the room and get `kicked` (they may join again)",
    responses=answers(201, "the act as logged", ModerationView, _ACT),
    tags=["moderation"],
)
def kick(room_id: RoomPath, request: Annotated[KickRequest, Body(embed=False)]):
    done = moderation.kick(services(), room_id, request.user_id, _by(request.by), request.reason)
    return json_response(201, done.dump())


@router.delete(
    "/rooms/<room_id>/messages/<message_id>",
    summary="Delete a message: a tombstone in history, `message.deleted` to the members",
    responses=answers(200, "the act as logged", ModerationView, {404: "room_not_found or message_not_found", 409: "room_closed"}),
    tags=["moderation"],
)
def delete_message(
    room_id: RoomPath,
    message_id: Annotated[str, Path(max_length=64, pattern=NO_CONTROL, description="the message's id")],
    by: By = None,
):
    return moderation.delete_message(services(), room_id, message_id, _by(by)).dump()


@router.get(
    "/rooms/<room_id>/messages",
    summary="Search a room's messages by time range, keyword and user, oldest first",
    description=(
        "The range is read by key; q (case-insensitive substring) and user filter what is read. "
        "One call reads at most 500 messages: a page may hold fewer matches than limit, or none, "
        "and still carry next_cursor. scanned is what the call read (its cost)."
    ),
    responses=answers(200, "a page of matches", SearchPage, {404: "room_not_found", 400: "bad_request or invalid_cursor"}),
    tags=["moderation"],
)
def search_messages(
    room_id: RoomPath,
    q: Annotated[str | None, Query(min_length=1, max_length=200, description="keyword (case-insensitive substring)")] = None,
    time_from: Annotated[Rfc3339 | None, Query(alias="from", max_length=40, description="RFC 3339, inclusive")] = None,
    time_to: Annotated[Rfc3339 | None, Query(alias="to", max_length=40, description="RFC 3339, inclusive")] = None,
    user: Annotated[str | None, Query(max_length=128, description="only this user's messages")] = None,
    limit: Limit = 50,
    cursor: Cursor = None,
):
    return moderation.search(services(), room_id, q, time_from, time_to, user, limit, cursor).dump()


@router.get(
    "/rooms/<room_id>/presence",
    summary="Who is in the room now, with connection counts, by user id (paged)",
    responses=answers(200, "a page", PresencePage, {404: "room_not_found"}),
    tags=["online"],
)
def room_presence(room_id: RoomPath, limit: Limit = 50, cursor: Cursor = None):
    return moderation.presence(services(), room_id, limit, cursor).dump()


@router.post(
    "/users/online",
    summary="Online status of up to 100 users: online, connection count, rooms (at most 20 listed)",
    responses=answers(200, "one entry per distinct user, in the order asked", OnlineResponse),
    tags=["online"],
)
def users_online(request: Annotated[OnlineRequest, Body(embed=False)]):
    return moderation.online(services(), request.user_ids).dump()


@router.post(
    "/users/<user_id>/disconnect",
    summary="Close a user's connections (all, or one), each told `disconnected` with the reason first",
    responses=answers(200, "the connections told and closed", DisconnectResponse, {404: "user_not_found"}),
    tags=["online"],
)
def disconnect_user(user_id: UserPath, request: Annotated[DisconnectRequest, Body(embed=False)]):
    return moderation.disconnect_user(services(), user_id, request).dump()
