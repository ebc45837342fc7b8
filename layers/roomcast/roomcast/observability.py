"""One Logger and one Metrics for every function.

No Tracer: X-Ray is not wired (the template sets no `Tracing`, and the layer does not
ship the X-Ray SDK, which would cost tens of milliseconds of every cold start). The
template keeps POWERTOOLS_TRACE_DISABLED=true so Powertools never looks for it
(docs/architecture.md, "Observability").
"""

from __future__ import annotations

import os

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

SERVICE = os.environ.get("POWERTOOLS_SERVICE_NAME", "roomcast")

logger = Logger(service=SERVICE)
metrics = Metrics(namespace=os.environ.get("POWERTOOLS_METRICS_NAMESPACE", "roomcast"), service=SERVICE)

__all__ = ["MetricUnit", "logger", "metrics"]
