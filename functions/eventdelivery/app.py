"""Event delivery function: SQS batch jobs -> signed event webhooks (logic/event_delivery.py).

Thin, as functions/delivery is: each SQS record becomes a ReceivedJob with the Lambda's
remaining time; the jobs run concurrently; failed items are reported through Powertools'
BatchProcessor (their visibility was already set to the next retry) so only those return.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.batch import (
    BatchProcessor,
    EventType,
    process_partial_response,
)
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from roomcast import clock
from roomcast.logic.delivery import ReceivedJob
from roomcast.logic.event_delivery import deliver_jobs
from roomcast.observability import logger, metrics
from roomcast.queue import queue_url_for_arn
from roomcast.settings import EventDeliverySettings, configure
from roomcast.wiring import services

configure(EventDeliverySettings)

processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    invoked_at = clock.now()
    jobs = [
        ReceivedJob(
            message_id=record["messageId"],
            receipt_handle=record["receiptHandle"],
            body=record.get("body") or "",
            receive_count=int((record.get("attributes") or {}).get("ApproximateReceiveCount", "1")),
            queue_url=queue_url_for_arn(record["eventSourceARN"]),
            received_at=invoked_at,
            remaining_ms=context.get_remaining_time_in_millis,
        )
        for record in event.get("Records") or []
    ]
    failures = deliver_jobs(services(), jobs)

    def record_handler(record: SQSRecord) -> None:
        error = failures.get(record.message_id)
        if error is not None:
            raise error

    return dict(process_partial_response(event=event, record_handler=record_handler, processor=processor,
                                         context=context))
