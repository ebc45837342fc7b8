"""WebRTC signaling through the signal function against moto: every transition and refusal.

Alice, Bob (two tabs: conn-bob-1, conn-bob-2 joins only when a test needs it) and Carol
connect; Alice and Bob join `lobby`. What a peer received is read from moto's
@connections store (helpers.posted_frames).
"""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest

from roomcast.gateway import Gateway
from tests.helpers import clear_posted, http_event, load_event, posted_frames, reply_body, ws_event

ALICE = ("conn-alice-1", "alice", "Alice")
BOB = ("conn-bob-1", "bob", "Bob")
BOB2 = ("conn-bob-2", "bob", "Bob")
CAROL = ("conn-carol-1", "carol", "Carol")
OFFER_SDP = json.loads(load_event("ws-signal-offer.json")["body"])["sdp"]
CANDIDATE = json.loads(load_event("ws-signal-ice.json")["body"])["candidate"]


def connect(invoke, who) -> None:
    conn, user, name = who
    assert invoke("connect", ws_event("ws-connect.json", conn, user, name))["statusCode"] == 200


def join(invoke, who, room: str = "lobby") -> None:
    conn, user, name = who
    body = {"action": "join", "room_id": room, "request_id": "j"}
    assert reply_body(invoke("chat", ws_event("ws-join.json", conn, user, name, body=body)))["type"] == "joined"


@pytest.fixture
def lobby(stack, invoke):
    assert invoke("admin", http_event("http-create-room.json"))["statusCode"] == 201
    for who in (ALICE, BOB, CAROL):
        connect(invoke, who)
    join(invoke, ALICE)
    join(invoke, BOB)
    clear_posted()
    return stack


def signal(invoke, who, type_: str, room: str = "lobby", **fields: Any) -> dict[str, Any]:
    conn, user, name = who
    body = {"action": "signal", "room_id": room, "type": type_, "request_id": f"r-{type_}", **fields}
    return reply_body(invoke("signal", ws_event("ws-signal-invite.json", conn, user, name, body=body)))


def signals(who) -> list[dict[str, Any]]:
    return [f for f in posted_frames(who[0]) if f.get("type") == "signal"]


def record(call_id: str, room: str = "lobby") -> dict[str, Any]:
    from roomcast.dal.calls import CallStore
    from roomcast.settings import get_settings

    call = CallStore(get_settings().table_name).get_call(room, call_id)
    assert call is not None
    return call.model_dump()


def invite(invoke, frm=ALICE, to="bob", **fields: Any) -> str:
    ack = signal(invoke, frm, "call-invite", to=to, **fields)
    assert ack["type"] == "signal.ack" and ack["status"] == "invited", ack
    return ack["call_id"]


def accepted_call(invoke) -> str:
    call_id = invite(invoke, media="video")
    ack = signal(invoke, BOB, "call-accept", call_id=call_id)
    assert ack["status"] == "accepted", ack
    return call_id


def assert_error(reply: dict[str, Any] | None, code: str) -> dict[str, Any]:
    assert reply is not None and reply["type"] == "error", reply
    assert reply["code"] == code, reply
    assert reply["message"] and "Traceback" not in reply["message"]
    return reply


# ---------------------------------------------------------------- happy paths


def test_sample_invite_event_rings_the_callee(lobby, invoke):
    reply = reply_body(invoke("signal", load_event("ws-signal-invite.json")))
    assert reply["type"] == "signal.ack" and reply["request_id"] == "r-sig-1"
    assert reply["delivered"] == 1 and reply["status"] == "invited"
    [relay] = signals(BOB)
    assert relay == {
        "type": "signal",
        "signal": "call-invite",
        "room_id": "lobby",
        "call_id": reply["call_id"],
        "from": {"user_id": "alice", "name": "Alice"},
        "status": "invited",
        "media": "video",
    }
    stored = record(reply["call_id"])
    assert stored["status"] == "invited" and stored["caller"] == "alice" and stored["callee"] == "bob"
    assert stored["media"] == "video" and stored["started_at"] is None


def test_invite_schedules_the_ring_timer(lobby, invoke):
    invite(invoke)
    sqs = boto3.client("sqs")
    attributes = sqs.get_queue_attributes(
        QueueUrl=lobby.queues["CallTimerQueue"], AttributeNames=["All"]
    )["Attributes"]
    # Delayed by CALL_RING_TIMEOUT_SECONDS: not visible yet, waiting as delayed.
    assert attributes["ApproximateNumberOfMessagesDelayed"] == "1"
    assert attributes["ApproximateNumberOfMessages"] == "0"


