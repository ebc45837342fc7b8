"""Which write is which event, for the items of issues 13 and 14 too.

The items are written here directly in the shapes dal/keys.py documents
(ROOM#<room>/MODLOG#<id> with act, by, target_user, at, until, message_id, reason;
ROOM#<room>/ROSTER#<user> with user_id, role; META access; MSG# flags), so each mapping
is tested on its own; tests/integration/test_events_from_features.py drives the real writes
of server messaging and moderation through the stream. The transition cases use images in the shape of the
records models (CallRecord, Room, Connection).
"""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from standardwebhooks.webhooks import Webhook

from roomcast.logic.events import event_of
from tests.integration.events_support import (
    EventsDriver,
    StreamReader,
    check_schema,
    create_endpoint,
    run_stream,
)
from tests.integration.webhook_support import (
    ScriptedReceiver,
    admin,
    create_room,
    provisioned_stack,
)


@pytest.fixture(name="events_stack")
def events_stack_fixture(monkeypatch: pytest.MonkeyPatch) -> Any:
    with provisioned_stack(monkeypatch, EVENT_OFFLINE_MAX_USERS="2") as stack:
        yield stack


def _s(v: str) -> dict[str, str]:
    return {"S": v}


def _put(table: str, item: dict[str, Any]) -> None:
    boto3.client("dynamodb", region_name="us-east-1").put_item(TableName=table, Item=item)


def _msg(room: str, n: int, text: str, **extra: dict[str, str]) -> dict[str, Any]:
    mid = f"{1_800_000_000_000 + n:013x}{n:012x}"
    return {"pk": _s(f"ROOM#{room}"), "sk": _s(f"MSG#{mid}"), "room_id": _s(room), "message_id": _s(mid),
            "user_id": _s("alice"), "name": _s("Alice"), "text": _s(text), "sent_at": {"N": str(1_800_000_000_000 + n)},
            **extra}


def _modlog(room: str, n: int, act: str, **extra: Any) -> dict[str, Any]:
    return {"pk": _s(f"ROOM#{room}"), "sk": _s(f"MODLOG#{n:020d}"), "act": _s(act), "by": _s("mod"),
            "target_user": _s("bob"), "at": {"N": str(1_800_000_000_000 + n)}, **extra}


def test_moderation_and_offline_events_from_the_documented_items(events_stack, invoke):
    table = events_stack.tables["Table"]
    stream = StreamReader(events_stack)
    with ScriptedReceiver() as receiver:
        endpoint = create_endpoint(admin, invoke, receiver.url,
                                   event_types=["message.created", "message.deleted", "message.offline",
                                                "moderation.banned", "moderation.muted", "moderation.role_changed"])
        create_room(invoke, "club", None)
        # Members-only (issue 14): META access, a roster of four; carol is present.
        boto3.client("dynamodb", region_name="us-east-1").update_item(
            TableName=table, Key={"pk": _s("ROOM#club"), "sk": _s("META")},
            UpdateExpression="SET #a = :m", ExpressionAttributeNames={"#a": "access"},
            ExpressionAttributeValues={":m": _s("members")})
        for user in ("alice", "bob", "carol", "dave", "erin"):
            _put(table, {"pk": _s("ROOM#club"), "sk": _s(f"ROSTER#{user}"), "user_id": _s(user), "role": _s("member")})
        _put(table, {"pk": _s("ROOM#club"), "sk": _s("PRESENCE#carol"), "connections": {"N": "1"}})
        stream.new()
        _put(table, _msg("club", 1, "hi all", sender_kind=_s("bot")))
        _put(table, _modlog("club", 2, "banned", until={"N": str(1_800_000_600_000)}, reason=_s("spam")))
        _put(table, _modlog("club", 3, "message_deleted", message_id=_s("m1")))
        _put(table, _modlog("club", 4, "muted"))
        _put(table, _modlog("club", 5, "kicked"))  # not subscribed: filtered out
        _put(table, _modlog("club", 6, "role_changed", role=_s("moderator")))
        records = stream.new()
        run_stream(invoke, records)
        EventsDriver(events_stack, invoke).drain()
        (request,) = receiver.requests
        events = Webhook(endpoint["secret"]).verify(request.body, request.headers)["data"]["events"]
    for event in events:
        check_schema(event)
    assert [e["type"] for e in events] == ["message.created", "message.offline", "moderation.banned",
                                           "message.deleted", "moderation.muted", "moderation.role_changed"]
    created, offline, banned, deleted, _, role = events
    # The role the user has now, which the role_changed schema requires.
    assert (role["data"]["role"], role["data"]["target_user"]) == ("moderator", "bob")
    assert created["data"]["message"]["sender_kind"] == "bot"
    # Roster minus the present (carol) and the sender (alice), cut at EVENT_OFFLINE_MAX_USERS=2.
    assert offline["data"]["offline_user_ids"] == ["bob", "dave"] and offline["data"]["offline_truncated"] is True
    assert banned["data"]["target_user"] == "bob" and banned["data"]["reason"] == "spam"
    assert banned["data"]["until"].startswith("2027-")
    assert deleted["data"]["message_id"] == "m1" and deleted["data"]["act"] == "message_deleted"


