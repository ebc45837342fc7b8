"""Delivering event batches: one SQS job = one batch of one endpoint, one signed POST.

The same pipeline as room.closed (logic/delivery.py): the body is Standard Webhooks
signed (webhooks/signing.py) with every active secret of the endpoint, sent by
webhooks/sender.py to the address the SSRF guard validated, and retried by the queue on
WEBHOOK_SCHEDULE (webhooks/schedule.py: jitter, Retry-After, 12-hour visibility cap).
What differs, and why:

- The attempt count lives on the batch (not the receive count): a receive that finds
  the endpoint at its concurrency cap is not an attempt, so receives are not a measure
  of attempts here. After the schedule's last attempt the batch is `failed` (POST
  /endpoints/{id}/recover sends it again).
- A request is sent only while holding the batch's lease (an SQS duplicate sends
  nothing) and one of the endpoint's `concurrency` slot leases (dal/endpoints.py): at
  most that many requests to one endpoint at once, across every worker.
- 410 Gone disables the endpoint (not one delivery): later batches find it disabled and
  send nothing. So does failing for EVENT_ENDPOINT_DISABLE_AFTER_SECONDS without a 2xx.
  PATCH enabled=true turns it back on.
"""

from __future__ import annotations

import math
from typing import Any, Literal

from roomcast import clock
from roomcast.errors import UnsafeUrl
from roomcast.logic.context import Services
from roomcast.logic.delivery import RETRY_AFTER_STATUSES, ReceivedJob, RetryLater
from roomcast.logic.events import webhook_id
from roomcast.models.events import (
    BatchAttemptRecord,
    EndpointRecord,
    EventBatchJob,
    EventBatchRecord,
)
from roomcast.observability import logger, metrics
from roomcast.webhooks import schedule, sender, signing, ssrf

# A batch's send lease, and a slot's: longer than one attempt can take (its deadline).
BATCH_LEASE_MS = 120_000
Outcome = Literal["delivered", "disabled", "failed", "duplicate", "unknown", "no_endpoint"]


def _hide(services: Services, received: ReceivedJob, reason: str, wanted: float) -> RetryLater:
    """Set the message's visibility (cut to what SQS accepts from this receive)."""
    seconds = schedule.accepted_visibility(math.ceil(max(0.0, wanted)), clock.now() - received.received_at)
    services.events_queue.change_visibility(received.queue_url, received.receipt_handle, seconds)
    return RetryLater(reason, seconds)


def active_secrets(services: Services, endpoint: EndpointRecord, now_ms: int) -> list[str]:
    """Newest first; the previous one too while the rotation's overlap runs."""
    secrets = services.secrets.webhook_secrets(endpoint.secret_id)
    if endpoint.overlap_until is None or now_ms >= endpoint.overlap_until:
        return secrets[:1]
    return secrets[:2]


def deliver(services: Services, received: ReceivedJob) -> Outcome:
    job = EventBatchJob.model_validate_json(received.body)
    store = services.event_deliveries
    log: dict[str, Any] = {"endpoint_id": job.endpoint_id, "batch_id": job.batch_id,
                           "receive_count": received.receive_count}
    batch = store.get(job.endpoint_id, job.batch_id)
    if batch is None:
        logger.warning("job for an unknown event batch dropped", extra=log)
        return "unknown"
    if batch.status in ("delivered", "disabled", "failed"):
        return "duplicate"
    endpoint = services.endpoints.get(job.endpoint_id)
    if endpoint is None or not endpoint.enabled:
        reason = "endpoint_deleted" if endpoint is None else f"endpoint_disabled: {endpoint.disabled_reason or 'admin'}"
        store.update(job.endpoint_id, job.batch_id, status="disabled", last_error=reason)
        logger.info("event batch not sent: endpoint gone or disabled", extra={**log, "reason": reason})
        return "no_endpoint" if endpoint is None else "disabled"
    now = clock.now_ms()
    if batch.next_attempt_at is not None and batch.next_attempt_at > now:
        raise _hide(services, received, "holding until the next attempt",
                    schedule.share_of((batch.next_attempt_at - now) / 1000, 1))
    settings = services.settings
    claimed = store.claim(job.endpoint_id, job.batch_id, now, BATCH_LEASE_MS)
    if claimed is None:
        raise _hide(services, received, "batch busy in another worker", BATCH_LEASE_MS / 1000)
    holder = f"{received.message_id}:{now}"
    slot = services.endpoints.acquire_slot(endpoint.endpoint_id, endpoint.concurrency, holder, now, BATCH_LEASE_MS)
    if slot is None:
        store.update(job.endpoint_id, job.batch_id, lease_until=None)
        metrics.add_metric(name="EventEndpointBusy", unit="Count", value=1)
        raise _hide(services, received, "endpoint at its concurrency cap",
                    max(1.0, schedule.jittered(settings.event_busy_wait_seconds, 0.5)))
    try:
        result, error = _post(services, endpoint, claimed, received)
    finally:
        services.endpoints.release_slot(endpoint.endpoint_id, slot, holder)
    return _settle(services, received, endpoint, claimed, result, error, log)


