"""SQS access, through one client: the jobs queue that closes (and replays) feed and the
delivery function drains, the fan-out queue of range jobs (docs/scaling-and-cost.md), and
the ring timer's delayed messages (docs/signaling.md). Queue URLs come from the wiring."""

from __future__ import annotations

import json
from functools import cache
from typing import Any

import boto3
from botocore.config import Config

from roomcast.models.webhooks import DeliveryJob

# SQS caps DelaySeconds at 15 minutes.
MAX_DELAY_SECONDS = 900


@cache
def sqs_client() -> Any:
    return boto3.client(
        "sqs",
        config=Config(
            retries={"max_attempts": 4, "mode": "standard"},
            connect_timeout=2,
            read_timeout=10,
            max_pool_connections=16,
        ),
    )


@cache
def queue_url_for_arn(arn: str) -> str:
    """arn:aws:sqs:<region>:<account>:<name> -> its URL (the delivery function's event source)."""
    _, _, _, _region, account, name = arn.split(":", 5)
    return str(sqs_client().get_queue_url(QueueName=name, QueueOwnerAWSAccountId=account)["QueueUrl"])


@cache
def redrive_policy(queue_url: str) -> str | None:
    """The queue's RedrivePolicy JSON (read once per execution environment), None without one."""
    attributes = sqs_client().get_queue_attributes(QueueUrl=queue_url, AttributeNames=["RedrivePolicy"])
    return attributes.get("Attributes", {}).get("RedrivePolicy")


def dead_letter(queue_url: str, body: str) -> None:
    """Send a job's body to the DLQ that `queue_url`'s redrive policy names."""
    policy = redrive_policy(queue_url)
    if not policy:
        raise RuntimeError(f"{queue_url} has no redrive policy")
    dlq_url = queue_url_for_arn(json.loads(policy)["deadLetterTargetArn"])
    sqs_client().send_message(QueueUrl=dlq_url, MessageBody=body)


def reset_caches() -> None:
    sqs_client.cache_clear()
    queue_url_for_arn.cache_clear()
    redrive_policy.cache_clear()


class _Queue:
    """One SQS queue by URL; its client is created on first use (a function that never
    sends does not pay for it) unless one is given."""

    def __init__(self, queue_url: str, client: Any | None = None) -> None:
        self.queue_url = queue_url
        self._client = client

    @property
    def client(self) -> Any:
        return self._client or sqs_client()


class JobsQueue(_Queue):
    """Delivery jobs: one per close or replay; the delivery function sets visibility per retry."""

    def send(self, job: DeliveryJob) -> str:
        if not self.queue_url:
            raise RuntimeError("JOBS_QUEUE_URL is not configured")
        response = self.client.send_message(
            QueueUrl=self.queue_url,
            MessageBody=json.dumps(job.model_dump(), separators=(",", ":")),
        )
        return str(response["MessageId"])

    def change_visibility(self, queue_url: str, receipt_handle: str, seconds: int) -> None:
        # queue_url is the received message's (its event source), which may be a redrive's.
        change_visibility(queue_url, receipt_handle, seconds)

    def dead_letter(self, queue_url: str, body: str) -> None:
        # The DLQ of the queue the job was received from (its redrive policy's target).
        dead_letter(queue_url, body)


def change_visibility(queue_url: str, receipt_handle: str, seconds: int) -> None:
    sqs_client().change_message_visibility(
        QueueUrl=queue_url, ReceiptHandle=receipt_handle, VisibilityTimeout=int(seconds)
    )


class FanoutQueue(_Queue):
    """Range jobs of a split fan-out (docs/scaling-and-cost.md), sent 10 per call."""

    def send_batch(self, bodies: list[str]) -> list[int]:
        """Send up to 10 bodies; returns the indexes that SQS did not take (after one retry)."""
        pending = list(range(len(bodies)))
        for _attempt in range(2):
            if not pending:
                break
            response = self.client.send_message_batch(
                QueueUrl=self.queue_url,
                Entries=[{"Id": str(i), "MessageBody": bodies[i]} for i in pending],
            )
            pending = sorted(int(f["Id"]) for f in response.get("Failed") or [])
        return pending


class EventsQueue(FanoutQueue):
    """Event batch jobs (one per batch of one endpoint), sent 10 per call as range jobs are;
    functions/eventdelivery sets their visibility per retry as the jobs queue's are."""

    def change_visibility(self, queue_url: str, receipt_handle: str, seconds: int) -> None:
        change_visibility(queue_url, receipt_handle, seconds)


class RingTimer(_Queue):
    """Delayed messages the call timer function turns into `missed` if still invited.

    Without a queue URL (a function that never rings) `enabled` is False and the lazy
    check in logic/signaling.py is the only timeout.
    """

    @property
    def enabled(self) -> bool:
        return bool(self.queue_url)

    def schedule(self, room_id: str, call_id: str, delay_seconds: int) -> None:
        self._send({"room_id": room_id, "call_id": call_id}, delay_seconds)

    def schedule_stream(self, room_id: str, stream_id: str, delay_seconds: int) -> None:
        """A streamed message's idle timer (logic/streams.expire), on the same queue: a
        timeout longer than SQS's 15-minute delay is reached by re-scheduling."""
        self._send({"kind": "stream", "room_id": room_id, "stream_id": stream_id}, delay_seconds)

    def _send(self, body: dict[str, str], delay_seconds: int) -> None:
        self.client.send_message(
            QueueUrl=self.queue_url,
            MessageBody=json.dumps(body),
            DelaySeconds=max(0, min(MAX_DELAY_SECONDS, delay_seconds)),
        )