def _record(name: str, sk: str, new: dict[str, Any] | None, old: dict[str, Any] | None,
            pk: str = "ROOM#r") -> dict[str, Any]:
    dynamodb: dict[str, Any] = {"Keys": {"pk": _s(pk), "sk": _s(sk)}, "ApproximateCreationDateTime": 1.8e9}
    if new is not None:
        dynamodb["NewImage"] = new
    if old is not None:
        dynamodb["OldImage"] = old
    return {"eventID": "e1", "eventName": name, "dynamodb": dynamodb}


def _call(status: str, **extra: dict[str, str]) -> dict[str, Any]:
    return {"room_id": _s("r"), "call_id": _s("c1"), "caller": _s("alice"), "callee": _s("bob"),
            "status": _s(status), "invited_at": {"N": "1800000000000"}, **extra}


def test_transitions_not_writes_make_events():
    started = event_of(_record("MODIFY", "CALL#c1", _call("accepted", started_at={"N": "1800000001000"}),
                               _call("invited")))
    assert started is not None and started.type == "call.started" and started.data["caller"] == "alice"
    ended = event_of(_record("MODIFY", "CALL#c1", _call("ended", started_at={"N": "1800000001000"},
                                                         ended_at={"N": "1800000005000"}), _call("accepted")))
    assert ended is not None and ended.type == "call.ended" and ended.data["duration_seconds"] == 4.0
    for event in (started, ended):
        check_schema(event.model_dump(mode="json"))
    # The same status written again (a retried update) is no event.
    assert event_of(_record("MODIFY", "CALL#c1", _call("ended"), _call("ended"))) is None
    meta = {"room_id": _s("r"), "name": _s("R"), "created_at": {"N": "1800000000000"}, "state": _s("open"),
            "message_count": {"N": "3"}}
    # A counter change on META is no event; the close is room.closed once.
    assert event_of(_record("MODIFY", "META", {**meta, "message_count": {"N": "4"}}, meta)) is None
    closed = {**meta, "state": _s("closed"), "closed_at": {"N": "1800000009000"}}
    assert event_of(_record("MODIFY", "META", closed, {**meta, "state": _s("closing")})).type == "room.closed"
    assert event_of(_record("MODIFY", "META", closed, closed)) is None
    # Issue 14's tombstone is an update of the MSG# item: no second message.created.
    assert event_of(_record("MODIFY", "MSG#m", {"text": _s("")}, {"text": _s("x")})) is None
    # TTL removing a connection is user.offline with reason expired.
    conn = {"connection_id": _s("c"), "user_id": _s("u"), "name": _s("U")}
    expired = _record("REMOVE", "META", None, conn, pk="CONN#c")
    expired["userIdentity"] = {"type": "Service", "principalId": "dynamodb.amazonaws.com"}
    gone = event_of(expired)
    assert gone is not None and gone.type == "user.offline" and gone.data["reason"] == "expired"
    check_schema(gone.model_dump(mode="json"))
    # This pipeline's own items and everything else map to nothing.
    assert event_of(_record("INSERT", "EVT#x", {"batch_id": _s("b")}, None, pk="EP#ep")) is None
    assert event_of(_record("INSERT", "RATE#send", {"tokens": {"N": "1"}}, None, pk="CONN#c")) is None
