"""Events function: the table's stream -> event batches per endpoint (logic/events.py).

Thin: hand the batch of DynamoDB stream records to logic.events.process_stream. A failure
raises, and the event source mapping retries the batch (bisecting it on error, up to its
retry limit, then naming it on the on-failure queue); the queueing is idempotent per
event and endpoint, so a retry never sends an event twice.
"""

from __future__ import annotations

from typing import Any

from roomcast.logic.events import process_stream
from roomcast.observability import logger, metrics
from roomcast.settings import EventsSettings, configure
from roomcast.wiring import services

configure(EventsSettings)


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    records = event.get("Records") or []
    jobs = process_stream(services(), records)
    return {"records": len(records), "jobs": jobs}
