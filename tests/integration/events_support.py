"""Shared parts of the event tests: the table's stream read from moto as Lambda's DynamoDB
event source reads it, the events queue played like the jobs queue, and a receiver that
records how many requests it holds at once."""

from __future__ import annotations

import json
import threading
import time
from typing import Any

import boto3
import pytest
from standardwebhooks.webhooks import Webhook

from roomcast_local.streams import lambda_record
from tests.integration.webhook_support import QueueDriver, ScriptedReceiver, provisioned_stack


@pytest.fixture(name="events_stack")
def events_stack_fixture(monkeypatch: pytest.MonkeyPatch) -> Any:
    """The provisioned stack, with secrets read fresh on every use (rotation tests)."""
    with provisioned_stack(monkeypatch, SECRET_MAX_AGE="0") as stack:
        yield stack


def verified_events(receiver: ScriptedReceiver, secret: str) -> list[dict[str, Any]]:
    """Every event the receiver got, each request verified with `secret` (standardwebhooks)
    and each event checked against its JSON Schema."""
    events: list[dict[str, Any]] = []
    for request in receiver.requests:
        batch = Webhook(secret).verify(request.body, request.headers)
        assert batch["type"] == "event.batch"
        assert request.headers["webhook-id"] == "evb_" + batch["data"]["batch_id"]
        for event in batch["data"]["events"]:
            check_schema(event)
            events.append(event)
    return events


class StreamReader:
    """Every record of the table's stream from TRIM_HORIZON, in order, once each (`new()`)."""

    def __init__(self, stack: Any) -> None:
        table = stack.tables["Table"]
        self.arn = boto3.client("dynamodb", region_name="us-east-1").describe_table(TableName=table)["Table"][
            "LatestStreamArn"
        ]
        self.client = boto3.client("dynamodbstreams", region_name="us-east-1")
        shard = self.client.describe_stream(StreamArn=self.arn)["StreamDescription"]["Shards"][0]["ShardId"]
        self.iterator = self.client.get_shard_iterator(StreamArn=self.arn, ShardId=shard,
                                                       ShardIteratorType="TRIM_HORIZON")["ShardIterator"]

    def new(self) -> list[dict[str, Any]]:
        records: list[dict[str, Any]] = []
        while True:
            response = self.client.get_records(ShardIterator=self.iterator, Limit=1000)
            self.iterator = response["NextShardIterator"]
            fresh = response.get("Records") or []
            records.extend(lambda_record(r, self.arn, "us-east-1") for r in fresh)
            if not fresh:
                return records


class EventsDriver(QueueDriver):
    """The events queue's event source (EventDeliveryFunction), by hand."""

    function = "eventdelivery"

    def __init__(self, stack: Any, invoke: Any) -> None:
        super().__init__(stack, invoke)
        self.queue_url = stack.queues["EventsQueue"]
        self.dlq_url = stack.queues["EventsDLQ"]
        self.arn = self.sqs.get_queue_attributes(QueueUrl=self.queue_url, AttributeNames=["QueueArn"])[
            "Attributes"]["QueueArn"]

    def drain(self, rounds: int = 50) -> int:
        """Run until the queue has nothing visible; failed items are made visible again at
        once (what their wait would do). Returns the messages handled."""
        handled = 0
        for _ in range(rounds):
            messages, failed = self.poll_once()
            if not messages:
                return handled
            handled += len(messages)
            for message_id in failed:
                self.fast_forward(message_id)
            if failed:
                # A batch whose next attempt is not due yet holds (by the real clock here):
                # give a short schedule's step the time to pass.
                time.sleep(0.05)
        raise AssertionError("the events queue did not drain")

    def bodies(self) -> list[dict[str, Any]]:
        """The jobs queued now (received and left visible again)."""
        messages = self.receive()
        for m in messages:
            self.sqs.change_message_visibility(QueueUrl=self.queue_url, ReceiptHandle=m["ReceiptHandle"],
                                               VisibilityTimeout=0)
        return [json.loads(m["Body"]) for m in messages]


def check_schema(event: dict[str, Any]) -> None:
    """The event matches docs/events/<its type>.schema.json."""
    from jsonschema import Draft202012Validator

    from tests.conftest import ROOT

    schema = json.loads((ROOT / "docs" / "events" / f"{event['type']}.schema.json").read_text())
    errors = [e.message for e in Draft202012Validator(schema).iter_errors(event)]
    assert errors == [], (event["type"], errors)


def run_stream(invoke: Any, records: list[dict[str, Any]]) -> dict[str, Any]:
    return invoke("events", {"Records": records})


def create_endpoint(admin: Any, invoke: Any, url: str, **extra: Any) -> dict[str, Any]:
    status, body = admin(invoke, "POST", "/endpoints", {"url": url, **extra})
    assert status == 201, body
    return body


class CountingReceiver(ScriptedReceiver):
    """A ScriptedReceiver that also counts the requests it is answering at once."""

    def __init__(self, delay: float = 0.0, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.in_flight = 0
        self.max_in_flight = 0
        self._count_lock = threading.Lock()
        handler = self.server.RequestHandlerClass
        receiver = self
        inner = handler.do_POST  # type: ignore[attr-defined]

        def do_post(request: Any) -> None:
            with receiver._count_lock:
                receiver.in_flight += 1
                receiver.max_in_flight = max(receiver.max_in_flight, receiver.in_flight)
            try:
                if delay:
                    time.sleep(delay)
            finally:
                # Counted out before answering: the sender holds its slot until it has the
                # answer, so with a working cap this count never passes it.
                with receiver._count_lock:
                    receiver.in_flight -= 1
            inner(request)

        handler.do_POST = do_post  # type: ignore[attr-defined]