def test_full_call_relays_sdp_and_candidates_untouched_then_ends_with_duration(lobby, invoke):
    call_id = invite(invoke, media="video")
    ack = signal(invoke, BOB, "call-accept", call_id=call_id)
    assert ack == {
        "type": "signal.ack",
        "request_id": "r-call-accept",
        "signal": "call-accept",
        "room_id": "lobby",
        "call_id": call_id,
        "status": "accepted",
        "delivered": 1,
    }
    assert signals(ALICE)[-1]["signal"] == "call-accept"
    assert signals(ALICE)[-1]["from"] == {"user_id": "bob", "name": "Bob"}
    stored = record(call_id)
    assert stored["status"] == "accepted" and stored["started_at"] >= stored["invited_at"]

    assert signal(invoke, ALICE, "offer", call_id=call_id, sdp=OFFER_SDP)["delivered"] == 1
    assert signals(BOB)[-1]["sdp"] == OFFER_SDP  # byte for byte
    answer = {"type": "answer", "sdp": OFFER_SDP["sdp"].replace("o=-", "o=answerer")}
    assert signal(invoke, BOB, "answer", call_id=call_id, sdp=answer)["delivered"] == 1
    assert signals(ALICE)[-1]["sdp"] == answer
    for who, peer in ((ALICE, BOB), (BOB, ALICE)):
        assert signal(invoke, who, "ice-candidate", call_id=call_id, candidate=CANDIDATE, to=peer[1])["delivered"] == 1
        assert signals(peer)[-1]["candidate"] == CANDIDATE
        assert signals(peer)[-1]["signal"] == "ice-candidate"
    # Renegotiation: an offer from the callee is fine once accepted.
    assert signal(invoke, BOB, "offer", call_id=call_id, sdp=OFFER_SDP)["delivered"] == 1

    ended = signal(invoke, BOB, "call-hangup", call_id=call_id)
    assert ended["status"] == "ended" and ended["delivered"] == 1
    hangup = signals(ALICE)[-1]
    assert hangup["signal"] == "call-hangup" and hangup["reason"] == "hangup" and hangup["status"] == "ended"
    stored = record(call_id)
    assert stored["status"] == "ended" and stored["ended_by"] == "bob" and stored["reason"] == "hangup"
    assert stored["duration_ms"] == stored["ended_at"] - stored["started_at"]
    # Both users are free again.
    invite(invoke, frm=BOB, to="alice")


def test_no_relay_reaches_a_third_member(lobby, invoke):
    join(invoke, CAROL)
    clear_posted()
    call_id = accepted_call(invoke)
    signal(invoke, ALICE, "offer", call_id=call_id, sdp=OFFER_SDP)
    signal(invoke, ALICE, "call-hangup", call_id=call_id)
    assert signals(CAROL) == []


def test_reject(lobby, invoke):
    call_id = invite(invoke)
    ack = signal(invoke, BOB, "call-reject", call_id=call_id, reason="busy-elsewhere")
    assert ack["status"] == "rejected"
    relay = signals(ALICE)[-1]
    assert relay["signal"] == "call-reject" and relay["reason"] == "busy-elsewhere"
    stored = record(call_id)
    assert (stored["status"], stored["ended_by"], stored["reason"]) == ("rejected", "bob", "busy-elsewhere")
    assert stored["started_at"] is None and stored["duration_ms"] == 0


def test_caller_cancels_a_ringing_call(lobby, invoke):
    call_id = invite(invoke)
    assert signal(invoke, ALICE, "call-hangup", call_id=call_id)["status"] == "ended"
    relay = signals(BOB)[-1]
    assert relay["signal"] == "call-hangup" and relay["reason"] == "cancelled"
    stored = record(call_id)
    assert (stored["status"], stored["ended_by"], stored["reason"]) == ("ended", "alice", "cancelled")


def test_callee_hangup_while_ringing_is_a_rejection(lobby, invoke):
    call_id = invite(invoke)
    assert signal(invoke, BOB, "call-hangup", call_id=call_id)["status"] == "rejected"
    assert record(call_id)["status"] == "rejected"


