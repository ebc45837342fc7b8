"""Chat actions: join, leave, send, history, typing, ping."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from roomcast.dal import rate
from roomcast.dal.rate import Bucket
from roomcast.errors import (
    Forbidden,
    InvalidCursor,
    InvalidFrame,
    NotMember,
    PayloadTooLarge,
    RateLimited,
)
from roomcast.ids import is_id, iso, new_id, now_ms
from roomcast.logic import pages
from roomcast.logic.context import Caller, Services
from roomcast.logic.presence import broadcast_to_room, end_membership, live_members, snapshot
from roomcast.models.common import encoded_size, storable_problem
from roomcast.models.frames import (
    AckFrame,
    HistoryFrame,
    HistoryFrameOut,
    HistoryPage,
    JoinedFrame,
    JoinFrame,
    LeaveFrame,
    LeftFrame,
    Member,
    MemberEventFrame,
    Message,
    MessageFrame,
    OpenStream,
    PingFrame,
    PongFrame,
    RoomSummary,
    SendFrame,
    TypingEventFrame,
    TypingFrame,
)
from roomcast.models.records import MemberRecord, MessageRecord, SenderKind, SessionRecord
from roomcast.observability import metrics

MAX_META_BYTES = 2048
MAX_META_DEPTH = 16


def message_out(record: MessageRecord) -> Message:
    return Message(
        id=record.message_id,
        room_id=record.room_id,
        user_id=record.user_id,
        name=record.name,
        text=record.text,
        sent_at=iso(record.sent_at),
        client_msg_id=record.client_msg_id,
        meta=record.meta,
        sender_kind=record.sender_kind,
        streamed=record.streamed,
        stream_ended_by=record.stream_ended_by,
        incomplete=record.incomplete,
        deleted=record.deleted or None,
        deleted_by=record.deleted_by,
        deleted_at=iso(record.deleted_at) if record.deleted_at is not None else None,
    )


def check_token_allows(caller: Caller, room_id: str) -> None:
    """A token with a `rooms` claim acts only on those rooms (join and close alike)."""
    allowed = caller.identity.rooms
    if allowed is not None and room_id not in allowed and "*" not in allowed:
        raise Forbidden("your token does not allow this room")


def join(services: Services, caller: Caller, frame: JoinFrame) -> JoinedFrame:
    check_token_allows(caller, frame.room_id)
    store = services.store
    joined_at = now_ms()
    member = MemberRecord(
        room_id=frame.room_id,
        connection_id=caller.connection_id,
        user_id=caller.identity.user_id,
        name=caller.identity.name,
        joined_at=joined_at,
        session_id=new_id(joined_at),
    )
    session = SessionRecord(
        room_id=frame.room_id,
        session_id=member.session_id,
        user_id=member.user_id,
        name=member.name,
        connection_id=member.connection_id,
        joined_at=joined_at,
    )
    settings = services.settings
    # The connection's lifetime plus a margin: nothing outlives it if $disconnect never runs.
    expires_at = joined_at // 1000 + settings.connection_ttl_seconds
    # The join's own read of the room (RoomNotFound / RoomClosed) is the one the reply uses.
    room, newly_joined, unread = store.add_member(member, session, expires_at, settings.max_rooms_per_connection)
    members = live_members(services, room.room_id)
    limit = frame.history_limit if frame.history_limit is not None else settings.history_page_size
    messages, cursor = store.history(room.room_id, None, limit) if limit else ([], None)
    if newly_joined:
        event = MemberEventFrame(
            type="member.joined",
            room_id=room.room_id,
            user_id=member.user_id,
            name=member.name,
            connection_count=sum(1 for m in members if m.user_id == member.user_id),
            at=iso(joined_at),
        )
        broadcast_to_room(services, room.room_id, event.dump(), exclude=caller.connection_id, members=members)
    reply = JoinedFrame(
        request_id=frame.request_id,
        room=RoomSummary(room_id=room.room_id, name=room.name, state=room.state),
        members=[],
        history=HistoryPage(messages=[], next_cursor=_longest_cursor(messages, cursor)),
        unread=unread,
    )
    if room.open_streams > 0:
        # Only then a read of its own: a room without a stream open pays nothing for them.
        reply.streams = _open_streams(services, room.room_id)
    return _bounded_joined(reply, snapshot(members), [message_out(m) for m in messages], cursor)


# Of a join reply's 128 KB, what open streams' text may take (the rest is members and history).
JOIN_STREAMS_BUDGET = 48 * 1024


def _open_streams(services: Services, room_id: str) -> list[OpenStream]:
    """The room's open streams (logic/streams.py) with their text so far, within
    JOIN_STREAMS_BUDGET bytes: one that does not fit is left out, and its joiner gets
    its final message (deltas for a stream a client does not know are not applicable)."""
    # Imported on use: only a join into a room with a stream open reads them.
    from roomcast.dal.streams import StreamStore

    streams = [
        OpenStream(
            message_id=s.message_id,
            room_id=s.room_id,
            user_id=s.user_id,
            name=s.name,
            sender_kind=s.sender_kind,
            text=s.text,
            next_seq=s.next_seq,
            started_at=iso(s.started_at),
        )
        for s in StreamStore(services.store.table, services.store.client).open_streams(room_id)
    ]
    return streams[: pages.first_that_fit(streams, JOIN_STREAMS_BUDGET)]


def _longest_cursor(messages: list[MessageRecord], cursor: str | None) -> str | None:
    """The cursor a cut page would carry (ids have one length): sized into the budget."""
    return messages[0].message_id if messages else cursor


def _bounded_history(messages: list[Message], cursor: str | None, budget: int) -> tuple[list[Message], str | None]:
    """The newest messages that fit in `budget`; a cut page's cursor continues from the
    oldest one kept (logic/pages.py)."""
    keep = pages.newest_that_fit(messages, budget)
    if keep == len(messages):
        return messages, cursor
    # keep >= 1: one message always fits (it arrived in one frame of at most 32 KB, ws.py).
    kept = messages[len(messages) - keep :]
    return kept, (kept[0].id if kept else cursor)


def _bounded_joined(
    frame: JoinedFrame, members: list[Member], messages: list[Message], cursor: str | None
) -> JoinedFrame:
    """The join reply within 128 KB: members first (up to all but the room the history
    needs, at most half), then the newest messages that fit in what is left."""
    budget = pages.budget_for(frame)
    wanted_by_history = min(pages.encoded_size([m.dump() for m in messages]), budget // 2)
    keep_members = pages.first_that_fit(members, budget - wanted_by_history)
    frame.members = members[:keep_members]
    if keep_members < len(members):
        frame.members_truncated = True
    # What is left once the members are in (the frame measured again, exactly).
    frame.history.messages, frame.history.next_cursor = _bounded_history(messages, cursor, pages.budget_for(frame))
    return frame


def leave(services: Services, caller: Caller, frame: LeaveFrame) -> LeftFrame:
    member = services.store.require_member(frame.room_id, caller.connection_id)
    if not end_membership(services, member, reason="leave"):
        raise NotMember()
    return LeftFrame(request_id=frame.request_id, room_id=frame.room_id)


def take_rate_tokens(services: Services, caller: Caller, kind: str) -> None:
    """One token from the connection's bucket and one from its user's (across connections)
    for a `send` or `typing`; `rate_limited` with the wait until the next one otherwise."""
    settings = services.settings
    limits = {
        "send": ((settings.send_rate_burst, settings.send_rate_per_second),
                 (settings.user_send_rate_burst, settings.user_send_rate_per_second)),
        "typing": ((settings.typing_rate_burst, settings.typing_rate_per_second),
                   (settings.user_typing_rate_burst, settings.user_typing_rate_per_second)),
    }
    (burst, per_second), (user_burst, user_per_second) = limits[kind]
    now = now_ms()
    ttl = now // 1000 + settings.connection_ttl_seconds
    for bucket, limit, whose in (
        (Bucket.per_connection(caller.connection_id, kind, burst, per_second), per_second, "a connection"),
        (Bucket.per_user(caller.identity.user_id, kind, user_burst, user_per_second), user_per_second, "a user"),
    ):
        wait_ms = rate.take(services.store.client, services.store.table, bucket, now, ttl)
        if wait_ms is not None:
            metrics.add_metric(name=f"RateLimited.{kind}", unit="Count", value=1)
            raise RateLimited(f"{kind} is limited to {limit:g} per second for {whose}", retry_after_ms=wait_ms)


@dataclass(frozen=True)
class Sender:
    """Who a message is from: a client on a connection (a `send`: its membership is part
    of the write and its own copy is not sent to it) or the server (`kind` system/bot,
    no connection: POST /rooms/{id}/messages and streams)."""

    user_id: str
    name: str
    kind: SenderKind | None = None
    connection_id: str | None = None


def check_message(services: Services, text: str, meta: dict[str, Any] | None) -> None:
    """What a message must be before anything is read or written (a refusal writes nothing)."""
    settings = services.settings
    if len(text) > settings.max_message_chars:
        raise PayloadTooLarge(f"text is limited to {settings.max_message_chars} characters")
    if meta is not None and encoded_size(meta) > MAX_META_BYTES:
        raise PayloadTooLarge(f"meta is limited to {MAX_META_BYTES} bytes of JSON")
    if meta is not None and (problem := storable_problem(meta, MAX_META_DEPTH)):
        raise InvalidFrame(f"meta: {problem}")


def new_message(
    room_id: str, sender: Sender, text: str, client_msg_id: str | None, meta: dict[str, Any] | None,
    sent_at: int | None = None, message_id: str | None = None,
) -> MessageRecord:
    sent_at = now_ms() if sent_at is None else sent_at
    return MessageRecord(
        room_id=room_id,
        message_id=message_id or new_id(sent_at),
        user_id=sender.user_id,
        name=sender.name,
        text=text,
        sent_at=sent_at,
        client_msg_id=client_msg_id,
        meta=meta,
        sender_kind=sender.kind,
    )


def deliver(
    services: Services,
    record: MessageRecord,
    sender: Sender,
    request_id: str | None = None,
    **store_options: Any,
) -> AckFrame:
    """Store a message, then fan it out: the one path of every message into history (a
    client's `send`, a server message, a finished stream). Durable first: the transaction
    checks membership (a client's) and the room's state and writes the message; a
    client_msg_id already used answers the original, not sent again."""
    stored, duplicate = services.store.put_message(record, sender.connection_id, **store_options)
    message = message_out(stored)
    if duplicate:
        return AckFrame(request_id=request_id, message=message, duplicate=True)
    result = broadcast_to_room(
        services,
        record.room_id,
        MessageFrame(message=message).dump(),
        exclude=sender.connection_id,
        message_id=message.id,
    )
    return AckFrame(
        request_id=request_id,
        message=message,
        delivered=result.delivered,
        failed=result.failed,
        gone=len(result.gone),
        queued=result.queued,
    )


def send(services: Services, caller: Caller, frame: SendFrame) -> AckFrame:
    check_message(services, frame.text, frame.meta)
    # After the checks that need no read (a malformed frame writes nothing), before the store.
    take_rate_tokens(services, caller, "send")
    sender = Sender(caller.identity.user_id, caller.identity.name, connection_id=caller.connection_id)
    record = new_message(frame.room_id, sender, frame.text, frame.client_msg_id, frame.meta)
    return deliver(services, record, sender, frame.request_id)


def history(services: Services, caller: Caller, frame: HistoryFrame) -> HistoryFrameOut:
    if frame.before is not None and not is_id(frame.before):
        raise InvalidCursor()
    services.store.require_member(frame.room_id, caller.connection_id)
    messages, cursor = services.store.history(frame.room_id, frame.before, frame.limit)
    out = HistoryFrameOut(
        request_id=frame.request_id,
        room_id=frame.room_id,
        messages=[],
        next_cursor=_longest_cursor(messages, cursor),
    )
    out.messages, out.next_cursor = _bounded_history(
        [message_out(m) for m in messages], cursor, pages.budget_for(out)
    )
    return out


def typing(services: Services, caller: Caller, frame: TypingFrame) -> None:
    """Ephemeral: relayed to the other members, never stored, no reply (but refusals)."""
    # Before the membership read: each typing frame is multiplied by the room's size.
    take_rate_tokens(services, caller, "typing")
    # A muted user's typing is refused with `muted` too (the same read, docs/protocol.md).
    services.store.require_unmuted_member(frame.room_id, caller.connection_id, caller.identity.user_id)
    event = TypingEventFrame(
        room_id=frame.room_id,
        user_id=caller.identity.user_id,
        name=caller.identity.name,
        is_typing=frame.is_typing,
    )
    broadcast_to_room(services, frame.room_id, event.dump(), exclude=caller.connection_id)


def ping(frame: PingFrame) -> PongFrame:
    return PongFrame(request_id=frame.request_id, server_time=iso(now_ms()))