def _post(
    services: Services, endpoint: EndpointRecord, batch: EventBatchRecord, received: ReceivedJob
) -> tuple[sender.SendResult | None, str | None]:
    settings = services.settings
    try:
        secrets = active_secrets(services, endpoint, clock.now_ms())
    except Exception as exc:
        logger.error("endpoint secret unavailable", extra={"endpoint_id": endpoint.endpoint_id,
                                                            "error": type(exc).__name__})
        return None, "secret_unavailable"
    try:
        target = ssrf.check_url(endpoint.url, settings.webhook_allow_loopback)
    except UnsafeUrl as exc:
        return None, f"unsafe_url: {exc.message}"
    budget = min(settings.webhook_attempt_timeout, max(1.0, (received.remaining_ms() - 5000) / 1000))
    body = batch.body.encode()
    headers = signing.webhook_headers(secrets, webhook_id(batch.batch_id), int(clock.now()), body)
    result = sender.post(target, body, headers, settings.webhook_connect_timeout, settings.webhook_read_timeout,
                         settings.webhook_response_bytes, deadline_seconds=budget)
    return result, None if result.ok else (result.error or "failed")


def _settle(
    services: Services,
    received: ReceivedJob,
    endpoint: EndpointRecord,
    batch: EventBatchRecord,
    result: sender.SendResult | None,
    error: str | None,
    log: dict[str, Any],
) -> Outcome:
    store = services.event_deliveries
    now = clock.now_ms()
    attempt = batch.attempts + 1
    status_code = result.status_code if result else None

    def record(outcome: Literal["delivered", "retry", "disabled", "failed"]) -> None:
        store.put_attempt(BatchAttemptRecord(
            endpoint_id=batch.endpoint_id, batch_id=batch.batch_id, attempt=attempt, at=now,
            status_code=status_code, latency_ms=result.latency_ms if result else None, error=error,
            response=result.response if result else None, outcome=outcome,
        ))

    common: dict[str, Any] = {"attempts": attempt, "lease_until": None, "last_status_code": status_code}
    if result is not None and result.ok:
        record("delivered")
        store.update(batch.endpoint_id, batch.batch_id, status="delivered", delivered_at=now, last_error=None,
                     next_attempt_at=None, **common)
        if endpoint.failing_since is not None:
            services.endpoints.note_success(endpoint.endpoint_id)
        metrics.add_metric(name="EventBatchDelivered", unit="Count", value=1)
        return "delivered"
    if status_code == 410:
        record("disabled")
        services.endpoints.disable(endpoint.endpoint_id, "http_410", now)
        store.update(batch.endpoint_id, batch.batch_id, status="disabled", last_error="http_410", **common)
        metrics.add_metric(name="EventEndpointDisabled", unit="Count", value=1)
        logger.warning("event endpoint answered 410: disabled", extra=log)
        return "disabled"
    steps = schedule.parse_schedule(services.settings.webhook_schedule)
    failing_since = services.endpoints.note_failure(endpoint.endpoint_id, now)
    span_over = now - failing_since >= services.settings.event_disable_after_seconds * 1000
    nth = attempt - batch.schedule_from  # this attempt's place in the schedule
    if nth > len(steps) or span_over:
        record("failed")
        store.update(batch.endpoint_id, batch.batch_id, status="failed", last_error=error, **common)
        if span_over and services.endpoints.disable(endpoint.endpoint_id, "failing", now):
            metrics.add_metric(name="EventEndpointDisabled", unit="Count", value=1)
            logger.warning("event endpoint failing too long: disabled", extra=log)
        metrics.add_metric(name="EventBatchFailed", unit="Count", value=1)
        return "failed"
    wait = schedule.jittered(steps[nth - 1], services.settings.webhook_jitter)
    if result is not None and status_code in RETRY_AFTER_STATUSES:
        retry_after = schedule.parse_retry_after(result.retry_after, clock.now())
        if retry_after is not None:
            wait = float(max(1, retry_after))
    record("retry")
    store.update(batch.endpoint_id, batch.batch_id, status="retrying", last_error=error,
                 next_attempt_at=now + int(wait * 1000), **common)
    metrics.add_metric(name="EventBatchRetry", unit="Count", value=1)
    raise _hide(services, received, error or "failed", schedule.share_of(wait, 1))


def deliver_jobs(services: Services, jobs: list[ReceivedJob]) -> dict[str, BaseException | None]:
    """Every job of an SQS batch, concurrently; message id -> what failed it (None: done)."""
    from concurrent.futures import ThreadPoolExecutor

    def run(job: ReceivedJob) -> BaseException | None:
        try:
            deliver(services, job)
        except RetryLater as exc:
            return exc
        except Exception as exc:
            logger.exception("event batch job failed", extra={"message_id": job.message_id})
            return exc
        return None

    if len(jobs) <= 1:
        return {job.message_id: run(job) for job in jobs}
    with ThreadPoolExecutor(max_workers=min(len(jobs), services.settings.webhook_workers)) as pool:
        futures = {job.message_id: pool.submit(run, job) for job in jobs}
        return {message_id: future.result() for message_id, future in futures.items()}
