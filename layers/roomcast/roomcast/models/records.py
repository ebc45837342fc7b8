"""What roomcast stores, as the domain sees it (the DAL maps these to and from items)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

RoomState = Literal["open", "closing", "closed"]
# Who sent a server-side message (None: a client's `send`), and how a streamed one ended.
SenderKind = Literal["system", "bot"]
StreamEndReason = Literal["end", "timeout", "room_closed"]
# open: any token its `rooms` claim allows joins; members: only ROSTER# users and the room's
# admin_user_ids (docs/protocol.md, "Membership and moderation").
RoomAccess = Literal["open", "members"]
Role = Literal["member", "moderator", "admin"]
ModAct = Literal[
    "kicked", "banned", "unbanned", "muted", "unmuted", "message_deleted",
    "member_added", "member_removed", "role_changed",
]


class Record(BaseModel):
    model_config = ConfigDict(extra="ignore")


class RoomStats(Record):
    # Distinct users present now / at most at once; connections beside them (a user may
    # hold several). Each changes in the transaction of the membership write it counts.
    current_users: int = 0
    peak_users: int = 0
    total_joins: int = 0
    message_count: int = 0
    current_connections: int = 0
    peak_connections: int = 0


class Room(Record):
    room_id: str
    name: str
    admin_user_ids: list[str] = Field(default_factory=list)
    metadata: dict[str, Any] = Field(default_factory=dict)
    state: RoomState = "open"
    access: RoomAccess = "open"
    created_at: int  # epoch ms; the room's start time
    closed_at: int | None = None
    closed_by: str | None = None
    callback_url: str | None = None
    # Secrets Manager id of this room's webhook secret(s), when the room has its own endpoint.
    webhook_secret_id: str | None = None
    delivery_id: str | None = None
    stats: RoomStats = Field(default_factory=RoomStats)
    # Streamed messages open in the room (logic/streams.py): a join reads them only when > 0.
    open_streams: int = 0


class Identity(Record):
    """Who holds a connection: the verified token's claims, as the authorizer passed them on."""

    user_id: str
    name: str
    admin: bool = False
    rooms: list[str] | None = None  # None: any room


class Connection(Record):
    connection_id: str
    user_id: str
    name: str
    admin: bool = False
    rooms: list[str] | None = None
    connected_at: int
    expires_at: int  # epoch seconds; the TTL attribute


class MemberRecord(Record):
    room_id: str
    connection_id: str
    user_id: str
    name: str
    joined_at: int
    session_id: str
    # Epoch seconds after which the membership outlived its connection (the connection's
    # lifetime plus a margin): reads ignore it and a repair ends it (docs/operations.md).
    expires_at: int | None = None


class SessionRecord(Record):
    room_id: str
    session_id: str
    user_id: str
    name: str
    connection_id: str
    joined_at: int
    left_at: int | None = None
    duration_ms: int | None = None
    # Why the session ended: leave, disconnect, gone (410 during fan-out) or room_closed.
    end_reason: str | None = None


class MessageRecord(Record):
    room_id: str
    message_id: str
    user_id: str
    name: str
    text: str
    sent_at: int
    client_msg_id: str | None = None
    meta: dict[str, Any] | None = None
    # Server-side messages (issue 13): None for a client's `send`; "system" or "bot" for
    # POST /rooms/{id}/messages and streams. A finished stream is `streamed`, with how it
    # ended and whether held chunks after a gap were left out (docs/protocol.md, "Streams").
    sender_kind: SenderKind | None = None
    streamed: bool | None = None
    stream_ended_by: StreamEndReason | None = None
    incomplete: bool | None = None
    # A moderator's deletion turns the item into a tombstone (dal/keys.py): text "", no meta.
    deleted: bool | None = None
    deleted_by: str | None = None
    deleted_at: int | None = None


class RosterEntry(Record):
    """A listed user of a room (ROSTER#): who may join a members-only room, and with what role."""

    room_id: str
    user_id: str
    role: Role = "member"
    added_at: int
    added_by: str


class Restriction(Record):
    """A ban (BAN#) or a mute (MUTE#) of one user in one room; `until` None is for good."""

    room_id: str
    user_id: str
    by: str
    at: int  # epoch ms
    until: int | None = None  # epoch ms
    reason: str | None = None

    def active(self, now_ms: int) -> bool:
        return self.until is None or self.until > now_ms


class ModlogRecord(Record):
    """One moderation act (MODLOG#), carried in room.closed as moderation_history."""

    room_id: str
    entry_id: str
    act: ModAct
    by: str
    target_user: str
    at: int  # epoch ms
    until: int | None = None
    message_id: str | None = None
    reason: str | None = None
    role: str | None = None  # member_added / role_changed: the role given


CallStatus = Literal["invited", "accepted", "rejected", "ended", "failed", "missed"]


class CallRecord(Record):
    """A 1:1 call's lifecycle (signaling writes it; the room.closed payload carries it)."""

    room_id: str
    call_id: str
    caller: str  # user id
    callee: str  # user id
    media: Literal["audio", "video"] = "audio"
    status: CallStatus = "invited"
    invited_at: int
    started_at: int | None = None
    ended_at: int | None = None
    duration_ms: int | None = None
    ended_by: str | None = None
    reason: str | None = None  # why it failed/was rejected/ended (user-offline, busy, hangup...)
