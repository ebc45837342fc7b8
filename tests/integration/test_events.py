"""Events from committed writes, through the signed, retried pipeline, to endpoints.

The table's stream (moto's, read as Lambda's event source reads it) feeds the events
function; the events queue is played by hand into the event delivery function; a real
loopback HTTP server receives, and `standardwebhooks` verifies every request.
"""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

import boto3
import pytest
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from tests.helpers import ws_event
from tests.integration.events_support import (
    EventsDriver,
    StreamReader,
    check_schema,
    create_endpoint,
    events_stack_fixture,  # noqa: F401 - the events_stack fixture
    run_stream,
)
from tests.integration.events_support import verified_events as _events
from tests.integration.webhook_support import (
    Reply,
    ScriptedReceiver,
    admin,
    create_room,
    provisioned_stack,
)


def _session(invoke: Any, room_id: str, texts: list[str]) -> None:
    """alice connects, joins, sends; then disconnects."""
    invoke("connect", ws_event("ws-connect.json"))
    invoke("chat", ws_event("ws-join.json", body={"action": "join", "room_id": room_id}))
    for i, text in enumerate(texts):
        reply = invoke("chat", ws_event("ws-send.json", body={"action": "send", "room_id": room_id, "text": text,
                                                               "client_msg_id": f"{room_id}-{i}-{text}"}))
        assert '"ack"' in reply["body"], reply


