"""The core flow once through: create a room, join two users, chat, read history, leave."""

from __future__ import annotations

from tests.helpers import http_event, posted_frames, reply_body, ws_event


def test_create_join_send_history_leave(stack, invoke):
    created = invoke("admin", http_event("http-create-room.json"))
    assert created["statusCode"] == 201, created
    alice = invoke("chat", ws_event("ws-join.json"))
    joined = reply_body(alice)
    assert joined["type"] == "joined" and joined["request_id"] == "r-join-1"
    assert [m["user_id"] for m in joined["members"]] == ["alice"]
    bob = reply_body(invoke("chat", ws_event("ws-join.json", connection_id="conn-bob-1", user_id="bob", name="Bob")))
    assert {m["user_id"] for m in bob["members"]} == {"alice", "bob"}
    assert posted_frames("conn-alice-1")[-1]["type"] == "member.joined"

    ack = reply_body(invoke("chat", ws_event("ws-send.json")))
    assert ack["type"] == "ack" and ack["delivered"] == 1 and not ack["duplicate"]
    assert posted_frames("conn-bob-1")[-1]["message"]["text"] == "hello, room"

    again = reply_body(invoke("chat", ws_event("ws-send.json")))
    assert again["duplicate"] is True and again["message"]["id"] == ack["message"]["id"]

    history = reply_body(invoke("chat", ws_event("ws-history.json", connection_id="conn-bob-1", user_id="bob")))
    assert [m["id"] for m in history["messages"]] == [ack["message"]["id"]]

    left = reply_body(invoke("chat", ws_event("ws-leave.json")))
    assert left == {"type": "left", "request_id": "r-leave-1", "room_id": "lobby"}
    room = reply_body(invoke("admin", http_event("http-get-room.json")))
    assert room["stats"] == {"current_users": 1, "peak_users": 2, "total_joins": 2, "message_count": 1, "current_connections": 1, "peak_connections": 2}
