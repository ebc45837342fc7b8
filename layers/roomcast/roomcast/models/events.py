"""Events and endpoints (docs/webhooks.md, "Events and endpoints").

The event catalogue: one model per event type (its JSON Schema is generated into
docs/events/<type>.schema.json by scripts/gen_event_schemas.py), the batch body that
carries them, the endpoint resource (admin bodies and views), and the stored batch and
attempt records of an endpoint's deliveries.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import AnyUrl, BaseModel, ConfigDict, Field, WithJsonSchema, field_validator

from roomcast.models.common import OutModel, Rfc3339, RoomId, StrictModel, WebhookSecret
from roomcast.models.records import Record, Role

# ---------------------------------------------------------------- the catalogue
MODERATION_ACTS = (
    "kicked", "banned", "unbanned", "muted", "unmuted", "member_added", "member_removed", "role_changed",
)
EVENT_TYPES: tuple[str, ...] = (
    "room.created",
    "room.closed",
    "message.created",
    "message.deleted",
    "message.offline",
    "member.joined",
    "member.left",
    "user.online",
    "user.offline",
    "call.started",
    "call.ended",
    *(f"moderation.{act}" for act in MODERATION_ACTS),
)
# Sent only by POST /endpoints/{id}/test; never produced by a table write.
TEST_EVENT = "endpoint.test"
BATCH_TYPE = "event.batch"


class _Data(BaseModel):
    model_config = ConfigDict(extra="allow")


class RoomStatsData(_Data):
    current_users: int
    peak_users: int
    total_joins: int
    message_count: int


class RoomCreatedData(_Data):
    room_id: str
    name: str
    admin_user_ids: list[str]
    metadata: dict[str, Any]
    created_at: str


class RoomClosedData(_Data):
    """room.closed: the room.closed webhook's fields (docs/webhooks.md, Payload); an
    endpoint gets the room and its stats, the histories travel to the room's callback_url."""

    room_id: str
    name: str
    admin_user_ids: list[str]
    metadata: dict[str, Any]
    start_time: str
    end_time: str | None
    closed_by: str | None
    stats: RoomStatsData
    chat_history: list[dict[str, Any]] | None = None
    session_history: list[dict[str, Any]] | None = None
    call_history: list[dict[str, Any]] | None = None


class ChatMessageData(_Data):
    id: str
    user_id: str
    name: str
    text: str
    sent_at: str
    client_msg_id: str | None = None
    meta: dict[str, Any] | None = None
    # Server and bot messages (absent on a member's `send`), and a finished stream's flags:
    # the same fields chat_history carries (webhooks/payload.chat_item).
    sender_kind: str | None = None
    streamed: bool | None = None
    stream_ended_by: str | None = None
    incomplete: bool | None = None


class MessageCreatedData(_Data):
    room_id: str
    message: ChatMessageData


class MessageOfflineData(_Data):
    """A message in a members-only room and the listed members who had no connection in the
    room when it was processed (for push notifications)."""

    room_id: str
    message: ChatMessageData
    offline_user_ids: list[str]
    # More offline members than EVENT_OFFLINE_MAX_USERS: the list is cut, in roster order.
    offline_truncated: bool


class ModerationData(_Data):
    """A recorded act (MODLOG#): who did what to whom, when; `until` for a ban or mute
    that ends, `reason` when one was given."""

    room_id: str
    act: str
    by: str
    target_user: str
    at: str
    until: str | None = None
    reason: str | None = None


class RoleData(ModerationData):
    """moderation.member_added / role_changed: the role the user has on the room's list now."""

    role: Role


class MessageDeletedData(ModerationData):
    message_id: str


# How a session ended (member.left, session_history): the member left, the connection
# closed ($disconnect), a post met 410 Gone, the membership outlived its connection's TTL,
# the room closed, or a moderator removed it (kick, ban, removal from a members-only list).
SessionEndReason = Literal["leave", "disconnect", "gone", "expired", "room_closed", "kicked", "banned", "removed"]


