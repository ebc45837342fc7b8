"""Rooms as the admin API sees them: create, read, list; connect tokens."""

from __future__ import annotations

from roomcast import auth
from roomcast.errors import BadRequest
from roomcast.ids import iso, new_id, now_ms
from roomcast.logic.calls import recent_call_views
from roomcast.logic.context import Services
from roomcast.logic.presence import snapshot
from roomcast.models.admin import (
    CreateRoomRequest,
    MintTokenRequest,
    RoomList,
    RoomView,
    StatsView,
    TokenResponse,
)
from roomcast.models.records import Room


def room_view(room: Room, services: Services | None = None) -> RoomView:
    """The admin view of a room; with services, who is present right now and its calls too."""
    members = snapshot(services.store.members(room.room_id)) if services is not None else None
    calls = recent_call_views(services.calls, room.room_id) if services is not None else None
    return RoomView(
        room_id=room.room_id,
        name=room.name,
        state=room.state,
        access=room.access,
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


def create_room(services: Services, request: CreateRoomRequest) -> Room:
    return create_room_with_secret(services, request)[0]


def create_room_with_secret(services: Services, request: CreateRoomRequest) -> tuple[Room, str | None]:
    """Create a room; with a callback_url, check it (SSRF) and store its secret.

    Returns the room and the webhook secret when roomcast generated it (shown once).
    """
    from roomcast.webhooks import signing, ssrf

    store = services.store

    created_at = now_ms()
    room_id = request.room_id or new_id(created_at)
    generated: str | None = None
    secret_id: str | None = None
    callback_url = request.callback_url.strip() if request.callback_url else None
    if request.webhook_secret and not callback_url:
        raise BadRequest("webhook_secret needs a callback_url (the default endpoint has its own)")
    if callback_url:
        ssrf.check_url(callback_url, services.settings.webhook_allow_loopback)
        secret_id = services.secrets.room_secret_name(room_id)
    room = Room(
        room_id=room_id,
        name=request.name,
        admin_user_ids=list(dict.fromkeys(request.admin_user_ids)),
        metadata=request.metadata,
        access=request.access,
        created_at=created_at,
        callback_url=callback_url,
        webhook_secret_id=secret_id,
    )
    store.create_room(room)
    if callback_url:
        secret = request.webhook_secret or signing.generate_secret()
        generated = None if request.webhook_secret else secret
        try:
            services.secrets.store_room_secret(room_id, secret)
        except Exception:
            # The room was created first (so a duplicate id never touches another room's
            # secret); without its secret it could never deliver, so take it back and let
            # the caller retry the same request.
            store.delete_new_room(room)
            raise
    return room, generated


def get_room(services: Services, room_id: str) -> RoomView:
    room = services.store.require_room(room_id)
    view = room_view(room, services)
    if room.delivery_id:
        record = services.deliveries.get(room.room_id, room.delivery_id)
        view.delivery_id = room.delivery_id
        view.delivery_status = record.status if record else None
    return view


def list_rooms(services: Services, limit: int, cursor: str | None) -> RoomList:
    rooms, next_cursor = services.store.list_rooms(limit, cursor)
    return RoomList(rooms=[room_view(r) for r in rooms], next_cursor=next_cursor)


def mint(services: Services, request: MintTokenRequest) -> TokenResponse:
    settings = services.settings
    # Longer than the stack allows is cut to MAX_TOKEN_TTL_SECONDS, not refused: the
    # document cannot know a stack's setting, and expires_at tells the caller the truth.
    ttl = min(request.ttl_seconds or settings.default_token_ttl_seconds, settings.max_token_ttl_seconds)
    token, expires_at = auth.mint_token(
        services.secrets.jwt_secret(),
        user_id=request.user_id,
        name=request.name or request.user_id[:80],
        ttl_seconds=ttl,
        rooms=request.rooms,
        admin=request.admin,
    )
    return TokenResponse(token=token, expires_at=expires_at, user_id=request.user_id)
