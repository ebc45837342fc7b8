"""Hostile and malformed signal frames (property-based): every one gets a reply or an
error frame with a stable code - never internal_error, never a relay to a bystander."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from roomcast.ids import new_id
from tests.helpers import posted_frames, reply_body, ws_event
from tests.integration.test_signal_calls import ALICE, BOB, BOB2, CAROL, connect, join, lobby  # noqa: F401 (fixture)

TYPES = ["call-invite", "call-accept", "call-reject", "call-hangup", "offer", "answer", "ice-candidate"]
EXPECTED_CODES = {
    "invalid_frame",
    "payload_too_large",
    "not_member",
    "room_not_found",
    "call_not_found",
    "invalid_call_state",
    "conflict",
    "unknown_action",
}

scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=40))
garbage = st.recursive(scalars, lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3), max_leaves=8)
# A small pool of valid, current call ids: invites propose them, later frames reuse them,
# so examples drive real transitions on shared calls, not just validation errors.
CALL_IDS = [new_id() for _ in range(3)]
SENDERS = [ALICE, BOB, BOB2, CAROL]


@st.composite
def frames(draw: st.DrawFn) -> tuple[tuple[str, str, str], dict[str, Any]]:
    kind = draw(st.sampled_from(TYPES))
    frame: dict[str, Any] = {
        "action": "signal",
        "room_id": draw(st.sampled_from(["lobby", "lobby", "lobby", "nowhere"])),
        "type": kind,
        "request_id": draw(st.text(min_size=1, max_size=64)),
        "call_id": draw(st.sampled_from(CALL_IDS)),
    }
    if kind == "call-invite":
        frame["to"] = draw(st.sampled_from(["bob", "alice", "carol", "nobody"]))
        if draw(st.booleans()):
            frame["media"] = draw(st.sampled_from(["audio", "video"]))
        if draw(st.booleans()):
            del frame["call_id"]
    elif kind in ("offer", "answer"):
        frame["sdp"] = {"type": kind, "sdp": draw(st.text(max_size=200))}
    elif kind == "ice-candidate":
        frame["candidate"] = {"candidate": draw(st.text(max_size=100)), "sdpMid": "0", "sdpMLineIndex": 0}
    if kind in ("call-reject", "call-hangup") and draw(st.booleans()):
        frame["reason"] = draw(st.from_regex(r"\A[a-z-]{1,20}\Z"))
    # Then, sometimes, break it.
    mutation = draw(st.sampled_from(["none", "none", "none", "drop", "garble", "extra", "type"]))
    if mutation == "drop":
        frame.pop(draw(st.sampled_from(sorted(k for k in frame if k != "action"))))
    elif mutation == "garble":
        frame[draw(st.sampled_from(sorted(k for k in frame if k != "action")))] = draw(garbage)
    elif mutation == "extra":
        frame[draw(st.text(min_size=1, max_size=10))] = draw(garbage)
    elif mutation == "type":
        frame["type"] = draw(st.text(max_size=14))
    return draw(st.sampled_from(SENDERS)), frame


@pytest.fixture(autouse=True)
def _no_rate_limit(lobby, invoke, monkeypatch):  # noqa: F811 (after the stack's env)
    """Examples share one connection: a spent bucket would answer rate_limited to all."""
    from roomcast.settings import reset_settings

    monkeypatch.setenv("SIGNAL_RATE_BURST", "10000")
    reset_settings()
    connect(invoke, BOB2)  # Bob's second tab: not pinned to anything, may not take over
    join(invoke, BOB2)
    yield
    reset_settings()


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(case=frames())
def test_hostile_signal_frames_get_stable_answers(lobby, invoke, case):  # noqa: F811
    sender, frame = case
    reply = reply_body(invoke("signal", ws_event("ws-signal-invite.json", *sender, body=frame)))
    assert reply is not None
    event(f"{reply['type']}:{reply.get('code') or reply.get('status') or reply.get('reason')}")
    if reply["type"] == "error":
        assert reply["code"] in EXPECTED_CODES, reply
        assert "Traceback" not in reply["message"]
    else:
        assert reply["type"] in {"signal.ack", "call-failed"}, reply
    # Carol is connected but not in the room: no frame ever reaches her.
    assert [f for f in posted_frames(CAROL[0]) if f.get("type") == "signal"] == []


def test_non_json_and_binary_bodies(lobby, invoke):  # noqa: F811
    for body in ["not json", "[1,2]", json.dumps({"action": "signal"})]:
        reply = reply_body(invoke("signal", ws_event("ws-signal-invite.json", *ALICE, body=body)))
        assert reply["type"] == "error" and reply["code"] in {"invalid_frame", "unknown_action"}, reply
    event = ws_event("ws-signal-invite.json", *ALICE)
    event["isBase64Encoded"] = True
    assert reply_body(invoke("signal", event))["code"] == "invalid_frame"