def test_invite_rings_every_tab_and_accept_stops_the_others(lobby, invoke):
    connect(invoke, BOB2)
    join(invoke, BOB2)
    clear_posted()
    call_id = invite(invoke)
    assert [f["signal"] for f in signals(BOB)] == ["call-invite"]
    assert [f["signal"] for f in signals(BOB2)] == ["call-invite"]
    signal(invoke, BOB2, "call-accept", call_id=call_id)
    other = signals(BOB)[-1]
    assert other["signal"] == "call-hangup" and other["reason"] == "answered-elsewhere"
    # The call is pinned to the tab that answered.
    assert_error(signal(invoke, BOB, "answer", call_id=call_id, sdp=OFFER_SDP), "invalid_call_state")
    signal(invoke, ALICE, "offer", call_id=call_id, sdp=OFFER_SDP)
    assert signals(BOB2)[-1]["signal"] == "offer"
    assert signals(BOB)[-1]["signal"] == "call-hangup"


def test_client_proposed_call_id(lobby, invoke):
    from roomcast.ids import new_id, now_ms

    proposed = new_id()
    assert invite(invoke, call_id=proposed) == proposed
    signal(invoke, ALICE, "call-hangup", call_id=proposed)
    assert_error(signal(invoke, ALICE, "call-invite", to="bob", call_id=proposed), "conflict")
    stale = new_id(now_ms() - 3600_000)
    assert_error(signal(invoke, ALICE, "call-invite", to="bob", call_id=stale), "invalid_frame")


# ---------------------------------------------------------------- call-failed


def test_invite_to_a_connected_non_member_fails_user_offline(lobby, invoke):
    reply = signal(invoke, ALICE, "call-invite", to="carol")
    assert reply["type"] == "call-failed" and reply["reason"] == "user-offline" and reply["to"] == "carol"
    assert reply["request_id"] == "r-call-invite"
    assert signals(CAROL) == []
    stored = record(reply["call_id"])
    assert (stored["status"], stored["reason"]) == ("failed", "user-offline")
    # A failed invite takes no lock: Alice can call Bob right away.
    invite(invoke)


def test_invite_to_an_unknown_user_fails_user_offline(lobby, invoke):
    reply = signal(invoke, ALICE, "call-invite", to="nobody")
    assert reply["type"] == "call-failed" and reply["reason"] == "user-offline"


def test_invite_to_a_ringing_user_fails_busy(lobby, invoke):
    join(invoke, CAROL)
    invite(invoke)
    reply = signal(invoke, CAROL, "call-invite", to="bob")
    assert reply["type"] == "call-failed" and reply["reason"] == "busy"
    assert (record(reply["call_id"])["status"], record(reply["call_id"])["reason"]) == ("failed", "busy")
    # ... and a user in an accepted call, too (calling the caller this time).
    reply = signal(invoke, CAROL, "call-invite", to="alice")
    assert reply["type"] == "call-failed" and reply["reason"] == "busy"


def test_invite_to_a_user_in_an_accepted_call_fails_busy(lobby, invoke):
    join(invoke, CAROL)
    accepted_call(invoke)
    reply = signal(invoke, CAROL, "call-invite", to="bob")
    assert reply["type"] == "call-failed" and reply["reason"] == "busy"


def test_caller_already_in_a_call_is_refused(lobby, invoke):
    join(invoke, CAROL)
    invite(invoke)
    reply = assert_error(signal(invoke, ALICE, "call-invite", to="carol"), "invalid_call_state")
    assert "already in a call" in reply["message"]


# ---------------------------------------------------------------- refusals


def test_non_member_cannot_invite(lobby, invoke):
    assert_error(signal(invoke, CAROL, "call-invite", to="bob"), "not_member")


def test_invite_in_unknown_room(lobby, invoke):
    assert_error(signal(invoke, ALICE, "call-invite", to="bob", room="nowhere"), "room_not_found")


def test_cannot_call_yourself(lobby, invoke):
    assert_error(signal(invoke, ALICE, "call-invite", to="alice"), "invalid_call_state")


def test_unknown_call_id(lobby, invoke):
    from roomcast.ids import new_id

    assert_error(signal(invoke, BOB, "call-accept", call_id=new_id()), "call_not_found")
    # A real call, asked for in another room, is unknown there.
    call_id = invite(invoke)
    invoke("admin", http_event("http-create-room.json", body={"room_id": "other", "name": "Other"}))
    assert_error(signal(invoke, BOB, "call-accept", call_id=call_id, room="other"), "call_not_found")


