"""Client frame validation (pydantic, discriminated on `action`) and outbound frame shapes."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from roomcast.models.frames import (
    CHAT_ACTIONS,
    CHAT_FRAME_ADAPTER,
    AckFrame,
    ErrorFrame,
    HistoryFrame,
    JoinFrame,
    Message,
    PingFrame,
    SendFrame,
    TypingFrame,
)


def parse(data: dict) -> object:
    return CHAT_FRAME_ADAPTER.validate_python(data)


@pytest.mark.parametrize(
    ("data", "cls"),
    [
        ({"action": "join", "room_id": "lobby"}, JoinFrame),
        ({"action": "join", "room_id": "a-B_9", "history_limit": 0, "request_id": "r"}, JoinFrame),
        ({"action": "send", "room_id": "lobby", "text": "hi", "client_msg_id": "c", "meta": {"a": [1]}}, SendFrame),
        ({"action": "history", "room_id": "lobby"}, HistoryFrame),
        ({"action": "typing", "room_id": "lobby", "is_typing": False}, TypingFrame),
        ({"action": "ping"}, PingFrame),
    ],
)
def test_valid_frames_parse_to_their_model(data, cls):
    frame = parse(data)
    assert isinstance(frame, cls) and frame.action == data["action"]


def test_defaults():
    history = parse({"action": "history", "room_id": "lobby"})
    assert history.limit == 50 and history.before is None and history.request_id is None
    assert parse({"action": "typing", "room_id": "lobby"}).is_typing is True
    assert parse({"action": "join", "room_id": "lobby"}).history_limit is None


@pytest.mark.parametrize(
    "data",
    [
        {"action": "join"},
        {"action": "join", "room_id": ""},
        {"action": "join", "room_id": "a" * 65},
        {"action": "join", "room_id": "has space"},
        {"action": "join", "room_id": "ROOM#x"},
        {"action": "join", "room_id": "lòbby"},
        {"action": "join", "room_id": 5},
        {"action": "join", "room_id": "lobby", "history_limit": 101},
        {"action": "join", "room_id": "lobby", "history_limit": -1},
        {"action": "send", "room_id": "lobby"},
        {"action": "send", "room_id": "lobby", "text": ""},
        {"action": "send", "room_id": "lobby", "text": 5},
        {"action": "send", "room_id": "lobby", "text": "x", "client_msg_id": ""},
        {"action": "send", "room_id": "lobby", "text": "x", "client_msg_id": "c" * 65},
        {"action": "send", "room_id": "lobby", "text": "x", "meta": [1]},
        {"action": "history", "room_id": "lobby", "limit": 0},
        {"action": "history", "room_id": "lobby", "limit": 101},
        {"action": "history", "room_id": "lobby", "limit": 2.5},
        {"action": "history", "room_id": "lobby", "before": "x" * 201},
        {"action": "typing", "room_id": "lobby", "is_typing": "maybe"},
        {"action": "ping", "extra": 1},
        {"action": "ping", "request_id": ""},
        {"action": "ping", "request_id": "r" * 65},
        {"action": "ping", "request_id": 7},
        {"action": "dance"},
        {},
    ],
)
def test_invalid_frames_are_refused(data):
    with pytest.raises(ValidationError):
        parse(data)


def test_text_longer_than_the_string_cap_is_refused_by_the_model():
    with pytest.raises(ValidationError):
        parse({"action": "send", "room_id": "lobby", "text": "x" * 65537})


def test_chat_actions_match_the_union():
    for action in CHAT_ACTIONS:
        with pytest.raises(ValidationError) as refused:
            parse({"action": action, "unexpected_field": 1})
        assert all(e["type"] != "union_tag_invalid" for e in refused.value.errors())


def test_outbound_frames_drop_none_fields():
    message = Message(id="i", room_id="r", user_id="u", name="U", text="t", sent_at="2026-01-01T00:00:00.000Z")
    ack = AckFrame(message=message).dump()
    assert ack == {
        "type": "ack",
        "message": {"id": "i", "room_id": "r", "user_id": "u", "name": "U", "text": "t", "sent_at": "2026-01-01T00:00:00.000Z"},
        "duplicate": False,
        "delivered": 0,
        "failed": 0,
        "gone": 0,
        "queued": 0,
    }
    assert ErrorFrame(code="c", message="m").dump() == {"type": "error", "code": "c", "message": "m"}
