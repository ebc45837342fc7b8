"""The admin API's view of webhook deliveries: list them with every attempt, replay one."""

from __future__ import annotations

from roomcast.errors import Conflict
from roomcast.ids import iso, now_ms
from roomcast.logic.context import Services
from roomcast.models.webhooks import (
    AttemptRecord,
    AttemptView,
    DeliveryJob,
    DeliveryList,
    DeliveryRecord,
    DeliveryView,
    ReplayResponse,
)


def _attempt_view(a: AttemptRecord) -> AttemptView:
    return AttemptView(
        attempt=a.attempt,
        run=a.run,
        part=a.part,
        webhook_id=a.webhook_id,
        at=iso(a.at),
        status_code=a.status_code,
        latency_ms=a.latency_ms,
        error=a.error,
        response=a.response,
        outcome=a.outcome,
        next_retry_in_seconds=a.next_visibility_seconds if a.outcome == "retry" else None,
    )


def delivery_view(record: DeliveryRecord, attempts: list[AttemptRecord]) -> DeliveryView:
    return DeliveryView(
        delivery_id=record.delivery_id,
        room_id=record.room_id,
        event_type=record.event_type,
        status=record.status,
        created_at=iso(record.created_at),
        delivered_at=iso(record.delivered_at) if record.delivered_at else None,
        url=record.url,
        run=record.run,
        parts_delivered=record.parts_delivered,
        parts_total=record.parts_total,
        attempt_count=len(attempts),
        last_status_code=record.last_status_code,
        last_error=record.last_error or None,
        disabled_at=iso(record.disabled_at) if record.disabled_at else None,
        next_attempt_at=iso(record.next_attempt_at) if record.next_attempt_at and record.status == "retrying" else None,
        dead_lettered_at=iso(record.dead_lettered_at) if record.dead_lettered_at else None,
        visibility_refused_at=iso(record.visibility_refused_at) if record.visibility_refused_at else None,
        visibility_error=record.visibility_error,
        attempts=[_attempt_view(a) for a in attempts],
    )


def list_deliveries(services: Services, room_id: str) -> DeliveryList:
    services.store.require_room(room_id)
    rows = services.deliveries.for_room(room_id)
    return DeliveryList(room_id=room_id, deliveries=[delivery_view(r, a) for r, a in rows])


def replay(services: Services, room_id: str, delivery_id: str) -> ReplayResponse:
    """Send every part again with the same webhook-ids (a new run; older jobs stop)."""
    room = services.store.require_room(room_id)
    if room.state != "closed":
        raise Conflict("only a closed room's delivery can be replayed")
    deliveries = services.deliveries
    deliveries.require(room_id, delivery_id)
    run = deliveries.start_run(room_id, delivery_id, now_ms())
    services.jobs.send(DeliveryJob(room_id=room_id, delivery_id=delivery_id, replay=True, run=run))
    return ReplayResponse(room_id=room_id, delivery_id=delivery_id, run=run, status="pending")
