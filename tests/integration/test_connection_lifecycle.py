"""$connect authorizer, $connect and $disconnect, driven by the events/ samples on moto."""

from __future__ import annotations

import copy
import json
from typing import Any

import boto3
import pytest

from tests.conftest import load_event
from tests.helpers import clear_posted, http_event, posted_frames, reply_body, token, ws_event


def _authorizer_event(query_token: str | None = None, protocol: str | None = None) -> dict[str, Any]:
    event = copy.deepcopy(load_event("ws-authorizer.json"))
    event["headers"].pop("Sec-WebSocket-Protocol", None)
    event["queryStringParameters"] = {"token": query_token} if query_token else {}
    if protocol is not None:
        event["headers"]["Sec-WebSocket-Protocol"] = protocol
    return event


def _effect(policy: dict[str, Any]) -> str:
    return policy["policyDocument"]["Statement"][0]["Effect"]


def _connect_event(connection_id: str = "conn-alice-1", protocol: str | None = None, **kw: Any) -> dict[str, Any]:
    event = ws_event("ws-connect.json", connection_id=connection_id, **kw)
    if protocol is None:
        event["headers"].pop("Sec-WebSocket-Protocol", None)
    else:
        event["headers"]["Sec-WebSocket-Protocol"] = protocol
    return event


def _connection_item(connection_id: str) -> dict[str, Any] | None:
    from roomcast.settings import get_settings

    return boto3.client("dynamodb").get_item(
        TableName=get_settings().table_name,
        Key={"pk": {"S": f"CONN#{connection_id}"}, "sk": {"S": "META"}},
        ConsistentRead=True,
    ).get("Item")


# ------------------------------------------------------------------ authorizer


def test_authorizer_allows_query_token_with_identity_context(stack, invoke):
    minted = token("alice", "Alice", rooms=["lobby"], admin=True)
    policy = invoke("authorizer", _authorizer_event(query_token=minted))
    assert _effect(policy) == "Allow" and policy["principalId"] == "alice"
    assert policy["policyDocument"]["Statement"][0]["Resource"] == load_event("ws-authorizer.json")["methodArn"]
    context = policy["context"]
    assert context == {"user_id": "alice", "name": "Alice", "admin": True, "rooms": json.dumps(["lobby"])}
    # API Gateway accepts only strings, numbers and booleans as context values.
    assert all(isinstance(v, str | int | bool) for v in context.values())


def test_authorizer_allows_subprotocol_token(stack, invoke):
    minted = token("bob", "Bob")
    policy = invoke("authorizer", _authorizer_event(protocol=f"roomcast.v1, {minted}"))
    assert _effect(policy) == "Allow"
    assert policy["context"]["user_id"] == "bob" and policy["context"]["rooms"] == ""


def _refusal(invoke: Any, event: dict[str, Any]) -> str:
    """What the authorizer raised: API Gateway answers 401 for exactly "Unauthorized"."""
    with pytest.raises(Exception) as raised:
        invoke("authorizer", event)
    return str(raised.value)


def test_authorizer_sample_with_its_placeholder_is_unauthorized(stack, invoke):
    assert _refusal(invoke, load_event("ws-authorizer.json")) == "Unauthorized"


def test_authorizer_refuses_without_token_as_unauthorized(stack, invoke):
    for event in (_authorizer_event(), _authorizer_event(protocol="roomcast.v1"), _authorizer_event(protocol="")):
        assert _refusal(invoke, event) == "Unauthorized"


# --------------------------------------------------------------------- connect


def test_connect_registers_connection_with_ttl_and_echoes_subprotocol(stack, invoke):
    from roomcast.settings import get_settings

    minted = token("alice", "Alice")
    response = invoke("connect", _connect_event(protocol=f"roomcast.v1, {minted}", rooms=["lobby"]))
    assert response["statusCode"] == 200
    assert response["headers"] == {"Sec-WebSocket-Protocol": "roomcast.v1"}
    assert minted not in json.dumps(response)
    item = _connection_item("conn-alice-1")
    assert item is not None
    assert item["user_id"] == {"S": "alice"} and item["gsi1pk"] == {"S": "USER#alice"}
    connected_s = int(item["connected_at"]["N"]) // 1000
    assert int(item["ttl"]["N"]) == connected_s + get_settings().connection_ttl_seconds
    from roomcast.dal.store import get_store

    assert get_store().user_connections("alice") == ["conn-alice-1"]


def test_connect_never_echoes_the_token(stack, invoke):
    minted = token("alice", "Alice")
    response = invoke("connect", _connect_event(protocol=minted))
    assert response["statusCode"] == 200
    assert "headers" not in response or minted not in json.dumps(response["headers"])
    plain = invoke("connect", _connect_event(connection_id="c2"))
    assert plain == {"statusCode": 200}


def test_connect_sample_replies_roomcast_v1(stack, invoke):
    response = invoke("connect", load_event("ws-connect.json"))
    assert response["statusCode"] == 200
    assert response["headers"]["Sec-WebSocket-Protocol"] == "roomcast.v1"


def test_connect_without_authorizer_context_is_401(stack, invoke):
    event = _connect_event()
    del event["requestContext"]["authorizer"]
    assert invoke("connect", event) == {"statusCode": 401}
    assert _connection_item("conn-alice-1") is None


# ------------------------------------------------------------------ disconnect


def test_disconnect_leaves_every_room_and_ends_sessions(stack, invoke):
    from roomcast.dal.store import get_store

    for room_id in ("lobby", "side"):
        body = {"room_id": room_id, "name": room_id}
        assert invoke("admin", http_event("http-create-room.json", body=body))["statusCode"] == 201
    invoke("connect", _connect_event())
    invoke("connect", _connect_event(connection_id="conn-bob-1", user_id="bob", name="Bob"))
    for room_id in ("lobby", "side"):
        for cid, user in (("conn-alice-1", "alice"), ("conn-bob-1", "bob")):
            reply = reply_body(invoke("chat", ws_event("ws-join.json", cid, user, user.title(), body={"action": "join", "room_id": room_id})))
            assert reply["type"] == "joined"
    clear_posted()

    event = ws_event("ws-disconnect.json")
    assert invoke("disconnect", event) == {"statusCode": 200}

    store = get_store()
    for room_id in ("lobby", "side"):
        assert [m.connection_id for m in store.members(room_id)] == ["conn-bob-1"]
        room = store.get_room(room_id)
        assert room is not None and room.stats.current_users == 1 and room.stats.total_joins == 2
        sessions = [s for page in store.iter_sessions(room_id) for s in page if s.connection_id == "conn-alice-1"]
        assert len(sessions) == 1
        assert sessions[0].end_reason == "disconnect" and sessions[0].left_at is not None
        assert sessions[0].duration_ms == sessions[0].left_at - sessions[0].joined_at
    told = posted_frames("conn-bob-1")
    assert sorted((f["type"], f["room_id"], f["user_id"]) for f in told) == [
        ("member.left", "lobby", "alice"),
        ("member.left", "side", "alice"),
    ]
    assert store.connection_rooms("conn-alice-1") == []
    assert _connection_item("conn-alice-1") is None
    assert store.user_connections("alice") == []
    assert _connection_item("conn-bob-1") is not None


def test_disconnect_of_an_unknown_connection_is_harmless(stack, invoke):
    assert invoke("disconnect", ws_event("ws-disconnect.json", connection_id="never-seen")) == {"statusCode": 200}
    again = ws_event("ws-disconnect.json")
    assert invoke("disconnect", again) == {"statusCode": 200}
    assert invoke("disconnect", again) == {"statusCode": 200}
