"""DynamoDB requests per operation (issue 10 item 2), counted from botocore as they leave,
in a room of 10 members: each at its documented count (docs/operations.md, "DynamoDB
requests per operation"), so an added round trip cannot slip in unnoticed."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

import botocore.handlers

from tests.helpers import http_event, reply_body, ws_event
from tests.integration.webhook_support import (
    QueueDriver,
    Reply,
    ScriptedReceiver,
    admin,
    create_room,
    provisioned_stack,
)

_counting: list[Counter[str] | None] = [None]


def _count(model: Any, **_: Any) -> None:
    counter = _counting[0]
    if counter is not None and model.service_model.service_name == "dynamodb":
        counter[model.name] += 1


botocore.handlers.BUILTIN_HANDLERS.append(("before-parameter-build", _count))


def counted(call: Any) -> Counter[str]:
    _counting[0] = counter = Counter()
    try:
        call()
    finally:
        _counting[0] = None
    return counter


MEMBERS = 10
# docs/operations.md, "DynamoDB requests per operation": change both together.
EXPECTED: dict[str, dict[str, int]] = {
    "connect": {"TransactWriteItems": 1},
    "join": {"TransactGetItems": 1, "TransactWriteItems": 1, "Query": 2},
    "send": {"UpdateItem": 2, "TransactWriteItems": 1, "Query": 1},
    "history": {"GetItem": 1, "Query": 1},
    # The membership and the mute (issue 14) in one TransactGetItems, as the GetItem was.
    "typing": {"UpdateItem": 2, "TransactGetItems": 1, "Query": 1},
    # Moderators' acts (issue 14): one read of the room and the moderator's roster entry,
    # the act with its MODLOG# (one transaction), the user's connections (index Query) and
    # their memberships (BatchGetItem); a kick's leave is the leave's own reads and writes.
    "mute": {"TransactGetItems": 1, "TransactWriteItems": 1, "Query": 1, "BatchGetItem": 1},
    "kick": {"TransactGetItems": 2, "TransactWriteItems": 1, "Query": 2, "BatchGetItem": 1},
    "leave": {"GetItem": 1, "TransactGetItems": 1, "TransactWriteItems": 1, "Query": 1},
    "disconnect": {"Query": 2, "GetItem": 1, "TransactGetItems": 1, "TransactWriteItems": 2, "DeleteItem": 1},
    # 9 for the room (its reads and state changes, zeroing the counters), one transaction per
    # 20 members, one BatchGetItem of their call locks: 11 for the 9 members left.
    "close": {"GetItem": 2, "UpdateItem": 5, "PutItem": 1, "Query": 1, "TransactWriteItems": 1, "BatchGetItem": 1},
    # One Query per section of the payload: messages, sessions, calls, moderation acts.
    "delivery": {"TransactGetItems": 1, "UpdateItem": 1, "Query": 4, "TransactWriteItems": 1},
    # Server-side messaging (issue 13).
    "server_message": {"TransactWriteItems": 1, "Query": 1},
    # The store's transaction, the user's connections, and the unread count it answers.
    "notification_stored": {"TransactWriteItems": 1, "Query": 1, "GetItem": 1},
    "inbox": {"Query": 1, "GetItem": 1},
    "stream_open": {"TransactWriteItems": 1},
    "stream_chunk": {"GetItem": 1, "PutItem": 1, "Query": 1},
    "stream_end": {"GetItem": 1, "TransactWriteItems": 1, "Query": 1},
}


def _room_of_ten(invoke: Any, url: str) -> list[tuple[str, str, str]]:
    create_room(invoke, "ten", url)
    people = [(f"conn-{i}", f"user{i}", f"User {i}") for i in range(MEMBERS)]
    for who in people:
        invoke("connect", ws_event("ws-connect.json", *who))
        assert reply_body(invoke("chat", ws_event("ws-join.json", *who, body={"action": "join", "room_id": "ten"})))["type"] == "joined"
    return people


def test_requests_per_operation(monkeypatch, invoke):
    with provisioned_stack(monkeypatch, schedule="1") as stack, ScriptedReceiver(default=Reply()) as receiver:
        people = _room_of_ten(invoke, receiver.url)
        extra = ("conn-x", "userx", "X")
        invoke("connect", ws_event("ws-connect.json", *extra))
        counts = {
            "connect": counted(lambda: invoke("connect", ws_event("ws-connect.json", "conn-y", "usery", "Y"))),
            "join": counted(lambda: invoke("chat", ws_event("ws-join.json", *extra, body={"action": "join", "room_id": "ten"}))),
            "send": counted(lambda: invoke("chat", ws_event("ws-default.json", *people[0], body={"action": "send", "room_id": "ten", "text": "hi"}))),
            "history": counted(lambda: invoke("chat", ws_event("ws-default.json", *people[0], body={"action": "history", "room_id": "ten"}))),
            "typing": counted(lambda: invoke("chat", ws_event("ws-default.json", *people[0], body={"action": "typing", "room_id": "ten"}))),
            "mute": counted(lambda: invoke("chat", ws_event("ws-default.json", *people[0], admin=True, body={"action": "mute", "room_id": "ten", "user_id": "user3"}))),
            "kick": counted(lambda: invoke("chat", ws_event("ws-default.json", *people[0], admin=True, body={"action": "kick", "room_id": "ten", "user_id": "user3"}))),
            "leave": counted(lambda: invoke("chat", ws_event("ws-leave.json", *extra, body={"action": "leave", "room_id": "ten"}))),
            "disconnect": counted(lambda: invoke("disconnect", ws_event("ws-disconnect.json", *people[1]))),
        }
        bot = {"user_id": "bot", "name": "Bot", "kind": "bot"}
        counts["server_message"] = counted(lambda: admin(invoke, "POST", "/rooms/ten/messages", {"sender": bot, "text": "hi"}))
        counts["notification_stored"] = counted(
            lambda: admin(invoke, "POST", "/users/user0/notifications", {"type": "t", "store": True})
        )
        counts["inbox"] = counted(lambda: invoke("chat", ws_event("ws-default.json", *people[0], body={"action": "inbox"})))
        opened: list[str] = []
        counts["stream_open"] = counted(
            lambda: opened.append(admin(invoke, "POST", "/rooms/ten/streams", {"sender": bot})[1]["stream_id"])
        )
        chunk = {"seq": 0, "text": "token"}
        counts["stream_chunk"] = counted(lambda: admin(invoke, "POST", f"/rooms/ten/streams/{opened[0]}/chunks", chunk))
        counts["stream_end"] = counted(lambda: admin(invoke, "POST", f"/rooms/ten/streams/{opened[0]}/end"))
        counts["close"] = counted(lambda: invoke("admin", _delete("ten")))
        jobs = QueueDriver(stack, invoke)
        counts["delivery"] = counted(lambda: jobs.poll_once())
    got = {name: dict(counter) for name, counter in counts.items()}
    assert got == EXPECTED, json.dumps(got)


def _delete(room_id: str) -> dict[str, Any]:
    event = http_event("http-get-room.json")
    event["rawPath"] = event["requestContext"]["http"]["path"] = f"/rooms/{room_id}"
    event["requestContext"]["http"]["method"] = "DELETE"
    event["routeKey"] = "DELETE /rooms/{room_id}"
    event["pathParameters"] = {"room_id": room_id}
    return event
