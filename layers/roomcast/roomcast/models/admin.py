"""Admin HTTP API payloads."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import ConfigDict, Field, field_validator

from roomcast.models.common import (
    DisplayName,
    NoControl,
    OutModel,
    RoomId,
    StorableShape,
    StrictModel,
    UserId,
    WebhookSecret,
    encoded_size,
    storable_problem,
)
from roomcast.models.frames import AckFrame, Member, Message, Notification
from roomcast.models.signaling import CallView

MAX_METADATA_BYTES = 16 * 1024


class CreateRoomRequest(StrictModel):
    # A webhook_secret is the room's own endpoint's: it needs the room's callback_url
    # (logic/rooms.py refuses it alone), as the schema says.
    model_config = ConfigDict(
        json_schema_extra={
            "dependentSchemas": {
                "webhook_secret": {
                    "anyOf": [
                        {"properties": {"webhook_secret": {"type": "null"}}},
                        {"required": ["callback_url"], "properties": {"callback_url": {"type": "string"}}},
                    ]
                }
            }
        }
    )

    room_id: RoomId | None = None
    name: DisplayName
    admin_user_ids: list[UserId] = Field(default_factory=list, max_length=50)
    metadata: Annotated[dict[str, Any], StorableShape("object")] = Field(default_factory=dict)
    # members: only users on the room's list (PUT /rooms/{id}/members/{user_id}) and its
    # admin_user_ids may join; open: any token its rooms claim allows.
    access: Literal["open", "members"] = "open"

    @field_validator("metadata")
    @classmethod
    def _metadata_is_storable(cls, value: dict[str, Any]) -> dict[str, Any]:
        # Refused here (400) rather than by DynamoDB (500, or an item too large for it).
        if encoded_size(value) > MAX_METADATA_BYTES:
            raise ValueError(f"metadata is limited to {MAX_METADATA_BYTES} bytes of JSON")
        if problem := storable_problem(value, max_depth=16):
            raise ValueError(f"metadata {problem}")
        return value
    # The room's own webhook endpoint (https, public addresses only); the stack's default
    # endpoint is used when absent.
    callback_url: str | None = Field(default=None, min_length=8, max_length=2048)
    # whsec_<base64>; generated (and returned once) when a callback_url comes without one.
    webhook_secret: WebhookSecret | None = None

    @field_validator("webhook_secret")
    @classmethod
    def _secret_is_base64(cls, value: str | None) -> str | None:
        if value is not None:
            from roomcast.webhooks.signing import secret_key

            secret_key(value)  # ValueError -> 400 with the reason
        return value


class MintTokenRequest(StrictModel):
    user_id: UserId
    name: DisplayName | None = None
    # Room ids, or "*" for any room (docs/protocol.md, "Connecting").
    rooms: list[RoomId | Literal["*"]] | None = Field(default=None, max_length=100)
    admin: bool = False
    # Cut to the stack's MAX_TOKEN_TTL_SECONDS (logic/rooms.mint); expires_at says when
    # the token really ends.
    ttl_seconds: int | None = Field(default=None, ge=60, le=7 * 24 * 3600)


class HealthView(OutModel):
    status: Literal["ok"]


class ErrorBody(OutModel):
    """Every refusal's body (roomcast/errors.py maps each domain error to its code)."""

    type: Literal["error"]
    code: str
    message: str
    request_id: str | None = None
    retry_after_ms: int | None = None
    until: str | None = None  # banned / muted: when it ends


class GatewayError(OutModel):
    """API Gateway's own refusals, which no function writes: the admin authorizer's 401
    (no X-Api-Key) and 403 (a wrong one), and 404 for a path no route serves. HTTP APIs
    cannot change these bodies (docs/admin-api.md, "Errors")."""

    message: str


class TokenResponse(OutModel):
    token: str
    expires_at: int
    user_id: str


class StatsView(OutModel):
    # Distinct users (one user on two sockets is one), and connections beside them.
    current_users: int
    peak_users: int
    total_joins: int
    message_count: int
    current_connections: int
    peak_connections: int


class RoomView(OutModel):
    room_id: str
    name: str
    state: str
    access: Literal["open", "members"] = "open"
    admin_user_ids: list[str]
    metadata: dict[str, Any]
    created_at: str
    closed_at: str | None = None
    closed_by: str | None = None
    callback_url: str | None = None
    # Only in the answer to the create that generated it: it is never shown again.
    webhook_secret: str | None = None
    delivery_id: str | None = None
    delivery_status: str | None = None
    stats: StatsView
    members: list[Member] | None = None
    # The room's latest calls (WebRTC signaling), oldest first; all of them go to call_history.
    calls: list[CallView] | None = None


class RoomList(OutModel):
    rooms: list[RoomView]
    next_cursor: str | None = None


# ---------------------------------------------------------------- issue 13: server-side messaging


class ServerSender(StrictModel):
    """Who a server-side message shows as: a user id and name, flagged system or bot."""

    user_id: UserId
    name: DisplayName
    kind: Literal["system", "bot"] = "system"


class PostMessageRequest(StrictModel):
    sender: ServerSender
    text: str = Field(min_length=1)
    # A resend with the same id (per sender and room) answers the original, duplicate: true.
    client_msg_id: Annotated[str, Field(min_length=1, max_length=64), NoControl] | None = None
    meta: Annotated[dict[str, Any], StorableShape("object")] | None = None


class BatchMessagesRequest(PostMessageRequest):
    """One message to many rooms (a system notice): each room gets its own message."""

    room_ids: list[RoomId] = Field(min_length=1, max_length=100, json_schema_extra={"uniqueItems": True})

    @field_validator("room_ids")
    @classmethod
    def _distinct(cls, value: list[str]) -> list[str]:
        if len(set(value)) != len(value):
            raise ValueError("room ids must be distinct")
        return value


