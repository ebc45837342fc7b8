"""Logic against in-memory fakes, where they say more than moto can: what was scheduled
with which delay, and what was taken back after a failure between two writes."""

from __future__ import annotations

from typing import Any

import pytest

from roomcast.ids import new_id, now_ms
from roomcast.logic import rooms, signaling
from roomcast.logic.context import Services
from roomcast.models.admin import CreateRoomRequest
from roomcast.models.signaling import CallState
from roomcast.settings import Settings


class Recorder:
    """Any method call is recorded; answers come from `answers` (name -> value or callable)."""

    def __init__(self, **answers: Any) -> None:
        self.calls: list[tuple[str, tuple[Any, ...]]] = []
        self.answers = answers

    def __getattr__(self, name: str) -> Any:
        def method(*args: Any, **kwargs: Any) -> Any:
            self.calls.append((name, args))
            answer = self.answers.get(name)
            return answer(*args) if callable(answer) else answer

        return method


def fake_services(**parts: Any) -> Services:
    base = {name: Recorder() for name in (
        "store", "calls", "deliveries", "fanout", "fanout_queue", "gateway", "jobs", "timers", "secrets"
    )}
    base["settings"] = Settings(TABLE_NAME="t", WEBHOOK_ALLOW_LOOPBACK="true", WEBHOOK_SECRET_PREFIX="p/")
    return Services(**{**base, **parts})  # type: ignore[arg-type]


def invited(seconds_ago: float) -> CallState:
    at = now_ms() - int(seconds_ago * 1000)
    return CallState(
        room_id="r", call_id=new_id(at), caller="a", callee="b", media="audio", status="invited", invited_at=at
    )


class Timers(Recorder):
    enabled = True


def test_an_early_ring_timer_reschedules_for_the_remaining_seconds_rounded_up() -> None:
    call = invited(seconds_ago=10.5)
    timers = Timers()
    services = fake_services(calls=Recorder(get_call=call), timers=timers)
    assert signaling.expire_invite(services, "r", call.call_id) == "rescheduled"
    [(name, (room_id, call_id, delay))] = timers.calls
    assert (name, room_id, call_id) == ("schedule", "r", call.call_id)
    assert delay in (20, 19)  # 30 s ring timeout - 10.5 s, rounded up (19 if a second ticked)
    assert services.calls.calls == [("get_call", ("r", call.call_id))]  # nothing was written


def test_a_ring_timer_for_an_answered_call_writes_and_schedules_nothing() -> None:
    call = invited(seconds_ago=1)
    services = fake_services(calls=Recorder(get_call=call.model_copy(update={"status": "accepted"})))
    assert signaling.expire_invite(services, "r", call.call_id) == "not-invited"
    assert [name for name, _ in services.calls.calls] == ["get_call"]
    assert services.timers.calls == []


def test_a_room_whose_secret_cannot_be_stored_is_taken_back() -> None:
    def refuse(room_id: str, secret: str) -> str:
        raise RuntimeError("secrets manager down")

    store = Recorder()
    secrets = Recorder(room_secret_name=lambda room_id: f"p/{room_id}", store_room_secret=refuse)
    services = fake_services(store=store, secrets=secrets)
    request = CreateRoomRequest(room_id="hooked", name="Hooked", callback_url="https://127.0.0.1/hook")
    with pytest.raises(RuntimeError, match="secrets manager down"):
        rooms.create_room_with_secret(services, request)
    names = [name for name, _ in store.calls]
    assert names == ["create_room", "delete_new_room"]
    created, taken_back = store.calls[0][1][0], store.calls[1][1][0]
    assert created is taken_back and created.webhook_secret_id == "p/hooked"


def test_a_given_secret_is_stored_and_never_echoed() -> None:
    secrets = Recorder(room_secret_name=lambda room_id: f"p/{room_id}")
    services = fake_services(secrets=secrets)
    secret = "whsec_" + "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    request = CreateRoomRequest(room_id="own", name="Own", callback_url="https://127.0.0.1/hook", webhook_secret=secret)
    room, generated = rooms.create_room_with_secret(services, request)
    assert generated is None and room.callback_url == "https://127.0.0.1/hook"
    assert ("store_room_secret", ("own", secret)) in secrets.calls


def test_a_message_above_the_threshold_queues_its_ranges_on_the_wired_fanout_queue() -> None:
    from roomcast.dal.fanout import KeyRange, Target
    from roomcast.gateway import FanoutResult
    from roomcast.logic import fanout

    first = [Target("c1", "u1"), Target("c2", "u2")]
    ranges = Recorder(
        read_range=(first, "MEMBER#c2", True),
        cut_ranges=[KeyRange("MEMBER#c2", "MEMBER#c4", 2), KeyRange("MEMBER#c4", None, 3)],
    )
    queue = Recorder(send_batch=[])
    queue.queue_url = "memory://fanout"
    gateway = Recorder(broadcast=FanoutResult(delivered=2))
    settings = Settings(TABLE_NAME="t", FANOUT_SPLIT_THRESHOLD=2)
    services = fake_services(fanout=ranges, fanout_queue=queue, gateway=gateway, settings=settings)

    result = fanout.to_room(services, "r", {"type": "message"}, message_id="m1")

    assert (result.delivered, result.queued, result.failed) == (2, 5, 0)
    [(name, (bodies,))] = queue.calls
    assert name == "send_batch" and [b for b in bodies if '"job_id":"1"' in b and '"through":"MEMBER#c4"' in b]
    assert [n for n, _ in gateway.calls] == ["broadcast"]  # the first range only, inline
