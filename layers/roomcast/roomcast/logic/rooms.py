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
    return create_room_with_secret(store, request)[0]


def create_room_with_secret(store: RoomStore, request: CreateRoomRequest) -> tuple[Room, str | None]:
    """Create a room; with a callback_url, check it (SSRF) and store its secret.

    Returns the room and the webhook secret when roomcast generated it (shown once).
    """
    from roomcast.errors import BadRequest
    from roomcast.webhooks import secrets, signing, ssrf

    created_at = now_ms()
    room_id = request.room_id or new_id(created_at)
    generated: str | None = None
    secret_id: str | None = None
    callback_url = request.callback_url.strip() if request.callback_url else None
    if request.webhook_secret and not callback_url:
        raise BadRequest("webhook_secret needs a callback_url (the default endpoint has its own)")
    if callback_url:
        ssrf.check_url(callback_url, get_settings().webhook_allow_loopback)
        secret_id = secrets.room_secret_name(room_id)
    room = Room(
        room_id=room_id,
        name=request.name,
        admin_user_ids=list(dict.fromkeys(request.admin_user_ids)),
        metadata=request.metadata,
        created_at=created_at,
        callback_url=callback_url,
        webhook_secret_id=secret_id,
    )
    store.create_room(room)
    if callback_url:
        secret = request.webhook_secret or signing.generate_secret()
        generated = None if request.webhook_secret else secret
        try:
            secrets.store_room_secret(room_id, secret)
        except Exception:
            # The room was created first (so a duplicate id never touches another room's
            # secret); without its secret it could never deliver, so take it back and let
            # the caller retry the same request.
            store.delete_new_room(room)
            raise
    return room, generated


def get_room(store: RoomStore, room_id: str) -> RoomView:
    room = store.require_room(room_id)
    view = room_view(room, store)
    if room.delivery_id:
        from roomcast.dal.deliveries import DeliveryStore

        record = DeliveryStore(store.table, store.client).get(room.room_id, room.delivery_id)
        view.delivery_id = room.delivery_id
        view.delivery_status = record.status if record else None
    return view


def list_rooms(store: RoomStore, limit: int, cursor: str | None) -> RoomList:
    rooms, next_cursor = store.list_rooms(limit, cursor)
    return RoomList(rooms=[room_view(r) for r in rooms], next_cursor=next_cursor)


def mint(request: MintTokenRequest, secret: str) -> TokenResponse:
    settings = get_settings()
    ttl = request.ttl_seconds or min(settings.default_token_ttl_seconds, settings.max_token_ttl_seconds)
    if ttl > settings.max_token_ttl_seconds:
        from roomcast.errors import BadRequest

        raise BadRequest(f"ttl_seconds: at most {settings.max_token_ttl_seconds} (MAX_TOKEN_TTL_SECONDS)")
    token, expires_at = auth.mint_token(
        secret,
        user_id=request.user_id,
        name=request.name or request.user_id[:80],
        ttl_seconds=ttl,
        rooms=request.rooms,
        admin=request.admin,
    )
    return TokenResponse(token=token, expires_at=expires_at, user_id=request.user_id)