class BatchError(OutModel):
    code: str
    message: str


class BatchItemResult(OutModel):
    room_id: str
    ok: bool
    # The room's ack (as POST /rooms/{id}/messages answers it), or why it was refused.
    ack: AckFrame | None = None
    error: BatchError | None = None


class BatchMessagesResult(OutModel):
    results: list[BatchItemResult]
    succeeded: int
    failed: int


MAX_NOTIFICATION_DATA_BYTES = 8 * 1024


class NotificationRequest(StrictModel):
    type: Annotated[str, Field(min_length=1, max_length=64), NoControl]
    data: Annotated[Any, StorableShape("any")] = None
    # Also keep it in the user's inbox (paged and marked read with the `inbox` action).
    store: bool = False
    # How long a stored notification stays (default INBOX_TTL_SECONDS, 30 days).
    ttl_seconds: int | None = Field(default=None, ge=60, le=365 * 24 * 3600)
    room_id: RoomId | None = None

    @field_validator("data")
    @classmethod
    def _data_is_small(cls, value: Any) -> Any:
        # Small enough that an inbox page of 50 stays far under 128 KB, and storable.
        if encoded_size(value) > MAX_NOTIFICATION_DATA_BYTES:
            raise ValueError(f"data is limited to {MAX_NOTIFICATION_DATA_BYTES} bytes of JSON")
        if problem := storable_problem(value, max_depth=16):
            raise ValueError(f"data {problem}")
        return value


class NotificationResult(OutModel):
    notification: Notification
    # The user's live connections found (the user index) and what the posts did.
    connections: int
    delivered: int
    failed: int
    gone: int
    stored: bool
    # The user's unread count after this one was stored (stored only).
    unread: int | None = None


class OpenStreamRequest(StrictModel):
    sender: ServerSender
    meta: Annotated[dict[str, Any], StorableShape("object")] | None = None


class StreamView(OutModel):
    stream_id: str
    # The id the finished message will have (the same as stream_id).
    message_id: str
    room_id: str
    next_seq: int
    held: int
    chars: int
    started_at: str
    idle_timeout_seconds: int


class ChunkRequest(StrictModel):
    seq: int = Field(ge=0, le=1_000_000)
    text: str = Field(min_length=1)


class ChunkResult(OutModel):
    stream_id: str
    seq: int
    # The chunk was received before (nothing changed).
    duplicate: bool
    # The next seq the stream waits for, and how many chunks are held after a gap.
    next_seq: int
    held: int
    # Member connections the delta went to (0 when the chunk was held or repeated).
    delivered: int = 0
# ------------------------------------------------ membership and moderation (issue 14)

Role = Literal["member", "moderator", "admin"]
# The admin API acts as "admin-api" unless the caller names who it acts for (cut at 128).
ActedBy = Annotated[str, Field(min_length=1, max_length=128), NoControl]


class PutMemberRequest(StrictModel):
    role: Role = "member"
    by: ActedBy | None = None


class MemberEntry(OutModel):
    user_id: str
    role: str
    added_at: str
    added_by: str


class PutMemberResponse(OutModel):
    room_id: str
    member: MemberEntry
    # False when the user was already listed with this role (nothing written, nothing logged).
    changed: bool


class MemberList(OutModel):
    room_id: str
    members: list[MemberEntry]
    next_cursor: str | None = None


class KickRequest(StrictModel):
    user_id: UserId
    reason: Annotated[str, Field(min_length=1, max_length=500)] | None = None
    by: ActedBy | None = None


class RestrictRequest(KickRequest):
    """A ban or a mute; without duration_seconds it lasts until lifted."""

    duration_seconds: Annotated[int, Field(ge=1, le=366 * 86_400)] | None = None


class ModerationView(OutModel):
    """One recorded act (MODLOG#), as the admin API and room.closed show it."""

    room_id: str
    act: str
    by: str
    target_user: str
    at: str
    until: str | None = None
    message_id: str | None = None
    reason: str | None = None
    role: str | None = None
    # kick / ban / member removal: how many of the user's connections left the room.
    connections_removed: int | None = None


class OnlineRequest(StrictModel):
    user_ids: list[UserId] = Field(min_length=1, max_length=100)


class UserOnline(OutModel):
    user_id: str
    online: bool
    connections: int
    # The rooms the user's connections are in, at most ROOMS_LISTED_PER_USER (20).
    rooms: list[str]
    rooms_truncated: bool | None = None
    # More connections than are looked at per user (25): `connections` counts those looked at.
    connections_truncated: bool | None = None


class OnlineResponse(OutModel):
    users: list[UserOnline]


class PresenceEntry(OutModel):
    user_id: str
    connections: int


class PresencePage(OutModel):
    room_id: str
    users: list[PresenceEntry]
    next_cursor: str | None = None


class DisconnectRequest(StrictModel):
    # One connection of the user; all of them when absent.
    connection_id: Annotated[str, Field(min_length=1, max_length=128), NoControl] | None = None
    reason: Annotated[str, Field(min_length=1, max_length=200)] = "disconnected by an admin"


class DisconnectResponse(OutModel):
    user_id: str
    disconnected: list[str]


class SearchPage(OutModel):
    room_id: str
    messages: list[Message]
    # Where the next call goes on (the last message looked at); absent: the range is done.
    next_cursor: str | None = None
    # Messages read by this call (at most SEARCH_MAX_SCANNED, 500): its cost, matches or not.
    scanned: int
