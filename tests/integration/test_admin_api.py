"""The admin HTTP API (Powertools HTTP resolver behind X-Api-Key), driven by the events/ samples."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlencode

import pytest

from tests.conftest import JWT_SECRET
from tests.helpers import http_event, reply_body, ws_event


def _get_room(room_id: str, api_key: str | None = None) -> dict[str, Any]:
    event = http_event("http-get-room.json") if api_key is None else http_event("http-get-room.json", api_key=api_key)
    event["rawPath"] = event["requestContext"]["http"]["path"] = f"/rooms/{room_id}"
    event["pathParameters"] = {"room_id": room_id}
    return event


def _list_rooms(**query: str) -> dict[str, Any]:
    event = http_event("http-list-rooms.json")
    event["rawQueryString"] = urlencode(query)
    event["queryStringParameters"] = dict(query) or None
    return event


def _create(invoke: Any, body: Any) -> dict[str, Any]:
    return invoke("admin", http_event("http-create-room.json", body=body))


def test_health_needs_no_key(stack, invoke):
    response = invoke("admin", http_event("http-health.json", api_key=None))
    assert response["statusCode"] == 200 and json.loads(response["body"]) == {"status": "ok"}


def test_create_room_from_the_sample(stack, invoke):
    response = invoke("admin", http_event("http-create-room.json"))
    assert response["statusCode"] == 201
    assert response["headers"]["Content-Type"] == "application/json"
    room = reply_body(response)
    assert room["room_id"] == "lobby" and room["name"] == "The Lobby" and room["state"] == "open"
    assert room["admin_user_ids"] == ["alice"] and room["metadata"] == {"topic": "launch"}
    assert room["stats"] == {"current_users": 0, "peak_users": 0, "total_joins": 0, "message_count": 0, "current_connections": 0, "peak_connections": 0}
    assert room["created_at"].endswith("Z")


def test_create_room_without_id_gets_a_generated_one(stack, invoke):
    response = _create(invoke, {"name": "Anonymous"})
    assert response["statusCode"] == 201
    room_id = reply_body(response)["room_id"]
    from roomcast.ids import is_id

    assert is_id(room_id)
    assert invoke("admin", _get_room(room_id))["statusCode"] == 200


def test_duplicate_room_is_409_conflict(stack, invoke):
    assert invoke("admin", http_event("http-create-room.json"))["statusCode"] == 201
    again = invoke("admin", http_event("http-create-room.json"))
    assert again["statusCode"] == 409
    assert reply_body(again)["code"] == "conflict"
    assert reply_body(invoke("admin", _get_room("lobby")))["name"] == "The Lobby"


@pytest.mark.parametrize(
    "body",
    [
        "not json",
        "[]",
        {},
        {"name": ""},
        {"name": "x", "room_id": "has space"},
        {"name": "x", "room_id": "a" * 65},
        {"name": "x", "admin_user_ids": "alice"},
        {"name": "x", "admin_user_ids": ["bad user"]},
        {"name": "x", "unexpected": 1},
        {"name": "x" * 81},
        {"name": "x", "metadata": []},
    ],
)
def test_bad_create_body_is_400_bad_request(stack, invoke, body):
    response = _create(invoke, body)
    assert response["statusCode"] == 400, response
    error = reply_body(response)
    assert error["type"] == "error" and error["code"] == "bad_request"
    assert "Traceback" not in error["message"]


def test_get_room_has_stats_and_members(stack, invoke):
    invoke("admin", http_event("http-create-room.json"))
    invoke("chat", ws_event("ws-join.json"))
    invoke("chat", ws_event("ws-join.json", connection_id="conn-alice-2"))
    invoke("chat", ws_event("ws-join.json", connection_id="conn-bob-1", user_id="bob", name="Bob"))
    invoke("chat", ws_event("ws-send.json"))
    response = invoke("admin", http_event("http-get-room.json"))
    assert response["statusCode"] == 200
    room = reply_body(response)
    # Distinct users: alice on two sockets is one user, two connections.
    assert room["stats"] == {"current_users": 2, "peak_users": 2, "total_joins": 3, "message_count": 1, "current_connections": 3, "peak_connections": 3}
    assert [(m["user_id"], m["connections"]) for m in room["members"]] == [("alice", 2), ("bob", 1)]


def test_get_unknown_room_is_404(stack, invoke):
    response = invoke("admin", _get_room("nope"))
    assert response["statusCode"] == 404
    assert reply_body(response) == {"type": "error", "code": "room_not_found", "message": "no such room"}


def test_list_rooms_pages_through_every_room_once(stack, invoke):
    created = {f"room-{i:02d}" for i in range(11)}
    for room_id in sorted(created):
        assert _create(invoke, {"room_id": room_id, "name": room_id})["statusCode"] == 201
    seen: list[str] = []
    cursor: str | None = None
    pages = 0
    while True:
        query = {"limit": "4"} | ({"cursor": cursor} if cursor else {})
        response = invoke("admin", _list_rooms(**query))
        assert response["statusCode"] == 200, response
        page = reply_body(response)
        assert len(page["rooms"]) <= 4
        assert all("members" not in r for r in page["rooms"])  # the list never reads members
        seen.extend(r["room_id"] for r in page["rooms"])
        pages += 1
        cursor = page.get("next_cursor")
        if not cursor:
            break
        assert pages < 10
    assert len(seen) == len(set(seen)) == 11 and set(seen) == created
    assert pages in (3, 4)  # 4+4+3 (a last empty page is allowed when the count divides evenly)


def test_list_rooms_sample_and_default_limit(stack, invoke):
    for i in range(3):
        _create(invoke, {"room_id": f"r{i}", "name": f"r{i}"})
    page = reply_body(invoke("admin", http_event("http-list-rooms.json")))
    assert {r["room_id"] for r in page["rooms"]} == {"r0", "r1", "r2"} and "next_cursor" not in page
    newest_first = [r["created_at"] for r in page["rooms"]]
    assert newest_first == sorted(newest_first, reverse=True)


@pytest.mark.parametrize(
    "query",
    [
        {"cursor": "not-a-cursor"},
        {"cursor": "eyJmb28iOiAiYmFyIn0="},  # {"foo": "bar"}
        {"cursor": "W10="},  # []
        # Well-formed, but not a key of the rooms index (DynamoDB would answer 500).
        {"cursor": "eyJwayI6ICJ4IiwgInNrIjogInkiLCAiZ3NpMXBrIjogIk9USEVSIiwgImdzaTFzayI6ICJ6In0="},
        {"cursor": "eyJwayI6ICJST09NI3IwIiwgInNrIjogIk1TRyN4IiwgImdzaTFwayI6ICJST09NUyIsICJnc2kxc2siOiAieiJ9"},
        {"limit": "0"},
        {"limit": "101"},
        {"limit": "ten"},
    ],
)
def test_list_rooms_bad_query_is_400(stack, invoke, query):
    response = invoke("admin", _list_rooms(**query))
    assert response["statusCode"] == 400
    expected = "invalid_cursor" if "cursor" in query else "bad_request"
    assert reply_body(response)["code"] == expected


def test_mint_token_201_and_it_verifies(stack, invoke):
    from roomcast.auth import verify_token

    response = invoke("admin", http_event("http-mint-token.json"))
    assert response["statusCode"] == 201
    minted = reply_body(response)
    assert minted["user_id"] == "alice" and isinstance(minted["expires_at"], int)
    identity = verify_token(JWT_SECRET, minted["token"])
    assert (identity.user_id, identity.name, identity.rooms, identity.admin) == ("alice", "Alice", None, False)
    scoped = reply_body(
        invoke("admin", http_event("http-mint-token.json", body={"user_id": "bob", "rooms": ["lobby"], "admin": True}))
    )
    bob = verify_token(JWT_SECRET, scoped["token"])
    assert (bob.user_id, bob.name, bob.rooms, bob.admin) == ("bob", "bob", ["lobby"], True)


@pytest.mark.parametrize("body", [{}, {"user_id": "a b"}, {"user_id": "a", "ttl_seconds": 5}, {"user_id": "a", "rooms": ["x y"]}])
def test_mint_token_bad_body_is_400(stack, invoke, body):
    response = invoke("admin", http_event("http-mint-token.json", body=body))
    assert response["statusCode"] == 400 and reply_body(response)["code"] == "bad_request"


@pytest.mark.parametrize("api_key", [None, "", "wrong-key", "test-admin-key-012345678", "test-admin-key-01234567890"])
@pytest.mark.parametrize(
    "sample", ["http-create-room.json", "http-get-room.json", "http-list-rooms.json", "http-mint-token.json"]
)
def test_missing_or_wrong_api_key_is_refused_as_the_gateway_refuses_it(stack, invoke, sample, api_key):
    # The admin authorizer's answers (docs/admin-api.md, "Errors"): 401 without a key,
    # 403 for a wrong one; the function's own check answers the same bodies.
    event = http_event(sample, api_key=api_key)
    response = invoke("admin", event)
    expected = (401, {"message": "Unauthorized"}) if not api_key else (403, {"message": "Forbidden"})
    assert (response["statusCode"], reply_body(response)) == expected
    from roomcast.dal.store import get_store

    assert get_store().get_room("lobby") is None  # nothing was created


@pytest.mark.parametrize(
    "metadata_json",
    [
        '{"a": NaN}',
        '{"a": Infinity}',
        '{"a": 1e400}',
        '{"": 1}',
        '{"a": [{"": 1}]}',
        '{"a": 100000000000000000000000000000000000000001}',
        json.dumps({"blob": "x" * 500_000}),
        json.dumps({"blob": "x" * 17_000}),
    ],
)
def test_metadata_dynamodb_cannot_hold_is_400(stack, invoke, metadata_json):
    # These used to escape the handler (a 500 from API Gateway), or were stored and then
    # broke every later GET/list of rooms.
    body = '{"room_id": "meta-room", "name": "x", "metadata": ' + metadata_json + "}"
    response = _create(invoke, body)
    assert response["statusCode"] == 400, response
    assert reply_body(response)["code"] == "bad_request"
    assert invoke("admin", _get_room("meta-room"))["statusCode"] == 404
    assert invoke("admin", _list_rooms())["statusCode"] == 200


def test_metadata_within_limits_round_trips(stack, invoke):
    metadata = {"topic": "launch", "n": -(2**53 - 1), "f": 0.25, "tags": ["a", {"b": None}], "flag": False}
    assert _create(invoke, {"room_id": "m", "name": "m", "metadata": metadata})["statusCode"] == 201
    assert reply_body(invoke("admin", _get_room("m")))["metadata"] == metadata
    # Integers beyond what a browser reads exactly are refused, not rounded on the way back.
    too_big = _create(invoke, {"room_id": "n", "name": "n", "metadata": {"n": 2**53}})
    assert too_big["statusCode"] == 400 and "2^53" in reply_body(too_big)["message"]


def test_unknown_route_is_api_gateways_404(stack, invoke):
    event = http_event("http-health.json")
    event["rawPath"] = event["requestContext"]["http"]["path"] = "/nope"
    event["routeKey"] = event["requestContext"]["routeKey"] = "$default"
    response = invoke("admin", event)
    assert response["statusCode"] == 404
    assert json.loads(response["body"]) == {"message": "Not Found"}


def test_an_unexpected_failure_is_a_500_error_body_without_detail(stack, invoke, monkeypatch):
    from roomcast.dal.store import RoomStore

    def broken(self, room_id, consistent=True):
        raise RuntimeError("table exploded: secret detail")

    monkeypatch.setattr(RoomStore, "get_room", broken)
    response = invoke("admin", http_event("http-get-room.json"))
    assert response["statusCode"] == 500
    body = json.loads(response["body"])
    assert body == {"type": "error", "code": "internal_error", "message": "internal error"}