class MemberData(_Data):
    """member.joined: the session as it starts (the session's item as it is: left_at,
    duration_seconds and end_reason are null until it ends)."""

    room_id: str
    user_id: str
    name: str
    connection_id: str
    session_id: str
    joined_at: str
    left_at: None = None
    duration_seconds: None = None
    end_reason: None = None


class MemberLeftData(MemberData):
    """member.left: the session as it ended."""

    left_at: str  # type: ignore[assignment]
    duration_seconds: float  # type: ignore[assignment]
    end_reason: SessionEndReason  # type: ignore[assignment]


class UserData(_Data):
    """user.online: a connection opened (name: the token's, when it has one)."""

    user_id: str
    name: str | None = None
    connection_id: str
    at: str


class UserOfflineData(UserData):
    # "disconnect" ($disconnect removed it) or "expired" (its TTL did).
    reason: Literal["disconnect", "expired"]


class CallData(_Data):
    room_id: str
    call_id: str
    caller: str
    callee: str
    media: str
    status: str
    invited_at: str
    started_at: str | None = None
    ended_at: str | None = None
    duration_seconds: float | None = None
    ended_by: str | None = None
    reason: str | None = None


class TestData(_Data):
    endpoint_id: str
    message: str


DATA_MODELS: dict[str, type[BaseModel]] = {
    "room.created": RoomCreatedData,
    "room.closed": RoomClosedData,
    "message.created": MessageCreatedData,
    "message.deleted": MessageDeletedData,
    "message.offline": MessageOfflineData,
    "member.joined": MemberData,
    "member.left": MemberLeftData,
    "user.online": UserData,
    "user.offline": UserOfflineData,
    "call.started": CallData,
    "call.ended": CallData,
    **{f"moderation.{act}": ModerationData for act in MODERATION_ACTS},
    "moderation.member_added": RoleData,
    "moderation.role_changed": RoleData,
    TEST_EVENT: TestData,
}


class Event(BaseModel):
    """One event: Standard Webhooks' {type, timestamp, data}, plus its own id (stable across
    retries, replays and re-batching: a receiver dedupes events on it)."""

    model_config = ConfigDict(extra="forbid")

    id: str
    type: str
    timestamp: str
    data: dict[str, Any]
    room_id: str | None = Field(default=None, exclude=True)  # for the room filter; not sent


EVENT_TIMESTAMP = {
    "type": "string",
    "format": "date-time",
    "description": (
        "When the change happened, RFC 3339 in UTC with milliseconds: the time the written item "
        "carries (room.created: created_at; room.closed: closed_at; message.created/offline: "
        "the message's sent_at; member.joined/left: joined_at/left_at; call.started/ended: "
        "started_at/ended_at; moderation and message.deleted: the act's at), else when the write "
        "committed (the stream record's creation time: user.online/offline). endpoint.test: when "
        "it was sent. Not when the batch was sent: that is the batch's own timestamp."
    ),
}


def event_schema(event_type: str) -> dict[str, Any]:
    """The JSON Schema of one event type (its data model inside the envelope)."""
    data = DATA_MODELS[event_type].model_json_schema(mode="serialization")
    defs = data.pop("$defs", {})
    schema: dict[str, Any] = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": f"https://roomcast.dev/events/{event_type}.schema.json",
        "title": event_type,
        "type": "object",
        "required": ["id", "type", "timestamp", "data"],
        "properties": {
            "id": {"type": "string", "description": "the event's id: dedupe on it"},
            "type": {"const": event_type},
            "timestamp": EVENT_TIMESTAMP,
            "data": data,
        },
        "additionalProperties": False,
    }
    if defs:
        schema["$defs"] = defs
    return schema