@pytest.mark.parametrize(
    ("who", "type_", "extra", "message"),
    [
        (BOB, "answer", {"sdp": OFFER_SDP}, "before the call is accepted"),
        (ALICE, "offer", {"sdp": OFFER_SDP}, "before the call is accepted"),
        (ALICE, "ice-candidate", {"candidate": CANDIDATE}, "before the call is accepted"),
        (ALICE, "call-accept", {}, "only the callee"),
        (ALICE, "call-reject", {}, "only the callee"),
        (CAROL, "call-hangup", {}, "not a participant"),
        (CAROL, "offer", {"sdp": OFFER_SDP}, "not a participant"),
        (BOB, "call-accept", {"to": "carol"}, "other participant"),
    ],
)
def test_out_of_order_signals_on_a_ringing_call(lobby, invoke, who, type_, extra, message):
    call_id = invite(invoke)
    reply = assert_error(signal(invoke, who, type_, call_id=call_id, **extra), "invalid_call_state")
    assert message in reply["message"]
    assert record(call_id)["status"] == "invited"


@pytest.mark.parametrize(
    ("who", "type_"),
    [(BOB, "call-accept"), (BOB, "call-reject"), (ALICE, "call-hangup"), (ALICE, "offer"), (BOB, "ice-candidate")],
)
def test_signals_on_an_ended_call_are_refused(lobby, invoke, who, type_):
    call_id = accepted_call(invoke)
    signal(invoke, ALICE, "call-hangup", call_id=call_id)
    extra = {"offer": {"sdp": OFFER_SDP}, "ice-candidate": {"candidate": CANDIDATE}}.get(type_, {})
    reply = assert_error(signal(invoke, who, type_, call_id=call_id, **extra), "invalid_call_state")
    assert "already ended" in reply["message"]


def test_accept_twice_is_refused(lobby, invoke):
    call_id = accepted_call(invoke)
    assert_error(signal(invoke, BOB, "call-accept", call_id=call_id), "invalid_call_state")
    assert_error(signal(invoke, BOB, "call-reject", call_id=call_id), "invalid_call_state")


@pytest.mark.parametrize(
    "body",
    [
        {"type": "call-invite"},  # no `to`
        {"type": "call-accept"},  # no call_id
        {"type": "offer", "call_id": "001a201692e00a1b2c3d4e5f6"},  # no sdp
        {"type": "offer", "call_id": "001a201692e00a1b2c3d4e5f6", "sdp": {"type": "offer"}},
        {"type": "ice-candidate", "call_id": "001a201692e00a1b2c3d4e5f6"},
        {"type": "call-hangup", "call_id": "001a201692e00a1b2c3d4e5f6", "sdp": {"sdp": "x"}},
        {"type": "call-accept", "call_id": "001a201692e00a1b2c3d4e5f6", "media": "audio"},
        {"type": "call-accept", "call_id": "not-an-id"},
        {"type": "call-invite", "to": "bob", "media": "hologram"},
        {"type": "dance", "call_id": "001a201692e00a1b2c3d4e5f6"},
        {"type": "call-hangup", "call_id": "001a201692e00a1b2c3d4e5f6", "extra": 1},
    ],
)
def test_malformed_signal_frames(lobby, invoke, body):
    reply = assert_error(signal(invoke, ALICE, body.pop("type"), **body), "invalid_frame")
    assert reply["request_id"]


# ---------------------------------------------------------------- abuse limits


def test_sdp_and_candidate_size_limits(lobby, invoke):
    call_id = accepted_call(invoke)
    big_sdp = {"type": "offer", "sdp": "a=x\r\n" * 4000}  # ~20 KB, under the 32 KB frame
    assert_error(signal(invoke, ALICE, "offer", call_id=call_id, sdp=big_sdp), "payload_too_large")
    big_candidate = {**CANDIDATE, "candidate": "candidate:" + "9" * 3000}
    assert_error(
        signal(invoke, ALICE, "ice-candidate", call_id=call_id, candidate=big_candidate), "payload_too_large"
    )
    assert [f["signal"] for f in signals(BOB)] == ["call-invite"]  # nothing relayed


