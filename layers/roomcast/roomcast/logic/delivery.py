"""Delivering room.closed webhooks: one SQS job = one delivery (all its parts, in order).

The queue does the retrying (docs/webhooks.md, "Retries"). For each received job:

- already delivered / disabled / superseded by a replay -> done, nothing
  is sent (an SQS duplicate never causes a second send of a delivered part);
- its next attempt is due at a later receive (a long step spread over several receives,
  or a long Retry-After) -> a hold: visibility set again for this receive's share of the
  time left, nothing sent;
- otherwise the parts not yet acknowledged are built from DynamoDB and sent in order;
  every HTTP request is recorded as an attempt (time, status, latency, error, truncated
  response). Any 2xx acknowledges a part and advances the progress, so a retry resumes
  at the first undelivered part with the same webhook-id.
- on failure: the next attempt's time is the next schedule step with jitter (or the
  Retry-After of a 429/503), stored on the delivery; this receive's visibility is its
  share of that wait, cut to what SQS accepts (12 hours from the receive); the item is
  reported failed and SQS hands it back.
- the last attempt of the plan fails: status failed, the job is sent to the DLQ, status
  dead_lettered, the item is done (the queue's maxReceiveCount, which equals the plan's
  receives, is the backstop when that move fails).
- 410 Gone: the endpoint is disabled for this delivery; the item is done, not failed.

Every wait, deadline and record time reads roomcast.clock. The Lambda's remaining time
(handed over with each ReceivedJob) is checked before each part: a part that cannot finish inside it is recorded as a failed
attempt and the job gets its next visibility, so a timeout never loses an attempt.
The jobs of one batch run concurrently on a thread pool (one slow receiver does not make
ten deliveries take ten times as long).
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import cache
from typing import Any, Literal

from pydantic import ValidationError

from roomcast import clock
from roomcast.errors import RoomcastError, UnsafeUrl
from roomcast.logic.context import Services
from roomcast.models.records import Room
from roomcast.models.webhooks import AttemptRecord, DeliveryJob, DeliveryRecord
from roomcast.observability import logger, metrics
from roomcast.settings import Settings
from roomcast.webhooks import schedule, sender, signing, ssrf
from roomcast.webhooks.payload import build_parts, webhook_id

# A job holds its delivery's lease this long; less than the queue's visibility timeout
# (>= 6x the function timeout), so a crashed worker's lease has expired when SQS retries.
LEASE_MS = 5 * 60 * 1000
# While the close is still finishing (room in "closing"), check again shortly.
CLOSING_WAIT_SECONDS = 5
# Another worker holds the lease (a concurrent SQS duplicate): look again after it.
BUSY_WAIT_SECONDS = 60
# Kept free of the Lambda's remaining time after an attempt: its record, the delivery's
# update and the visibility change (a few DynamoDB/SQS calls with their retries).
BOOKKEEPING_MS = 5000
# A part is not started with less than this left for the request itself.
MIN_ATTEMPT_MS = 1000
# Retry-After is honoured on these statuses (RFC 9110: 503; RFC 6585: 429).
RETRY_AFTER_STATUSES = (429, 503)


class RetryLater(Exception):
    """Reported to SQS as a failed item; its visibility has already been set."""

    def __init__(self, reason: str, visibility: int) -> None:
        super().__init__(f"{reason}; retry in {visibility}s")
        self.reason = reason
        self.visibility = visibility


class ScheduleMismatch(RuntimeError):
    """The schedule and the jobs queue's receive budget disagree: the function refuses to start."""


def _no_deadline() -> int:
    return 2**31


@dataclass(frozen=True)
class ReceivedJob:
    """What the handler hands over from one SQS record (logic never sees raw events)."""

    message_id: str
    receipt_handle: str
    body: str
    receive_count: int
    queue_url: str
    # When this receive happened, at the latest (clock seconds): SQS counts its 12 hours
    # of visibility from the receive, and a Lambda only learns of it at its invocation.
    received_at: float = field(default_factory=clock.now)
    attributes: dict[str, str] = field(default_factory=dict)
    # The invocation's time left (the Lambda context's get_remaining_time_in_millis): an
    # attribute of the receive, not a service, so the handler hands it over with the job.
    remaining_ms: Callable[[], int] = field(default=_no_deadline, compare=False, repr=False)


