"""Webhook delivery: the SQS job, the stored delivery and attempt records, admin views."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from roomcast.models.common import OutModel, RoomId, StrictModel
from roomcast.models.records import Record

# pending: queued, no attempt yet; retrying: an attempt failed and another is planned;
# delivered: every part got a 2xx; disabled: the endpoint answered 410; no_endpoint:
# neither the room nor the stack has a webhook URL; failed: the last attempt of the
# schedule failed; dead_lettered: the job was then moved to the DLQ (docs/webhooks.md).
DeliveryStatus = Literal["pending", "retrying", "delivered", "disabled", "no_endpoint", "failed", "dead_lettered"]


class DeliveryJob(StrictModel):
    """The one small SQS message a close (or a replay) sends."""

    room_id: RoomId
    delivery_id: str = Field(min_length=1, max_length=64)
    replay: bool = False
    # Which run of the delivery this job belongs to: a replay starts run n+1, and a job of
    # an older run that is still being retried then stops (superseded).
    run: int = Field(default=0, ge=0)


class DeliveryRecord(Record):
    room_id: str
    delivery_id: str
    event_type: str = "room.closed"
    status: DeliveryStatus = "pending"
    created_at: int
    enqueued_at: int | None = None
    delivered_at: int | None = None
    run: int = 0
    # Parts of the current run that were acknowledged with a 2xx (a retry resumes after them).
    parts_delivered: int = 0
    parts_total: int | None = None
    attempts: int = 0
    url: str | None = None  # the endpoint as configured (never the secret)
    last_status_code: int | None = None
    last_error: str | None = None
    next_attempt_at: int | None = None
    # The receive (ApproximateReceiveCount) that makes the next attempt; the ones before it hold.
    next_attempt_receive: int | None = None
    disabled_at: int | None = None
    dead_lettered_at: int | None = None
    lease_until: int | None = None
    # The last ChangeMessageVisibility SQS refused for this delivery (never silent).
    visibility_refused_at: int | None = None
    visibility_error: str | None = None


class AttemptRecord(Record):
    room_id: str
    delivery_id: str
    attempt: int
    run: int = 0
    part: int | None = None
    webhook_id: str | None = None
    at: int
    status_code: int | None = None
    latency_ms: int | None = None
    error: str | None = None
    response: str | None = None  # truncated body of the receiver's answer
    outcome: Literal["delivered", "retry", "disabled", "failed"] = "retry"
    next_visibility_seconds: int | None = None
    receive_count: int | None = None


class AttemptView(OutModel):
    attempt: int
    run: int
    part: int | None = None
    webhook_id: str | None = None
    at: str
    status_code: int | None = None
    latency_ms: int | None = None
    error: str | None = None
    response: str | None = None
    outcome: str
    next_retry_in_seconds: int | None = None


class DeliveryView(OutModel):
    delivery_id: str
    room_id: str
    event_type: str
    status: str
    created_at: str
    delivered_at: str | None = None
    url: str | None = None
    run: int
    parts_delivered: int
    parts_total: int | None = None
    attempt_count: int
    last_status_code: int | None = None
    last_error: str | None = None
    disabled_at: str | None = None
    next_attempt_at: str | None = None
    dead_lettered_at: str | None = None
    visibility_refused_at: str | None = None
    visibility_error: str | None = None
    attempts: list[AttemptView] = Field(default_factory=list)


class DeliveryList(OutModel):
    room_id: str
    deliveries: list[DeliveryView]


class CloseResponse(OutModel):
    room_id: str
    state: str
    delivery_id: str
    closed_by: str | None = None
    closed_at: str | None = None
    already_closed: bool = False


class ReplayResponse(OutModel):
    room_id: str
    delivery_id: str
    run: int
    status: str
