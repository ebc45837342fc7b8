"""room.closed webhooks end to end: close -> SQS job -> delivery function -> a real HTTP
receiver on loopback (moto for AWS). Signatures are checked with `standardwebhooks`."""

from __future__ import annotations

import json
import time

import pytest
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

from tests.helpers import ws_event
from tests.integration.webhook_support import (
    QueueDriver,
    Reply,
    ScriptedReceiver,
    admin,
    close_room,
    create_room,
    visibility_spy,
    webhook_stack_fixture,  # noqa: F401 - the webhook_stack fixture
)


def _chat(invoke, room_id: str, texts: list[str]) -> None:
    invoke("chat", ws_event("ws-join.json", body={"action": "join", "room_id": room_id}))
    for i, text in enumerate(texts):
        reply = invoke("chat", ws_event("ws-send.json", body={"action": "send", "room_id": room_id, "text": text, "client_msg_id": f"c{i}"}))
        assert '"ack"' in reply["body"], reply


def test_delivered_webhook_verifies_with_standardwebhooks(webhook_stack, invoke):
    with ScriptedReceiver() as receiver:
        created = create_room(invoke, "verify-me", receiver.url)
        secret = created["webhook_secret"]
        assert secret.startswith("whsec_")
        _chat(invoke, "verify-me", ["hello", "world"])
        delivery_id = close_room(invoke, "verify-me")
        driver = QueueDriver(webhook_stack, invoke)
        messages, failed = driver.poll_once()
        assert len(messages) == 1 and failed == []
        assert len(receiver.requests) == 1
    request = receiver.requests[0]
    headers = request.headers
    assert headers["webhook-id"] == f"{delivery_id}.1"
    assert headers["content-type"] == "application/json"
    assert headers["user-agent"].startswith("roomcast-webhooks/")
    assert secret not in json.dumps(headers) and secret.removeprefix("whsec_") not in json.dumps(headers)

    event = Webhook(secret).verify(request.body, headers)
    assert event["type"] == "room.closed"
    data = event["data"]
    assert data["room_id"] == "verify-me" and data["closed_by"] == "admin-api"
    assert [m["text"] for m in data["chat_history"]] == ["hello", "world"]
    assert data["stats"]["message_count"] == 2 and data["stats"]["total_joins"] == 1
    assert data["session_history"][0]["end_reason"] == "room_closed"
    assert data["call_history"] == []
    assert data["sync"] == {"sync_id": delivery_id, "part": 1, "last": True}

    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(request.body.replace(b"hello", b"jello"), headers)
    stale = {**headers, "webhook-timestamp": str(int(time.time()) - 10 * 60)}
    with pytest.raises(WebhookVerificationError):
        Webhook(secret).verify(request.body, stale)

    status, listing = admin(invoke, "GET", "/rooms/verify-me/deliveries")
    assert status == 200
    (delivery,) = listing["deliveries"]
    assert delivery["status"] == "delivered" and delivery["parts_total"] == 1
    (attempt,) = delivery["attempts"]
    assert attempt["status_code"] == 200 and attempt["webhook_id"] == f"{delivery_id}.1"
    assert attempt["latency_ms"] >= 0 and attempt["response"] == '{"ok":true}'


