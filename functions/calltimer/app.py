"""The ring timer: delayed SQS messages (one per invite) that turn an unanswered
invite into a missed call and tell both sides; the same queue carries the idle timers of
streamed messages (`"kind": "stream"`), which end a stream nobody finished. A bad record
fails alone."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.batch import (
    BatchProcessor,
    EventType,
    process_partial_response,
)
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from roomcast.logic import signaling
from roomcast.models.signaling import CallTimerJob, StreamTimerJob
from roomcast.observability import logger, metrics
from roomcast.settings import CallTimerSettings, configure
from roomcast.wiring import services

configure(CallTimerSettings)

processor = BatchProcessor(event_type=EventType.SQS)


def record_handler(record: SQSRecord) -> str:
    if '"kind"' in record.body:
        stream_job = StreamTimerJob.model_validate_json(record.body)
        # Imported on use: a ring timer never loads the streams' logic.
        from roomcast.logic import streams

        outcome = streams.expire(services(), stream_job.room_id, stream_job.stream_id)
        logger.info("stream timer", extra={"stream_id": stream_job.stream_id, "outcome": outcome})
        return outcome
    job = CallTimerJob.model_validate_json(record.body)
    # No WebSocket request context here: the management endpoint comes from the environment.
    outcome = signaling.expire_invite(services(), job.room_id, job.call_id)
    logger.info("ring timer", extra={"call_id": job.call_id, "outcome": outcome})
    return outcome


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: Any) -> PartialItemFailureResponse:
    return process_partial_response(
        event=event, record_handler=record_handler, processor=processor, context=context
    )
