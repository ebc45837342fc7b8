"""Delivering room.closed webhooks: one SQS job = one delivery (all its parts, in order).

The queue does the retrying (DESIGN §5). For each received job:

- already delivered / disabled / superseded by a replay -> done, nothing is sent (an SQS
  duplicate never causes a second send of a delivered part);
- a 12-hour hold slot of a long schedule step -> visibility set again, nothing sent;
- otherwise the parts not yet acknowledged are built from DynamoDB and sent in order;
  every HTTP request is recorded as an attempt (time, status, latency, error, truncated
  response). Any 2xx acknowledges a part and advances the progress, so a retry resumes
  at the first undelivered part with the same webhook-id.
- on failure: visibility = next schedule step with jitter (or Retry-After on 429) and the
  item is reported failed, so SQS redelivers it; maxReceiveCount moves it to the DLQ.
- 410 Gone: the endpoint is disabled for this delivery; the item is done, not failed.

The jobs of one batch run concurrently on a thread pool (one slow receiver does not make
ten deliveries take ten times as long).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import cache
from typing import Any, Literal

from pydantic import ValidationError

from roomcast.dal.deliveries import DeliveryStore
from roomcast.dal.store import RoomStore
from roomcast.errors import RoomcastError, UnsafeUrl
from roomcast.ids import now_ms
from roomcast.models.records import Room
from roomcast.models.webhooks import AttemptRecord, DeliveryJob, DeliveryRecord
from roomcast.observability import logger, metrics
from roomcast.settings import Settings, get_settings
from roomcast.webhooks import schedule, sender, signing, ssrf
from roomcast.webhooks.payload import build_parts, webhook_id
from roomcast.webhooks.secrets import load_secrets

# A job holds its delivery's lease this long; less than the queue's visibility timeout
# (>= 6x the function timeout), so a crashed worker's lease has expired when SQS retries.
LEASE_MS = 5 * 60 * 1000
# While the close is still finishing (room in "closing"), check again shortly.
CLOSING_WAIT_SECONDS = 5
# Another worker holds the lease (a concurrent SQS duplicate): look again after it.
BUSY_WAIT_SECONDS = 60


class RetryLater(Exception):
    """Reported to SQS as a failed item; its visibility has already been set."""

    def __init__(self, reason: str, visibility: int) -> None:
        super().__init__(f"{reason}; retry in {visibility}s")
        self.reason = reason
        self.visibility = visibility


@dataclass(frozen=True)
class ReceivedJob:
    """What the handler hands over from one SQS record (logic never sees raw events)."""

    message_id: str
    receipt_handle: str
    body: str
    receive_count: int
    queue_url: str


Outcome = Literal["delivered", "disabled", "no_endpoint", "duplicate", "superseded", "unknown"]


@dataclass
class DeliveryServices:
    store: RoomStore
    deliveries: DeliveryStore
    change_visibility: Callable[[str, str, int], None]
    settings: Settings


def _visibility(services: DeliveryServices, job: ReceivedJob, seconds: int) -> None:
    try:
        services.change_visibility(job.queue_url, job.receipt_handle, seconds)
    except Exception:
        # The item still fails; SQS then uses the queue's default visibility timeout.
        logger.exception("change_message_visibility failed", extra={"message_id": job.message_id})


def _retry(services: DeliveryServices, job: ReceivedJob, reason: str, seconds: int) -> RetryLater:
    _visibility(services, job, seconds)
    return RetryLater(reason, seconds)


def _endpoint(room: Room, settings: Settings) -> tuple[str | None, str | None]:
    """(url, secret id): the room's own endpoint, else the stack's default."""
    if room.callback_url:
        return room.callback_url, room.webhook_secret_id
    if settings.default_webhook_url:
        return settings.default_webhook_url, settings.default_webhook_secret_id or None
    return None, None


def deliver(services: DeliveryServices, received: ReceivedJob) -> Outcome:
    """Process one job; returns how it ended, or raises RetryLater (visibility already set)."""
    settings = services.settings
    job = DeliveryJob.model_validate_json(received.body)
    log = {"room_id": job.room_id, "delivery_id": job.delivery_id, "run": job.run,
           "receive_count": received.receive_count}
    deliveries = services.deliveries
    record = deliveries.get(job.room_id, job.delivery_id)
    room = services.store.get_room(job.room_id)
    if record is None or room is None or room.delivery_id != job.delivery_id:
        logger.warning("job for an unknown delivery dropped", extra=log)
        return "unknown"
    if job.run != record.run:
        logger.info("job superseded by a replay", extra=log)
        return "superseded"
    if record.status in ("delivered", "disabled", "no_endpoint"):
        logger.info("duplicate job: delivery already finished", extra={**log, "status": record.status})
        return "duplicate"
    if room.state != "closed":
        raise _retry(services, received, "room still closing", CLOSING_WAIT_SECONDS)

    steps = schedule.parse_schedule(settings.webhook_schedule)
    slot = schedule.slot_for(received.receive_count, steps)
    if slot.kind == "hold":
        wait = schedule.jittered(slot.wait, 0)
        deliveries.update(job.room_id, job.delivery_id, next_attempt_at=now_ms() + wait * 1000)
        raise _retry(services, received, "holding for a long schedule step", wait)

    now = now_ms()
    claimed = deliveries.claim(job.room_id, job.delivery_id, job.run, now, LEASE_MS)
    if claimed is None:
        raise _retry(services, received, "delivery busy in another worker", BUSY_WAIT_SECONDS)
    try:
        return _send_parts(services, received, job, claimed, room, slot, steps, log)
    except RetryLater:
        raise  # progress and lease were recorded on the way out
    except BaseException:
        deliveries.release(job.room_id, job.delivery_id, job.run)
        raise


def _send_parts(
    services: DeliveryServices,
    received: ReceivedJob,
    job: DeliveryJob,
    record: DeliveryRecord,
    room: Room,
    slot: schedule.Slot,
    steps: list[int],
    log: dict[str, Any],
) -> Outcome:
    settings = services.settings
    deliveries = services.deliveries
    url, secret_id = _endpoint(room, settings)
    if not url:
        deliveries.release(job.room_id, job.delivery_id, job.run, status="no_endpoint")
        logger.info("no webhook endpoint configured", extra=log)
        return "no_endpoint"

    def fail(error: str, part: int | None, result: sender.SendResult | None = None) -> RetryLater:
        last = schedule.is_last(received.receive_count, steps)
        wait = 0 if last else schedule.jittered(slot.wait, settings.webhook_jitter)
        if result is not None and result.status_code == 429:
            retry_after = schedule.parse_retry_after(result.retry_after, time.time())
            if retry_after is not None:
                wait = retry_after
        _attempt(services, job, part, result, error, "failed" if last else "retry", wait, received)
        deliveries.release(
            job.room_id,
            job.delivery_id,
            job.run,
            last_error=error,
            next_attempt_at=now_ms() + wait * 1000,
            **({"status": "failed"} if last else {}),
            **({"last_status_code": result.status_code} if result and result.status_code else {}),
        )
        metrics.add_metric(name="WebhookRetry" if not last else "WebhookExhausted", unit="Count", value=1)
        return _retry(services, received, error, wait)

    try:
        secrets = load_secrets(secret_id) if secret_id else []
        if not secrets:
            raise ValueError("no webhook secret")
    except Exception as exc:
        logger.error("webhook secret unavailable", extra={**log, "error": type(exc).__name__})
        raise fail("secret_unavailable", None) from exc
    try:
        target = ssrf.check_url(url, settings.webhook_allow_loopback)
    except UnsafeUrl as exc:
        logger.warning("webhook URL refused at send time", extra={**log, "reason": exc.message})
        raise fail(f"unsafe_url: {exc.message}", None) from exc

    parts = build_parts(
        services.store, room, job.delivery_id, settings.webhook_max_part_bytes, settings.webhook_page_size
    )
    delivered = record.parts_delivered
    total = 0
    for part in parts:
        total = part.number
        if part.number <= delivered:
            continue  # acknowledged by an earlier attempt of this run
        wid = webhook_id(job.delivery_id, part.number)
        headers = signing.webhook_headers(secrets, wid, int(time.time()), part.body)
        result = sender.post(
            target,
            part.body,
            headers,
            settings.webhook_connect_timeout,
            settings.webhook_read_timeout,
            settings.webhook_response_bytes,
        )
        if result.ok:
            _attempt(services, job, part.number, result, None, "delivered", None, received)
            deliveries.part_delivered(job.room_id, job.delivery_id, job.run, part.number)
            delivered = part.number
            continue
        if result.status_code == 410:
            _attempt(services, job, part.number, result, result.error, "disabled", None, received)
            deliveries.release(
                job.room_id, job.delivery_id, job.run,
                status="disabled", disabled_at=now_ms(), last_status_code=410, last_error="http_410",
            )
            metrics.add_metric(name="WebhookEndpointDisabled", unit="Count", value=1)
            logger.warning("webhook endpoint answered 410: disabled", extra=log)
            return "disabled"
        raise fail(result.error or "failed", part.number, result)

    deliveries.release(
        job.room_id, job.delivery_id, job.run,
        status="delivered", delivered_at=now_ms(), parts_total=total, last_error="",
    )
    metrics.add_metric(name="WebhookDelivered", unit="Count", value=1)
    logger.info("webhook delivered", extra={**log, "parts": total})
    return "delivered"


def _attempt(
    services: DeliveryServices,
    job: DeliveryJob,
    part: int | None,
    result: sender.SendResult | None,
    error: str | None,
    outcome: Literal["delivered", "retry", "disabled", "failed"],
    visibility: int | None,
    received: ReceivedJob,
) -> None:
    number = services.deliveries.next_attempt_number(job.room_id, job.delivery_id)
    services.deliveries.put_attempt(
        AttemptRecord(
            room_id=job.room_id,
            delivery_id=job.delivery_id,
            attempt=number,
            run=job.run,
            part=part,
            webhook_id=webhook_id(job.delivery_id, part) if part else None,
            at=now_ms(),
            status_code=result.status_code if result else None,
            latency_ms=result.latency_ms if result else None,
            error=error,
            response=result.response if result else None,
            outcome=outcome,
            next_visibility_seconds=visibility,
            receive_count=received.receive_count,
        )
    )


@cache
def _pool(workers: int) -> ThreadPoolExecutor:
    # Kept across invocations of one execution environment (threads keep their Sessions).
    return ThreadPoolExecutor(max_workers=workers, thread_name_prefix="webhook")


def deliver_batch(
    services: DeliveryServices, jobs: list[ReceivedJob]
) -> dict[str, BaseException | None]:
    """Run every job of a batch concurrently; message id -> the exception that failed it, or None."""

    def run(job: ReceivedJob) -> BaseException | None:
        try:
            deliver(services, job)
        except RetryLater as exc:
            return exc
        except (ValidationError, ValueError) as exc:
            logger.error("malformed delivery job", extra={"message_id": job.message_id, "error": str(exc)[:200]})
            return exc
        except RoomcastError as exc:
            return exc
        except Exception as exc:
            logger.exception("delivery job crashed", extra={"message_id": job.message_id})
            return exc
        return None

    if len(jobs) <= 1:
        return {job.message_id: run(job) for job in jobs}
    pool = _pool(services.settings.webhook_workers)
    futures = {job.message_id: pool.submit(run, job) for job in jobs}
    return {message_id: future.result() for message_id, future in futures.items()}


def default_services() -> DeliveryServices:
    from roomcast.dal.store import get_store
    from roomcast.queue import change_visibility

    store = get_store()
    settings = get_settings()
    return DeliveryServices(
        store=store,
        deliveries=DeliveryStore(settings.table_name, store.client),
        change_visibility=change_visibility,
        settings=settings,
    )
