"""The ring timer: delayed SQS messages (one per invite) that turn an unanswered
invite into a missed call and tell both sides. A bad record fails alone."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.batch import (
    BatchProcessor,
    EventType,
    process_partial_response,
)
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from roomcast.dal.store import get_store
from roomcast.gateway import Gateway, management_endpoint
from roomcast.logic import signaling
from roomcast.logic.context import Services
from roomcast.models.signaling import CallTimerJob
from roomcast.observability import logger, metrics

processor = BatchProcessor(event_type=EventType.SQS)


def _services() -> Services:
    # No WebSocket request context here: the management endpoint comes from the environment.
    return Services(store=get_store(), gateway=Gateway(management_endpoint(None, None)))


def record_handler(record: SQSRecord) -> str:
    job = CallTimerJob.model_validate_json(record.body)
    outcome = signaling.expire_invite(_services(), job.room_id, job.call_id)
    logger.info("ring timer", extra={"call_id": job.call_id, "outcome": outcome})
    return outcome


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: Any) -> PartialItemFailureResponse:
    return process_partial_response(
        event=event, record_handler=record_handler, processor=processor, context=context
    )
