"""Schedules over days against moto's SQS, with an injected clock (roomcast.clock and
moto read the same time) and moto counting the 12-hour visibility limit from the receive,
as AWS does: every visibility request is accepted, and the waits add up to the schedule,
receive by receive."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from roomcast.webhooks import schedule
from tests.integration.webhook_support import (
    QueueDriver,
    Reply,
    ScriptedReceiver,
    admin,
    create_room,
    fake_clock_fixture,  # noqa: F401 - the fake_clock fixture
    only_delivery,
    provisioned_stack,
)

DAYS = "1800,43200,86400,172800"  # 30 min, 12 h, 24 h, 48 h
JITTER = 0.1


def _visibility_log(monkeypatch: pytest.MonkeyPatch, clock) -> list[tuple[float, int, str]]:
    """Every ChangeMessageVisibility the function makes: (time, seconds, "ok" or the refusal)."""
    from roomcast import queue

    calls: list[tuple[float, int, str]] = []
    real = queue.change_visibility

    def spy(queue_url: str, receipt_handle: str, seconds: int) -> None:
        try:
            real(queue_url, receipt_handle, seconds)
        except ClientError as exc:
            calls.append((clock.now(), seconds, exc.response["Error"]["Code"]))
            raise
        calls.append((clock.now(), seconds, "ok"))

    monkeypatch.setattr(queue, "change_visibility", spy)
    return calls


def test_moto_counts_the_twelve_hours_from_the_receive(fake_clock, monkeypatch):
    """The rule the tests below rely on, as AWS states it (and as moto did not)."""
    with provisioned_stack(monkeypatch) as stack:
        from tests.integration.webhook_support import QueueDriver as Driver

        driver = Driver(stack, invoke=None)
        driver.sqs.send_message(QueueUrl=driver.queue_url, MessageBody="{}")
        fake_clock.advance(18 * 3600)  # older than 12 hours since its send
        (message,) = driver.receive()
        fake_clock.advance(60)
        handle = message["ReceiptHandle"]
        with pytest.raises(ClientError) as refused:  # the old hold: 43200 s after the receive
            driver.sqs.change_message_visibility(QueueUrl=driver.queue_url, ReceiptHandle=handle, VisibilityTimeout=43200)
        assert refused.value.response["Error"]["Code"] == "InvalidParameterValue"
        assert "43200" in str(refused.value)
        # What is left of the 12 hours since the receive is accepted (moto alone refused it).
        driver.sqs.change_message_visibility(QueueUrl=driver.queue_url, ReceiptHandle=handle, VisibilityTimeout=43140)


def test_days_long_schedule_every_visibility_accepted_and_waits_add_up(fake_clock, monkeypatch, invoke):
    steps = schedule.parse_schedule(DAYS)
    plan = schedule.receive_plan(steps)
    assert len(plan) == 15  # 5 attempts + 1 + 3 + 6 holds
    with provisioned_stack(monkeypatch, DAYS, WEBHOOK_JITTER=str(JITTER)) as stack:
        visibility = _visibility_log(monkeypatch, fake_clock)
        with ScriptedReceiver(default=Reply(503, b"down for days")) as receiver:
            create_room(invoke, "long-outage", receiver.url)
            status, closed = admin(invoke, "DELETE", "/rooms/long-outage")
            assert status == 202, closed
            closed_at = fake_clock.now()
            driver = QueueDriver(stack, invoke)
            kinds: list[str] = []
            for receive in range(1, len(plan) + 1):
                sent_before = len(receiver.requests)
                messages = driver.receive()
                assert len(messages) == 1, f"receive {receive}: the job did not come back"
                assert int(messages[0]["Attributes"]["ApproximateReceiveCount"]) == receive
                failed = driver.run(messages)
                kinds.append("attempt" if len(receiver.requests) > sent_before else "hold")
                if receive == len(plan):
                    assert failed == []  # the last attempt failed: moved to the DLQ, done
                    break
                assert failed == [messages[0]["MessageId"]]
                _, seconds, outcome = visibility[-1]
                assert outcome == "ok" and 0 < seconds <= schedule.MAX_PLANNED_WAIT
                # Hidden for exactly that long: not a second sooner, back right after.
                fake_clock.advance(seconds - 1)
                assert driver.receive() == []
                fake_clock.advance(1.5)
            assert kinds == [slot.kind for slot in plan]
            assert all(outcome == "ok" for _, _, outcome in visibility)
            assert len(visibility) == len(plan) - 1
            # Between consecutive attempts, the receives' waits add up to the step, within the jitter.
            attempts_at = [r.at - closed_at for r in receiver.requests]
            assert len(attempts_at) == len(steps) + 1
            for index, step in enumerate(steps):
                gap = attempts_at[index + 1] - attempts_at[index]
                receives = schedule.receives_for(step)
                assert step * (1 - JITTER) <= gap <= step * (1 + JITTER) + 1.5 * receives, (index, step, gap)
            assert attempts_at[-1] >= 0.9 * sum(steps) >= 3 * 86400
        assert driver.depth() == 0 and driver.depth(driver.dlq_url) == 1
        delivery = only_delivery(invoke, "long-outage")
        assert delivery["status"] == "dead_lettered"
        assert "visibility_error" not in delivery
        assert [a["outcome"] for a in delivery["attempts"]] == ["retry"] * len(steps) + ["failed"]
        # The admin API's next retry is each step's (jittered) wait, not a 12-hour cap.
        for attempt, step in zip(delivery["attempts"], steps, strict=False):
            assert step * (1 - JITTER) <= attempt["next_retry_in_seconds"] <= step * (1 + JITTER) + 1


def test_a_retry_after_beyond_twelve_hours_is_honoured_through_holds(fake_clock, monkeypatch, invoke):
    """503 with Retry-After 100000 s (27.8 h): the next attempt comes then, the receives in
    between hold (borrowing the following attempts' receives), each one accepted by SQS."""
    with provisioned_stack(monkeypatch, "10,20,30,40") as stack:  # 5 receives
        visibility = _visibility_log(monkeypatch, fake_clock)
        with ScriptedReceiver([Reply(503, b"maintenance", {"Retry-After": "100000"})], default=Reply(200)) as receiver:
            create_room(invoke, "maintenance", receiver.url)
            assert admin(invoke, "DELETE", "/rooms/maintenance")[0] == 202
            driver = QueueDriver(stack, invoke)
            for _ in range(4):
                messages = driver.receive()
                assert len(messages) == 1
                failed = driver.run(messages)
                if not failed:
                    break
                fake_clock.advance(visibility[-1][1] + 0.5)
        assert len(receiver.requests) == 2
        gap = receiver.requests[1].at - receiver.requests[0].at
        assert 100000 <= gap <= 100000 + 3
        assert all(outcome == "ok" and seconds <= schedule.MAX_PLANNED_WAIT for _, seconds, outcome in visibility)
        assert len(visibility) == 3  # the failed attempt's share, then two holds
        assert only_delivery(invoke, "maintenance")["status"] == "delivered"


def test_a_refused_visibility_is_recorded_and_the_longest_accepted_is_set(fake_clock, monkeypatch, invoke, capsys):
    """A receive that is older than the function knows (here: 8 hours between the receive
    and the invocation): SQS refuses the hold's share, the delivery records it, and the
    longest wait SQS still accepts is set instead of the queue's 1800 s default."""
    with provisioned_stack(monkeypatch, "172800") as stack:
        visibility = _visibility_log(monkeypatch, fake_clock)
        with ScriptedReceiver(default=Reply(500)) as receiver:
            create_room(invoke, "late", receiver.url)
            assert admin(invoke, "DELETE", "/rooms/late")[0] == 202
            driver = QueueDriver(stack, invoke)
            messages = driver.receive()
            assert driver.run(messages) == [messages[0]["MessageId"]]  # attempt 1 fails
            first = visibility[-1][1]
            assert visibility[-1][2] == "ok" and first == schedule.share_of(172800, 7)
            fake_clock.advance(first + 1)
            messages = driver.receive()  # receive 2: a hold
            fake_clock.advance(8 * 3600)  # the invocation comes 8 hours after the receive
            assert driver.run(messages) == [messages[0]["MessageId"]]
        refused = [v for v in visibility if v[2] != "ok"]
        assert refused and refused[0][1] > 43200 - 8 * 3600
        assert refused[0][2] == "InvalidParameterValue"
        after = visibility[visibility.index(refused[0]):]
        accepted_calls = [v for v in after if v[2] == "ok"]
        accepted = accepted_calls[-1]  # the last accepted change is the one in force
        assert accepted[1] == max(v[1] for v in accepted_calls)
        # The longest accepted, to 1 %: what is left of the 12 hours since the receive.
        assert 0.99 * (43200 - 8 * 3600) <= accepted[1] <= 43200 - 8 * 3600
        assert '"WebhookVisibilityRefused":[1.0]' in capsys.readouterr().out  # the alarmed metric
        delivery = only_delivery(invoke, "late")
        assert delivery["visibility_refused_at"] and "refused" in delivery["visibility_error"]
        assert delivery["status"] == "retrying"
        # It comes back when the accepted visibility ends, not after the queue's default.
        fake_clock.advance(accepted[1] - 1)
        assert driver.receive() == []
        fake_clock.advance(2)
        assert len(driver.receive()) == 1
