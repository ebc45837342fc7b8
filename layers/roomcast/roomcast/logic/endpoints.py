"""Event endpoints as admin resources: create, read, change, delete, rotate, test, recover.

An endpoint's secret is stored like a room's (Secrets Manager, under the stack's
webhook prefix, webhooks/secrets.py), shown once in the answer that made it, never
logged and never read back by the API. A rotation keeps the previous secret signing
beside the new one until `overlap_until` (Standard Webhooks allows several signatures
in webhook-signature), then only the new one signs.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from roomcast import clock
from roomcast.errors import BadRequest, NotFound
from roomcast.ids import iso, new_id
from roomcast.logic.context import Services
from roomcast.logic.events import batch_body, batch_id_for, event_json, webhook_id
from roomcast.models.events import (
    TEST_EVENT,
    BatchAttemptRecord,
    BatchAttemptView,
    BatchList,
    BatchView,
    CreateEndpointRequest,
    EndpointList,
    EndpointRecord,
    EndpointView,
    Event,
    EventBatchJob,
    EventBatchRecord,
    RecoverResponse,
    RotateSecretRequest,
    TestResponse,
    UpdateEndpointRequest,
)
from roomcast.webhooks import signing, ssrf

RECOVER_PAGE = 100


def _iso(ms: int | None) -> str | None:
    return iso(ms) if ms is not None else None


def view(record: EndpointRecord, secret: str | None = None) -> EndpointView:
    return EndpointView(
        endpoint_id=record.endpoint_id, url=record.url, description=record.description,
        event_types=record.event_types, room_ids=record.room_ids, enabled=record.enabled,
        concurrency=record.concurrency, created_at=iso(record.created_at), updated_at=iso(record.updated_at),
        disabled_at=_iso(record.disabled_at), disabled_reason=record.disabled_reason,
        failing_since=_iso(record.failing_since), rotated_at=_iso(record.rotated_at),
        overlap_until=_iso(record.overlap_until) if record.overlap_until and record.overlap_until > clock.now_ms()
        else None,
        secret=secret,
    )


def _checked_secret(secret: str | None) -> str:
    if secret is None:
        return signing.generate_secret()
    try:
        signing.secret_key(secret)
    except ValueError as exc:
        raise BadRequest(f"secret: {exc}") from exc
    return secret


def _checked_url(services: Services, url: str) -> str:
    ssrf.check_url(url, services.settings.webhook_allow_loopback)  # UnsafeUrl: 400 unsafe_url
    return url


def create(services: Services, request: CreateEndpointRequest) -> EndpointView:
    url = _checked_url(services, str(request.url))
    secret = _checked_secret(request.secret)
    endpoint_id = "ep_" + new_id()
    now = clock.now_ms()
    # The secret first: an endpoint item never exists without its secret.
    secret_id = services.secrets.store_endpoint_secrets(endpoint_id, [secret])
    record = EndpointRecord(
        endpoint_id=endpoint_id, url=url, description=request.description, event_types=request.event_types,
        room_ids=request.room_ids, enabled=request.enabled, concurrency=request.concurrency,
        secret_id=secret_id, created_at=now, updated_at=now,
    )
    try:
        services.endpoints.create(record)
    except Exception:
        services.secrets.delete_secret(secret_id)
        raise
    return view(record, secret=None if request.secret else secret)


def get(services: Services, endpoint_id: str) -> EndpointView:
    return view(services.endpoints.require(endpoint_id))


def list_all(services: Services) -> EndpointList:
    return EndpointList(endpoints=[view(e) for e in services.endpoints.list_all()])


def update(services: Services, endpoint_id: str, request: UpdateEndpointRequest) -> EndpointView:
    services.endpoints.require(endpoint_id)
    fields: dict[str, Any] = {"updated_at": clock.now_ms()}
    if request.url is not None:
        fields["url"] = _checked_url(services, str(request.url))
    if request.description is not None:
        fields["description"] = request.description
    if request.all_event_types and request.event_types is not None:
        raise BadRequest("give event_types or all_event_types, not both")
    if request.all_rooms and request.room_ids is not None:
        raise BadRequest("give room_ids or all_rooms, not both")
    if request.event_types is not None:
        fields["event_types"] = request.event_types
    elif request.all_event_types:
        fields["event_types"] = None
    if request.room_ids is not None:
        fields["room_ids"] = request.room_ids
    elif request.all_rooms:
        fields["room_ids"] = None
    if request.concurrency is not None:
        fields["concurrency"] = request.concurrency
    if request.enabled is True:
        # Re-enabled: a new start, its failing span forgotten.
        fields.update(enabled=True, disabled_at=None, disabled_reason=None, failing_since=None)
    elif request.enabled is False:
        fields.update(enabled=False, disabled_at=clock.now_ms(), disabled_reason="admin")
    record = services.endpoints.update(endpoint_id, **fields)
    if record is None:
        raise NotFound("no such endpoint")
    return view(record)


def delete(services: Services, endpoint_id: str) -> None:
    record = services.endpoints.require(endpoint_id)
    if not services.endpoints.delete(endpoint_id):
        raise NotFound("no such endpoint")
    # Batches still queued find no endpoint and end as disabled (nothing is sent).
    services.secrets.delete_secret(record.secret_id)


def rotate_secret(services: Services, endpoint_id: str, request: RotateSecretRequest) -> EndpointView:
    record = services.endpoints.require(endpoint_id)
    new_secret = _checked_secret(request.secret)
    current = services.secrets.endpoint_secrets_now(record.secret_id)[0]
    now = clock.now_ms()
    # Newest first; the one before the current is dropped (its overlap ended or is cut short).
    services.secrets.store_endpoint_secrets(endpoint_id, [new_secret, current])
    updated = services.endpoints.update(
        endpoint_id, rotated_at=now, updated_at=now,
        overlap_until=now + request.grace_seconds * 1000 if request.grace_seconds else None,
    )
    if updated is None:
        raise NotFound("no such endpoint")
    return view(updated, secret=None if request.secret else new_secret)


def _send_jobs(services: Services, endpoint_id: str, batch_ids: list[str]) -> None:
    bodies = [EventBatchJob(endpoint_id=endpoint_id, batch_id=b).model_dump_json() for b in batch_ids]
    for start in range(0, len(bodies), 10):
        refused = services.events_queue.send_batch(bodies[start:start + 10])
        if refused:
            raise RuntimeError(f"SQS refused {len(refused)} event batch jobs")


def send_test(services: Services, endpoint_id: str) -> TestResponse:
    """One endpoint.test event through the same pipeline (queued, signed, retried)."""
    record = services.endpoints.require(endpoint_id)
    now = clock.now_ms()
    event = Event(id="evt_test_" + new_id(now), type=TEST_EVENT, timestamp=iso(now),
                  data={"endpoint_id": endpoint_id, "message": "a test event from roomcast"})
    run = [(event, event_json(event))]
    batch_id = batch_id_for(record.endpoint_id, [event.id], now)
    services.event_deliveries.enqueue(
        EventBatchRecord(endpoint_id=endpoint_id, batch_id=batch_id, created_at=now, event_count=1,
                         event_types=[TEST_EVENT], body=batch_body(endpoint_id, batch_id, run)),
        [event.id], now,
    )
    _send_jobs(services, endpoint_id, [batch_id])
    return TestResponse(endpoint_id=endpoint_id, batch_id=batch_id, webhook_id=webhook_id(batch_id),
                        status="pending" if record.enabled else "endpoint_disabled")


def _attempt_view(a: BatchAttemptRecord) -> BatchAttemptView:
    return BatchAttemptView(attempt=a.attempt, at=iso(a.at), status_code=a.status_code, latency_ms=a.latency_ms,
                            error=a.error, response=a.response, outcome=a.outcome)


def deliveries(services: Services, endpoint_id: str, status: str | None, limit: int, cursor: str | None) -> BatchList:
    services.endpoints.require(endpoint_id)
    page, next_cursor = services.event_deliveries.page(endpoint_id, status, limit, cursor)
    return BatchList(
        endpoint_id=endpoint_id,
        deliveries=[
            BatchView(
                batch_id=b.batch_id, webhook_id=webhook_id(b.batch_id), status=b.status, created_at=iso(b.created_at),
                event_count=b.event_count, event_types=b.event_types, attempt_count=b.attempts,
                delivered_at=_iso(b.delivered_at), last_status_code=b.last_status_code, last_error=b.last_error,
                next_attempt_at=_iso(b.next_attempt_at) if b.status == "retrying" else None,
                attempts=[_attempt_view(a) for a in attempts],
            )
            for b, attempts in page
        ],
        next_cursor=next_cursor,
    )


def parse_time(text: str) -> int:
    try:
        when = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as exc:
        raise BadRequest("since: an ISO 8601 time, e.g. 2026-01-31T12:00:00Z") from exc
    if when.tzinfo is None:
        raise BadRequest("since: give a time zone (Z or +hh:mm)")
    return int(when.timestamp() * 1000)


def recover(services: Services, endpoint_id: str, since: str) -> RecoverResponse:
    """Send again every failed (or, while the endpoint was off, disabled) batch since `since`,
    with its same webhook-id; attempts start over."""
    since_ms = parse_time(since)
    record = services.endpoints.require(endpoint_id)
    if not record.enabled:
        raise BadRequest("the endpoint is disabled: PATCH enabled=true first")
    recovered = 0
    cursor: str | None = None
    store = services.event_deliveries
    while True:
        page, cursor = store.page(endpoint_id, None, RECOVER_PAGE, cursor, since_ms=since_ms)
        ids = [
            b.batch_id for b, _ in page
            if b.status in ("failed", "disabled") and store.update(
                endpoint_id, b.batch_id, condition="#f0 IN (:failed, :disabled)",
                condition_values={"failed": "failed", "disabled": "disabled"},
                # Attempt numbers go on (records are kept); the schedule starts over.
                status="pending", schedule_from=b.attempts, next_attempt_at=None, lease_until=None,
                recovered_at=clock.now_ms(),
            )
        ]
        _send_jobs(services, endpoint_id, ids)
        recovered += len(ids)
        if cursor is None:
            break
    return RecoverResponse(endpoint_id=endpoint_id, since=iso(since_ms), recovered=recovered)
