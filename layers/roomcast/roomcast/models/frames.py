"""Every WebSocket frame, in both directions (docs/protocol.md is the prose twin)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, TypeAdapter

from roomcast.models.common import (
    NoControl,
    OutModel,
    RequestId,
    RoomId,
    StorableShape,
    StrictModel,
    UserId,
    actions_of,
)

# ---------------------------------------------------------------- client -> server


class ClientFrame(StrictModel):
    request_id: RequestId | None = None


class JoinFrame(ClientFrame):
    action: Literal["join"]
    room_id: RoomId
    history_limit: int | None = Field(default=None, ge=0, le=100)


class LeaveFrame(ClientFrame):
    action: Literal["leave"]
    room_id: RoomId


class SendFrame(ClientFrame):
    action: Literal["send"]
    room_id: RoomId
    text: str = Field(min_length=1)
    client_msg_id: Annotated[str, Field(min_length=1, max_length=64), NoControl] | None = None
    # Small application data carried with the message (reply-to, mentions, ...).
    meta: Annotated[dict[str, Any], StorableShape("object")] | None = None


class HistoryFrame(ClientFrame):
    action: Literal["history"]
    room_id: RoomId
    before: Annotated[str, Field(max_length=200)] | None = None
    limit: int = Field(default=50, ge=1, le=100)


class TypingFrame(ClientFrame):
    action: Literal["typing"]
    room_id: RoomId
    is_typing: bool = True


class PingFrame(ClientFrame):
    action: Literal["ping"]


class CloseFrame(ClientFrame):
    """Room admins only: close the room (same effect as the admin API's POST /rooms/{room_id}/close)."""

    action: Literal["close"]
    room_id: RoomId


InboxId = Annotated[str, Field(min_length=1, max_length=64), NoControl]


class InboxFrame(ClientFrame):
    """The caller's inbox (notifications stored by POST /users/{id}/notifications):
    mark some read, then page it newest first. limit 0 answers only the unread count."""

    action: Literal["inbox"]
    before: InboxId | None = None
    limit: int = Field(default=20, ge=0, le=50)
    mark_read: list[InboxId] | None = Field(default=None, max_length=25)



# -------------------------------------------- moderation (issue 14): moderators and admins only

Reason = Annotated[str, Field(min_length=1, max_length=500)]
# An optional expiry: at most a year (a ban for good has none).
Duration = Annotated[int, Field(ge=1, le=366 * 86_400)]


class KickFrame(ClientFrame):
    """The user's connections leave the room (they get `kicked`); they may join again."""

    action: Literal["kick"]
    room_id: RoomId
    user_id: UserId
    reason: Reason | None = None


class _RestrictFrame(ClientFrame):
    """A ban or a mute: for duration_seconds, or until lifted."""

    room_id: RoomId
    user_id: UserId
    duration_seconds: Duration | None = None
    reason: Reason | None = None


class BanFrame(_RestrictFrame):
    action: Literal["ban"]


class UnbanFrame(ClientFrame):
    action: Literal["unban"]
    room_id: RoomId
    user_id: UserId


class MuteFrame(_RestrictFrame):
    action: Literal["mute"]


class UnmuteFrame(ClientFrame):
    action: Literal["unmute"]
    room_id: RoomId
    user_id: UserId


class DeleteMessageFrame(ClientFrame):
    action: Literal["delete_message"]
    room_id: RoomId
    message_id: Annotated[str, Field(pattern=r"^[0-9a-f]{25}$")]


ModerationFrame = (
    KickFrame | BanFrame | UnbanFrame | MuteFrame | UnmuteFrame | DeleteMessageFrame
)
MODERATION_ACTIONS = actions_of(ModerationFrame)

ChatFrame = Annotated[
    JoinFrame | LeaveFrame | SendFrame | HistoryFrame | TypingFrame | PingFrame | CloseFrame | InboxFrame
    | ModerationFrame,
    Field(discriminator="action"),
]
CHAT_FRAME_ADAPTER: TypeAdapter[Any] = TypeAdapter(ChatFrame)
CHAT_ACTIONS = actions_of(ChatFrame)

# ---------------------------------------------------------------- server -> client


class Member(OutModel):
    user_id: UserId
    name: str
    connections: int = 1
    joined_at: str


class Message(OutModel):
    id: str
    room_id: str
    user_id: str
    name: str
    text: str
    sent_at: str
    client_msg_id: str | None = None
    meta: dict[str, Any] | None = None
    # Server-side messages only (absent on a client's send): "system" or "bot"; a finished
    # stream is `streamed`, with `stream_ended_by` ("end", "timeout" or "room_closed") and `incomplete`
    # when chunks after a gap that never filled were left out.
    sender_kind: Literal["system", "bot"] | None = None
    streamed: bool | None = None
    stream_ended_by: Literal["end", "timeout", "room_closed"] | None = None
    incomplete: bool | None = None
    # A tombstone (a moderator deleted it): text is "", meta gone; omitted otherwise.
    deleted: bool | None = None
    deleted_by: str | None = None
    deleted_at: str | None = None


class OpenStream(OutModel):
    """A streamed message still being written: its text so far (chunks 0..next_seq-1)."""

    message_id: str
    room_id: str
    user_id: str
    name: str
    sender_kind: Literal["system", "bot"]
    text: str
    next_seq: int
    started_at: str


class HistoryPage(OutModel):
    messages: list[Message]
    next_cursor: str | None = None


class RoomSummary(OutModel):
    room_id: str
    name: str
    state: str


class JoinedFrame(OutModel):
    type: Literal["joined"] = "joined"
    request_id: str | None = None
    room: RoomSummary
    members: list[Member]
    # True when the room has more users than fit in the 128 KB reply (the first joined are
    # listed); omitted otherwise.
    members_truncated: bool | None = None
    history: HistoryPage
    # Streams open in the room, with their text so far (only when there are some): the
    # `message.delta` frames that follow continue from each one's next_seq.
    streams: list[OpenStream] | None = None
    # The joining user's unread inbox count, read with the join's own room read (no extra
    # request); omitted when the user has never had a stored notification.
    unread: int | None = None


class LeftFrame(OutModel):
    type: Literal["left"] = "left"
    request_id: str | None = None
    room_id: str


class MemberEventFrame(OutModel):
    type: Literal["member.joined", "member.left"]
    room_id: str
    user_id: str
    name: str
    connection_count: int | None = None
    at: str


class MessageFrame(OutModel):
    type: Literal["message"] = "message"
    message: Message


class AckFrame(OutModel):
    type: Literal["ack"] = "ack"
    request_id: str | None = None
    message: Message
    duplicate: bool = False
    delivered: int = 0
    failed: int = 0
    gone: int = 0
    # Connections left to range jobs on the fan-out queue (rooms above the split threshold).
    queued: int = 0


class HistoryFrameOut(OutModel):
    type: Literal["history"] = "history"
    request_id: str | None = None
    room_id: str
    messages: list[Message]
    next_cursor: str | None = None


class TypingEventFrame(OutModel):
    type: Literal["typing"] = "typing"
    room_id: str
    user_id: str
    name: str
    is_typing: bool


class PongFrame(OutModel):
    type: Literal["pong"] = "pong"
    request_id: str | None = None
    server_time: str


class RoomClosedFrame(OutModel):
    type: Literal["room.closed"] = "room.closed"
    request_id: str | None = None
    room_id: str
    closed_by: str | None = None
    at: str


class ErrorFrame(OutModel):
    type: Literal["error"] = "error"
    code: str
    message: str
    request_id: str | None = None
    # rate_limited only: milliseconds until the same frame would be accepted.
    retry_after_ms: int | None = None
    # banned / muted only, when the ban or mute ends (RFC 3339); absent: until lifted.
    until: str | None = None


class Notification(OutModel):
    id: str  # the broadcast id: a job SQS delivers twice repeats it, and clients drop repeats
    type: str
    data: Any = None
    sent_at: str
    room_id: str | None = None
    # POST /users/{id}/notifications only: the user it was sent to, and true when it is
    # also stored in that user's inbox (the `inbox` action pages it and marks it read).
    user_id: str | None = None
    inbox: bool | None = None


class NotificationFrame(OutModel):
    """An admin broadcast (POST /broadcasts) to every connection, a room's or some users'."""

    type: Literal["notification"] = "notification"
    notification: Notification


# ---------------------------------------------------------------- issue 13: streams, inbox


class StreamChunk(OutModel):
    seq: int
    text: str


class MessageDeltaFrame(OutModel):
    """Chunks of a streamed message that just became contiguous, in seq order. A client
    appends the chunk whose seq is its next one and ignores those it already has; the
    final `message` with the same id carries the whole text."""

    type: Literal["message.delta"] = "message.delta"
    room_id: str
    message_id: str
    user_id: str
    name: str
    sender_kind: Literal["system", "bot"]
    chunks: list[StreamChunk]


class InboxItem(OutModel):
    id: str
    type: str
    data: Any = None
    sent_at: str
    room_id: str | None = None
    read: bool


class InboxFrameOut(OutModel):
    type: Literal["inbox"] = "inbox"
    request_id: str | None = None
    items: list[InboxItem]
    next_cursor: str | None = None
    unread: int
    # How many of mark_read's ids were unread and are read now.
    marked: int = 0
# ------------------------------------------------ moderation (issue 14), server -> client


class ModeratedFrame(OutModel):
    """The moderator's reply: the act as recorded (MODLOG#)."""

    type: Literal["moderated"] = "moderated"
    request_id: str | None = None
    room_id: str
    act: str
    target_user: str | None = None
    message_id: str | None = None
    until: str | None = None
    # kick / ban: how many of the user's connections left the room.
    connections_removed: int | None = None


class KickedFrame(OutModel):
    """To each connection a moderator removed from the room; it is no longer a member.

    cause: kick (it may join again), ban (refused until `until`, or for good), removed
    (taken off a members-only room's list)."""

    type: Literal["kicked"] = "kicked"
    room_id: str
    cause: Literal["kick", "ban", "removed"]
    by: str
    reason: str | None = None
    until: str | None = None
    at: str


class MutedFrame(OutModel):
    """To the muted user's connections in the room: sends and typing answer `muted`."""

    type: Literal["muted", "unmuted"]
    room_id: str
    by: str
    reason: str | None = None
    until: str | None = None
    at: str


class MessageDeletedFrame(OutModel):
    type: Literal["message.deleted"] = "message.deleted"
    room_id: str
    message_id: str
    deleted_by: str
    deleted_at: str


class DisconnectedFrame(OutModel):
    """Sent before the server closes a connection (POST /users/{id}/disconnect)."""

    type: Literal["disconnected"] = "disconnected"
    reason: str
    at: str
