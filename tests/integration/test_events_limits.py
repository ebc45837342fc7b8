"""The event batches at their limits: bytes per request (an event larger than the limit
travels alone), the longest message text, and the 99 events a batch transaction holds."""

from __future__ import annotations

import pytest
from standardwebhooks.webhooks import Webhook

from roomcast.dal.event_deliveries import MAX_EVENTS_PER_TRANSACTION
from roomcast.models.events import EventBatchRecord
from roomcast.settings import Settings
from tests.helpers import ws_event
from tests.integration.events_support import EventsDriver, StreamReader, create_endpoint, run_stream
from tests.integration.webhook_support import (
    ScriptedReceiver,
    admin,
    create_room,
    provisioned_stack,
)


def test_batches_are_cut_by_bytes_and_a_large_event_travels_alone(monkeypatch, invoke):
    longest = Settings().max_message_chars
    texts = ["small-1", "L" * longest, "small-2", "x" * 1500, "small-3"]
    with provisioned_stack(monkeypatch, EVENT_BATCH_MAX_BYTES="2048") as stack, ScriptedReceiver() as receiver:
        stream = StreamReader(stack)
        endpoint = create_endpoint(admin, invoke, receiver.url, event_types=["message.created"])
        create_room(invoke, "big", None)
        invoke("chat", ws_event("ws-join.json", body={"action": "join", "room_id": "big"}))
        for i, text in enumerate(texts):
            reply = invoke("chat", ws_event("ws-send.json", body={"action": "send", "room_id": "big", "text": text,
                                                                   "client_msg_id": f"c{i}"}))
            assert '"ack"' in reply["body"], reply["body"][:200]
        run_stream(invoke, stream.new())
        EventsDriver(stack, invoke).drain()
        batches = sorted(
            [[e["data"]["message"]["text"][:7] for e in Webhook(endpoint["secret"]).verify(r.body, r.headers)[
                "data"]["events"]] for r in receiver.requests])
        sizes = sorted(len(r.body) for r in receiver.requests)
    # 2 KB of event JSON per request: the two long texts each alone (the longest message,
    # MAX_MESSAGE_CHARS, is over the limit and still sent), the small ones around them.
    assert batches == [["LLLLLLL"], ["small-1"], ["small-2"], ["small-3"], ["xxxxxxx"]]
    assert sizes[-1] > longest


def test_a_batch_holds_at_most_99_events(stack):
    from roomcast.wiring import services

    store = services().event_deliveries
    record = EventBatchRecord(endpoint_id="ep_x", batch_id="0000000000000-x", created_at=1, event_count=100,
                              event_types=["message.created"], body="{}")
    with pytest.raises(ValueError, match="at most 99"):
        store.enqueue(record, [f"evt_{i}" for i in range(MAX_EVENTS_PER_TRANSACTION + 1)], 1)
    # 99 is one 100-action transaction, which DynamoDB takes.
    result = store.enqueue(record, [f"evt_{i}" for i in range(MAX_EVENTS_PER_TRANSACTION)], 1)
    assert result.new and result.batch_id == record.batch_id
    again = store.enqueue(record, [f"evt_{i}" for i in range(MAX_EVENTS_PER_TRANSACTION)], 1)
    assert not again.new and again.batch_id == record.batch_id
