"""Signal frames and their limits, without AWS."""

from __future__ import annotations

import json

import pytest
from pydantic import ValidationError

from roomcast.errors import PayloadTooLarge, error_body
from roomcast.logic.calls import call_view
from roomcast.logic.signaling import _check_sizes
from roomcast.models.signaling import (
    SIGNAL_FRAME_ADAPTER,
    CallState,
    Peer,
    SignalRelayFrame,
)
from roomcast.settings import Settings

CALL_ID = "001a201692e00a1b2c3d4e5f6"


def parse(**fields):
    return SIGNAL_FRAME_ADAPTER.validate_python({"action": "signal", "room_id": "lobby", **fields})


def test_invite_needs_a_callee_and_defaults_nothing_else():
    frame = parse(type="call-invite", to="bob")
    assert (frame.to, frame.call_id, frame.media) == ("bob", None, None)
    with pytest.raises(ValidationError, match="needs `to`"):
        parse(type="call-invite")


@pytest.mark.parametrize("kind", ["call-accept", "call-reject", "call-hangup"])
def test_other_types_need_a_call_id(kind):
    assert parse(type=kind, call_id=CALL_ID).call_id == CALL_ID
    with pytest.raises(ValidationError, match="needs `call_id`"):
        parse(type=kind)


def test_sdp_is_kept_exactly_as_sent():
    sdp = {"type": "offer", "sdp": "v=0\r\na=weird:é\r\n", "x-extra": [1, 2]}
    assert parse(type="offer", call_id=CALL_ID, sdp=sdp).sdp == sdp


@pytest.mark.parametrize(
    "fields",
    [
        {"type": "offer", "call_id": CALL_ID},
        {"type": "answer", "call_id": CALL_ID, "sdp": {"type": "answer"}},
        {"type": "answer", "call_id": CALL_ID, "sdp": {"sdp": 5}},
        {"type": "ice-candidate", "call_id": CALL_ID},
        {"type": "ice-candidate", "call_id": CALL_ID, "candidate": {}, "sdp": {"sdp": ""}},
        {"type": "call-hangup", "call_id": CALL_ID, "candidate": {"candidate": ""}},
        {"type": "call-accept", "call_id": CALL_ID, "media": "video"},
        {"type": "call-invite", "to": "bob", "media": "smell"},
        {"type": "call-invite", "to": "bob bob"},
        {"type": "call-accept", "call_id": CALL_ID.upper()},
        {"type": "call-accept", "call_id": CALL_ID + "0"},
        {"type": "call-reject", "call_id": CALL_ID, "reason": "no thanks!"},
        {"type": "offer!", "call_id": CALL_ID},
        {"type": "call-hangup", "call_id": CALL_ID, "unexpected": True},
    ],
)
def test_malformed_frames_are_refused(fields):
    with pytest.raises(ValidationError):
        parse(**fields)


def test_relay_frame_names_the_sender_as_from():
    frame = SignalRelayFrame(
        signal="offer",
        room_id="lobby",
        call_id=CALL_ID,
        from_=Peer(user_id="alice", name="Alice"),
        sdp={"type": "offer", "sdp": "v=0"},
    )
    assert frame.dump() == {
        "type": "signal",
        "signal": "offer",
        "room_id": "lobby",
        "call_id": CALL_ID,
        "from": {"user_id": "alice", "name": "Alice"},
        "sdp": {"type": "offer", "sdp": "v=0"},
    }


def test_size_limits():
    settings = Settings(MAX_SDP_BYTES=1024, MAX_CANDIDATE_BYTES=256)
    fine = parse(type="offer", call_id=CALL_ID, sdp={"type": "offer", "sdp": "a" * 900})
    _check_sizes(fine, settings)
    big = parse(type="offer", call_id=CALL_ID, sdp={"type": "offer", "sdp": "a" * 1100})
    with pytest.raises(PayloadTooLarge) as caught:
        _check_sizes(big, settings)
    assert error_body(caught.value)["code"] == "payload_too_large"
    candidate = parse(type="ice-candidate", call_id=CALL_ID, candidate={"candidate": "c" * 300})
    with pytest.raises(PayloadTooLarge, match="256 bytes"):
        _check_sizes(candidate, settings)


def test_new_error_codes_are_stable():
    from roomcast.errors import CallNotFound, InvalidCallState

    assert error_body(CallNotFound())["code"] == "call_not_found"
    assert error_body(InvalidCallState("x"), "r1") == {
        "type": "error",
        "code": "invalid_call_state",
        "message": "x",
        "request_id": "r1",
    }


def test_call_view_reports_duration_in_seconds_and_hides_connections():
    call = CallState(
        room_id="lobby",
        call_id=CALL_ID,
        caller="alice",
        callee="bob",
        media="video",
        status="ended",
        invited_at=1_000,
        started_at=2_000,
        ended_at=4_500,
        duration_ms=2_500,
        ended_by="bob",
        reason="hangup",
        caller_connection="c1",
        callee_connection="c2",
    )
    view = call_view(call).dump()
    assert view["duration_seconds"] == 2.5 and view["started_at"] == "1970-01-01T00:00:02.000Z"
    assert "caller_connection" not in json.dumps(view)


def test_ring_timeout_setting_is_bounded_by_sqs_delay():
    assert Settings().call_ring_timeout_seconds == 30
    with pytest.raises(ValidationError):
        Settings(CALL_RING_TIMEOUT_SECONDS=901)
