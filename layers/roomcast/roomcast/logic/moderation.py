"""Membership and moderation: rosters, kick, ban, mute, message deletion (one logic for the
admin API and the moderators' WebSocket actions), online status, presence, forced
disconnects and bounded search.

Who may moderate a room over the WebSocket: a user whose roster role there is moderator
or admin, a user in the room's admin_user_ids, or a token with the admin claim (as for
`close`). The admin API may do everything (it holds the key).

Every act is one transaction with its MODLOG# item (dal/moderation.py). Expiry is read
from roomcast/clock.py, so tests move time by hand.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import Any

from roomcast import clock
from roomcast.dal.moderation import ModerationStore
from roomcast.errors import (
    BadRequest,
    Conflict,
    InvalidCursor,
    MessageNotFound,
    NotModerator,
    RoomClosed,
    RoomNotFound,
    UserNotFound,
)
from roomcast.ids import is_id, iso, new_id
from roomcast.logic.context import Caller, Services
from roomcast.logic.presence import broadcast_to_room, end_membership
from roomcast.models.admin import (
    DisconnectRequest,
    DisconnectResponse,
    MemberEntry,
    MemberList,
    ModerationView,
    OnlineResponse,
    PresenceEntry,
    PresencePage,
    PutMemberResponse,
    Role,
    SearchPage,
    UserOnline,
)
from roomcast.models.frames import (
    DisconnectedFrame,
    KickedFrame,
    MessageDeletedFrame,
    ModeratedFrame,
    MutedFrame,
)
from roomcast.models.records import ModlogRecord, Restriction, Room, RosterEntry
from roomcast.observability import logger, metrics

ADMIN_API = "admin-api"
MODERATOR_ROLES = frozenset({"moderator", "admin"})
# Online status bounds (docs/operations.md): rooms named per user, connections looked at
# per user (one Query each), users looked at side by side.
ROOMS_LISTED_PER_USER = 20
CONNECTIONS_CHECKED_PER_USER = 25
ONLINE_WORKERS = 8
# Search: the most messages one call reads, matches or not (its whole cost).
SEARCH_MAX_SCANNED = 500
MAX_CURSOR_CHARS = 256
# The session's end_reason (session_history) for each cause of a KickedFrame.
SESSION_END = {"kick": "kicked", "ban": "banned", "removed": "removed"}


def mod_store(services: Services) -> ModerationStore:
    return ModerationStore(services.store.table, services.store.client)


def _open_room(services: Services, room_id: str, room: Room | None = None) -> Room:
    """The room, open; `room` when the caller has just read it (a moderator's check)."""
    room = room or services.store.require_room(room_id)
    if room.state != "open":
        raise RoomClosed()
    return room


def _log(room_id: str, act: str, by: str, target: str, at: int, **fields: Any) -> ModlogRecord:
    return ModlogRecord(room_id=room_id, entry_id=new_id(at), act=act, by=by, target_user=target, at=at, **fields)


def view(entry: ModlogRecord, connections_removed: int | None = None) -> ModerationView:
    return ModerationView(
        room_id=entry.room_id,
        act=entry.act,
        by=entry.by,
        target_user=entry.target_user,
        at=iso(entry.at),
        until=iso(entry.until) if entry.until is not None else None,
        message_id=entry.message_id,
        reason=entry.reason,
        role=entry.role,
        connections_removed=connections_removed,
    )


def _user_members(services: Services, room_id: str, user_id: str) -> list[Any]:
    """The user's live memberships in the room: their connections (index) and one batch read."""
    from roomcast.dal.store import is_expired

    connections = services.store.user_connections(user_id)
    if not connections:
        return []
    members = mod_store(services).members_of_connections(room_id, connections)
    return [m for m in members if not is_expired(m) and m.user_id == user_id]


def remove_from_room(
    services: Services, room_id: str, user_id: str, frame: KickedFrame, log: ModlogRecord | None = None
) -> int:
    """The user's connections leave the room through the leave transaction (the room is
    told member.left), then each is sent `frame`. With `log`, the first leave that commits
    carries it (a kick is logged with its effect); the count of connections removed."""
    extra = (mod_store(services)._modlog_put(log),) if log else ()
    removed = 0
    for member in _user_members(services, room_id, user_id):
        if end_membership(services, member, reason=SESSION_END[frame.cause], extra=extra if not removed else ()):
            removed += 1
            # After the leave: a connection told `kicked` is already out of the room.
            services.gateway.send(member.connection_id, frame.dump())
    return removed


# ------------------------------------------------------------------ roster


def _entry(entry: RosterEntry) -> MemberEntry:
    return MemberEntry(user_id=entry.user_id, role=entry.role, added_at=iso(entry.added_at), added_by=entry.added_by)


def put_member(services: Services, room_id: str, user_id: str, role: Role, by: str) -> PutMemberResponse:
    _open_room(services, room_id)
    store = mod_store(services)
    previous = store.get_roster(room_id, user_id)
    if previous is not None and previous.role == role:
        return PutMemberResponse(room_id=room_id, member=_entry(previous), changed=False)
    at = clock.now_ms()
    entry = RosterEntry(
        room_id=room_id, user_id=user_id, role=role,
        added_at=previous.added_at if previous else at, added_by=previous.added_by if previous else by,
    )
    act = "role_changed" if previous else "member_added"
    if not store.put_roster(entry, previous, _log(room_id, act, by, user_id, at, role=role)):
        # Another PUT/DELETE of this user landed between the read and the write: nothing written.
        raise Conflict("the member changed meanwhile; try again")
    return PutMemberResponse(room_id=room_id, member=_entry(entry), changed=True)


def remove_member(services: Services, room_id: str, user_id: str, by: str) -> ModerationView:
    """Off the list; in a members-only room their live connections leave too (`kicked`,
    cause removed) - in an open room they may stay, as anyone may."""
    room = _open_room(services, room_id)
    at = clock.now_ms()
    log = _log(room_id, "member_removed", by, user_id, at)
    if not mod_store(services).delete_roster(room_id, user_id, log):
        raise UserNotFound("this user is not on the room's list")
    removed = 0
    if room.access == "members" and user_id not in room.admin_user_ids:
        frame = KickedFrame(room_id=room_id, cause="removed", by=by, at=iso(at))
        removed = remove_from_room(services, room_id, user_id, frame)
    return view(log, removed)


def list_members(services: Services, room_id: str, limit: int, cursor: str | None) -> MemberList:
    services.store.require_room(room_id)
    if cursor is not None and len(cursor) > MAX_CURSOR_CHARS:
        raise InvalidCursor()
    entries, next_cursor = mod_store(services).roster_page(room_id, limit, cursor)
    return MemberList(room_id=room_id, members=[_entry(e) for e in entries], next_cursor=next_cursor)


# -------------------------------------------------------------------- acts


def _until(duration_seconds: int | None, at: int) -> int | None:
    return at + duration_seconds * 1000 if duration_seconds is not None else None


def kick(
    services: Services, room_id: str, user_id: str, by: str, reason: str | None = None, room: Room | None = None
) -> ModerationView:
    _open_room(services, room_id, room)
    at = clock.now_ms()
    log = _log(room_id, "kicked", by, user_id, at, reason=reason)
    frame = KickedFrame(room_id=room_id, cause="kick", by=by, reason=reason, at=iso(at))
    removed = remove_from_room(services, room_id, user_id, frame, log)
    if not removed:
        # Nothing left, nothing logged: a kick is its effect.
        raise UserNotFound("this user has no connection in the room")
    metrics.add_metric(name="Moderation.kicked", unit="Count", value=1)
    return view(log, removed)


def _restrict(
    services: Services, kind: str, room_id: str, user_id: str, by: str,
    duration_seconds: int | None, reason: str | None, room: Room | None,
) -> ModlogRecord:
    """The ban or mute (BAN# / MUTE#) with its MODLOG# item, in one transaction."""
    _open_room(services, room_id, room)
    at = clock.now_ms()
    until = _until(duration_seconds, at)
    log = _log(room_id, "banned" if kind == "ban" else "muted", by, user_id, at, until=until, reason=reason)
    restriction = Restriction(room_id=room_id, user_id=user_id, by=by, at=at, until=until, reason=reason)
    mod_store(services).put_restriction(kind, restriction, log)
    metrics.add_metric(name=f"Moderation.{log.act}", unit="Count", value=1)
    return log


def ban(
    services: Services, room_id: str, user_id: str, by: str,
    duration_seconds: int | None = None, reason: str | None = None, room: Room | None = None,
) -> ModerationView:
    """Refuses the user's joins (dal/store.py add_member) until lifted or `until`, and
    removes their live connections (`kicked`, cause ban). Any user id may be banned,
    connected or not, listed or not: a ban can come first. Their sends are refused too
    (the send's transaction checks the ban), should the removal not run."""
    log = _restrict(services, "ban", room_id, user_id, by, duration_seconds, reason, room)
    frame = KickedFrame(room_id=room_id, cause="ban", by=by, reason=reason,
                        until=iso(log.until) if log.until is not None else None, at=iso(log.at))
    return view(log, remove_from_room(services, room_id, user_id, frame))


def mute(
    services: Services, room_id: str, user_id: str, by: str,
    duration_seconds: int | None = None, reason: str | None = None, room: Room | None = None,
) -> ModerationView:
    """Their sends and typing answer `muted` (checked by the send's own transaction);
    they still read. Their connections in the room are told `muted`."""
    log = _restrict(services, "mute", room_id, user_id, by, duration_seconds, reason, room)
    frame = MutedFrame(type="muted", room_id=room_id, by=by, reason=reason,
                       until=iso(log.until) if log.until is not None else None, at=iso(log.at))
    _tell_user(services, room_id, user_id, frame.dump())
    return view(log)


def _tell_user(services: Services, room_id: str, user_id: str, payload: dict[str, Any]) -> None:
    targets = [m.connection_id for m in _user_members(services, room_id, user_id)]
    if targets:
        services.gateway.broadcast(targets, payload)


def lift(
    services: Services, kind: str, room_id: str, user_id: str, by: str, room: Room | None = None
) -> ModerationView:
    """Unban / unmute (kind ban / mute): user_not_found when there is none to lift (an
    expired one is still there to lift, and its lifting is logged)."""
    _open_room(services, room_id, room)
    at = clock.now_ms()
    log = _log(room_id, "unbanned" if kind == "ban" else "unmuted", by, user_id, at)
    if not mod_store(services).delete_restriction(kind, room_id, user_id, log):
        raise UserNotFound(f"this user is not {'banned' if kind == 'ban' else 'muted'} here")
    if kind == "mute":
        _tell_user(services, room_id, user_id, MutedFrame(type="unmuted", room_id=room_id, by=by, at=iso(at)).dump())
    return view(log)


def delete_message(
    services: Services, room_id: str, message_id: str, by: str, room: Room | None = None
) -> ModerationView:
    """A tombstone in history (dal/keys.py), `message.deleted` to the room's members."""
    _open_room(services, room_id, room)
    store = mod_store(services)
    message = store.get_message(room_id, message_id) if is_id(message_id) else None
    if message is None or message.deleted:
        raise MessageNotFound()
    at = clock.now_ms()
    log = _log(room_id, "message_deleted", by, message.user_id, at, message_id=message_id)
    if not store.tombstone(room_id, message_id, by, at, log):
        raise MessageNotFound()
    frame = MessageDeletedFrame(room_id=room_id, message_id=message_id, deleted_by=by, deleted_at=iso(at))
    broadcast_to_room(services, room_id, frame.dump())
    return view(log)


# ------------------------------------------------------- WebSocket actions


def _require_moderator(services: Services, caller: Caller, room_id: str) -> Room:
    from roomcast.logic.chat import check_token_allows

    check_token_allows(caller, room_id)
    room, roster = mod_store(services).room_and_roster(room_id, caller.identity.user_id)
    if room is None:
        raise RoomNotFound()
    identity = caller.identity
    if identity.admin or identity.user_id in room.admin_user_ids:
        return room
    if roster is None or roster.role not in MODERATOR_ROLES:
        raise NotModerator()
    return room


def moderate_action(services: Services, caller: Caller, frame: Any) -> ModeratedFrame:
    """kick, ban, unban, mute, unmute, delete_message from a moderator's connection."""
    room = _require_moderator(services, caller, frame.room_id)
    by = caller.identity.user_id
    room_id = frame.room_id
    target = getattr(frame, "user_id", None)
    # A moderator may not kick, ban or mute the room's own admins (read with the room: no
    # request); its admins and admin tokens may.
    if target in room.admin_user_ids and not (caller.identity.admin or by in room.admin_user_ids):
        raise NotModerator("the room's admins are moderated only by its admins")
    if frame.action == "kick":
        done = kick(services, room_id, frame.user_id, by, frame.reason, room=room)
    elif frame.action in ("ban", "mute"):
        done = (ban if frame.action == "ban" else mute)(
            services, room_id, frame.user_id, by, frame.duration_seconds, frame.reason, room=room
        )
    elif frame.action in ("unban", "unmute"):
        done = lift(services, frame.action[2:], room_id, frame.user_id, by, room=room)
    else:
        done = delete_message(services, room_id, frame.message_id, by, room=room)
    return ModeratedFrame(
        request_id=frame.request_id,
        room_id=room_id,
        act=done.act,
        target_user=done.target_user,
        message_id=done.message_id,
        until=done.until,
        connections_removed=done.connections_removed,
    )


# ------------------------------------------------------- online, presence


def _user_online(services: Services, user_id: str) -> UserOnline:
    store = mod_store(services)
    connections = services.store.user_connections(user_id)
    now_s = clock.now()
    live = 0
    rooms: dict[str, None] = {}
    truncated = False
    for connection_id in connections[:CONNECTIONS_CHECKED_PER_USER]:
        meta, connection_rooms = store.connection_partition(connection_id, ROOMS_LISTED_PER_USER)
        # The index may still name a connection whose $disconnect never ran: its META's
        # lifetime decides (as every read of memberships does).
        if meta is None or meta.expires_at < now_s:
            continue
        live += 1
        for room_id in connection_rooms:
            if len(rooms) < ROOMS_LISTED_PER_USER:
                rooms[room_id] = None
            elif room_id not in rooms:
                truncated = True
    return UserOnline(
        user_id=user_id,
        online=live > 0,
        connections=live,
        rooms=list(rooms),
        rooms_truncated=truncated or None,
        connections_truncated=(len(connections) > CONNECTIONS_CHECKED_PER_USER) or None,
    )


def online(services: Services, user_ids: list[str]) -> OnlineResponse:
    unique = list(dict.fromkeys(user_ids))
    with ThreadPoolExecutor(max_workers=min(ONLINE_WORKERS, len(unique))) as pool:
        users = list(pool.map(lambda u: _user_online(services, u), unique))
    return OnlineResponse(users=users)


def presence(services: Services, room_id: str, limit: int, cursor: str | None) -> PresencePage:
    services.store.require_room(room_id)
    if cursor is not None and len(cursor) > MAX_CURSOR_CHARS:
        raise InvalidCursor()
    entries, next_cursor = mod_store(services).presence_page(room_id, limit, cursor)
    grace = services.settings.member_ttl_grace_seconds
    now_s = clock.now()
    # A count whose TTL (the connection's life plus the grace) has passed outlived it.
    users = [PresenceEntry(user_id=e["user_id"], connections=e["connections"])
             for e in entries if e["connections"] > 0 and (not e["ttl"] or e["ttl"] - grace >= now_s)]
    return PresencePage(room_id=room_id, users=users, next_cursor=next_cursor)


def disconnect_user(services: Services, user_id: str, request: DisconnectRequest) -> DisconnectResponse:
    """`disconnected` with the reason, then the @connections DELETE; $disconnect then
    leaves the rooms as for any closed socket."""
    if request.connection_id is not None:
        connection = services.store.get_connection(request.connection_id)
        if connection is None or connection.user_id != user_id:
            raise UserNotFound("this user has no such connection")
        targets = [request.connection_id]
    else:
        targets = services.store.user_connections(user_id)
    if not targets:
        raise UserNotFound("this user has no connection")
    frame = DisconnectedFrame(reason=request.reason, at=iso(clock.now_ms())).dump()
    done: list[str] = []
    for connection_id in targets:
        if services.gateway.send(connection_id, frame) == "delivered":
            done.append(connection_id)
        services.gateway.disconnect(connection_id)
    logger.info("user disconnected", extra={"user_id": user_id, "connections": len(targets)})
    return DisconnectResponse(user_id=user_id, disconnected=done)


# ------------------------------------------------------------------- search


def _time_ms(value: str | None, name: str, default: int) -> int:
    if value is None:
        return default
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError as exc:
        raise BadRequest(f"{name}: not an RFC 3339 time") from exc
    if parsed.tzinfo is None:
        raise BadRequest(f"{name}: give a time zone (Z or +hh:mm)")
    return max(0, int(parsed.timestamp() * 1000))


def search(
    services: Services, room_id: str, q: str | None, time_from: str | None, time_to: str | None,
    user: str | None, limit: int, cursor: str | None,
) -> SearchPage:
    """Messages of a time range (by key: ids begin with their time), oldest first, that
    contain `q` (case-insensitive) and are `user`'s. One call reads at most
    SEARCH_MAX_SCANNED messages; next_cursor goes on from the last one read, so a page
    may hold fewer than `limit` matches - or none - and still have a next one."""
    from roomcast.logic.chat import message_out

    services.store.require_room(room_id)
    low_ms = _time_ms(time_from, "from", 0)
    high_ms = _time_ms(time_to, "to", clock.now_ms() + 60_000)
    if high_ms < low_ms:
        raise BadRequest("to: before from")
    low, high = f"{min(low_ms, 16**13 - 1):013x}{0:012x}", f"{min(high_ms, 16**13 - 1):013x}{'f' * 12}"
    if cursor is not None and (not is_id(cursor) or not low <= cursor <= high):
        raise InvalidCursor()
    needle = q.casefold() if q else None
    matches, scanned, after, more = [], 0, cursor, True
    store = mod_store(services)
    while more and scanned < SEARCH_MAX_SCANNED and len(matches) < limit:
        page, more = store.search_page(room_id, low, high, after, SEARCH_MAX_SCANNED - scanned)
        for index, message in enumerate(page):
            scanned += 1
            after = message.message_id
            if (user is None or message.user_id == user) and (
                needle is None or (not message.deleted and needle in message.text.casefold())
            ):
                matches.append(message_out(message))
                if len(matches) == limit:
                    more = more or index < len(page) - 1
                    break
        if not page:
            more = False
    return SearchPage(room_id=room_id, messages=matches, next_cursor=after if more else None, scanned=scanned)
