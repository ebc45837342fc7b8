"""One Logger, one Metrics, and a Tracer only when tracing is enabled.

The X-Ray SDK costs tens of milliseconds to import, so it is loaded only when
POWERTOOLS_TRACE_DISABLED is not true: cold start is a feature.
"""

from __future__ import annotations

import os
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

SERVICE = os.environ.get("POWERTOOLS_SERVICE_NAME", "roomcast")

logger = Logger(service=SERVICE)
metrics = Metrics(namespace=os.environ.get("POWERTOOLS_METRICS_NAMESPACE", "roomcast"), service=SERVICE)

__all__ = ["MetricUnit", "logger", "metrics", "tracer", "tracing_enabled"]


def tracing_enabled() -> bool:
    return os.environ.get("POWERTOOLS_TRACE_DISABLED", "true").lower() not in ("1", "true", "yes")


_tracer: Any = None


def tracer() -> Any:
    """The Powertools Tracer, created on first use, or None when tracing is off."""
    global _tracer
    if _tracer is None and tracing_enabled():
        from aws_lambda_powertools import Tracer

        _tracer = Tracer(service=SERVICE)
    return _tracer
