"""Range jobs of split fan-outs and broadcasts (docs/scaling-and-cost.md): each record
posts one range of a room's members, of a connection-index shard, or of some users'
connections. A bad or failing record fails alone (ReportBatchItemFailures)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.batch import (
    BatchProcessor,
    EventType,
    process_partial_response,
)
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord

from roomcast.logic import range_jobs
from roomcast.models.fanout import FanoutJob
from roomcast.observability import logger, metrics
from roomcast.settings import FanoutSettings, configure
from roomcast.wiring import services

configure(FanoutSettings)

# With BatchSize 1 every failure is a whole batch: answer it as a batchItemFailures
# entry (the same redelivery) rather than an invocation error.
processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)


def record_handler(record: SQSRecord) -> str:
    job = FanoutJob.model_validate_json(record.body)
    logger.append_keys(fanout_id=job.fanout_id, job_id=job.job_id)
    # No WebSocket request context here: the management endpoint comes from the environment.
    return range_jobs.run_job(services(), job)


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: Any) -> PartialItemFailureResponse:
    return process_partial_response(
        event=event, record_handler=record_handler, processor=processor, context=context
    )
