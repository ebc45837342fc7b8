"""Every chat action's success path and every refusal, driven by the events/ samples on moto."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest

from tests.helpers import clear_posted, http_event, posted_frames, reply_body, ws_event


def _room(invoke: Any, room_id: str = "lobby") -> None:
    body = {"room_id": room_id, "name": f"Room {room_id}"}
    assert invoke("admin", http_event("http-create-room.json", body=body))["statusCode"] == 201


def _join(invoke: Any, connection_id: str, user_id: str, room_id: str = "lobby", **kw: Any) -> dict:
    body = {"action": "join", "room_id": room_id, "request_id": f"j-{connection_id}"}
    event = ws_event("ws-join.json", connection_id=connection_id, user_id=user_id, name=user_id.title(), body=body, **kw)
    return reply_body(invoke("chat", event))


def _frame(invoke: Any, body: dict | str, connection_id: str = "conn-alice-1", user_id: str = "alice") -> dict | None:
    sample = "ws-default.json"
    if isinstance(body, dict) and body.get("action") in {"join", "leave", "send", "history", "typing", "ping"}:
        sample = f"ws-{body['action']}.json"
    event = ws_event(sample, connection_id=connection_id, user_id=user_id, name=user_id.title(), body=body)
    return reply_body(invoke("chat", event))


def _stats(room_id: str = "lobby") -> dict[str, int]:
    from roomcast.dal.store import get_store

    room = get_store().get_room(room_id)
    assert room is not None
    return room.stats.model_dump()


def _items() -> list[dict]:
    """Every item of the table but rate buckets (a Scan is fine in a test: it is the test's
    own eyes). A refused send or typing still spends its token: floods of refused frames
    are limited too."""
    from roomcast.settings import get_settings

    client = boto3.client("dynamodb")
    items: list[dict] = []
    kwargs: dict[str, Any] = {"TableName": get_settings().table_name, "ConsistentRead": True}
    while True:
        page = client.scan(**kwargs)
        items.extend(i for i in page["Items"] if not i["sk"]["S"].startswith("RATE#"))
        if "LastEvaluatedKey" not in page:
            break
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
    return sorted(items, key=lambda i: (i["pk"]["S"], i["sk"]["S"]))


def _close(room_id: str = "lobby") -> None:
    from roomcast.dal.store import get_store

    assert get_store().transition_room(room_id, "open", "closed", closed_by="test")


# ------------------------------------------------------------------------ join


def test_join_replies_with_snapshot_and_history_and_broadcasts(stack, invoke):
    _room(invoke)
    _join(invoke, "conn-bob-1", "bob")
    clear_posted()
    joined = reply_body(invoke("chat", ws_event("ws-join.json")))
    assert joined["type"] == "joined" and joined["request_id"] == "r-join-1"
    assert joined["room"] == {"room_id": "lobby", "name": "Room lobby", "state": "open"}
    assert {m["user_id"] for m in joined["members"]} == {"alice", "bob"}
    assert joined["history"]["messages"] == []
    announced = posted_frames("conn-bob-1")
    assert [f["type"] for f in announced] == ["member.joined"]
    assert announced[0]["user_id"] == "alice" and announced[0]["connection_count"] == 1
    assert posted_frames("conn-alice-1") == []  # the joiner is told by the reply, not a broadcast
    assert _stats() == {"current_users": 2, "peak_users": 2, "total_joins": 2, "message_count": 0, "current_connections": 2, "peak_connections": 2}


def test_join_history_holds_the_latest_messages(stack, invoke):
    _room(invoke)
    _join(invoke, "conn-alice-1", "alice")
    sent = [_frame(invoke, {"action": "send", "room_id": "lobby", "text": f"m{i}"})["message"]["id"] for i in range(3)]
    joined = _join(invoke, "conn-bob-1", "bob")
    assert [m["id"] for m in joined["history"]["messages"]] == sorted(sent)
    assert {m["text"] for m in joined["history"]["messages"]} == {"m0", "m1", "m2"}


def test_join_unknown_room_is_room_not_found(stack, invoke):
    reply = reply_body(invoke("chat", ws_event("ws-join.json")))
    assert reply == {"type": "error", "code": "room_not_found", "message": "no such room", "request_id": "r-join-1"}


def test_join_closed_room_is_room_closed(stack, invoke):
    _room(invoke)
    _close()
    before = _items()
    reply = reply_body(invoke("chat", ws_event("ws-join.json")))
    assert reply["code"] == "room_closed" and reply["request_id"] == "r-join-1"
    assert _items() == before


def test_join_room_outside_token_rooms_is_forbidden(stack, invoke):
    _room(invoke)
    before = _items()
    reply = reply_body(invoke("chat", ws_event("ws-join.json", rooms=["elsewhere"])))
    assert reply["code"] == "forbidden" and reply["request_id"] == "r-join-1"
    assert _items() == before
    allowed = reply_body(invoke("chat", ws_event("ws-join.json", connection_id="c2", rooms=["lobby"])))
    assert allowed["type"] == "joined"


def test_repeated_join_is_not_a_second_join(stack, invoke):
    _room(invoke)
    _join(invoke, "conn-bob-1", "bob")
    first = reply_body(invoke("chat", ws_event("ws-join.json")))
    clear_posted()
    again = reply_body(invoke("chat", ws_event("ws-join.json")))
    assert first["type"] == again["type"] == "joined"
    assert [m["connections"] for m in again["members"] if m["user_id"] == "alice"] == [1]
    assert posted_frames("conn-bob-1") == []  # no second member.joined
    assert _stats() == {"current_users": 2, "peak_users": 2, "total_joins": 2, "message_count": 0, "current_connections": 2, "peak_connections": 2}


def test_second_connection_of_a_user_counts_connections(stack, invoke):
    _room(invoke)
    _join(invoke, "conn-alice-1", "alice")
    joined = _join(invoke, "conn-alice-2", "alice")
    assert joined["members"] == [
        {"user_id": "alice", "name": "Alice", "connections": 2, "joined_at": joined["members"][0]["joined_at"]}
    ]
    assert posted_frames("conn-alice-1")[-1]["connection_count"] == 2


# ----------------------------------------------------------------------- leave


def test_leave_ends_membership_session_and_tells_the_room(stack, invoke):
    _room(invoke)
    _join(invoke, "conn-alice-1", "alice")
    _join(invoke, "conn-bob-1", "bob")
    clear_posted()
    left = reply_body(invoke("chat", ws_event("ws-leave.json")))
    assert left == {"type": "left", "request_id": "r-leave-1", "room_id": "lobby"}
    told = posted_frames("conn-bob-1")
    assert [(f["type"], f["user_id"], f["connection_count"]) for f in told] == [("member.left", "alice", 0)]
    assert posted_frames("conn-alice-1") == []
    assert _stats()["current_users"] == 1
    from roomcast.dal.store import get_store

    sessions = [s for page in get_store().iter_sessions("lobby") for s in page if s.user_id == "alice"]
    assert len(sessions) == 1 and sessions[0].end_reason == "leave"
    assert sessions[0].left_at is not None and sessions[0].duration_ms == sessions[0].left_at - sessions[0].joined_at
    assert get_store().connection_rooms("conn-alice-1") == []


def test_leave_without_membership_is_not_member(stack, invoke):
    _room(invoke)
    reply = reply_body(invoke("chat", ws_event("ws-leave.json")))
    assert reply["code"] == "not_member" and reply["request_id"] == "r-leave-1"
    _join(invoke, "conn-alice-1", "alice")
    invoke("chat", ws_event("ws-leave.json"))
    twice = reply_body(invoke("chat", ws_event("ws-leave.json")))
    assert twice["code"] == "not_member"
    assert _stats()["current_users"] == 0


# ------------------------------------------------------------------------ send


def test_send_acks_after_write_with_delivered_count(stack, invoke):
    _room(invoke)
    for cid, user in [("conn-alice-1", "alice"), ("conn-bob-1", "bob"), ("conn-carol-1", "carol")]:
        _join(invoke, cid, user)
    clear_posted()
    ack = reply_body(invoke("chat", ws_event("ws-send.json")))
    assert ack["type"] == "ack" and ack["request_id"] == "r-send-1"
    assert (ack["delivered"], ack["failed"], ack["gone"], ack["duplicate"]) == (2, 0, 0, False)
    message = ack["message"]
    assert message["text"] == "hello, room" and message["user_id"] == "alice" and message["client_msg_id"] == "c-1"
    for cid in ("conn-bob-1", "conn-carol-1"):
        assert posted_frames(cid) == [{"type": "message", "message": message}]
    assert posted_frames("conn-alice-1") == []
    assert _stats()["message_count"] == 1
    from roomcast.dal.store import get_store

    history, _ = get_store().history("lobby", None, 10)
    assert [m.message_id for m in history] == [message["id"]]


def test_send_without_membership_is_not_member(stack, invoke):
    _room(invoke)
    before = _items()
    reply = reply_body(invoke("chat", ws_event("ws-send.json")))
    assert reply["code"] == "not_member" and reply["request_id"] == "r-send-1"
    assert _items() == before


def test_send_to_unknown_room_is_refused(stack, invoke):
    reply = _frame(invoke, {"action": "send", "room_id": "nowhere", "text": "x", "request_id": "q"})
    assert reply["type"] == "error" and reply["code"] in {"not_member", "room_not_found"}
    assert reply["request_id"] == "q"


def test_send_text_over_the_limit_is_payload_too_large(stack, invoke):
    from roomcast.settings import get_settings

    _room(invoke)
    _join(invoke, "conn-alice-1", "alice")
    before = _items()
    limit = get_settings().max_message_chars
    at_limit = _frame(invoke, {"action": "send", "room_id": "lobby", "text": "a" * limit})
    assert at_limit["type"] == "ack"
    after_ok = _items()
    assert len(after_ok) == len(before) + 1
    over = _frame(invoke, {"action": "send", "room_id": "lobby", "text": "a" * (limit + 1), "request_id": "big"})
    assert over["code"] == "payload_too_large" and over["request_id"] == "big"
    assert _items() == after_ok


def test_send_meta_over_the_limit_is_payload_too_large(stack, invoke):
    _room(invoke)
    _join(invoke, "conn-alice-1", "alice")
    before = _items()
    reply = _frame(invoke, {"action": "send", "room_id": "lobby", "text": "hi", "meta": {"blob": "x" * 4000}, "request_id": "m"})
    assert reply["code"] == "payload_too_large" and reply["request_id"] == "m"
    assert _items() == before
    small = _frame(invoke, {"action": "send", "room_id": "lobby", "text": "hi", "meta": {"reply_to": "abc"}})
    assert small["message"]["meta"] == {"reply_to": "abc"}


def test_idempotent_resend_returns_the_same_message_and_writes_nothing(stack, invoke):
    _room(invoke)
    _join(invoke, "conn-alice-1", "alice")
    _join(invoke, "conn-bob-1", "bob")
    first = reply_body(invoke("chat", ws_event("ws-send.json")))
    after_first = _items()
    clear_posted()
    again = reply_body(invoke("chat", ws_event("ws-send.json")))
    assert again["duplicate"] is True and again["message"] == first["message"]
    assert again["request_id"] == "r-send-1"
    assert _items() == after_first  # no second message, no second count
    assert posted_frames("conn-bob-1") == []  # nor a second fan-out
    assert _stats()["message_count"] == 1
    # Another user's same client_msg_id is a different message.
    other = _frame(invoke, {"action": "send", "room_id": "lobby", "text": "hello, room", "client_msg_id": "c-1"}, "conn-bob-1", "bob")
    assert other["duplicate"] is False and other["message"]["id"] != first["message"]["id"]


def test_send_after_close_is_room_closed(stack, invoke):
    _room(invoke)
    _join(invoke, "conn-alice-1", "alice")
    _close()
    before = _items()
    reply = reply_body(invoke("chat", ws_event("ws-send.json")))
    assert reply["code"] == "room_closed" and reply["request_id"] == "r-send-1"
    assert _items() == before


# --------------------------------------------------------------------- history


def test_history_pages_backwards_across_pages(stack, invoke):
    _room(invoke)
    _join(invoke, "conn-alice-1", "alice")
    ids = [_frame(invoke, {"action": "send", "room_id": "lobby", "text": f"n{i}"})["message"]["id"] for i in range(7)]
    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        body: dict[str, Any] = {"action": "history", "room_id": "lobby", "limit": 3, "request_id": f"h{pages}"}
        if cursor:
            body["before"] = cursor
        page = _frame(invoke, body)
        assert page["type"] == "history" and page["request_id"] == f"h{pages}" and page["room_id"] == "lobby"
        page_ids = [m["id"] for m in page["messages"]]
        assert page_ids == sorted(page_ids)  # each page reads oldest first
        assert len(page_ids) <= 3
        seen = page_ids + seen
        pages += 1
        cursor = page.get("next_cursor")
        if not cursor:
            break
        assert pages < 10
    assert pages == 3
    assert seen == sorted(ids) and len(set(seen)) == 7


def test_history_sample_and_exact_page_has_no_dangling_cursor(stack, invoke):
    _room(invoke)
    _join(invoke, "conn-alice-1", "alice")
    _frame(invoke, {"action": "send", "room_id": "lobby", "text": "only"})
    page = reply_body(invoke("chat", ws_event("ws-history.json")))
    assert page["request_id"] == "r-history-1" and [m["text"] for m in page["messages"]] == ["only"]
    assert "next_cursor" not in page


def test_history_without_membership_is_not_member(stack, invoke):
    _room(invoke)
    reply = reply_body(invoke("chat", ws_event("ws-history.json")))
    assert reply["code"] == "not_member" and reply["request_id"] == "r-history-1"


@pytest.mark.parametrize("cursor", ["nope", "0" * 24, "g" * 25, "MSG#x", "../../etc"])
def test_history_invalid_cursor(stack, invoke, cursor):
    _room(invoke)
    _join(invoke, "conn-alice-1", "alice")
    reply = _frame(invoke, {"action": "history", "room_id": "lobby", "before": cursor, "request_id": "hc"})
    assert reply["code"] == "invalid_cursor" and reply["request_id"] == "hc"


# ---------------------------------------------------------------------- typing


def test_typing_is_relayed_to_others_and_never_stored(stack, invoke):
    _room(invoke)
    _join(invoke, "conn-alice-1", "alice")
    _join(invoke, "conn-bob-1", "bob")
    clear_posted()
    before = _items()
    response = invoke("chat", ws_event("ws-typing.json"))
    assert response == {"statusCode": 200}  # no reply frame
    assert posted_frames("conn-bob-1") == [
        {"type": "typing", "room_id": "lobby", "user_id": "alice", "name": "Alice", "is_typing": True}
    ]
    assert posted_frames("conn-alice-1") == []
    assert _items() == before


def test_typing_without_membership_is_not_member(stack, invoke):
    _room(invoke)
    _join(invoke, "conn-bob-1", "bob")
    clear_posted()
    reply = _frame(invoke, {"action": "typing", "room_id": "lobby", "request_id": "t1"})
    assert reply["code"] == "not_member" and reply["request_id"] == "t1"
    assert posted_frames("conn-bob-1") == []


# ------------------------------------------------------------- ping / $default


def test_ping_pongs_with_the_request_id(stack, invoke):
    pong = reply_body(invoke("chat", ws_event("ws-ping.json")))
    assert pong["type"] == "pong" and pong["request_id"] == "r-ping-1"
    assert pong["server_time"].endswith("Z")
    bare = _frame(invoke, {"action": "ping"})
    assert bare["type"] == "pong" and "request_id" not in bare


def test_default_route_answers_unknown_action(stack, invoke):
    reply = reply_body(invoke("chat", ws_event("ws-default.json")))
    assert reply["type"] == "error" and reply["code"] == "unknown_action" and reply["request_id"] == "r-default-1"


@pytest.mark.parametrize(
    ("body", "code", "request_id"),
    [
        ("{not json", "invalid_frame", None),
        ("[1, 2, 3]", "invalid_frame", None),
        ('"join"', "invalid_frame", None),
        ("null", "invalid_frame", None),
        ("", "invalid_frame", None),
        ('{"request_id": "r1"}', "unknown_action", "r1"),
        ('{"action": 7, "request_id": "r2"}', "unknown_action", "r2"),
        ('{"action": "join", "request_id": "r3"}', "invalid_frame", "r3"),
        ('{"action": "send", "room_id": "lobby", "request_id": "r4"}', "invalid_frame", "r4"),
        ('{"action": "send", "room_id": "lobby", "text": "", "request_id": "r5"}', "invalid_frame", "r5"),
        ('{"action": "ping", "request_id": "r6", "extra": 1}', "invalid_frame", "r6"),
        ('{"action": "join", "room_id": "lob by", "request_id": "r7"}', "invalid_frame", "r7"),
        ('{"action": "history", "room_id": "lobby", "limit": 1000, "request_id": "r8"}', "invalid_frame", "r8"),
        ('{"action": "typing", "room_id": "lobby", "is_typing": "maybe", "request_id": "r9"}', "invalid_frame", "r9"),
        ('{"action": "ping", "request_id": 5}', "invalid_frame", None),
    ],
)
def test_bad_frames_get_error_frames(stack, invoke, body, code, request_id):
    _room(invoke)
    before = _items()
    event = ws_event("ws-default.json", body=body)
    reply = reply_body(invoke("chat", event))
    assert reply["type"] == "error" and reply["code"] == code, reply
    assert reply.get("request_id") == request_id
    assert isinstance(reply["message"], str) and "Traceback" not in reply["message"]
    assert _items() == before


def test_binary_frame_is_invalid(stack, invoke):
    event = ws_event("ws-ping.json")
    event["isBase64Encoded"] = True
    reply = reply_body(invoke("chat", event))
    assert reply["code"] == "invalid_frame"


def test_oversized_frame_is_payload_too_large(stack, invoke):
    body = json.dumps({"action": "send", "room_id": "lobby", "text": "x" * 40_000, "request_id": "huge"})
    reply = reply_body(invoke("chat", ws_event("ws-send.json", body=body)))
    assert reply["code"] == "payload_too_large" and reply["request_id"] == "huge"


def test_frame_without_identity_is_unauthorized(stack, invoke):
    event = ws_event("ws-ping.json")
    del event["requestContext"]["authorizer"]
    reply = reply_body(invoke("chat", event))
    assert reply["code"] == "unauthorized" and reply["request_id"] == "r-ping-1"


# ------------------------------------------------- regressions found by the property test


def test_lone_surrogate_text_is_refused_before_anything_is_stored(stack, invoke):
    # Valid UTF-8 JSON on the wire, but "\ud800" decodes to a lone surrogate: stored, it
    # made the fan-out (UTF-8 encode) fail after the write and poisoned every later join.
    _room(invoke)
    _join(invoke, "conn-alice-1", "alice")
    _join(invoke, "conn-bob-1", "bob")
    clear_posted()
    before = _items()
    body = '{"action": "send", "room_id": "lobby", "text": "hi \\ud800 there", "request_id": "sur"}'
    reply = reply_body(invoke("chat", ws_event("ws-send.json", body=body)))
    assert reply["code"] == "invalid_frame" and reply["request_id"] == "sur"
    assert _items() == before and posted_frames("conn-bob-1") == []
    # A surrogate request_id is not echoed (the reply must stay UTF-8).
    bad_rid = reply_body(invoke("chat", ws_event("ws-ping.json", body='{"action": "ping", "request_id": "\\udfff"}')))
    assert bad_rid["code"] == "invalid_frame" and "request_id" not in bad_rid
    # Proper astral characters (a valid surrogate pair) are fine.
    ok = reply_body(invoke("chat", ws_event("ws-send.json", body='{"action": "send", "room_id": "lobby", "text": "\\ud83d\\ude00"}')))
    assert ok["type"] == "ack" and ok["message"]["text"] == "\U0001f600"


@pytest.mark.parametrize("body", ["[" * 20000 + "]" * 20000, '{"a":' * 5000 + "1" + "}" * 5000, "[" * 30000])
def test_absurdly_nested_json_is_invalid_frame(stack, invoke, body):
    body = body[: 32 * 1024]
    reply = reply_body(invoke("chat", ws_event("ws-default.json", body=body)))
    # Never internal_error: deep nesting used to escape as a RecursionError.
    assert reply["type"] == "error" and reply["code"] in {"invalid_frame", "unknown_action"}


def test_history_keeps_send_order_within_one_millisecond(stack, invoke, monkeypatch):
    # Sends here rarely share a millisecond; tests/unit/test_ids.py pins that case exactly.
    from roomcast.settings import reset_settings

    monkeypatch.setenv("SEND_RATE_BURST", "100")  # 30 sends at once: above the default burst
    reset_settings()
    _room(invoke)
    _join(invoke, "conn-alice-1", "alice")
    texts = [f"burst-{i:02d}" for i in range(30)]
    for text in texts:
        _frame(invoke, {"action": "send", "room_id": "lobby", "text": text})
    page = _frame(invoke, {"action": "history", "room_id": "lobby", "limit": 100})
    assert [m["text"] for m in page["messages"]] == texts


def _nested(depth: int) -> dict:
    root: dict = {}
    node = root
    for _ in range(depth - 1):
        node["a"] = {}
        node = node["a"]
    return root


@pytest.mark.parametrize(
    "meta_json",
    [
        '{"a": NaN}',
        '{"a": Infinity}',
        '{"a": -Infinity}',
        '{"a": 1e400}',
        '{"a": 1e-200}',
        '{"a": 1.5e300}',
        '{"a": 100000000000000000000000000000000000000001}',
        '{"": 1}',
        '{"a": [{"": 1}]}',
        json.dumps(_nested(40)),
        json.dumps(_nested(17)),
    ],
)
def test_meta_dynamodb_cannot_hold_is_invalid_frame(stack, invoke, meta_json):
    # These used to answer internal_error (boto3 refused to serialise them) or, worse,
    # were stored and then broke every later history read of the room.
    _room(invoke)
    _join(invoke, "conn-alice-1", "alice")
    before = _items()
    body = '{"action": "send", "room_id": "lobby", "text": "x", "request_id": "meta", "meta": ' + meta_json + "}"
    reply = reply_body(invoke("chat", ws_event("ws-send.json", body=body)))
    assert reply["code"] == "invalid_frame" and reply["request_id"] == "meta", reply
    assert _items() == before
    assert _frame(invoke, {"action": "history", "room_id": "lobby"})["type"] == "history"


def test_meta_within_limits_round_trips(stack, invoke):
    _room(invoke)
    _join(invoke, "conn-alice-1", "alice")
    meta = {"reply_to": "abc", "n": 2**53 - 1, "f": 0.1, "tiny": 1e-120, "z": 0, "b": True, "nil": None, "l": [1, "x", {"k": []}], "deep": _nested(15)}  # 16 levels in all
    ack = _frame(invoke, {"action": "send", "room_id": "lobby", "text": "x", "meta": meta})
    assert ack["type"] == "ack" and ack["message"]["meta"] == meta
    page = _frame(invoke, {"action": "history", "room_id": "lobby"})
    assert page["messages"][-1]["meta"] == meta
