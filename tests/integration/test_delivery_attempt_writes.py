"""An attempt and its effect on the delivery are one transaction (DeliveryStore.record_attempt),
with the long way (ADD attempts, the record, each conditional update) when it cannot commit.

Faults: another writer moving the attempt count under the lease, a replay starting while a
part is in flight, and a crash on either side of the attempt's transaction."""

from __future__ import annotations

import pytest

from roomcast.dal.deliveries import DeliveryStore
from tests.integration.webhook_support import (
    QueueDriver,
    Reply,
    ScriptedReceiver,
    admin,
    close_room,
    create_room,
    only_delivery,
    webhook_stack_fixture,  # noqa: F401 - the webhook_stack fixture
)


def _spy_transactions(monkeypatch) -> list[bool]:
    """Record whether each record_attempt transaction committed."""
    outcomes: list[bool] = []
    original = DeliveryStore.record_attempt

    def spy(self, attempt, progress=None, release=None):
        committed = original(self, attempt, progress, release)
        outcomes.append(committed)
        return committed

    monkeypatch.setattr(DeliveryStore, "record_attempt", spy)
    return outcomes


def test_a_delivered_attempt_is_one_transaction_with_the_outcome(webhook_stack, invoke, monkeypatch):
    outcomes = _spy_transactions(monkeypatch)
    with ScriptedReceiver(default=Reply(200)) as receiver:
        create_room(invoke, "one-write", receiver.url)
        delivery_id = close_room(invoke, "one-write")
        messages, failed = QueueDriver(webhook_stack, invoke).poll_once()
        assert len(messages) == 1 and failed == []
    assert outcomes == [True]
    delivery = only_delivery(invoke, "one-write")
    assert delivery["status"] == "delivered" and delivery["parts_delivered"] == 1 == delivery["parts_total"]
    (attempt,) = delivery["attempts"]
    assert attempt["attempt"] == 1 and attempt["outcome"] == "delivered"
    assert attempt["webhook_id"] == f"{delivery_id}.1"
    assert len(receiver.requests) == 1


def test_a_count_moved_under_the_lease_falls_back_to_the_long_way(webhook_stack, invoke, monkeypatch):
    """Someone else's ADD between the claim and the attempt: the transaction's count condition
    fails, nothing of it is written, and the attempt is written apart with a fresh number."""
    original = DeliveryStore.record_attempt
    bumped: list[int] = []

    def bump_then_record(self, attempt, progress=None, release=None):
        if not bumped:
            bumped.append(self.next_attempt_number(attempt.room_id, attempt.delivery_id))
        return original(self, attempt, progress, release)

    monkeypatch.setattr(DeliveryStore, "record_attempt", bump_then_record)
    outcomes = _spy_transactions(monkeypatch)
    with ScriptedReceiver(default=Reply(200)) as receiver:
        create_room(invoke, "moved", receiver.url)
        close_room(invoke, "moved")
        messages, failed = QueueDriver(webhook_stack, invoke).poll_once()
        assert len(messages) == 1 and failed == []
    assert bumped == [1] and outcomes == [False]
    delivery = only_delivery(invoke, "moved")
    assert delivery["status"] == "delivered" and delivery["parts_delivered"] == 1
    # The fallback's number is the one after the foreign ADD: no two attempts share one.
    assert [a["attempt"] for a in delivery["attempts"]] == [2]
    assert [a["outcome"] for a in delivery["attempts"]] == ["delivered"]


def test_a_replay_during_the_send_keeps_the_attempt_and_leaves_the_new_run_alone(
    webhook_stack, invoke, monkeypatch
):
    """The old run's last part is acknowledged after a replay started: its attempt is kept
    (the long way), but neither its progress nor its `delivered` lands on the new run."""
    outcomes = _spy_transactions(monkeypatch)
    with ScriptedReceiver(default=Reply(200)) as receiver:
        create_room(invoke, "replayed", receiver.url)
        delivery_id = close_room(invoke, "replayed")
        driver = QueueDriver(webhook_stack, invoke)
        (message,) = driver.receive()
        from roomcast.webhooks import sender

        post = sender.post

        def post_then_replay(*args, **kwargs):
            result = post(*args, **kwargs)
            monkeypatch.setattr(sender, "post", post)
            status, body = admin(invoke, "POST", f"/rooms/replayed/deliveries/{delivery_id}/replay")
            assert status == 202 and body["run"] == 1
            return result

        monkeypatch.setattr(sender, "post", post_then_replay)
        assert driver.run([message]) == []
        assert outcomes == [False]
        delivery = only_delivery(invoke, "replayed")
        assert delivery["run"] == 1 and delivery["status"] == "pending" and delivery["parts_delivered"] == 0
        assert [(a["run"], a["outcome"]) for a in delivery["attempts"]] == [(0, "delivered")]

        # The replay's own job then delivers, in one transaction again.
        messages, failed = driver.poll_once()
        assert len(messages) == 1 and failed == []
    assert outcomes == [False, True]
    delivery = only_delivery(invoke, "replayed")
    assert delivery["status"] == "delivered" and delivery["run"] == 1
    assert [(a["attempt"], a["run"]) for a in delivery["attempts"]] == [(1, 0), (2, 1)]
    assert {r.headers["webhook-id"] for r in receiver.requests} == {f"{delivery_id}.1"}


class Crash(Exception):
    pass


@pytest.mark.parametrize("when", ["before", "after"])
def test_a_crash_on_either_side_of_the_attempt_write(webhook_stack, invoke, monkeypatch, when):
    """Before the transaction: nothing of the attempt is written, the lease is given back and
    the retry sends again with the same webhook-id. After it: the delivery is already
    `delivered`, and the retried job sends nothing more."""
    original = DeliveryStore.record_attempt
    crashed: list[str] = []

    def crash_once(self, attempt, progress=None, release=None):
        if not crashed:
            crashed.append(when)
            if when == "after":
                original(self, attempt, progress, release)
            raise Crash(when)
        return original(self, attempt, progress, release)

    monkeypatch.setattr(DeliveryStore, "record_attempt", crash_once)
    with ScriptedReceiver(default=Reply(200)) as receiver:
        create_room(invoke, f"crash-{when}", receiver.url)
        delivery_id = close_room(invoke, f"crash-{when}")
        driver = QueueDriver(webhook_stack, invoke)
        messages, failed = driver.poll_once()
        assert len(messages) == 1 and failed == [messages[0]["MessageId"]]
        assert only_delivery(invoke, f"crash-{when}")["status"] == ("pending" if when == "before" else "delivered")
        driver.fast_forward(failed[0])
        messages, failed = driver.poll_once()
        assert len(messages) == 1 and failed == []
    delivery = only_delivery(invoke, f"crash-{when}")
    assert delivery["status"] == "delivered" and delivery["parts_delivered"] == 1
    sends = 2 if when == "before" else 1
    assert len(receiver.requests) == sends
    assert {r.headers["webhook-id"] for r in receiver.requests} == {f"{delivery_id}.1"}
    # Before: the crashed attempt left no record (its send is the receiver's duplicate);
    # after: its record is the one, and the retry found the delivery finished.
    assert [(a["attempt"], a["outcome"]) for a in delivery["attempts"]] == [(1, "delivered")]
