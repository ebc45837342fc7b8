"""Delivery function: SQS jobs -> signed room.closed webhooks (docs/webhooks.md).

Thin: turn each SQS record into a ReceivedJob (with the Lambda's remaining time), run
the batch's jobs concurrently (logic.delivery.deliver_batch) on the wiring's services,
and report the failed items through Powertools' BatchProcessor so that only those are
retried by SQS.

Cold start: the jobs queue's redrive policy (read once per execution environment, from
the event's own queue, so importing this module makes no AWS call) must give exactly the
receives that WEBHOOK_SCHEDULE plans; when it does not, every invocation fails before
touching a job, naming both values, rather than end the schedule early or attempt past it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aws_lambda_powertools.utilities.batch import (
    BatchProcessor,
    EventType,
    process_partial_response,
)
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from roomcast import clock
from roomcast.logic.delivery import ReceivedJob, check_receive_budget, deliver_batch
from roomcast.observability import logger, metrics
from roomcast.queue import queue_url_for_arn, redrive_policy
from roomcast.settings import DeliverySettings, configure
from roomcast.wiring import services

configure(DeliverySettings)

# The response lists the failed items even when every item failed (no whole-batch error,
# which would make SQS ignore the visibility each item was given).
processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)


def _received(record: dict[str, Any], invoked_at: float, remaining_ms: Callable[[], int]) -> ReceivedJob:
    attributes = record.get("attributes") or {}
    receive_count = int(attributes.get("ApproximateReceiveCount", "1"))
    received_at = invoked_at
    first = attributes.get("ApproximateFirstReceiveTimestamp")
    if receive_count == 1 and first and first.isdigit():
        received_at = min(invoked_at, int(first) / 1000)
    return ReceivedJob(
        message_id=record["messageId"],
        receipt_handle=record["receiptHandle"],
        body=record.get("body") or "",
        receive_count=receive_count,
        queue_url=queue_url_for_arn(record["eventSourceARN"]),
        received_at=received_at,
        remaining_ms=remaining_ms,
    )


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    invoked_at = clock.now()
    records = event.get("Records") or []
    jobs, broken = [], {}
    for record in records:
        try:
            jobs.append(_received(record, invoked_at, context.get_remaining_time_in_millis))
        except Exception as exc:  # a record we cannot even read fails alone
            broken[record.get("messageId", "")] = exc
    invocation = services()
    for queue_url in {job.queue_url for job in jobs}:
        # The policy is read once per environment (its cold start).
        check_receive_budget(invocation.settings, redrive_policy(queue_url), queue_url)
    failures = {**deliver_batch(invocation, jobs), **broken}

    def record_handler(record: SQSRecord) -> None:
        error = failures.get(record.message_id)
        if error is not None:
            raise error

    response = process_partial_response(
        event=event, record_handler=record_handler, processor=processor, context=context
    )
    return dict(response)
