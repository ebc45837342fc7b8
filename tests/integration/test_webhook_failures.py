"""Receivers that fail: always 5xx (-> DLQ -> redrive -> delivered), timeout, refused,
410 (endpoint disabled), 429 with Retry-After, a crashing record in a batch, duplicate
SQS deliveries, and a replay (same webhook-id; the reference receiver stores it once)."""

from __future__ import annotations

import json
import socket
from email.utils import formatdate

import boto3
import pytest

from tests.integration.webhook_support import (
    TEST_MAX_RECEIVE,
    QueueDriver,
    Reply,
    ScriptedReceiver,
    admin,
    close_room,
    create_room,
    only_delivery,
    visibility_spy,
    webhook_stack_fixture,  # noqa: F401 - the webhook_stack fixture
)

SECRET = "whsec_" + "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"  # 32 alphanumerics = valid base64


def test_always_failing_receiver_ends_in_dlq_then_redrive_delivers(webhook_stack, invoke, monkeypatch):
    from roomcast_cli.redrive import redrive

    visibility = visibility_spy(monkeypatch)
    with ScriptedReceiver(default=Reply(503, b"down")) as receiver:
        create_room(invoke, "doomed", receiver.url)
        delivery_id = close_room(invoke, "doomed")
        driver = QueueDriver(webhook_stack, invoke)
        for _ in range(TEST_MAX_RECEIVE - 1):
            messages, failed = driver.poll_once()
            assert len(messages) == 1 and failed == [messages[0]["MessageId"]]
            assert only_delivery(invoke, "doomed")["status"] == "retrying"
            driver.fast_forward(failed[0])
        # The last attempt fails: the function moves the job to the DLQ itself (the item is
        # done, so it is deleted from the jobs queue) and the delivery says so.
        messages, failed = driver.poll_once()
        assert len(messages) == 1 and failed == []
        assert driver.receive() == []
        assert driver.depth() == 0 and driver.depth(driver.dlq_url) == 1
        assert len(receiver.requests) == TEST_MAX_RECEIVE
        assert visibility == [10, 20]  # the last failure does not wait: straight to the DLQ
        delivery = only_delivery(invoke, "doomed")
        assert delivery["status"] == "dead_lettered" and delivery["dead_lettered_at"]
        assert [a["outcome"] for a in delivery["attempts"]] == ["retry", "retry", "failed"]

        # The receiver recovers; the CLI's redrive puts the job back (moto: the loop path).
        receiver.default = Reply(200)
        result = redrive(boto3.client("sqs", region_name="us-east-1"), driver.dlq_url, method="loop")
        assert result.moved == 1
        assert driver.depth(driver.dlq_url) == 0
        messages, failed = driver.poll_once()
        assert len(messages) == 1 and failed == []
    assert only_delivery(invoke, "doomed")["status"] == "delivered"
    assert {r.headers["webhook-id"] for r in receiver.requests} == {f"{delivery_id}.1"}
    assert len(receiver.requests) == TEST_MAX_RECEIVE + 1


def test_receiver_timeout_is_a_retry(webhook_stack, invoke, monkeypatch):
    monkeypatch.setenv("WEBHOOK_READ_TIMEOUT", "0.3")
    from roomcast.settings import reset_settings

    reset_settings()
    visibility = visibility_spy(monkeypatch)
    with ScriptedReceiver([Reply(200, delay=1.5)]) as receiver:
        create_room(invoke, "slowpoke", receiver.url)
        close_room(invoke, "slowpoke")
        driver = QueueDriver(webhook_stack, invoke)
        messages, failed = driver.poll_once()
        assert failed == [messages[0]["MessageId"]]
    assert visibility == [10]
    (attempt,) = only_delivery(invoke, "slowpoke")["attempts"]
    assert attempt["error"] == "read_timeout" and "status_code" not in attempt


def test_connection_refused_is_a_retry(webhook_stack, invoke, monkeypatch):
    visibility = visibility_spy(monkeypatch)
    with socket.socket() as probe:  # a port with nobody listening
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    create_room(invoke, "nobody-home", f"http://127.0.0.1:{port}/hook")
    close_room(invoke, "nobody-home")
    driver = QueueDriver(webhook_stack, invoke)
    messages, failed = driver.poll_once()
    assert failed == [messages[0]["MessageId"]]
    assert visibility == [10]
    delivery = only_delivery(invoke, "nobody-home")
    assert delivery["status"] == "retrying" and delivery["attempts"][0]["error"] == "connection_refused"
    assert delivery["next_attempt_at"]


def test_410_disables_the_endpoint_and_stops(webhook_stack, invoke, monkeypatch):
    visibility = visibility_spy(monkeypatch)
    with ScriptedReceiver(default=Reply(410, b"gone")) as receiver:
        create_room(invoke, "gone-away", receiver.url)
        close_room(invoke, "gone-away")
        driver = QueueDriver(webhook_stack, invoke)
        messages, failed = driver.poll_once()
        assert len(messages) == 1 and failed == []  # done, not failed: no retries
        assert driver.depth() == 0 and driver.depth(driver.dlq_url) == 0
        # Even a stray duplicate of the job sends nothing more.
        driver.sqs.send_message(QueueUrl=driver.queue_url, MessageBody=messages[0]["Body"])
        driver.poll_once()
    assert len(receiver.requests) == 1 and visibility == []
    delivery = only_delivery(invoke, "gone-away")
    assert delivery["status"] == "disabled" and "disabled_at" in delivery
    assert [a["outcome"] for a in delivery["attempts"]] == ["disabled"]


