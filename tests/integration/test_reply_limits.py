"""Every server-to-client message within API Gateway's 128 KB (issue 9 item 2): history and
join pages bounded by bytes as well as count, `next_cursor` continuing where a page
stopped, a room too large to list in a join reply, and message text bounded in bytes."""

from __future__ import annotations

import json
import os
from typing import Any

import boto3
import pytest

from tests.helpers import http_event, reply_body, ws_event

LIMIT = 128 * 1024
# 8,000 characters of 3 bytes each (2 digits + 7,998 euro signs): 24 KB a message, so 20 of
# them (480 KB) need about 4 pages.
TEXT = "€" * 7998


def _chat(invoke: Any, body: dict[str, Any], who: tuple[str, str] = ("conn-alice-1", "alice")) -> tuple[int, dict]:
    # As a browser sends it: UTF-8 text, not \u escapes (which would triple the frame's size).
    raw = json.dumps(body, ensure_ascii=False)
    event = ws_event("ws-default.json", who[0], who[1], who[1].title(), body=raw)
    event["requestContext"]["routeKey"] = body["action"]
    response = invoke("chat", event)
    return len(response["body"].encode("utf-8")), reply_body(response)


@pytest.fixture
def room(stack, invoke) -> list[str]:
    assert invoke("admin", http_event("http-create-room.json", body={"room_id": "big", "name": "Big"}))["statusCode"] == 201
    invoke("connect", ws_event("ws-connect.json"))
    assert _chat(invoke, {"action": "join", "room_id": "big"})[1]["type"] == "joined"
    ids = []
    for i in range(20):
        _, ack = _chat(invoke, {"action": "send", "room_id": "big", "text": f"{i:02d}{TEXT}"})
        assert ack["type"] == "ack", ack
        ids.append(ack["message"]["id"])
    return ids


def test_history_pages_stop_at_128_kb_and_the_cursor_continues_without_gaps(room, invoke):
    seen: list[str] = []
    before = None
    pages = 0
    while True:
        body = {"action": "history", "room_id": "big", "limit": 20, **({"before": before} if before else {})}
        size, page = _chat(invoke, body)
        assert page["type"] == "history" and size <= LIMIT, size
        pages += 1
        ids = [m["id"] for m in page["messages"]]
        assert ids == sorted(ids) and ids, page.get("code")
        seen = ids + seen
        before = page.get("next_cursor")
        if before is None:
            break
        assert before == ids[0]  # continues from the oldest message the page holds
    assert seen == room  # every message once, in order: nothing skipped where a page was cut
    assert pages >= 4


def test_the_join_reply_stays_within_128_kb(room, invoke):
    invoke("connect", ws_event("ws-connect.json", "conn-bob-1", "bob", "Bob"))
    size, joined = _chat(invoke, {"action": "join", "room_id": "big", "history_limit": 20}, ("conn-bob-1", "bob"))
    assert joined["type"] == "joined" and size <= LIMIT, size
    kept = [m["id"] for m in joined["history"]["messages"]]
    assert 1 <= len(kept) < 20 and kept == room[-len(kept):]
    assert joined["history"]["next_cursor"] == kept[0]
    assert "members_truncated" not in joined


def test_a_room_too_large_to_list_lists_the_first_joined_and_says_so(stack, invoke):
    from roomcast.dal import keys
    from roomcast.dal.dynamo import to_item

    assert invoke("admin", http_event("http-create-room.json", body={"room_id": "arena", "name": "Arena"}))["statusCode"] == 201
    items = [
        {"pk": keys.room_pk("arena"), "sk": keys.member_sk(f"c{i:05d}"), "room_id": "arena", "connection_id": f"c{i:05d}",
         "user_id": f"user{i:05d}", "name": "N" * 40, "joined_at": 1_700_000_000_000 + i, "session_id": f"s{i:05d}"}
        for i in range(3000)
    ]
    client, table = boto3.client("dynamodb"), os.environ["TABLE_NAME"]
    for start in range(0, len(items), 25):
        request = {table: [{"PutRequest": {"Item": to_item(i)}} for i in items[start : start + 25]]}
        while request:
            request = client.batch_write_item(RequestItems=request).get("UnprocessedItems") or None
    invoke("connect", ws_event("ws-connect.json"))
    size, joined = _chat(invoke, {"action": "join", "room_id": "arena"})
    assert joined["type"] == "joined" and size <= LIMIT, size
    assert joined["members_truncated"] is True
    listed = [m["user_id"] for m in joined["members"]]
    assert 100 < len(listed) < 3000 and listed == [f"user{i:05d}" for i in range(len(listed))]
