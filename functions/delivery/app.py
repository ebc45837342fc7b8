"""Delivery function: SQS jobs -> signed room.closed webhooks (DESIGN §5).

Thin: turn each SQS record into a ReceivedJob, run the batch's jobs concurrently
(logic.delivery.deliver_batch), and report the failed items through Powertools'
BatchProcessor so that only those are retried by SQS.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.batch import (
    BatchProcessor,
    EventType,
    process_partial_response,
)
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from roomcast.logic.delivery import ReceivedJob, default_services, deliver_batch
from roomcast.observability import logger, metrics
from roomcast.queue import queue_url_for_arn

# The response lists the failed items even when every item failed (no whole-batch error,
# which would make SQS ignore the visibility each item was given).
processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)


def _received(record: dict[str, Any]) -> ReceivedJob:
    attributes = record.get("attributes") or {}
    return ReceivedJob(
        message_id=record["messageId"],
        receipt_handle=record["receiptHandle"],
        body=record.get("body") or "",
        receive_count=int(attributes.get("ApproximateReceiveCount", "1")),
        queue_url=queue_url_for_arn(record["eventSourceARN"]),
    )


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    records = event.get("Records") or []
    jobs, broken = [], {}
    for record in records:
        try:
            jobs.append(_received(record))
        except Exception as exc:  # a record we cannot even read fails alone
            broken[record.get("messageId", "")] = exc
    failures = {**deliver_batch(default_services(), jobs), **broken}

    def record_handler(record: SQSRecord) -> None:
        error = failures.get(record.message_id)
        if error is not None:
            raise error

    response = process_partial_response(
        event=event, record_handler=record_handler, processor=processor, context=context
    )
    return dict(response)