@pytest.mark.parametrize("as_date", [False, True], ids=["seconds", "http-date"])
def test_429_honours_retry_after(webhook_stack, invoke, monkeypatch, as_date):
    import time

    visibility = visibility_spy(monkeypatch)
    retry_after = formatdate(time.time() + 120, usegmt=True) if as_date else "90"
    with ScriptedReceiver([Reply(429, headers={"Retry-After": retry_after})]) as receiver:
        create_room(invoke, "busy", receiver.url)
        close_room(invoke, "busy")
        driver = QueueDriver(webhook_stack, invoke)
        messages, failed = driver.poll_once()
        assert failed == [messages[0]["MessageId"]]
        driver.fast_forward(failed[0])
        messages, failed = driver.poll_once()
        assert failed == []
    assert len(visibility) == 1
    if as_date:
        assert 115 <= visibility[0] <= 121
    else:
        assert visibility == [90]  # not the schedule's 10
    assert [a["status_code"] for a in only_delivery(invoke, "busy")["attempts"]] == [429, 200]


def test_one_crashing_record_fails_alone(webhook_stack, invoke, monkeypatch):
    from roomcast.logic import delivery as delivery_logic

    with ScriptedReceiver() as receiver:
        for room in ("r1", "r2", "r3"):
            create_room(invoke, room, receiver.url)
            close_room(invoke, room)
        driver = QueueDriver(webhook_stack, invoke)
        real = delivery_logic.build_parts

        def explode_for_r2(store, room, *args, **kwargs):
            if room.room_id == "r2":
                raise RuntimeError("simulated crash while building r2")
            return real(store, room, *args, **kwargs)

        monkeypatch.setattr(delivery_logic, "build_parts", explode_for_r2)
        driver.sqs.send_message(QueueUrl=driver.queue_url, MessageBody="{not json")
        messages = []
        while len(messages) < 4:
            batch = driver.receive()
            assert batch, "expected 4 messages"
            messages.extend(batch)
        failed = driver.run(messages)
        by_room = {
            (json.loads(m["Body"])["room_id"] if m["Body"].startswith('{"') else "garbage"): m["MessageId"]
            for m in messages
        }
        assert sorted(failed) == sorted([by_room["r2"], by_room["garbage"]])
        assert sorted(json.loads(r.body)["data"]["room_id"] for r in receiver.requests) == ["r1", "r3"]

        # The crashed job's lease was released: once visible again it is delivered.
        monkeypatch.setattr(delivery_logic, "build_parts", real)
        driver.fast_forward(by_room["r2"])
        retried = [m for m in driver.receive() if m["MessageId"] == by_room["r2"]]
        assert len(retried) == 1 and driver.run(retried) == []
    assert sorted(json.loads(r.body)["data"]["room_id"] for r in receiver.requests) == ["r1", "r2", "r3"]


def test_duplicate_sqs_delivery_sends_once(webhook_stack, invoke):
    from examples.receiver.receiver import start_receiver

    receiver = start_receiver(secrets=[SECRET])
    try:
        create_room(invoke, "twice", receiver.webhook_url, webhook_secret=SECRET)
        delivery_id = close_room(invoke, "twice")
        driver = QueueDriver(webhook_stack, invoke)
        (message,) = driver.receive()
        # The same job twice in one batch (at-least-once), then again later.
        copy = {**message, "MessageId": message["MessageId"] + "-dup"}
        response = invoke("delivery", driver.event([message, copy]))
        failed = [f["itemIdentifier"] for f in response["batchItemFailures"]]
        assert len(failed) <= 1  # a concurrent copy waits for the lease, never sends
        response = invoke("delivery", driver.event([message]))
        assert response["batchItemFailures"] == []
        wid = f"{delivery_id}.1"
        assert receiver.store.delivery_count(wid) == 1
        assert receiver.stats()["refused"] == 0

        # A replay re-sends with the same webhook-id; the reference receiver dedupes it.
        status, replay = admin(invoke, "POST", f"/rooms/twice/deliveries/{delivery_id}/replay")
        assert status == 202 and replay["run"] == 1
        driver.sqs.delete_message(QueueUrl=driver.queue_url, ReceiptHandle=message["ReceiptHandle"])
        messages, failed = driver.poll_once()
        assert len(messages) == 1 and failed == []
        assert json.loads(messages[0]["Body"])["replay"] is True
        assert receiver.store.delivery_count(wid) == 2  # received twice, stored once
        rooms = receiver.store.rooms()
        assert [r["room_id"] for r in rooms] == ["twice"]
    finally:
        receiver.stop()
    delivery = only_delivery(invoke, "twice")
    assert delivery["status"] == "delivered" and delivery["run"] == 1
    assert [a["webhook_id"] for a in delivery["attempts"]] == [wid, wid]