def batch_schema() -> dict[str, Any]:
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": f"https://roomcast.dev/events/{BATCH_TYPE}.schema.json",
        "title": BATCH_TYPE,
        "description": "The body of every event webhook: a batch of 1..EVENT_BATCH_MAX_EVENTS events, "
        "in order per room. Each event is one of docs/events/<type>.schema.json.",
        "type": "object",
        "required": ["type", "timestamp", "data"],
        "properties": {
            "type": {"const": BATCH_TYPE},
            "timestamp": {
                "type": "string",
                "format": "date-time",
                "description": "the timestamp of the batch's last event (a retry sends the same body)",
            },
            "data": {
                "type": "object",
                "required": ["endpoint_id", "batch_id", "events"],
                "properties": {
                    "endpoint_id": {"type": "string"},
                    "batch_id": {"type": "string"},
                    "events": {
                        "type": "array",
                        "minItems": 1,
                        "items": {
                            "type": "object",
                            "required": ["id", "type", "timestamp", "data"],
                            "description": "one event, as docs/events/<its type>.schema.json gives it",
                        },
                    },
                },
            },
        },
    }


# ---------------------------------------------------------------- endpoints
# Every type of the catalogue may be named in an endpoint's event_types, endpoint.test too
# (a filter naming all of docs/events/ is accepted as it reads); POST /endpoints/{id}/test
# sends endpoint.test whatever the filters say, so no filter hides a broken receiver.
SUBSCRIBABLE_TYPES: tuple[str, ...] = (*EVENT_TYPES, TEST_EVENT)
EventTypeName = Annotated[str, WithJsonSchema({"type": "string", "enum": list(SUBSCRIBABLE_TYPES)})]
MAX_ROOM_FILTER = 100
MAX_CONCURRENCY = 20


def _check_types(value: list[str] | None) -> list[str] | None:
    if value is None:
        return None
    unknown = sorted(set(value) - set(SUBSCRIBABLE_TYPES))
    if unknown:
        raise ValueError(f"unknown event types: {', '.join(unknown)[:150]}")
    return sorted(set(value))


class CreateEndpointRequest(StrictModel):
    url: AnyUrl = Field(description="https (loopback http only where WEBHOOK_ALLOW_LOOPBACK is on)")
    description: str = Field(default="", max_length=512)
    # None (absent): every event type; a list: only those (docs/events/).
    event_types: list[EventTypeName] | None = Field(default=None, min_length=1, max_length=len(SUBSCRIBABLE_TYPES))
    # None: every room (and the events of no room: user.online/offline); a list: those rooms only.
    room_ids: list[RoomId] | None = Field(default=None, min_length=1, max_length=MAX_ROOM_FILTER)
    enabled: bool = True
    # At most this many requests to this endpoint at once.
    concurrency: int = Field(default=5, ge=1, le=MAX_CONCURRENCY)
    # Given: used as the signing secret (whsec_ + base64); absent: generated and shown once.
    secret: WebhookSecret | None = None

    @field_validator("event_types")
    @classmethod
    def _known_types(cls, value: list[str] | None) -> list[str] | None:
        return _check_types(value)


def _not_both(flag: str, field: str) -> dict[str, Any]:
    return {"not": {"required": [flag, field], "properties": {flag: {"const": True}, field: {"type": "array"}}}}


class UpdateEndpointRequest(StrictModel):
    # A filter and its clearing flag together are refused (logic/endpoints.update): so the schema says.
    model_config = ConfigDict(
        json_schema_extra={"allOf": [_not_both("all_event_types", "event_types"), _not_both("all_rooms", "room_ids")]}
    )

    url: AnyUrl | None = None
    description: str | None = Field(default=None, max_length=512)
    event_types: list[EventTypeName] | None = Field(default=None, min_length=1, max_length=len(SUBSCRIBABLE_TYPES))
    room_ids: list[RoomId] | None = Field(default=None, min_length=1, max_length=MAX_ROOM_FILTER)
    # Clear a filter (back to every type / every room).
    all_event_types: bool = False
    all_rooms: bool = False
    # true re-enables a disabled endpoint (and forgets its failing span).
    enabled: bool | None = None
    concurrency: int | None = Field(default=None, ge=1, le=MAX_CONCURRENCY)

    @field_validator("event_types")
    @classmethod
    def _known_types(cls, value: list[str] | None) -> list[str] | None:
        return _check_types(value)