def test_frames_over_32kb_are_refused_before_parsing(lobby, invoke):
    call_id = accepted_call(invoke)
    huge = {"type": "offer", "sdp": "a" * 40000}
    assert_error(signal(invoke, ALICE, "offer", call_id=call_id, sdp=huge), "payload_too_large")


def test_rate_limit_per_connection(lobby, invoke, monkeypatch):
    from roomcast.settings import reset_settings

    monkeypatch.setenv("SIGNAL_RATE_BURST", "5")
    monkeypatch.setenv("SIGNAL_RATE_PER_SECOND", "0.01")  # one token per 100 s: no refill here
    reset_settings()
    call_id = accepted_call(invoke)  # Alice: 1 frame, Bob: 1 frame
    for _ in range(4):
        assert signal(invoke, ALICE, "ice-candidate", call_id=call_id, candidate=CANDIDATE)["delivered"] == 1
    reply = assert_error(
        signal(invoke, ALICE, "ice-candidate", call_id=call_id, candidate=CANDIDATE), "rate_limited"
    )
    assert "5" in reply["message"]
    # The limit is per connection: Bob still has his bucket.
    assert signal(invoke, BOB, "ice-candidate", call_id=call_id, candidate=CANDIDATE)["delivered"] == 1


def test_default_rate_limit_allows_an_ice_burst(lobby, invoke):
    call_id = accepted_call(invoke)
    replies = [
        signal(invoke, ALICE, "ice-candidate", call_id=call_id, candidate=CANDIDATE)["type"] for _ in range(40)
    ]
    assert set(replies) == {"signal.ack"}


# ---------------------------------------------------------------- disconnect / leave


def test_disconnect_ends_an_accepted_call(lobby, invoke):
    call_id = accepted_call(invoke)
    invoke("disconnect", ws_event("ws-disconnect.json", *BOB))
    relay = signals(ALICE)[-1]
    assert relay["signal"] == "call-hangup" and relay["reason"] == "disconnected"
    assert relay["status"] == "ended" and relay["from"]["user_id"] == "bob"
    stored = record(call_id)
    assert (stored["status"], stored["ended_by"], stored["reason"]) == ("ended", "bob", "disconnected")
    assert stored["duration_ms"] is not None and stored["duration_ms"] >= 0
    # Alice is free again.
    join(invoke, CAROL)
    invite(invoke, to="carol")


def test_caller_disconnect_cancels_a_ringing_call(lobby, invoke):
    call_id = invite(invoke)
    invoke("disconnect", ws_event("ws-disconnect.json", *ALICE))
    assert signals(BOB)[-1]["reason"] == "disconnected"
    assert record(call_id)["status"] == "ended"


def test_callee_disconnect_while_ringing_waits_for_the_last_tab(lobby, invoke):
    connect(invoke, BOB2)
    join(invoke, BOB2)
    call_id = invite(invoke)
    invoke("disconnect", ws_event("ws-disconnect.json", *BOB2))
    assert record(call_id)["status"] == "invited"  # conn-bob-1 still rings
    invoke("disconnect", ws_event("ws-disconnect.json", *BOB))
    assert record(call_id)["status"] == "ended"
    assert signals(ALICE)[-1]["reason"] == "disconnected"


def test_leave_ends_the_call_in_that_room(lobby, invoke):
    call_id = accepted_call(invoke)
    body = {"action": "leave", "room_id": "lobby"}
    invoke("chat", ws_event("ws-leave.json", *ALICE, body=body))
    assert record(call_id)["reason"] == "left"
    assert signals(BOB)[-1]["reason"] == "left"


def test_relay_to_a_gone_peer_ends_the_call(lobby, invoke, monkeypatch):
    call_id = accepted_call(invoke)
    real_post = Gateway.post

    def post(self, connection_id, data):
        return "gone" if connection_id == BOB[0] else real_post(self, connection_id, data)

    monkeypatch.setattr(Gateway, "post", post)
    ack = signal(invoke, ALICE, "offer", call_id=call_id, sdp=OFFER_SDP)
    assert ack["delivered"] == 0
    stored = record(call_id)
    assert (stored["status"], stored["reason"], stored["ended_by"]) == ("ended", "disconnected", "bob")
    assert signals(ALICE)[-1]["signal"] == "call-hangup"


