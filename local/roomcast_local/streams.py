"""DynamoDB stream event source mappings, as Lambda runs them, against the moto server.

Per `Type: DynamoDB` event of a function: one poller thread per shard of the stream
(DescribeStream; moto keeps one shard per table) reads from StartingPosition with
GetShardIterator / GetRecords, gathers up to BatchSize records - waiting up to
MaximumBatchingWindowInSeconds from the first one - and invokes the function with a
Lambda DynamoDB event (records in the shard's order, ApproximateCreationDateTime in
epoch seconds, eventSourceARN the stream's). The shard's position advances only past a
batch the function took.

A failed invocation is retried: with BisectBatchOnFunctionError the batch is halved
and each half retried on its own (the failing record ends up alone); after
MaximumRetryAttempts retries (of the whole batch, or of each half) the records are
given up, and the OnFailure destination (an SQS queue) gets Lambda's record of them
(the shard, the first and last sequence numbers, the batch size), then polling goes on.
Nothing here is specific to roomcast's functions.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

from roomcast_local.template import StreamSource

InvokeSync = Callable[[str, Any], Any]
_IDLE_SLEEP_S = 0.2  # between empty GetRecords calls (the real poller reads ~4 times a second)
_RETRY_SLEEP_S = 0.2
# MaximumRetryAttempts -1 means "until the record expires" (24 h): locally, this many.
_UNBOUNDED_RETRIES = 10_000


def lambda_record(record: dict[str, Any], stream_arn: str, region: str) -> dict[str, Any]:
    """A GetRecords record in the shape Lambda hands to the function."""
    data = dict(record.get("dynamodb") or {})
    created = data.get("ApproximateCreationDateTime")
    if isinstance(created, datetime):
        data["ApproximateCreationDateTime"] = created.timestamp()
    out: dict[str, Any] = {
        "eventID": record["eventID"],
        "eventName": record["eventName"],
        "eventVersion": record.get("eventVersion", "1.1"),
        "eventSource": "aws:dynamodb",
        "awsRegion": record.get("awsRegion") or region,
        "dynamodb": data,
        "eventSourceARN": stream_arn,
    }
    if record.get("userIdentity"):
        out["userIdentity"] = record["userIdentity"]
    return out


class StreamPoller:
    def __init__(
        self,
        source: StreamSource,
        *,
        stream_arn: str,
        batching_window_s: float,
        streams_client: Any,
        sqs_client: Any,
        on_failure_url: str | None,
        invoke: InvokeSync,
        region: str,
        log: Callable[[str], None],
    ) -> None:
        self.source = source
        self.stream_arn = stream_arn
        self.window = max(0.0, float(batching_window_s))
        self.streams = streams_client
        self.sqs = sqs_client
        self.on_failure_url = on_failure_url
        self.invoke = invoke
        self.region = region
        self.log = log
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self.batches = 0
        self.records = 0
        self.failed_invocations = 0
        self.given_up = 0

    def start(self) -> None:
        shards = self.streams.describe_stream(StreamArn=self.stream_arn)["StreamDescription"]["Shards"]
        for shard in shards:
            thread = threading.Thread(target=self._run, args=(shard["ShardId"],),
                                      name=f"ddbstream-{self.source.function}-{shard['ShardId'][-6:]}", daemon=True)
            thread.start()
            self._threads.append(thread)

    def request_stop(self) -> None:
        self._stop.set()

    def stop(self, timeout: float = 15.0) -> None:
        self._stop.set()
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(timeout=max(0.0, deadline - time.monotonic()))

    def _iterator(self, shard_id: str) -> str:
        position = self.source.starting_position.upper()
        kind = "TRIM_HORIZON" if position == "TRIM_HORIZON" else "LATEST"
        return str(self.streams.get_shard_iterator(StreamArn=self.stream_arn, ShardId=shard_id,
                                                   ShardIteratorType=kind)["ShardIterator"])

    def _run(self, shard_id: str) -> None:
        try:
            iterator: str | None = self._iterator(shard_id)
        except Exception as exc:
            self.log(f"stream {self.source.function}: no iterator for {shard_id}: {exc}")
            return
        pending: list[dict[str, Any]] = []
        window_end = 0.0
        while not self._stop.is_set() and iterator:
            try:
                response = self.streams.get_records(ShardIterator=iterator, Limit=min(1000, self.source.batch_size))
            except Exception as exc:
                if self._stop.is_set():
                    return
                self.log(f"stream {self.source.function}: GetRecords failed: {exc}")
                self._stop.wait(1)
                continue
            iterator = response.get("NextShardIterator")
            fresh = response.get("Records") or []
            if fresh and not pending:
                window_end = time.monotonic() + self.window  # the window opens with the first record
            pending.extend(fresh)
            while len(pending) >= self.source.batch_size or (pending and time.monotonic() >= window_end):
                batch, pending = pending[: self.source.batch_size], pending[self.source.batch_size :]
                self._deliver([lambda_record(r, self.stream_arn, self.region) for r in batch], shard_id)
                if pending:
                    window_end = time.monotonic() + self.window
            if not fresh:
                self._stop.wait(min(_IDLE_SLEEP_S, max(0.01, window_end - time.monotonic())) if pending
                                else _IDLE_SLEEP_S)

    def _deliver(self, batch: list[dict[str, Any]], shard_id: str) -> None:
        """Invoke until the batch is taken, bisecting and retrying as the mapping says."""
        retries = self.source.max_retry_attempts
        limit = _UNBOUNDED_RETRIES if retries < 0 else retries
        attempt = 0
        while not self._stop.is_set():
            self.batches += 1
            try:
                self.invoke(self.source.function, {"Records": batch})
                self.records += len(batch)
                return
            except Exception as exc:
                self.failed_invocations += 1
                self.log(f"{self.source.function} failed a stream batch of {len(batch)}: {exc}")
            if self.source.bisect_on_error and len(batch) > 1:
                middle = len(batch) // 2
                self._deliver(batch[:middle], shard_id)
                self._deliver(batch[middle:], shard_id)
                return
            if attempt >= limit:
                self._give_up(batch, shard_id)
                return
            attempt += 1
            self._stop.wait(_RETRY_SLEEP_S)

    def _give_up(self, batch: list[dict[str, Any]], shard_id: str) -> None:
        self.given_up += len(batch)
        info = {
            "requestContext": {"condition": "RetryAttemptsExhausted", "functionArn": self.source.function},
            "version": "1.0",
            "timestamp": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "DDBStreamBatchInfo": {
                "shardId": shard_id,
                "startSequenceNumber": batch[0]["dynamodb"].get("SequenceNumber"),
                "endSequenceNumber": batch[-1]["dynamodb"].get("SequenceNumber"),
                "batchSize": len(batch),
                "streamArn": self.stream_arn,
            },
        }
        self.log(f"{self.source.function}: gave up on {len(batch)} stream records")
        if self.on_failure_url:
            try:
                self.sqs.send_message(QueueUrl=self.on_failure_url, MessageBody=json.dumps(info))
            except Exception as exc:
                self.log(f"{self.source.function}: on-failure destination refused: {exc}")
