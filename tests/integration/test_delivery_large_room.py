"""A room with 100,000 messages closes; its record arrives as ordered, individually
signed parts, complete, and the receiver can put it back together."""

from __future__ import annotations

import json

import boto3
from standardwebhooks import Webhook

from tests.integration.webhook_support import (
    QueueDriver,
    ScriptedReceiver,
    admin,
    create_room,
    webhook_stack_fixture,  # noqa: F401 - the webhook_stack fixture
)

MESSAGES = 100_000
PART_BYTES = 1024 * 1024


def _fill(table: str, room_id: str, count: int) -> list[str]:
    """Write messages straight into the table (25 per BatchWriteItem) - the chat path is
    tested elsewhere; here only the volume matters."""
    from roomcast.dal import keys
    from roomcast.dal.dynamo import to_item
    from roomcast.ids import new_id

    client = boto3.client("dynamodb", region_name="us-east-1")
    base = 1_795_320_000_000
    ids = [new_id(base + i) for i in range(count)]
    for start in range(0, count, 25):
        requests = []
        for i in range(start, min(start + 25, count)):
            item = {
                "pk": keys.room_pk(room_id),
                "sk": keys.message_sk(ids[i]),
                "room_id": room_id,
                "message_id": ids[i],
                "user_id": f"user-{i % 50}",
                "name": f"User {i % 50}",
                "text": f"message number {i} - lorem ipsum dolor sit amet",
                "sent_at": base + i,
            }
            requests.append({"PutRequest": {"Item": to_item(item)}})
        client.batch_write_item(RequestItems={table: requests})
    client.update_item(
        TableName=table,
        Key={"pk": {"S": keys.room_pk(room_id)}, "sk": {"S": keys.META}},
        UpdateExpression="ADD message_count :n",
        ExpressionAttributeValues={":n": {"N": str(count)}},
    )
    return ids


def test_hundred_thousand_messages_arrive_complete_in_ordered_parts(webhook_stack, invoke, monkeypatch):
    monkeypatch.setenv("WEBHOOK_MAX_PART_BYTES", str(PART_BYTES))
    # moto sorts the whole partition on every Query, so fewer, larger pages keep this test
    # near a minute (DynamoDB itself would cut each page at 1 MB anyway).
    monkeypatch.setenv("WEBHOOK_PAGE_SIZE", "10000")
    from roomcast.settings import reset_settings

    reset_settings()
    with ScriptedReceiver() as receiver:
        created = create_room(invoke, "big", receiver.url)
        ids = _fill(webhook_stack.tables["Table"], "big", MESSAGES)
        status, closed = admin(invoke, "DELETE", "/rooms/big")
        assert status == 202
        driver = QueueDriver(webhook_stack, invoke)
        messages, failed = driver.poll_once()
        assert len(messages) == 1 and failed == []

    secret = created["webhook_secret"]
    delivery_id = closed["delivery_id"]
    parts = [Webhook(secret).verify(r.body, r.headers) for r in receiver.requests]
    assert len(parts) > 5, "the payload should have been split"
    assert all(len(r.body) <= PART_BYTES for r in receiver.requests)
    numbers = [p["data"]["sync"]["part"] for p in parts]
    assert numbers == list(range(1, len(parts) + 1))  # sent in order
    assert [r.headers["webhook-id"] for r in receiver.requests] == [f"{delivery_id}.{n}" for n in numbers]
    assert [p["data"]["sync"]["last"] for p in parts] == [False] * (len(parts) - 1) + [True]
    assert {p["data"]["sync"]["sync_id"] for p in parts} == {delivery_id}
    for p in parts:  # every part is self-describing
        assert p["data"]["room_id"] == "big" and p["data"]["stats"]["message_count"] == MESSAGES
    chat = [m["id"] for p in parts for m in p["data"]["chat_history"]]
    assert chat == ids  # complete, no duplicates, oldest first

    status, listing = admin(invoke, "GET", "/rooms/big/deliveries")
    (delivery,) = listing["deliveries"]
    assert delivery["status"] == "delivered" and delivery["parts_total"] == len(parts)
    assert delivery["parts_delivered"] == len(parts) and len(delivery["attempts"]) == len(parts)
    json.dumps(listing)