def test_every_write_is_one_event_and_a_record_read_twice_is_one_delivery(events_stack, invoke):
    stream = StreamReader(events_stack)
    driver = EventsDriver(events_stack, invoke)
    with ScriptedReceiver() as receiver:
        endpoint = create_endpoint(admin, invoke, receiver.url, description="everything")
        secret = endpoint["secret"]
        create_room(invoke, "ev-room", None)
        _session(invoke, "ev-room", ["hello", "world"])
        invoke("disconnect", ws_event("ws-disconnect.json"))
        records = stream.new()
        run_stream(invoke, records)
        driver.drain()
        first = list(receiver.requests)
        events = _events(receiver, secret)

        # The same records again (a retried stream batch), whole and cut differently
        # (bisected): the same batch ids are queued, nothing new is sent.
        run_stream(invoke, records)
        for half in (records[: len(records) // 2], records[len(records) // 2 :]):
            run_stream(invoke, half)
        driver.drain()
        assert receiver.requests == first

    types = Counter(e["type"] for e in events)
    assert types == {"room.created": 1, "user.online": 1, "member.joined": 1, "message.created": 2,
                     "member.left": 1, "user.offline": 1}, types
    assert len({e["id"] for e in events}) == len(events)
    texts = [e["data"]["message"]["text"] for e in events if e["type"] == "message.created"]
    assert texts == ["hello", "world"]
    left = next(e for e in events if e["type"] == "member.left")
    assert left["data"]["end_reason"] == "disconnect" and left["data"]["user_id"] == "alice"
    offline = next(e for e in events if e["type"] == "user.offline")
    assert offline["data"]["reason"] == "disconnect"
    # The secret is in no header, and the endpoint never shows it again.
    assert all(secret.removeprefix("whsec_") not in json.dumps(r.headers) for r in first)
    status, shown = admin(invoke, "GET", f"/endpoints/{endpoint['endpoint_id']}")
    assert status == 200 and "secret" not in shown


def test_room_closed_reaches_endpoints_and_the_callback_url_still_gets_its_payload(events_stack, invoke):
    from tests.integration.webhook_support import QueueDriver

    stream = StreamReader(events_stack)
    with ScriptedReceiver() as room_hook, ScriptedReceiver() as receiver:
        endpoint = create_endpoint(admin, invoke, receiver.url, event_types=["room.closed"])
        create_room(invoke, "closing", room_hook.url)
        _session(invoke, "closing", ["bye"])
        status, _ = admin(invoke, "DELETE", "/rooms/closing")
        assert status == 202
        run_stream(invoke, stream.new())
        EventsDriver(events_stack, invoke).drain()
        QueueDriver(events_stack, invoke).poll_once()  # the room's own room.closed job
        events = _events(receiver, endpoint["secret"])
        assert [e["type"] for e in events] == ["room.closed"]
        assert events[0]["data"]["stats"]["message_count"] == 1
        (closed,) = room_hook.requests
        payload = json.loads(closed.body)
        assert payload["data"]["chat_history"][0]["text"] == "bye"
        # The callback_url's payload is the catalogue's room.closed (histories included).
        check_schema({"id": "room-closed-webhook", **payload})


def test_a_failed_transaction_emits_nothing(events_stack, invoke):
    stream = StreamReader(events_stack)
    table = events_stack.tables["Table"]
    client = boto3.client("dynamodb", region_name="us-east-1")
    with ScriptedReceiver() as receiver:
        create_endpoint(admin, invoke, receiver.url)
        stream.new()
        message = {"pk": {"S": "ROOM#txn"}, "sk": {"S": "MSG#0000000000001aaaaaaaaaaaa"}, "room_id": {"S": "txn"},
                   "message_id": {"S": "0000000000001aaaaaaaaaaaa"}, "user_id": {"S": "u"}, "name": {"S": "U"},
                   "text": {"S": "never"}, "sent_at": {"N": "1"}}
        with pytest.raises(client.exceptions.TransactionCanceledException):
            client.transact_write_items(TransactItems=[
                {"Put": {"TableName": table, "Item": message}},
                {"ConditionCheck": {"TableName": table, "Key": {"pk": {"S": "ROOM#txn"}, "sk": {"S": "META"}},
                                    "ConditionExpression": "attribute_exists(pk)"}},
            ])
        assert stream.new() == []
        # The same path through roomcast: a send after the close is refused, and writes nothing.
        create_room(invoke, "shut", None)
        _session(invoke, "shut", [])
        admin(invoke, "DELETE", "/rooms/shut")
        stream.new()
        reply = invoke("chat", ws_event("ws-send.json", body={"action": "send", "room_id": "shut", "text": "late"}))
        assert "room_closed" in reply["body"] or "not_member" in reply["body"], reply
        late = stream.new()
        assert not [r for r in late if r["dynamodb"]["Keys"]["sk"]["S"].startswith("MSG#")]
        run_stream(invoke, late)
        EventsDriver(events_stack, invoke).drain()
        assert receiver.requests == []


def test_type_and_room_filters(events_stack, invoke):
    stream = StreamReader(events_stack)
    with ScriptedReceiver() as narrow_rx, ScriptedReceiver() as wide_rx:
        narrow = create_endpoint(admin, invoke, narrow_rx.url, event_types=["message.created"], room_ids=["r1"])
        wide = create_endpoint(admin, invoke, wide_rx.url, event_types=["message.created", "room.created"])
        for room in ("r1", "r2"):
            create_room(invoke, room, None)
        _session(invoke, "r1", ["one"])
        _session(invoke, "r2", ["two"])
        run_stream(invoke, stream.new())
        EventsDriver(events_stack, invoke).drain()
        narrow_events = _events(narrow_rx, narrow["secret"])
        wide_events = _events(wide_rx, wide["secret"])
    assert [(e["type"], e["data"]["room_id"]) for e in narrow_events] == [("message.created", "r1")]
    assert sorted((e["type"], e["data"]["room_id"]) for e in wide_events) == [
        ("message.created", "r1"), ("message.created", "r2"), ("room.created", "r1"), ("room.created", "r2")]


def test_batches_hold_at_most_n_events_in_order_per_room(monkeypatch, invoke):
    with provisioned_stack(monkeypatch, EVENT_BATCH_MAX_EVENTS="3") as stack, ScriptedReceiver() as receiver:
        stream = StreamReader(stack)
        endpoint = create_endpoint(admin, invoke, receiver.url, event_types=["message.created"])
        create_room(invoke, "many", None)
        _session(invoke, "many", [f"m{i}" for i in range(10)])
        run_stream(invoke, stream.new())
        EventsDriver(stack, invoke).drain()
        batches = [[e["data"]["message"]["text"] for e in
                    Webhook(endpoint["secret"]).verify(r.body, r.headers)["data"]["events"]]
                   for r in receiver.requests]
    # Batches may arrive in any order (each is its own job); inside one, the room's order.
    assert sorted(batches) == [["m0", "m1", "m2"], ["m3", "m4", "m5"], ["m6", "m7", "m8"], ["m9"]]


def test_410_disables_the_endpoint_and_nothing_more_is_sent(events_stack, invoke):
    stream = StreamReader(events_stack)
    driver = EventsDriver(events_stack, invoke)
    with ScriptedReceiver(default=Reply(status=410)) as receiver:
        endpoint = create_endpoint(admin, invoke, receiver.url, event_types=["message.created"])
        eid = endpoint["endpoint_id"]
        create_room(invoke, "gone", None)
        _session(invoke, "gone", ["a"])
        run_stream(invoke, stream.new())
        driver.drain()
        assert len(receiver.requests) == 1
        status, shown = admin(invoke, "GET", f"/endpoints/{eid}")
        assert shown["enabled"] is False and shown["disabled_reason"] == "http_410"
        # More events: none is queued for a disabled endpoint, and a batch queued before the
        # 410 (its job still in the queue) sends nothing either.
        _session(invoke, "gone", ["b"])
        run_stream(invoke, stream.new())
        assert driver.bodies() == []
        status, _ = admin(invoke, "POST", f"/endpoints/{eid}/test")
        assert status == 202
        driver.drain()
        assert len(receiver.requests) == 1
        # Re-enabled through PATCH, it receives again.
        receiver.default = Reply(status=200)
        status, patched = admin(invoke, "PATCH", f"/endpoints/{eid}", {"enabled": True})
        assert status == 200 and patched["enabled"] is True and "disabled_reason" not in patched
        _session(invoke, "gone", ["c"])
        run_stream(invoke, stream.new())
        driver.drain()
        assert len(receiver.requests) == 2
        body = Webhook(endpoint["secret"]).verify(receiver.requests[1].body, receiver.requests[1].headers)
        assert [e["data"]["message"]["text"] for e in body["data"]["events"]] == ["c"]


def test_rotation_signs_with_both_secrets_during_the_overlap(events_stack, invoke, monkeypatch):
    from roomcast import clock

    stream = StreamReader(events_stack)
    driver = EventsDriver(events_stack, invoke)
    with ScriptedReceiver() as receiver:
        endpoint = create_endpoint(admin, invoke, receiver.url, event_types=["message.created"])
        eid, old = endpoint["endpoint_id"], endpoint["secret"]
        status, rotated = admin(invoke, "POST", f"/endpoints/{eid}/rotate-secret", {"grace_seconds": 3600})
        assert status == 200
        new = rotated["secret"]
        assert new != old and rotated["overlap_until"]
        create_room(invoke, "rot", None)
        _session(invoke, "rot", ["during"])
        run_stream(invoke, stream.new())
        driver.drain()
        during = receiver.requests[-1]
        assert len(during.headers["webhook-signature"].split()) == 2
        assert Webhook(old).verify(during.body, during.headers)
        assert Webhook(new).verify(during.body, during.headers)
        # After the overlap only the new secret signs.
        later = clock.now() + 3601
        monkeypatch.setattr(clock, "now_ms", lambda: int(later * 1000))
        _session(invoke, "rot", ["after"])
        run_stream(invoke, stream.new())
        driver.drain()
        after = receiver.requests[-1]
    assert len(after.headers["webhook-signature"].split()) == 1
    with pytest.raises(WebhookVerificationError):
        Webhook(old).verify(after.body, after.headers)
    assert Webhook(new).verify(after.body, after.headers)["data"]["events"][0]["data"]["message"]["text"] == "after"


def test_endpoint_crud_and_bad_input(events_stack, invoke):
    status, body = admin(invoke, "POST", "/endpoints", {"url": "http://10.0.0.1/hook"})
    assert status == 400 and body["code"] == "unsafe_url"
    status, body = admin(invoke, "POST", "/endpoints", {"url": "http://127.0.0.1:9/h", "event_types": ["nope"]})
    assert status == 400 and body["code"] == "bad_request"
    status, body = admin(invoke, "POST", "/endpoints", {"url": "http://127.0.0.1:9/h", "secret": "whsec_short"})
    assert status == 400
    created = create_endpoint(admin, invoke, "http://127.0.0.1:9/h", room_ids=["a", "b"], concurrency=2)
    eid = created["endpoint_id"]
    assert created["secret"].startswith("whsec_") and created["room_ids"] == ["a", "b"]
    status, listing = admin(invoke, "GET", "/endpoints")
    assert status == 200 and [e["endpoint_id"] for e in listing["endpoints"]] == [eid]
    assert "secret" not in listing["endpoints"][0]
    status, patched = admin(invoke, "PATCH", f"/endpoints/{eid}", {"all_rooms": True, "concurrency": 4,
                                                                   "event_types": ["user.online"]})
    assert status == 200 and "room_ids" not in patched and patched["concurrency"] == 4
    assert patched["event_types"] == ["user.online"]
    status, _ = admin(invoke, "PATCH", f"/endpoints/{eid}", {"concurrency": 0})
    assert status == 400
    secrets = boto3.client("secretsmanager", region_name="us-east-1")

    def endpoint_secrets() -> list[str]:
        return [s["Name"] for s in secrets.list_secrets()["SecretList"] if s["Name"].endswith(f"endpoint/{eid}")]

    assert len(endpoint_secrets()) == 1
    status, _ = admin(invoke, "DELETE", f"/endpoints/{eid}")
    assert status == 204
    status, body = admin(invoke, "GET", f"/endpoints/{eid}")
    assert status == 404 and body["code"] == "not_found"
    assert endpoint_secrets() == []


def test_a_crash_before_the_job_is_sent_loses_no_batch_even_when_re_read_cut_differently(
    events_stack, invoke, monkeypatch
):
    """The batch committed, its SQS job did not (the function died): the stream batch is
    retried bisected, the halves meet the markers, and the first batch's job is sent then."""
    from roomcast.queue import EventsQueue

    stream = StreamReader(events_stack)
    with ScriptedReceiver() as receiver:
        endpoint = create_endpoint(admin, invoke, receiver.url, event_types=["message.created"])
        create_room(invoke, "crash", None)
        _session(invoke, "crash", ["one", "two", "three", "four"])
        records = stream.new()
        sent = EventsQueue.send_batch

        def dies(self: Any, bodies: list[str]) -> list[int]:
            raise RuntimeError("the function died before its job left")

        monkeypatch.setattr(EventsQueue, "send_batch", dies)
        with pytest.raises(RuntimeError):
            run_stream(invoke, records)
        monkeypatch.setattr(EventsQueue, "send_batch", sent)
        driver = EventsDriver(events_stack, invoke)
        assert driver.bodies() == []  # the batch is in the table, no job for it
        # Cut between the second and the third message: neither half is the first batch.
        messages = [i for i, r in enumerate(records) if r["dynamodb"]["Keys"]["sk"]["S"].startswith("MSG#")]
        half = messages[2]
        for part in (records[:half], records[half:]):
            run_stream(invoke, part)
        driver.drain()
        events = _events(receiver, endpoint["secret"])
    assert [e["data"]["message"]["text"] for e in events] == ["one", "two", "three", "four"]
    assert len(receiver.requests) == 1  # the first batch, whole, once
