"""Fan-out through the API Gateway management API (@connections).

One PostToConnection per connection, issued concurrently by a bounded worker pool
whose size matches botocore's max_pool_connections (the default pool of 10 would
throttle larger rooms). A 410 Gone marks that one connection stale; other errors are
retried with a short backoff and then counted as failed.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import cache
from typing import Any, Literal

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from roomcast.aws_errors import error_code
from roomcast.observability import logger
from roomcast.settings import get_settings

PostOutcome = Literal["delivered", "gone", "failed"]


@dataclass
class FanoutResult:
    delivered: int = 0
    failed: int = 0
    gone: list[str] = field(default_factory=list)
    # Connections handed to range jobs on the fan-out queue (logic/fanout.py).
    queued: int = 0


def management_endpoint(api_id: str | None, stage: str | None, region: str | None = None) -> str | None:
    """Where @connections lives. None lets botocore read AWS_ENDPOINT_URL_APIGATEWAYMANAGEMENTAPI.

    The execute-api host is used rather than the request's domain, so a custom domain in
    front of the WebSocket API does not break fan-out.
    """
    if os.environ.get("AWS_ENDPOINT_URL_APIGATEWAYMANAGEMENTAPI"):
        return None
    configured = os.environ.get("WEBSOCKET_MANAGEMENT_URL")
    if not api_id or not stage:
        return configured or None
    region = region or os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION", "us-east-1")
    return f"https://{api_id}.execute-api.{region}.amazonaws.com/{stage}"


@cache
def _client(endpoint_url: str | None, pool: int) -> Any:
    return boto3.client(
        "apigatewaymanagementapi",
        endpoint_url=endpoint_url,
        config=Config(
            max_pool_connections=pool,
            # Retries are ours (below): botocore's would retry a 410 never and others too long.
            retries={"max_attempts": 1, "mode": "standard"},
            connect_timeout=2,
            read_timeout=5,
        ),
    )


def _is_gone(error: ClientError) -> bool:
    status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    return status == 410 or error_code(error) == "GoneException"


class Gateway:
    def __init__(
        self,
        endpoint_url: str | None,
        client: Any | None = None,
        workers: int | None = None,
        retries: int | None = None,
        backoff_seconds: float = 0.05,
    ) -> None:
        settings = get_settings()
        self.workers = workers or settings.fanout_workers
        self.retries = settings.fanout_retries if retries is None else retries
        self.backoff_seconds = backoff_seconds
        self.endpoint_url = endpoint_url
        self._client = client

    @property
    def client(self) -> Any:
        # Created on first use (cached per endpoint): a function that never fans out
        # ($connect) does not pay for the management API client.
        return self._client or _client(self.endpoint_url, self.workers)

    def post(self, connection_id: str, data: bytes) -> PostOutcome:
        for attempt in range(self.retries + 1):
            try:
                self.client.post_to_connection(ConnectionId=connection_id, Data=data)
                return "delivered"
            except ClientError as exc:
                if _is_gone(exc):
                    return "gone"
                failure = error_code(exc)
            except BotoCoreError as exc:
                failure = type(exc).__name__
            if attempt < self.retries:
                time.sleep(self.backoff_seconds * (2**attempt))
        logger.warning("post_to_connection failed", extra={"connection_id": connection_id, "error": failure})
        return "failed"

    def send(self, connection_id: str, payload: dict[str, Any]) -> PostOutcome:
        return self.post(connection_id, _encode(payload))

    def broadcast(self, connection_ids: Iterable[str], payload: dict[str, Any]) -> FanoutResult:
        targets = list(dict.fromkeys(connection_ids))
        result = FanoutResult()
        if not targets:
            return result
        data = _encode(payload)
        if len(targets) == 1:
            outcomes = [self.post(targets[0], data)]
        else:
            with ThreadPoolExecutor(max_workers=min(self.workers, len(targets))) as pool:
                outcomes = list(pool.map(lambda cid: self.post(cid, data), targets))
        for cid, outcome in zip(targets, outcomes, strict=True):
            if outcome == "delivered":
                result.delivered += 1
            elif outcome == "gone":
                result.gone.append(cid)
            else:
                result.failed += 1
        return result

    def disconnect(self, connection_id: str) -> None:
        try:
            self.client.delete_connection(ConnectionId=connection_id)
        except ClientError as exc:
            if not _is_gone(exc):
                logger.warning("delete_connection failed", extra={"connection_id": connection_id})
        except BotoCoreError as exc:
            # A timeout here must not abort the caller (a room close disconnecting everyone).
            logger.warning(
                "delete_connection failed",
                extra={"connection_id": connection_id, "error": type(exc).__name__},
            )


def _encode(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()