Outcome = Literal[
    "delivered", "disabled", "no_endpoint", "duplicate", "superseded", "unknown", "dead_lettered"
]


# ---------------------------------------------------------------- the receive budget
@dataclass(frozen=True)
class ReceiveBudget:
    max_receive_count: int
    dead_letter_arn: str


def check_receive_budget(settings: Settings, redrive_policy: str | None, queue: str) -> ReceiveBudget:
    """The queue's redrive policy must give exactly the receives the schedule plans.

    Called at the delivery function's cold start: a disagreement would end the schedule
    early (fewer receives) or make attempts the plan does not have (more), so the function
    refuses to start with a message naming both values (docs/webhooks.md, One source of truth).
    """
    planned = schedule.max_receive_count(schedule.parse_schedule(settings.webhook_schedule))
    if not redrive_policy:
        raise ScheduleMismatch(
            f"the jobs queue {queue} has no redrive policy, but WEBHOOK_SCHEDULE={settings.webhook_schedule} "
            f"plans {planned} receives per job: give it maxReceiveCount {planned} and a DLQ"
        )
    policy = json.loads(redrive_policy)
    actual = int(policy.get("maxReceiveCount", 0))
    if actual != planned:
        raise ScheduleMismatch(
            f"WEBHOOK_SCHEDULE={settings.webhook_schedule} plans {planned} receives per job, but the jobs "
            f"queue {queue} has maxReceiveCount {actual}: deploy WebhookMaxReceiveCount={planned} with this "
            f"schedule (make cli ARGS=\"schedule --schedule {settings.webhook_schedule}\" prints the plan)"
        )
    return ReceiveBudget(actual, str(policy.get("deadLetterTargetArn", "")))


# ---------------------------------------------------------------- visibility
def _in_flight(job: ReceivedJob) -> float:
    return clock.now() - job.received_at


def _visibility(services: Services, job: ReceivedJob, wanted: int) -> int:
    """Set the message's visibility to `wanted` cut to what SQS accepts; returns what was set.

    A refusal is recorded on the delivery and counted (metric WebhookVisibilityRefused,
    alarmed), and the longest wait SQS still accepts is searched for and set instead:
    never a silent fall back to the queue's default visibility.
    """
    seconds = schedule.accepted_visibility(wanted, _in_flight(job))
    try:
        services.jobs.change_visibility(job.queue_url, job.receipt_handle, seconds)
        return seconds
    except Exception as exc:
        error = f"{type(exc).__name__}: {str(exc)[:300]}"
    metrics.add_metric(name="WebhookVisibilityRefused", unit="Count", value=1)
    logger.error(
        "ChangeMessageVisibility refused",
        extra={"message_id": job.message_id, "seconds": seconds, "in_flight": round(_in_flight(job)), "error": error},
    )
    accepted = _longest_accepted(services, job, seconds)
    _record_refusal(services, job, f"{seconds}s refused ({error}); set {accepted}s")
    return accepted


