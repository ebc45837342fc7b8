"""Rooms as the admin API sees them: create, read, list; connect tokens."""

from __future__ import annotations

from roomcast import auth
from roomcast.dal.calls import CallStore
from roomcast.dal.store import RoomStore
from roomcast.ids import iso, new_id, now_ms
from roomcast.logic.presence import snapshot
from roomcast.logic.signaling import recent_call_views
from roomcast.models.admin import (
    CreateRoomRequest,
    MintTokenRequest,
    RoomList,
    RoomView,
    StatsView,
    TokenResponse,
)
from roomcast.models.records import Room
from roomcast.settings import get_settings


def room_view(room: Room, store: RoomStore | None = None) -> RoomView:
    """The admin view of a room; with a store, who is present right now too."""
    members = snapshot(store.members(room.room_id)) if store is not None else None
    calls = (
        recent_call_views(CallStore(store.table, store.client), room.room_id)
        if store is not None
        else None
    )
    return RoomView(
        room_id=room.room_id,
        name=room.name,
        state=room.state,
        admin_user_ids=room.admin_user_ids,
        metadata=room.metadata,
        created_at=iso(room.created_at),
        closed_at=iso(room.closed_at) if room.closed_at else None,
        closed_by=room.closed_by,
        callback_url=room.callback_url,
        stats=StatsView(**room.stats.model_dump()),
        members=members,
        calls=calls,
    )


def create_room(store: RoomStore, request: CreateRoomRequest) -> Room:
    created_at = now_ms()
    room = Room(
        room_id=request.room_id or new_id(created_at),
        name=request.name,
        admin_user_ids=list(dict.fromkeys(request.admin_user_ids)),
        metadata=request.metadata,
        created_at=created_at,
    )
    store.create_room(room)
    return room


def get_room(store: RoomStore, room_id: str) -> RoomView:
    return room_view(store.require_room(room_id), store)


def list_rooms(store: RoomStore, limit: int, cursor: str | None) -> RoomList:
    rooms, next_cursor = store.list_rooms(limit, cursor)
    return RoomList(rooms=[room_view(r) for r in rooms], next_cursor=next_cursor)


def mint(request: MintTokenRequest, secret: str) -> TokenResponse:
    ttl = request.ttl_seconds or get_settings().default_token_ttl_seconds
    token, expires_at = auth.mint_token(
        secret,
        user_id=request.user_id,
        name=request.name or request.user_id,
        ttl_seconds=ttl,
        rooms=request.rooms,
        admin=request.admin,
    )
    return TokenResponse(token=token, expires_at=expires_at, user_id=request.user_id)
