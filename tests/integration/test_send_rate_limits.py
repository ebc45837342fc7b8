"""Token buckets on `send` and `typing` (issue 9 item 3), per connection and per user across
connections: a flood from one connection is limited while a bystander in the same room
keeps receiving what was accepted and keeps sending; refusals carry a retry hint."""

from __future__ import annotations

from typing import Any

import pytest

from tests.helpers import clear_posted, http_event, posted_frames, reply_body, ws_event

ALICE = ("conn-alice-1", "alice", "Alice")
ALICE_2 = ("conn-alice-2", "alice", "Alice")
BOB = ("conn-bob-1", "bob", "Bob")


def frame(invoke: Any, who: tuple[str, str, str], body: dict[str, Any]) -> dict[str, Any] | None:
    return reply_body(invoke("chat", ws_event("ws-default.json", *who, body=body)))


@pytest.fixture
def lobby(stack, invoke, monkeypatch):
    from roomcast.ids import now_ms
    from roomcast.logic import chat

    # A frozen clock: no refill while the flood runs, so the counts are exact.
    frozen = now_ms()
    monkeypatch.setattr(chat, "now_ms", lambda: frozen)
    assert invoke("admin", http_event("http-create-room.json"))["statusCode"] == 201
    for who in (ALICE, ALICE_2, BOB):
        invoke("connect", ws_event("ws-connect.json", *who))
        assert frame(invoke, who, {"action": "join", "room_id": "lobby"})["type"] == "joined"
    clear_posted()


def test_a_send_flood_is_limited_while_a_bystander_keeps_receiving_and_sending(lobby, invoke):
    from roomcast.settings import get_settings

    burst = get_settings().send_rate_burst
    replies = [frame(invoke, ALICE, {"action": "send", "room_id": "lobby", "text": f"m{i}"}) for i in range(300)]
    acked = [r for r in replies if r["type"] == "ack"]
    refused = [r for r in replies if r["type"] == "error"]
    assert len(acked) == burst and len(refused) == 300 - burst
    assert {r["code"] for r in refused} == {"rate_limited"}
    interval = round(1000 / get_settings().send_rate_per_second)
    assert all(r["retry_after_ms"] == interval for r in refused)
    # The bystander received every accepted message, once, and nothing refused.
    received = [f["message"]["text"] for f in posted_frames(BOB[0]) if f["type"] == "message"]
    assert received == [f"m{i}" for i in range(burst)]
    # Its own bucket is untouched.
    assert frame(invoke, BOB, {"action": "send", "room_id": "lobby", "text": "still here"})["type"] == "ack"


def test_the_user_bucket_spans_connections(lobby, invoke, monkeypatch):
    from roomcast.settings import get_settings, reset_settings

    monkeypatch.setenv("USER_SEND_RATE_BURST", "30")  # below two connections' bursts (40)
    reset_settings()
    settings = get_settings()
    accepted = 0
    for i in range(200):
        who = ALICE if i % 2 == 0 else ALICE_2
        reply = frame(invoke, who, {"action": "send", "room_id": "lobby", "text": f"m{i}"})
        accepted += reply["type"] == "ack"
    # Two connections, each within its own burst, together stopped by the user's.
    assert accepted == settings.user_send_rate_burst == 30


def test_a_typing_flood_is_limited_and_fans_out_only_what_was_accepted(lobby, invoke):
    from roomcast.settings import get_settings

    burst = get_settings().typing_rate_burst
    replies = [frame(invoke, ALICE, {"action": "typing", "room_id": "lobby"}) for _ in range(300)]
    refused = [r for r in replies if r is not None]
    assert len(refused) == 300 - burst and {r["code"] for r in refused} == {"rate_limited"}
    assert all(r["retry_after_ms"] > 0 for r in refused)
    typed = [f for f in posted_frames(BOB[0]) if f["type"] == "typing"]
    assert len(typed) == burst


def test_limits_are_settings(stack, invoke, monkeypatch):
    from roomcast.settings import reset_settings

    monkeypatch.setenv("SEND_RATE_BURST", "3")
    # A slow refill, so the fourth send meets an empty bucket however long the first three
    # took on a loaded machine (at the default 5/s, 200 ms of sends refilled a token).
    monkeypatch.setenv("SEND_RATE_PER_SECOND", "0.01")
    reset_settings()
    assert invoke("admin", http_event("http-create-room.json"))["statusCode"] == 201
    invoke("connect", ws_event("ws-connect.json", *ALICE))
    frame(invoke, ALICE, {"action": "join", "room_id": "lobby"})
    replies = [frame(invoke, ALICE, {"action": "send", "room_id": "lobby", "text": "x"})["type"] for _ in range(4)]
    assert replies == ["ack", "ack", "ack", "error"]