def test_invite_whose_every_target_is_gone_fails_user_offline(lobby, invoke, monkeypatch):
    real_post = Gateway.post
    monkeypatch.setattr(
        Gateway, "post", lambda self, cid, data: "gone" if cid == BOB[0] else real_post(self, cid, data)
    )
    reply = signal(invoke, ALICE, "call-invite", to="bob")
    assert reply["type"] == "call-failed" and reply["reason"] == "user-offline"
    assert record(reply["call_id"])["status"] == "failed"
    monkeypatch.setattr(Gateway, "post", real_post)
    join(invoke, CAROL)
    invite(invoke, to="carol")  # the failed invite released Alice's lock


# ---------------------------------------------------------------- missed


def _later(monkeypatch, seconds: float) -> None:
    from roomcast.ids import now_ms
    from roomcast.logic import signaling

    base = now_ms()
    monkeypatch.setattr(signaling, "now_ms", lambda: base + int(seconds * 1000))


def timer_event(call_id: str, room: str = "lobby") -> dict[str, Any]:
    event = load_event("sqs-call-timer.json")
    event["Records"][0]["body"] = json.dumps({"room_id": room, "call_id": call_id})
    return event


def test_ring_timer_marks_an_unanswered_call_missed_and_tells_both(lobby, invoke, monkeypatch):
    call_id = invite(invoke)
    _later(monkeypatch, 31)
    assert invoke("calltimer", timer_event(call_id)) == {"batchItemFailures": []}
    stored = record(call_id)
    assert (stored["status"], stored["reason"], stored["ended_by"]) == ("missed", "no-answer", None)
    for who in (ALICE, BOB):
        relay = signals(who)[-1]
        assert relay["signal"] == "call-hangup" and relay["status"] == "missed"
    # Idempotent: a duplicate delivery changes nothing.
    count = len(signals(ALICE))
    assert invoke("calltimer", timer_event(call_id)) == {"batchItemFailures": []}
    assert len(signals(ALICE)) == count
    assert_error(signal(invoke, BOB, "call-accept", call_id=call_id), "invalid_call_state")


def test_ring_timer_leaves_an_answered_call_alone(lobby, invoke, monkeypatch):
    call_id = accepted_call(invoke)
    _later(monkeypatch, 31)
    invoke("calltimer", timer_event(call_id))
    assert record(call_id)["status"] == "accepted"


def test_early_ring_timer_reschedules(lobby, invoke):
    from roomcast.logic.signaling import expire_invite
    from roomcast.wiring import services_for

    call_id = invite(invoke)
    assert expire_invite(services_for({}), "lobby", call_id) == "rescheduled"
    assert record(call_id)["status"] == "invited"


def test_ring_timer_batch_fails_only_the_bad_record(lobby, invoke, monkeypatch):
    call_id = invite(invoke)
    _later(monkeypatch, 31)
    event = timer_event(call_id)
    bad = {**event["Records"][0], "messageId": "bad-1", "body": "{not json"}
    event["Records"].append(bad)
    assert invoke("calltimer", event) == {"batchItemFailures": [{"itemIdentifier": "bad-1"}]}
    assert record(call_id)["status"] == "missed"


def test_overdue_invite_is_missed_when_touched(lobby, invoke, monkeypatch):
    call_id = invite(invoke)
    _later(monkeypatch, 31)
    reply = assert_error(signal(invoke, BOB, "call-accept", call_id=call_id), "invalid_call_state")
    assert "missed" in reply["message"]
    assert record(call_id)["status"] == "missed"
    assert signals(ALICE)[-1]["status"] == "missed"


def test_overdue_invite_does_not_make_the_callee_busy(lobby, invoke, monkeypatch):
    join(invoke, CAROL)
    stale = invite(invoke)
    _later(monkeypatch, 31)
    fresh = invite(invoke, frm=CAROL, to="bob")
    assert record(stale)["status"] == "missed"
    assert record(fresh)["status"] == "invited"


# ---------------------------------------------------------------- admin view