class RotateSecretRequest(StrictModel):
    # Seconds the old secret keeps signing beside the new one (max 7 days).
    grace_seconds: int = Field(default=86400, ge=0, le=7 * 86400)
    secret: WebhookSecret | None = None


class RecoverRequest(StrictModel):
    since: Rfc3339 = Field(description="RFC 3339 time: failed batches created at or after it are sent again")


class EndpointRecord(Record):
    endpoint_id: str
    url: str
    description: str = ""
    event_types: list[str] | None = None
    room_ids: list[str] | None = None
    enabled: bool = True
    concurrency: int = 5
    secret_id: str
    created_at: int
    updated_at: int
    disabled_at: int | None = None
    disabled_reason: str | None = None
    # The first failure of the current failing span (cleared by a success).
    failing_since: int | None = None
    rotated_at: int | None = None
    # Until then the previous secret signs beside the current one.
    overlap_until: int | None = None

    def accepts(self, event: Event) -> bool:
        if self.event_types is not None and event.type not in self.event_types:
            return False
        return self.room_ids is None or event.room_id in self.room_ids


class EndpointView(OutModel):
    endpoint_id: str
    url: str
    description: str
    event_types: list[str] | None = None
    room_ids: list[str] | None = None
    enabled: bool
    concurrency: int
    created_at: str
    updated_at: str
    disabled_at: str | None = None
    disabled_reason: str | None = None
    failing_since: str | None = None
    rotated_at: str | None = None
    overlap_until: str | None = None
    # Only in the answer that created or rotated it.
    secret: str | None = None


class EndpointList(OutModel):
    endpoints: list[EndpointView]


# ---------------------------------------------------------------- batches
BatchStatus = Literal["pending", "retrying", "delivered", "disabled", "failed"]


class EventBatchJob(StrictModel):
    endpoint_id: str = Field(min_length=1, max_length=64)
    batch_id: str = Field(min_length=1, max_length=64)


class EventBatchRecord(Record):
    endpoint_id: str
    batch_id: str
    status: BatchStatus = "pending"
    created_at: int
    event_count: int
    event_types: list[str]
    body: str
    attempts: int = 0
    # Attempts made before the last recovery: the schedule counts from there.
    schedule_from: int = 0
    delivered_at: int | None = None
    last_status_code: int | None = None
    last_error: str | None = None
    next_attempt_at: int | None = None
    lease_until: int | None = None
    recovered_at: int | None = None


class BatchAttemptRecord(Record):
    endpoint_id: str
    batch_id: str
    attempt: int
    at: int
    status_code: int | None = None
    latency_ms: int | None = None
    error: str | None = None
    response: str | None = None
    outcome: Literal["delivered", "retry", "disabled", "failed"]


class BatchAttemptView(OutModel):
    attempt: int
    at: str
    status_code: int | None = None
    latency_ms: int | None = None
    error: str | None = None
    response: str | None = None
    outcome: str


class BatchView(OutModel):
    batch_id: str
    webhook_id: str
    status: str
    created_at: str
    event_count: int
    event_types: list[str]
    attempt_count: int
    delivered_at: str | None = None
    last_status_code: int | None = None
    last_error: str | None = None
    next_attempt_at: str | None = None
    attempts: list[BatchAttemptView] = Field(default_factory=list)


class BatchList(OutModel):
    endpoint_id: str
    deliveries: list[BatchView]
    next_cursor: str | None = None


class RecoverResponse(OutModel):
    endpoint_id: str
    since: str
    recovered: int


class TestResponse(OutModel):
    endpoint_id: str
    batch_id: str
    webhook_id: str
    status: str
