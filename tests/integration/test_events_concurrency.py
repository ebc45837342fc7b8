"""The concurrency cap per endpoint holds while 1,000 events go out.

1,000 committed message writes -> 100 batches of 10 for one endpoint whose cap is 3;
eight threads play the events queue's event source at once (each invocation runs its
ten jobs concurrently too), against a real loopback receiver that holds every request
50 ms and counts how many it holds at once.
"""

from __future__ import annotations

import contextlib
import threading

import boto3
from botocore.exceptions import ClientError
from standardwebhooks.webhooks import Webhook

from tests.integration.events_support import (
    CountingReceiver,
    EventsDriver,
    StreamReader,
    create_endpoint,
    run_stream,
)
from tests.integration.webhook_support import admin, provisioned_stack

EVENTS = 1000
CAP = 3


def _write_messages(table: str, room_id: str, count: int) -> None:
    client = boto3.client("dynamodb", region_name="us-east-1")
    for i in range(count):
        message_id = f"{1_800_000_000_000 + i:013x}{i:012x}"
        client.put_item(TableName=table, Item={
            "pk": {"S": f"ROOM#{room_id}"}, "sk": {"S": f"MSG#{message_id}"}, "room_id": {"S": room_id},
            "message_id": {"S": message_id}, "user_id": {"S": "alice"}, "name": {"S": "Alice"},
            "text": {"S": f"m{i}"}, "sent_at": {"N": str(1_800_000_000_000 + i)},
        })


def test_the_cap_holds_while_1000_events_go_out(monkeypatch, invoke):
    with provisioned_stack(monkeypatch, EVENT_BATCH_MAX_EVENTS="10", EVENT_BUSY_WAIT_SECONDS="0") as stack, \
            CountingReceiver(delay=0.05) as receiver:
        stream = StreamReader(stack)
        endpoint = create_endpoint(admin, invoke, receiver.url, event_types=["message.created"], concurrency=CAP)
        stream.new()  # the endpoint's own item
        _write_messages(stack.tables["Table"], "busy", EVENTS)
        records = stream.new()
        assert len(records) == EVENTS
        for start in range(0, EVENTS, 500):  # the mapping's BatchSize
            run_stream(invoke, records[start:start + 500])

        errors: list[BaseException] = []

        def worker() -> None:
            driver = EventsDriver(stack, invoke)
            try:
                for _ in range(400):
                    messages, failed = driver.poll_once()
                    if not messages and driver.depth() == 0:
                        return
                    for message_id in failed:
                        # Another thread may have received it again already (a newer handle).
                        with contextlib.suppress(ClientError):
                            driver.fast_forward(message_id)
            except BaseException as exc:  # surfaced below
                errors.append(exc)

        threads = [threading.Thread(target=worker) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=300)
        assert not errors, errors

        texts: list[str] = []
        for request in receiver.requests:
            batch = Webhook(endpoint["secret"]).verify(request.body, request.headers)
            texts.extend(e["data"]["message"]["text"] for e in batch["data"]["events"])
    assert sorted(texts) == sorted(f"m{i}" for i in range(EVENTS))  # each once
    assert len(receiver.requests) == EVENTS // 10
    # Never more than the cap at once, and the cap was reached (the senders pressed on it).
    assert receiver.max_in_flight == CAP, receiver.max_in_flight