def test_room_view_lists_calls(lobby, invoke):
    call_id = accepted_call(invoke)
    signal(invoke, ALICE, "call-hangup", call_id=call_id)
    failed = signal(invoke, ALICE, "call-invite", to="carol")["call_id"]
    room = reply_body(invoke("admin", http_event("http-get-room.json")))
    calls = room["calls"]
    assert [c["call_id"] for c in calls] == [call_id, failed]
    first = calls[0]
    assert first["status"] == "ended" and first["caller"] == "alice" and first["callee"] == "bob"
    assert first["caller_name"] == "Alice" and first["callee_name"] == "Bob"
    assert first["media"] == "video" and first["started_at"] and first["ended_at"]
    assert first["duration_seconds"] == first["duration_ms"] / 1000
    assert "caller_connection" not in first
    assert calls[1]["status"] == "failed" and calls[1]["reason"] == "user-offline"


def test_call_history_reads_call_records(lobby, invoke):
    """What the room.closed payload reads: RoomStore.iter_calls -> CallRecord."""
    from roomcast.dal.store import get_store

    call_id = accepted_call(invoke)
    signal(invoke, ALICE, "call-hangup", call_id=call_id)
    [page] = list(get_store().iter_calls("lobby"))
    [call] = page
    assert (call.call_id, call.status, call.caller, call.callee) == (call_id, "ended", "alice", "bob")
    assert call.duration_ms is not None and call.started_at is not None
    assert not hasattr(call, "caller_connection")


def test_room_close_ends_active_calls_before_call_history_is_read(lobby, invoke):
    from roomcast.dal.store import get_store
    from roomcast.logic import closing
    from roomcast.wiring import services_for

    call_id = accepted_call(invoke)
    closing.close_room(services_for({}), "lobby", "admin")
    stored = record(call_id)
    assert (stored["status"], stored["reason"]) == ("ended", "room_closed")
    [page] = list(get_store().iter_calls("lobby"))
    assert [c.status for c in page] == ["ended"]


def test_a_call_whose_connection_is_gone_does_not_keep_users_busy(lobby, invoke):
    from roomcast.dal.store import get_store

    join(invoke, CAROL)
    call_id = accepted_call(invoke)
    # Bob's first connection is gone, but nothing ended the call (e.g. the hook failed);
    # Bob is back on a new connection.
    get_store().delete_connection(BOB[0])
    connect(invoke, BOB2)
    join(invoke, BOB2)
    fresh = invite(invoke, frm=CAROL, to="bob")
    stored = record(call_id)
    assert (stored["status"], stored["reason"], stored["ended_by"]) == ("ended", "disconnected", "bob")
    assert signals(ALICE)[-1]["reason"] == "disconnected"
    assert record(fresh)["status"] == "invited"


def test_hangup_that_raced_an_accept_still_ends_the_call(lobby, invoke, monkeypatch):
    """Alice's hangup read the call while ringing; Bob's accept landed before her write."""
    from roomcast.dal.calls import CallStore

    call_id = invite(invoke)
    real_get = CallStore.get_call
    state = {"raced": False}

    def get_call(self, room_id, cid):
        found = real_get(self, room_id, cid)
        if not state["raced"]:
            state["raced"] = True
            monkeypatch.setattr(CallStore, "get_call", real_get)
            assert signal(invoke, BOB, "call-accept", call_id=call_id)["status"] == "accepted"
        return found

    monkeypatch.setattr(CallStore, "get_call", get_call)
    ack = signal(invoke, ALICE, "call-hangup", call_id=call_id)
    assert ack["status"] == "ended", ack
    stored = record(call_id)
    assert (stored["status"], stored["reason"], stored["ended_by"]) == ("ended", "hangup", "alice")
    assert stored["started_at"] is not None and stored["duration_ms"] is not None


def test_disconnect_that_raced_an_accept_still_ends_the_call(lobby, invoke, monkeypatch):
    from roomcast.dal.calls import CallStore

    call_id = invite(invoke)
    real_get = CallStore.get_call

    def get_call(self, room_id, cid):
        found = real_get(self, room_id, cid)
        monkeypatch.setattr(CallStore, "get_call", real_get)
        assert signal(invoke, BOB, "call-accept", call_id=call_id)["status"] == "accepted"
        return found

    monkeypatch.setattr(CallStore, "get_call", get_call)
    invoke("disconnect", ws_event("ws-disconnect.json", *ALICE))
    stored = record(call_id)
    assert (stored["status"], stored["reason"], stored["ended_by"]) == ("ended", "disconnected", "alice")
    assert stored["started_at"] is not None
    assert signals(BOB)[-1]["reason"] == "disconnected"