def test_500_500_200_retries_through_the_queue(webhook_stack, invoke, monkeypatch):
    visibility = visibility_spy(monkeypatch)
    replies = [Reply(500, b"boom"), Reply(500, b"boom again")]
    with ScriptedReceiver(replies) as receiver:
        create_room(invoke, "flaky", receiver.url)
        delivery_id = close_room(invoke, "flaky")
        driver = QueueDriver(webhook_stack, invoke)
        for expected_wait in (10, 20):
            messages, failed = driver.poll_once()
            assert [m["MessageId"] for m in messages] == failed
            assert visibility[-1] == expected_wait
            assert driver.receive() == []  # invisible for the step: SQS does the waiting
            driver.fast_forward(failed[0])
        messages, failed = driver.poll_once()
        assert len(messages) == 1 and failed == []
        assert int(messages[0]["Attributes"]["ApproximateReceiveCount"]) == 3
    assert visibility == [10, 20]
    ids = {r.headers["webhook-id"] for r in receiver.requests}
    assert ids == {f"{delivery_id}.1"} and len(receiver.requests) == 3
    stamps = [r.headers["webhook-timestamp"] for r in receiver.requests]
    assert all(s.isdigit() for s in stamps)

    _, listing = admin(invoke, "GET", "/rooms/flaky/deliveries")
    (delivery,) = listing["deliveries"]
    assert delivery["status"] == "delivered"
    assert [a["status_code"] for a in delivery["attempts"]] == [500, 500, 200]
    assert [a["outcome"] for a in delivery["attempts"]] == ["retry", "retry", "delivered"]
    assert [a.get("next_retry_in_seconds") for a in delivery["attempts"]] == [10, 20, None]
    assert delivery["attempts"][0]["response"] == "boom"
    assert driver.depth() == 0


def test_a_retry_resumes_at_the_first_undelivered_part(webhook_stack, invoke, monkeypatch):
    monkeypatch.setenv("WEBHOOK_MAX_PART_BYTES", "2048")
    from roomcast.settings import reset_settings

    reset_settings()
    replies = [Reply(200), Reply(200), Reply(500, b"part 3 failed")]
    with ScriptedReceiver(replies) as receiver:
        create_room(invoke, "resume", receiver.url)
        _chat(invoke, "resume", [f"message {i} " + "x" * 100 for i in range(40)])
        delivery_id = close_room(invoke, "resume")
        driver = QueueDriver(webhook_stack, invoke)
        _, failed = driver.poll_once()
        assert len(failed) == 1
        driver.fast_forward(failed[0])
        _, failed = driver.poll_once()
        assert failed == []
    sent = [r.headers["webhook-id"] for r in receiver.requests]
    parts = int(sent[-1].rsplit(".", 1)[1])
    assert parts > 3
    # parts 1 and 2 once, part 3 twice (failed, then retried), the rest once, in order
    expected = [f"{delivery_id}.{n}" for n in (1, 2, 3, *range(3, parts + 1))]
    assert sent == expected
    _, listing = admin(invoke, "GET", "/rooms/resume/deliveries")
    (delivery,) = listing["deliveries"]
    assert delivery["parts_total"] == parts and delivery["status"] == "delivered"


def test_the_ssrf_guard_runs_again_at_send_time(webhook_stack, invoke, monkeypatch):
    with ScriptedReceiver() as receiver:
        create_room(invoke, "rebound", receiver.url)  # accepted while loopback was allowed
        close_room(invoke, "rebound")
        monkeypatch.setenv("WEBHOOK_ALLOW_LOOPBACK", "false")
        from roomcast.settings import reset_settings

        reset_settings()
        driver = QueueDriver(webhook_stack, invoke)
        _, failed = driver.poll_once()
        assert len(failed) == 1
    assert receiver.requests == []  # nothing was sent to the now-refused address
    _, listing = admin(invoke, "GET", "/rooms/rebound/deliveries")
    (attempt,) = listing["deliveries"][0]["attempts"]
    assert attempt["error"].startswith("unsafe_url") and "status_code" not in attempt


def test_a_room_whose_secret_cannot_be_stored_is_taken_back(webhook_stack, invoke, monkeypatch):
    from roomcast.webhooks import secrets

    def refused(room_id: str, secret: str) -> str:
        raise RuntimeError("secretsmanager unavailable")

    working = secrets.store_room_secret
    monkeypatch.setattr(secrets, "store_room_secret", refused)
    status, body = admin(invoke, "POST", "/rooms", {"room_id": "orphan", "name": "O", "callback_url": "http://127.0.0.1:9/hook"})
    assert status == 500 and body["code"] == "internal_error"
    monkeypatch.setattr(secrets, "store_room_secret", working)
    status, _ = admin(invoke, "GET", "/rooms/orphan")
    assert status == 404  # not left behind with a secret id that points at nothing
    created = create_room(invoke, "orphan", "http://127.0.0.1:9/hook")  # the same request now succeeds
    assert created["room_id"] == "orphan"