def _longest_accepted(services: Services, job: ReceivedJob, refused: int) -> int:
    """Binary search below `refused` (to 1%): each accepted change replaces the last, and
    accepted values only grow, so the message ends with the longest one found."""
    low, high, accepted = 0, refused, -1
    while high - low > max(1, refused // 100):
        middle = (low + high) // 2
        try:
            services.jobs.change_visibility(job.queue_url, job.receipt_handle, middle)
            low = accepted = middle
        except Exception:
            high = middle
    if accepted < 0:
        try:
            services.jobs.change_visibility(job.queue_url, job.receipt_handle, 0)
            accepted = 0
        except Exception:
            logger.exception("no visibility accepted", extra={"message_id": job.message_id})
    return max(0, accepted)


def _record_refusal(services: Services, job: ReceivedJob, text: str) -> None:
    try:
        parsed = DeliveryJob.model_validate_json(job.body)
        services.deliveries.update(
            parsed.room_id, parsed.delivery_id, visibility_refused_at=clock.now_ms(), visibility_error=text[:500]
        )
    except Exception:
        logger.exception("could not record a refused visibility", extra={"message_id": job.message_id})


def _retry(services: Services, job: ReceivedJob, reason: str, seconds: int) -> RetryLater:
    return RetryLater(reason, _visibility(services, job, seconds))


def _endpoint(room: Room, settings: Settings) -> tuple[str | None, str | None]:
    """(url, secret id): the room's own endpoint, else the stack's default."""
    if room.callback_url:
        return room.callback_url, room.webhook_secret_id
    if settings.default_webhook_url:
        return settings.default_webhook_url, settings.default_webhook_secret_id or None
    return None, None


def deliver(services: Services, received: ReceivedJob) -> Outcome:
    """Process one job; returns how it ended, or raises RetryLater (visibility already set)."""
    job = DeliveryJob.model_validate_json(received.body)
    log = {"room_id": job.room_id, "delivery_id": job.delivery_id, "run": job.run,
           "receive_count": received.receive_count}
    deliveries = services.deliveries
    record, room = deliveries.get_with_room(job.room_id, job.delivery_id)
    if record is None or room is None or room.delivery_id != job.delivery_id:
        logger.warning("job for an unknown delivery dropped", extra=log)
        return "unknown"
    if job.run != record.run:
        logger.info("job superseded by a replay", extra=log)
        return "superseded"
    # (dead_lettered is not final: a redrive brings the job back for a new schedule.)
    if record.status in ("delivered", "disabled", "no_endpoint"):
        logger.info("duplicate job: delivery already finished", extra={**log, "status": record.status})
        return "duplicate"
    if room.state != "closed":
        raise _retry(services, received, "room still closing", CLOSING_WAIT_SECONDS)

    steps = schedule.parse_schedule(services.settings.webhook_schedule)
    plan = schedule.receive_plan(steps)
    slot = schedule.slot_for(received.receive_count, steps)
    if slot is None:
        # Past the plan (the queue's budget is larger than it should be, or a redrive kept
        # the count): no extra attempt, the job goes to the DLQ.
        logger.warning("receive past the schedule's plan: no attempt", extra=log)
        return _dead_letter(services, received, job, log)
    now = clock.now_ms()
    due = record.next_attempt_receive if record.status == "retrying" else None
    if due is not None and received.receive_count < min(due, len(plan)):
        # The next attempt is a later receive: this one only waits its share of the time left.
        left = max(0.0, ((record.next_attempt_at or now) - now) / 1000)
        wait = schedule.share_of(left, min(due, len(plan)) - received.receive_count)
        raise _retry(services, received, "holding until the next attempt", wait)

    claimed = deliveries.claim(job.room_id, job.delivery_id, job.run, now, LEASE_MS)
    if claimed is None:
        raise _retry(services, received, "delivery busy in another worker", BUSY_WAIT_SECONDS)
    try:
        return _send_parts(services, received, job, claimed, room, plan, log)
    except RetryLater:
        raise  # progress and lease were recorded on the way out
    except BaseException:
        deliveries.release(job.room_id, job.delivery_id, job.run)
        raise


def _receives_until_attempt(plan: list[schedule.Slot], receive_count: int) -> int:
    """This receive and the holds after it, up to the plan's next attempt."""
    count = 1
    for slot in plan[receive_count:]:
        if slot.kind == "attempt":
            break
        count += 1
    return count


def _dead_letter(services: Services, received: ReceivedJob, job: DeliveryJob, log: dict[str, Any]) -> Outcome:
    """Move the job to the DLQ (send first; the item is then done, so SQS deletes it)."""
    try:
        # The DLQ is the one the received message's queue names in its redrive policy.
        services.jobs.dead_letter(received.queue_url, received.body)
    except Exception as exc:
        # The redrive policy moves it on its next receive instead (maxReceiveCount).
        logger.exception("moving the job to the DLQ failed: left to the redrive policy", extra=log)
        raise _retry(services, received, f"dead-letter move failed: {type(exc).__name__}", 0) from exc
    services.deliveries.update(
        job.room_id, job.delivery_id, condition="#f0 <> :delivered", condition_values={"delivered": "delivered"},
        status="dead_lettered", dead_lettered_at=clock.now_ms(),
    )
    metrics.add_metric(name="WebhookDeadLettered", unit="Count", value=1)
    logger.warning("webhook job moved to the DLQ", extra=log)
    return "dead_lettered"


def _send_parts(
    services: Services,
    received: ReceivedJob,
    job: DeliveryJob,
    record: DeliveryRecord,
    room: Room,
    plan: list[schedule.Slot],
    log: dict[str, Any],
) -> Outcome:
    settings = services.settings
    deliveries = services.deliveries
    url, secret_id = _endpoint(room, settings)
    if not url:
        deliveries.release(job.room_id, job.delivery_id, job.run, status="no_endpoint")
        logger.info("no webhook endpoint configured", extra=log)
        return "no_endpoint"
    last = received.receive_count >= len(plan)
    slot = plan[min(received.receive_count, len(plan)) - 1]
    attempts = _Attempts(services, job, received, record.attempts)

    def fail(error: str, part: int | None, result: sender.SendResult | None = None) -> Exception:
        now = clock.now()
        receives = _receives_until_attempt(plan, received.receive_count)
        wait = 0.0 if last else schedule.jittered(slot.step or 0, settings.webhook_jitter)
        if not last and result is not None and result.status_code in RETRY_AFTER_STATUSES:
            retry_after = schedule.parse_retry_after(result.retry_after, now)
            if retry_after is not None:
                wait = float(max(1, retry_after))
                # Longer than this step's receives can hide it: the following attempts'
                # receives hold too (the plan's last receive always attempts).
                needed = math.ceil(wait / schedule.MAX_PLANNED_WAIT)
                receives = max(1, min(max(receives, needed), len(plan) - received.receive_count))
        next_in = math.ceil(wait)
        attempts.record(
            part, result, error, "failed" if last else "retry", None if last else next_in,
            release={
                "last_error": error,
                "status": "failed" if last else "retrying",
                "next_attempt_at": int((now + wait) * 1000),
                "next_attempt_receive": received.receive_count + receives,
                **({"last_status_code": result.status_code} if result and result.status_code else {}),
            },
        )
        metrics.add_metric(name="WebhookExhausted" if last else "WebhookRetry", unit="Count", value=1)
        if last:
            return _DeadLetter()
        return _retry(services, received, error, schedule.share_of(wait, receives))

    def attempt_budget() -> float | None:
        """Seconds this part may take (None: not enough of the Lambda's time is left)."""
        left = received.remaining_ms() - BOOKKEEPING_MS
        if left < MIN_ATTEMPT_MS:
            return None
        return min(settings.webhook_attempt_timeout, left / 1000)

    try:
        secrets = services.secrets.webhook_secrets(secret_id) if secret_id else []
        if not secrets:
            raise ValueError("no webhook secret")
    except Exception as exc:
        logger.error("webhook secret unavailable", extra={**log, "error": type(exc).__name__})
        return _failed(services, received, job, log, fail("secret_unavailable", None), exc)
    try:
        target = ssrf.check_url(url, settings.webhook_allow_loopback)
    except UnsafeUrl as exc:
        logger.warning("webhook URL refused at send time", extra={**log, "reason": exc.message})
        return _failed(services, received, job, log, fail(f"unsafe_url: {exc.message}", None), exc)

    parts = build_parts(
        services.store, room, job.delivery_id, settings.webhook_max_part_bytes, settings.webhook_page_size
    )
    delivered = record.parts_delivered
    total = 0
    finished = False  # the outcome was written with the last part's attempt
    remaining = iter(parts)
    part = next(remaining, None)
    while part is not None:
        # The next part is built before this one is sent: the last part's attempt then
        # carries the delivery's outcome in the same write.
        following = next(remaining, None)
        current, part = part, following
        total = current.number
        if current.number <= delivered:
            continue  # acknowledged by an earlier attempt of this run
        budget = attempt_budget()
        if budget is None:
            logger.warning("too little Lambda time left for a part: retried", extra={**log, "part": current.number})
            return _failed(services, received, job, log, fail("function_time_exhausted", current.number), None)
        wid = webhook_id(job.delivery_id, current.number)
        headers = signing.webhook_headers(secrets, wid, int(clock.now()), current.body)
        result = sender.post(
            target,
            current.body,
            headers,
            settings.webhook_connect_timeout,
            settings.webhook_read_timeout,
            settings.webhook_response_bytes,
            deadline_seconds=budget,
        )
        if result.ok:
            finished = following is None
            attempts.record(current.number, result, None, "delivered", None, progress=current.number,
                            release=_delivered_fields(total) if finished else None)
            delivered = current.number
            continue
        if result.status_code == 410:
            attempts.record(
                current.number, result, result.error, "disabled", None,
                release={"status": "disabled", "disabled_at": clock.now_ms(), "last_status_code": 410,
                         "last_error": "http_410"},
            )
            metrics.add_metric(name="WebhookEndpointDisabled", unit="Count", value=1)
            logger.warning("webhook endpoint answered 410: disabled", extra=log)
            return "disabled"
        return _failed(services, received, job, log, fail(result.error or "failed", current.number, result), None)

    if not finished:
        # Every part was acknowledged before this receive (its outcome was not written then).
        deliveries.release(job.room_id, job.delivery_id, job.run, **_delivered_fields(total))
    metrics.add_metric(name="WebhookDelivered", unit="Count", value=1)
    logger.info("webhook delivered", extra={**log, "parts": total})
    return "delivered"


class _DeadLetter(Exception):
    """The last attempt failed: the job goes to the DLQ."""


def _failed(
    services: Services,
    received: ReceivedJob,
    job: DeliveryJob,
    log: dict[str, Any],
    outcome: Exception,
    cause: BaseException | None,
) -> Outcome:
    if isinstance(outcome, _DeadLetter):
        return _dead_letter(services, received, job, log)
    raise outcome from cause


def _delivered_fields(parts_total: int) -> dict[str, Any]:
    return {"status": "delivered", "delivered_at": clock.now_ms(), "parts_total": parts_total, "last_error": ""}


class _Attempts:
    """The attempts of one lease: numbered here (the lease holder is the only sender), each
    written with its effect on the delivery in one transaction (DeliveryStore.record_attempt)."""

    def __init__(self, services: Services, job: DeliveryJob, received: ReceivedJob, before: int) -> None:
        self.services, self.job, self.received, self.last = services, job, received, before

    def record(
        self,
        part: int | None,
        result: sender.SendResult | None,
        error: str | None,
        outcome: Literal["delivered", "retry", "disabled", "failed"],
        next_in: int | None,
        progress: int | None = None,
        release: dict[str, Any] | None = None,
    ) -> None:
        job = self.job
        attempt = AttemptRecord(
            room_id=job.room_id,
            delivery_id=job.delivery_id,
            attempt=self.last + 1,
            run=job.run,
            part=part,
            webhook_id=webhook_id(job.delivery_id, part) if part else None,
            at=clock.now_ms(),
            status_code=result.status_code if result else None,
            latency_ms=result.latency_ms if result else None,
            error=error,
            response=result.response if result else None,
            outcome=outcome,
            next_visibility_seconds=next_in,
            receive_count=self.received.receive_count,
        )
        deliveries = self.services.deliveries
        if deliveries.record_attempt(attempt, progress, release):
            self.last = attempt.attempt
        else:
            self.last = deliveries.record_attempt_apart(attempt, progress, release)


@cache
def _pool(workers: int) -> ThreadPoolExecutor:
    # Kept across invocations of one execution environment (threads keep their Sessions).
    return ThreadPoolExecutor(max_workers=workers, thread_name_prefix="webhook")


def deliver_batch(
    services: Services, jobs: list[ReceivedJob]
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

