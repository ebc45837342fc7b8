"""Server-side messaging routes (issue 13): POST /rooms/{id}/messages, /messages/batch,
/users/{id}/notifications and the `inbox` action, success and every refusal, on moto."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.helpers import clear_posted, posted_frames, reply_body, ws_event
from tests.integration.test_fanout_split import api as api  # a fixture, used by name
from tests.integration.webhook_support import admin, create_room

BOT = {"user_id": "helper-bot", "name": "Helper", "kind": "bot"}
SYSTEM = {"user_id": "system", "name": "System"}


def _join(invoke: Any, connection_id: str, user_id: str, room_id: str = "lobby") -> dict:
    invoke("connect", ws_event("ws-connect.json", connection_id, user_id, user_id.title()))
    body = {"action": "join", "room_id": room_id}
    return reply_body(invoke("chat", ws_event("ws-join.json", connection_id, user_id, user_id.title(), body=body)))


def _chat(invoke: Any, connection_id: str, user_id: str, body: dict) -> dict:
    return reply_body(invoke("chat", ws_event("ws-default.json", connection_id, user_id, user_id.title(), body=body)))


def _keyed(invoke: Any, path: str, body: Any, key: str | None) -> tuple[int, Any]:
    """An admin call with a missing (None) or given X-Api-Key."""
    from tests.helpers import http_event

    event = http_event("http-get-room.json", api_key=key)
    event["rawPath"] = event["requestContext"]["http"]["path"] = path
    event["requestContext"]["http"]["method"] = "POST"
    event["routeKey"] = f"POST {path}"
    event["body"] = json.dumps(body)
    response = invoke("admin", event)
    return response["statusCode"], json.loads(response["body"])


def _history(room_id: str = "lobby") -> list[Any]:
    from roomcast.dal.store import get_store

    return get_store().history(room_id, None, 100)[0]


@pytest.fixture
def lobby(stack, invoke):
    create_room(invoke, "lobby", None)
    _join(invoke, "conn-alice-1", "alice")
    _join(invoke, "conn-bob-1", "bob")
    clear_posted()
    return "lobby"


# ---------------------------------------------------------------- POST /rooms/{id}/messages


def test_server_message_is_stored_fanned_out_and_acked_like_a_send(lobby, invoke):
    status, ack = admin(invoke, "POST", "/rooms/lobby/messages", {"sender": BOT, "text": "hello from the bot"})
    assert status == 201, ack
    assert ack["type"] == "ack" and ack["delivered"] == 2 and ack["duplicate"] is False
    message = ack["message"]
    assert message["user_id"] == "helper-bot" and message["sender_kind"] == "bot"
    # Every member gets it (the server has no connection of its own to leave out).
    for conn in ("conn-alice-1", "conn-bob-1"):
        assert [f["message"]["id"] for f in posted_frames(conn) if f["type"] == "message"] == [message["id"]]
    stored = _history()
    assert [(m.text, m.sender_kind) for m in stored] == [("hello from the bot", "bot")]
    # A client's history shows the flag too; the ack shape is the WS send's.
    page = _chat(invoke, "conn-alice-1", "alice", {"action": "history", "room_id": "lobby"})
    assert page["messages"][0]["sender_kind"] == "bot"
    sent = _chat(invoke, "conn-alice-1", "alice", {"action": "send", "room_id": "lobby", "text": "hi"})
    assert set(sent) == set(ack) and "sender_kind" not in sent["message"]


def test_server_message_default_kind_is_system_and_counts_in_stats(lobby, invoke):
    status, ack = admin(invoke, "POST", "/rooms/lobby/messages", {"sender": SYSTEM, "text": "maintenance at 5"})
    assert status == 201 and ack["message"]["sender_kind"] == "system"
    assert admin(invoke, "GET", "/rooms/lobby")[1]["stats"]["message_count"] == 1


def test_duplicate_client_msg_id_answers_the_original_and_sends_nothing(lobby, invoke):
    body = {"sender": SYSTEM, "text": "once", "client_msg_id": "notice-1"}
    first = admin(invoke, "POST", "/rooms/lobby/messages", body)
    clear_posted()
    again = admin(invoke, "POST", "/rooms/lobby/messages", {**body, "text": "twice?"})
    assert first[0] == 201 and again[0] == 200
    assert again[1]["duplicate"] is True and again[1]["message"] == first[1]["message"]
    assert posted_frames("conn-alice-1") == []
    assert [m.text for m in _history()] == ["once"]


def test_unknown_room_is_room_not_found(stack, invoke):
    status, body = admin(invoke, "POST", "/rooms/nowhere/messages", {"sender": SYSTEM, "text": "x"})
    assert (status, body["code"]) == (404, "room_not_found")


def test_closed_room_is_room_closed_and_stores_nothing(lobby, invoke):
    assert admin(invoke, "DELETE", "/rooms/lobby")[0] == 202
    status, body = admin(invoke, "POST", "/rooms/lobby/messages", {"sender": SYSTEM, "text": "late"})
    assert (status, body["code"]) == (409, "room_closed")
    assert _history() == []


@pytest.mark.parametrize(
    "body",
    [
        {"text": "no sender"},
        {"sender": SYSTEM},
        {"sender": SYSTEM, "text": ""},
        {"sender": {**SYSTEM, "kind": "user"}, "text": "x"},
        {"sender": {**SYSTEM, "user_id": "bad id!"}, "text": "x"},
        {"sender": SYSTEM, "text": "x", "extra": 1},
        {"sender": SYSTEM, "text": "x", "meta": {"": 1}},
    ],
)
def test_bad_body_is_bad_request(lobby, invoke, body):
    status, answer = admin(invoke, "POST", "/rooms/lobby/messages", body)
    assert (status, answer["code"]) in {(400, "bad_request"), (400, "invalid_frame")}, answer
    assert _history() == []


def test_text_over_the_limit_is_payload_too_large(lobby, invoke):
    from roomcast.settings import get_settings

    limit = get_settings().max_message_chars
    assert admin(invoke, "POST", "/rooms/lobby/messages", {"sender": SYSTEM, "text": "é" * limit})[0] == 201
    status, body = admin(invoke, "POST", "/rooms/lobby/messages", {"sender": SYSTEM, "text": "é" * (limit + 1)})
    assert (status, body["code"]) == (413, "payload_too_large")
    assert len(_history()) == 1


@pytest.mark.parametrize("key", [None, "wrong-key-0123456789"])
def test_missing_or_wrong_key_is_unauthorized(lobby, invoke, key):
    for path, body in (
        ("/rooms/lobby/messages", {"sender": SYSTEM, "text": "x"}),
        ("/messages/batch", {"sender": SYSTEM, "text": "x", "room_ids": ["lobby"]}),
        ("/users/alice/notifications", {"type": "t"}),
        ("/rooms/lobby/streams", {"sender": BOT}),
    ):
        status, answer = _keyed(invoke, path, body, key)
        assert (status, answer) == ((401, {"message": "Unauthorized"}) if key is None else (403, {"message": "Forbidden"})), path
    assert _history() == [] and posted_frames("conn-alice-1") == []


# ---------------------------------------------------------------- POST /messages/batch


def test_batch_publishes_per_room_and_a_refusal_fails_alone(lobby, invoke):
    create_room(invoke, "other", None)
    create_room(invoke, "shut", None)
    assert admin(invoke, "DELETE", "/rooms/shut")[0] == 202
    body = {"sender": SYSTEM, "text": "to all", "client_msg_id": "b1", "room_ids": ["lobby", "nowhere", "shut", "other"]}
    status, result = admin(invoke, "POST", "/messages/batch", body)
    assert status == 200, result
    by_room = {r["room_id"]: r for r in result["results"]}
    assert [r["room_id"] for r in result["results"]] == body["room_ids"]
    assert by_room["lobby"]["ok"] and by_room["lobby"]["ack"]["delivered"] == 2
    assert by_room["other"]["ok"] and by_room["other"]["ack"]["delivered"] == 0
    assert by_room["nowhere"]["error"]["code"] == "room_not_found"
    assert by_room["shut"]["error"]["code"] == "room_closed"
    assert (result["succeeded"], result["failed"]) == (2, 2)
    assert [m.text for m in _history("lobby")] == [m.text for m in _history("other")] == ["to all"]
    # The same batch again: idempotent per room.
    again = admin(invoke, "POST", "/messages/batch", body)[1]
    assert [r["ack"]["duplicate"] for r in again["results"] if r["ok"]] == [True, True]
    assert len(_history("lobby")) == 1


def test_batch_of_100_rooms_and_its_refusals(stack, invoke):
    rooms = [f"r{i}" for i in range(100)]
    for room in rooms:
        create_room(invoke, room, None)
    status, result = admin(invoke, "POST", "/messages/batch", {"sender": SYSTEM, "text": "n", "room_ids": rooms})
    assert status == 200 and result["succeeded"] == 100
    too_many = admin(invoke, "POST", "/messages/batch", {"sender": SYSTEM, "text": "n", "room_ids": [*rooms, "r100"]})
    assert (too_many[0], too_many[1]["code"]) == (400, "bad_request")
    repeated = admin(invoke, "POST", "/messages/batch", {"sender": SYSTEM, "text": "n", "room_ids": ["r1", "r1"]})
    assert (repeated[0], repeated[1]["code"]) == (400, "bad_request")
    empty = admin(invoke, "POST", "/messages/batch", {"sender": SYSTEM, "text": "n", "room_ids": []})
    assert empty[0] == 400
    huge = admin(invoke, "POST", "/messages/batch", {"sender": SYSTEM, "text": "x" * 8001, "room_ids": ["r1"]})
    assert (huge[0], huge[1]["code"]) == (413, "payload_too_large")
    assert len(_history("r1")) == 1


# ---------------------------------------------------------------- notifications and inbox


def test_notification_reaches_every_connection_of_the_user_only(lobby, invoke):
    invoke("connect", ws_event("ws-connect.json", "conn-alice-2", "alice", "Alice"))  # in no room
    status, result = admin(invoke, "POST", "/users/alice/notifications", {"type": "mention", "data": {"by": "bob"}})
    assert status == 201, result
    assert result["connections"] == 2 and result["delivered"] == 2 and result["stored"] is False
    for conn in ("conn-alice-1", "conn-alice-2"):
        frames = [f for f in posted_frames(conn) if f["type"] == "notification"]
        assert [f["notification"]["data"] for f in frames] == [{"by": "bob"}]
        assert frames[0]["notification"]["user_id"] == "alice" and "inbox" not in frames[0]["notification"]
    assert posted_frames("conn-bob-1") == []
    # Not stored: the inbox stays empty.
    inbox = _chat(invoke, "conn-alice-1", "alice", {"action": "inbox"})
    assert inbox["items"] == [] and inbox["unread"] == 0


def test_notification_to_a_user_with_no_connection_is_stored_only(stack, invoke):
    status, result = admin(invoke, "POST", "/users/carol/notifications", {"type": "t", "store": True})
    assert status == 201 and result["connections"] == 0 and result["stored"] is True


def test_stored_notifications_page_mark_read_and_count_unread(lobby, invoke):
    ids = []
    for n in range(3):
        status, result = admin(invoke, "POST", "/users/alice/notifications", {"type": "n", "data": n, "store": True})
        assert status == 201 and result["notification"]["inbox"] is True
        ids.append(result["notification"]["id"])
    page = _chat(invoke, "conn-alice-1", "alice", {"action": "inbox", "limit": 2, "request_id": "i1"})
    assert page["request_id"] == "i1" and page["unread"] == 3
    assert [i["id"] for i in page["items"]] == [ids[2], ids[1]] and page["next_cursor"] == ids[1]
    rest = _chat(invoke, "conn-alice-1", "alice", {"action": "inbox", "before": page["next_cursor"]})
    assert [i["id"] for i in rest["items"]] == [ids[0]] and "next_cursor" not in rest
    marked = _chat(invoke, "conn-alice-1", "alice", {"action": "inbox", "mark_read": [ids[0], ids[1]], "limit": 0})
    assert marked["marked"] == 2 and marked["unread"] == 1 and marked["items"] == []
    # Again, with one more: only the unread one counts (no double decrement).
    again = _chat(invoke, "conn-alice-1", "alice", {"action": "inbox", "mark_read": [ids[0], ids[2]]})
    assert again["marked"] == 1 and again["unread"] == 0
    assert [i["read"] for i in again["items"]] == [True, True, True]
    # Bob's inbox is his own.
    assert _chat(invoke, "conn-bob-1", "bob", {"action": "inbox"})["items"] == []
    # A join carries the unread count (read with the join's room read).
    admin(invoke, "POST", "/users/alice/notifications", {"type": "n", "store": True})
    create_room(invoke, "second", None)
    joined = _chat(invoke, "conn-alice-1", "alice", {"action": "join", "room_id": "second"})
    assert joined["unread"] == 1
    assert "unread" not in _chat(invoke, "conn-bob-1", "bob", {"action": "join", "room_id": "second"})


@pytest.mark.parametrize(
    "frame",
    [
        {"action": "inbox", "limit": 51},
        {"action": "inbox", "before": "not-an-id"},
        {"action": "inbox", "mark_read": ["x"]},
        {"action": "inbox", "mark_read": ["0" * 25] * 26},
    ],
)
def test_inbox_refusals(lobby, invoke, frame):
    answer = _chat(invoke, "conn-alice-1", "alice", frame)
    assert answer["type"] == "error" and answer["code"] in {"invalid_frame", "invalid_cursor"}


@pytest.mark.parametrize(
    ("path", "body", "code"),
    [
        ("/users/alice/notifications", {"data": 1}, "bad_request"),
        ("/users/alice/notifications", {"type": "t", "data": "x" * 9000}, "bad_request"),
        ("/users/alice/notifications", {"type": "t", "ttl_seconds": 5}, "bad_request"),
        ("/users/bad%20id/notifications", {"type": "t"}, "bad_request"),
    ],
)
def test_notification_refusals(lobby, invoke, path, body, code):
    status, answer = admin(invoke, "POST", path, body)
    assert (status, answer["code"]) == (400, code), answer
    assert posted_frames("conn-alice-1") == []


def test_a_server_message_and_a_stream_in_a_split_room(api, invoke, monkeypatch):
    """Above the split threshold a server message takes the send's split fan-out (the
    first range inline, the rest as range jobs): every member gets it once, the ack says
    queued; a stream's deltas are not sent there, its final message is, the same way."""
    from tests.integration.test_fanout_split import SMALL, drain, seed_room, small_threshold

    small_threshold(monkeypatch)
    members = seed_room(invoke, api, members=SMALL)
    status, ack = admin(invoke, "POST", "/rooms/arena/messages", {"sender": SYSTEM, "text": "to a big room"})
    assert status == 201 and ack["queued"] > 0 and ack["delivered"] + ack["queued"] >= SMALL
    drain(invoke)
    received = api.received("message")
    assert all(received[m] == 1 for m in members) and received["conn-alice-1"] == 1
    stream = admin(invoke, "POST", "/rooms/arena/streams", {"sender": BOT})[1]["stream_id"]
    chunk = admin(invoke, "POST", f"/rooms/arena/streams/{stream}/chunks", {"seq": 0, "text": "big"})[1]
    assert chunk["delivered"] == 0 and api.received("message.delta") == {}
    end = admin(invoke, "POST", f"/rooms/arena/streams/{stream}/end")[1]
    assert end["queued"] > 0
    drain(invoke)
    assert all(c == 2 for c in (api.received("message")[m] for m in members))
