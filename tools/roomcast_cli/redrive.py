"""Move a dead-letter queue's messages back to their source queue.

SQS has a server-side redrive (StartMessageMoveTask). Where the service does not offer it
(an emulator, an older endpoint, a queue kind it refuses), the same result comes from a
receive / send / delete loop: each message is sent to the source first and deleted from
the DLQ only once the send succeeded, so a crash in between duplicates a job rather than
losing it (roomcast's delivery and every receiver dedupe on webhook-id).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from botocore.exceptions import ClientError

from roomcast_cli.progress import Progress

Method = Literal["auto", "move-task", "loop"]

# Error codes with which an SQS endpoint says "I do not have this action" (query protocol:
# InvalidAction; JSON protocol: UnknownOperationException) or "not for this queue".
UNSUPPORTED_CODES = frozenset(
    {
        "UnsupportedOperation",
        "AWS.SimpleQueueService.UnsupportedOperation",
        "InvalidAction",
        "UnknownOperationException",
        "UnknownOperation",
        "NotImplemented",
        "NotImplementedException",
    }
)
_FINISHED = frozenset({"COMPLETED", "FAILED", "CANCELLED"})


class RedriveError(Exception):
    """A refusal the operator can act on (printed without a traceback)."""


@dataclass
class RedriveResult:
    method: Literal["move-task", "loop"]
    moved: int
    failed: int = 0
    status: str = "COMPLETED"
    task_handle: str | None = None
    failure_reason: str | None = None
    fallback_reason: str | None = None


def move_task_unsupported(exc: BaseException) -> str | None:
    """Why the service lacks StartMessageMoveTask, or None when `exc` is a real failure
    (access denied, throttling, a bad ARN) that must not be papered over by the loop."""
    if isinstance(exc, NotImplementedError):
        # moto in-process (mock_aws) raises this for actions it does not implement.
        return f"not implemented by the endpoint ({exc})"
    if not isinstance(exc, ClientError):
        return None
    error = exc.response.get("Error", {})
    code = str(error.get("Code", ""))
    if code in UNSUPPORTED_CODES:
        return f"{code}: {error.get('Message', '')}".strip()
    # An emulator (moto server) answers an action it lacks with an HTML error page: botocore
    # finds no AWS error in it and reports the bare HTTP status as the code. SQS itself
    # always answers with a parsed error code, so this never matches a real AWS failure.
    headers = exc.response.get("ResponseMetadata", {}).get("HTTPHeaders", {})
    if code.isdigit() and str(headers.get("content-type", "")).startswith("text/html"):
        return f"the endpoint answered HTTP {code} with no SQS error (action not implemented)"
    return None


def queue_arn(sqs: Any, queue_url: str) -> str:
    attributes = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])
    return str(attributes["Attributes"]["QueueArn"])


def resolve_source(sqs: Any, dlq_url: str, dlq_arn: str, source_url: str | None) -> str:
    """The source queue: --source-url when given (checked against its RedrivePolicy), else
    the one queue whose RedrivePolicy names this DLQ (ListDeadLetterSourceQueues)."""
    if source_url:
        attributes = sqs.get_queue_attributes(
            QueueUrl=source_url, AttributeNames=["RedrivePolicy"]
        ).get("Attributes", {})
        policy = json.loads(attributes.get("RedrivePolicy") or "{}")
        target = policy.get("deadLetterTargetArn")
        if target and target != dlq_arn:
            raise RedriveError(
                f"{source_url} sends its dead letters to {target}, not to this DLQ; "
                "refusing to move messages into a queue they did not come from"
            )
        return source_url
    sources: list[str] = []
    kwargs: dict[str, Any] = {"QueueUrl": dlq_url, "MaxResults": 1000}
    while True:
        page = sqs.list_dead_letter_source_queues(**kwargs)
        sources.extend(page.get("queueUrls", []))
        token = page.get("NextToken")
        if not token:
            break
        kwargs["NextToken"] = token
    if len(sources) == 1:
        return sources[0]
    if not sources:
        raise RedriveError("no queue names this DLQ in its RedrivePolicy; pass --source-url")
    raise RedriveError(
        "several queues use this DLQ (" + ", ".join(sources) + "); pass --source-url"
    )


def redrive(
    sqs: Any,
    dlq_url: str,
    source_url: str | None = None,
    max_messages: int | None = None,
    method: Method = "auto",
    progress: Progress | None = None,
    poll_interval: float = 2.0,
    wait_timeout: float = 3600.0,
    wait_seconds: int = 2,
    sleep: Callable[[float], None] = time.sleep,
) -> RedriveResult:
    """Move up to `max_messages` (all when None) from the DLQ back to the source queue.

    `auto` tries StartMessageMoveTask and falls back to the loop only when the service
    says it does not have it. A move task moves everything and cannot be bounded, so
    `max_messages` selects the loop.
    """
    if max_messages is not None and max_messages < 1:
        raise RedriveError("--max must be at least 1")
    dlq_arn = queue_arn(sqs, dlq_url)
    source = resolve_source(sqs, dlq_url, dlq_arn, source_url)
    fallback_reason: str | None = None
    if method == "move-task" or (method == "auto" and max_messages is None):
        try:
            return _move_task(
                sqs, dlq_arn, queue_arn(sqs, source), progress, poll_interval, wait_timeout, sleep
            )
        except (ClientError, NotImplementedError) as exc:
            fallback_reason = move_task_unsupported(exc)
            if fallback_reason is None or method == "move-task":
                raise
        if progress is not None:
            progress.stream.write(
                f"StartMessageMoveTask unavailable ({fallback_reason}); "
                "moving with receive/send/delete\n"
            )
    result = _loop(sqs, dlq_url, source, max_messages, progress, wait_seconds)
    result.fallback_reason = fallback_reason
    return result


def _move_task(
    sqs: Any,
    dlq_arn: str,
    source_arn: str,
    progress: Progress | None,
    poll_interval: float,
    wait_timeout: float,
    sleep: Callable[[float], None],
) -> RedriveResult:
    handle = sqs.start_message_move_task(SourceArn=dlq_arn, DestinationArn=source_arn)["TaskHandle"]
    deadline = time.monotonic() + wait_timeout
    while True:
        # Newest task first; the one just started is the DLQ's running (or latest) task.
        results = sqs.list_message_move_tasks(SourceArn=dlq_arn, MaxResults=1).get("Results", [])
        task = results[0] if results else {}
        status = str(task.get("Status", "RUNNING"))
        moved = int(task.get("ApproximateNumberOfMessagesMoved", 0))
        to_move = task.get("ApproximateNumberOfMessagesToMove")
        if progress is not None:
            if to_move is not None:
                progress.total = int(to_move)
            progress.set(moved, f" ({status.lower()})")
        if status in _FINISHED:
            if progress is not None:
                progress.done(f" ({status.lower()})")
            return RedriveResult(
                "move-task",
                moved,
                status=status,
                task_handle=handle,
                failure_reason=task.get("FailureReason"),
            )
        if time.monotonic() >= deadline:
            # The task goes on server-side; the caller reports its handle.
            return RedriveResult("move-task", moved, status=status, task_handle=handle)
        sleep(poll_interval)


def _clean_attributes(attributes: dict[str, Any]) -> dict[str, Any]:
    """Message attributes as SendMessage takes them (receive adds empty list fields)."""
    cleaned: dict[str, Any] = {}
    for name, value in attributes.items():
        kept = {"DataType": value["DataType"]}
        for key in ("StringValue", "BinaryValue"):
            if key in value:
                kept[key] = value[key]
        cleaned[name] = kept
    return cleaned


def _entry(index: int, message: dict[str, Any], fifo: bool) -> dict[str, Any]:
    entry: dict[str, Any] = {"Id": str(index), "MessageBody": message["Body"]}
    if message.get("MessageAttributes"):
        entry["MessageAttributes"] = _clean_attributes(message["MessageAttributes"])
    system = message.get("Attributes", {})
    if system.get("AWSTraceHeader"):
        entry["MessageSystemAttributes"] = {
            "AWSTraceHeader": {"DataType": "String", "StringValue": system["AWSTraceHeader"]}
        }
    if fifo:
        entry["MessageGroupId"] = system.get("MessageGroupId", "redrive")
        entry["MessageDeduplicationId"] = (
            system.get("MessageDeduplicationId") or message["MessageId"]
        )
    return entry


def _send(sqs: Any, source: str, entries: list[dict[str, Any]]) -> set[str]:
    """Ids of the entries the source queue accepted."""
    try:
        sent = sqs.send_message_batch(QueueUrl=source, Entries=entries)
        return {s["Id"] for s in sent.get("Successful", [])}
    except ClientError as exc:
        # Ten messages near the 256 KiB limit exceed the batch limit together: go one by one.
        if "BatchRequestTooLong" not in str(exc.response.get("Error", {}).get("Code", "")):
            raise
    accepted: set[str] = set()
    for entry in entries:
        single = {k: v for k, v in entry.items() if k != "Id"}
        try:
            sqs.send_message(QueueUrl=source, **single)
            accepted.add(entry["Id"])
        except ClientError:
            continue
    return accepted


def _loop(
    sqs: Any,
    dlq_url: str,
    source: str,
    max_messages: int | None,
    progress: Progress | None,
    wait_seconds: int,
) -> RedriveResult:
    fifo = source.endswith(".fifo")
    moved = failed = 0
    while max_messages is None or moved + failed < max_messages:
        want = 10 if max_messages is None else min(10, max_messages - moved - failed)
        messages = sqs.receive_message(
            QueueUrl=dlq_url,
            MaxNumberOfMessages=want,
            WaitTimeSeconds=wait_seconds,
            # Long enough for the send and delete; a message whose send failed stays
            # invisible until the loop is over, so it is not picked up twice in one run.
            VisibilityTimeout=300,
            MessageAttributeNames=["All"],
            MessageSystemAttributeNames=["All"],
        ).get("Messages", [])
        if not messages:
            break  # a long poll that comes back empty: the DLQ is drained
        entries = [_entry(i, m, fifo) for i, m in enumerate(messages)]
        accepted = _send(sqs, source, entries)
        done = [
            {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]}
            for i, m in enumerate(messages)
            if str(i) in accepted
        ]
        deleted = 0
        if done:
            answer = sqs.delete_message_batch(QueueUrl=dlq_url, Entries=done)
            deleted = len(answer.get("Successful", []))
        # A message sent but not deleted will be redriven again later (a duplicate job,
        # which the delivery dedupes); it is counted as moved, since the source has it.
        moved += len(accepted)
        failed += len(messages) - len(accepted)
        if progress is not None:
            extra = f" ({failed} failed)" if failed else ""
            if deleted < len(done):
                extra += f" ({len(done) - deleted} not deleted from the DLQ)"
            progress.set(moved, extra)
    if progress is not None:
        progress.done(f" moved{f', {failed} failed' if failed else ''}")
    return RedriveResult("loop", moved, failed=failed)
