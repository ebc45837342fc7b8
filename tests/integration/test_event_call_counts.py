"""DynamoDB requests of the event pipeline (docs/operations.md, "DynamoDB requests per
operation"), counted from botocore as they leave: one stream batch for one endpoint, a
batch delivered, one refused and then delivered; change this and the table together."""

from __future__ import annotations

import json
from typing import Any

import boto3

from tests.helpers import ws_event
from tests.integration.events_support import EventsDriver, StreamReader, create_endpoint, run_stream
from tests.integration.test_call_counts import counted
from tests.integration.webhook_support import (
    Reply,
    ScriptedReceiver,
    admin,
    create_room,
    provisioned_stack,
)

EXPECTED = {
    # The endpoints (one Query), and per batch one transaction (the batch + a marker per event).
    "stream batch, 1 endpoint, 3 events": {"Query": 1, "TransactWriteItems": 1},
    # Batch, endpoint, the batch's lease, a slot lease, the attempt, the outcome, the slot back.
    "event batch delivered": {"GetItem": 2, "UpdateItem": 2, "PutItem": 2, "DeleteItem": 1},
    # The same, and the endpoint's failing span started.
    "event batch refused (500)": {"GetItem": 2, "UpdateItem": 3, "PutItem": 2, "DeleteItem": 1},
    # Delivered, and the failing span ended.
    "event batch delivered after a failure": {"GetItem": 2, "UpdateItem": 3, "PutItem": 2, "DeleteItem": 1},
}


def _send(invoke: Any, texts: list[str]) -> None:
    for text in texts:
        invoke("chat", ws_event("ws-send.json", body={"action": "send", "room_id": "counted", "text": text,
                                                       "client_msg_id": text}))


def test_requests_of_the_event_pipeline(monkeypatch, invoke):
    seen = {}
    with provisioned_stack(monkeypatch) as stack, ScriptedReceiver([Reply(200), Reply(500)]) as receiver:
        stream = StreamReader(stack)
        create_endpoint(admin, invoke, receiver.url, event_types=["message.created"])
        create_room(invoke, "counted", None)
        invoke("chat", ws_event("ws-join.json", body={"action": "join", "room_id": "counted"}))
        driver = EventsDriver(stack, invoke)
        _send(invoke, ["a", "b", "c"])
        records = stream.new()
        seen["stream batch, 1 endpoint, 3 events"] = counted(lambda: run_stream(invoke, records))
        messages = driver.receive()
        seen["event batch delivered"] = counted(lambda: driver.run(messages))

        _send(invoke, ["d"])
        run_stream(invoke, stream.new())
        messages = driver.receive()
        seen["event batch refused (500)"] = counted(lambda: driver.run(messages))
        # The refusal's wait (10 s) is on the batch: let it pass, and the message come back.
        job = json.loads(messages[0]["Body"])
        boto3.client("dynamodb", region_name="us-east-1").update_item(
            TableName=stack.tables["Table"],
            Key={"pk": {"S": f"EP#{job['endpoint_id']}"}, "sk": {"S": f"EBATCH#{job['batch_id']}"}},
            UpdateExpression="REMOVE next_attempt_at")
        driver.fast_forward(messages[0]["MessageId"])
        again = driver.receive()
        seen["event batch delivered after a failure"] = counted(lambda: driver.run(again))
        assert len(receiver.requests) == 3
    assert {name: dict(counter) for name, counter in seen.items()} == EXPECTED
