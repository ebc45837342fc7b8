"""SQS event source mappings, as Lambda runs them, against the embedded moto server.

Per SQS event of a function: up to MaximumConcurrency pollers (bounded by the function's
pool) receive batches of up to BatchSize messages, waiting up to
MaximumBatchingWindowInSeconds to fill one, and invoke the function with a Lambda SQS
event. On success the batch is deleted; with ReportBatchItemFailures only the records
not listed in batchItemFailures are; a failed invocation (or an invalid partial
response) deletes nothing. Visibility is left to the queue and to the function (its
ChangeMessageVisibility calls set the retry delay); redrive to the DLQ after
maxReceiveCount is the queue's own (moto applies the RedrivePolicy on receive).
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable
from typing import Any

from roomcast_local.template import SqsSource

InvokeSync = Callable[[str, Any], Any]
_POLL_WAIT_SECONDS = 1  # long-poll wait; short enough for a prompt shutdown


def lambda_record(message: dict[str, Any], queue_arn: str, region: str) -> dict[str, Any]:
    attributes = message.get("Attributes") or {}
    record: dict[str, Any] = {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message.get("Body", ""),
        "attributes": {
            k: str(v)
            for k, v in attributes.items()
            if k
            in (
                "ApproximateReceiveCount",
                "SentTimestamp",
                "SenderId",
                "ApproximateFirstReceiveTimestamp",
                "MessageGroupId",
                "MessageDeduplicationId",
                "SequenceNumber",
                "AWSTraceHeader",
                "DeadLetterQueueSourceArn",
            )
        },
        "messageAttributes": {},
        "md5OfBody": message.get("MD5OfBody") or hashlib.md5(message.get("Body", "").encode(), usedforsecurity=False).hexdigest(),
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": region,
    }
    for name, value in (message.get("MessageAttributes") or {}).items():
        # Lambda's shape: lower-camel keys and the list fields always present.
        binary = value.get("BinaryValue")
        record["messageAttributes"][name] = {
            "stringValue": value.get("StringValue"),
            "binaryValue": binary.decode("latin-1") if isinstance(binary, bytes) else binary,
            "stringListValues": value.get("StringListValues") or [],
            "binaryListValues": value.get("BinaryListValues") or [],
            "dataType": value.get("DataType"),
        }
        if record["messageAttributes"][name]["binaryValue"] is None:
            del record["messageAttributes"][name]["binaryValue"]
        if record["messageAttributes"][name]["stringValue"] is None:
            del record["messageAttributes"][name]["stringValue"]
    if message.get("MD5OfMessageAttributes"):
        record["md5OfMessageAttributes"] = message["MD5OfMessageAttributes"]
    return record


class SqsPoller:
    def __init__(
        self,
        source: SqsSource,
        *,
        queue_url: str,
        queue_arn: str,
        client: Any,
        invoke: InvokeSync,
        concurrency: int,
        region: str,
        log: Callable[[str], None],
    ) -> None:
        self.source = source
        self.queue_url = queue_url
        self.queue_arn = queue_arn
        self.client = client
        self.invoke = invoke
        self.concurrency = max(1, concurrency)
        self.region = region
        self.log = log
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self.batches = 0
        self.deleted = 0
        self.failed = 0

    def start(self) -> None:
        for index in range(self.concurrency):
            thread = threading.Thread(
                target=self._run, name=f"sqs-{self.source.function}-{index}", daemon=True
            )
            thread.start()
            self._threads.append(thread)

    def request_stop(self) -> None:
        self._stop.set()

    def stop(self, timeout: float = _POLL_WAIT_SECONDS + 15) -> None:
        """Stop polling; wait for the pollers `timeout` seconds at most (they are daemons)."""
        self._stop.set()
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(timeout=max(0.0, deadline - time.monotonic()))

    def _receive_batch(self) -> list[dict[str, Any]]:
        batch: list[dict[str, Any]] = []
        window_end = 0.0
        while not self._stop.is_set() and len(batch) < self.source.batch_size:
            if batch:
                remaining = window_end - time.monotonic()
                if remaining <= 0:
                    break
                wait = min(_POLL_WAIT_SECONDS, int(remaining))
            else:
                wait = _POLL_WAIT_SECONDS
            response = self.client.receive_message(
                QueueUrl=self.queue_url,
                MaxNumberOfMessages=min(10, self.source.batch_size - len(batch)),
                WaitTimeSeconds=wait,
                AttributeNames=["All"],
                MessageAttributeNames=["All"],
            )
            messages = response.get("Messages") or []
            if not batch:
                if not messages:
                    return []
                # The batching window opens with the first message.
                window_end = time.monotonic() + self.source.batching_window_s
            batch.extend(messages)
            if not messages:
                time.sleep(min(0.1, max(0.0, window_end - time.monotonic())))
        return batch

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                batch = self._receive_batch()
            except Exception as exc:
                if self._stop.is_set():
                    return
                self.log(f"sqs receive failed for {self.source.function}: {exc}")
                self._stop.wait(1)
                continue
            if not batch:
                continue
            self._process(batch)

    def _process(self, batch: list[dict[str, Any]]) -> None:
        self.batches += 1
        event = {"Records": [lambda_record(m, self.queue_arn, self.region) for m in batch]}
        ids = {m["MessageId"] for m in batch}
        try:
            result = self.invoke(self.source.function, event)
        except Exception as exc:
            # The whole batch returns to the queue when its visibility timeout ends.
            self.failed += len(batch)
            self.log(f"{self.source.function} failed a batch of {len(batch)}: {exc}")
            return
        failed: set[str] = set()
        if self.source.report_batch_item_failures and isinstance(result, dict):
            items = result.get("batchItemFailures")
            if items:
                for item in items:
                    identifier = item.get("itemIdentifier") if isinstance(item, dict) else None
                    if not identifier or identifier not in ids:
                        # Lambda treats an invalid partial response as a failed batch.
                        self.failed += len(batch)
                        self.log(f"{self.source.function}: invalid batchItemFailures; the batch fails")
                        return
                    failed.add(identifier)
        done = [m for m in batch if m["MessageId"] not in failed]
        self.failed += len(failed)
        for start in range(0, len(done), 10):
            chunk = done[start : start + 10]
            try:
                self.client.delete_message_batch(
                    QueueUrl=self.queue_url,
                    Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(chunk)],
                )
                self.deleted += len(chunk)
            except Exception as exc:
                self.log(f"sqs delete failed for {self.source.function}: {exc}")
