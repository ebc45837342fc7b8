"""Protocol fixes and token bounds (issue 9 items 5 and 6): room_closed after a real close,
401 for bad tokens, rooms ["*"], a maximum lifetime, sub/name rules, room-scoped close."""

from __future__ import annotations

import time
from typing import Any

import jwt
import pytest

from tests.conftest import JWT_SECRET, load_event
from tests.helpers import http_event, reply_body, token, ws_event
from tests.integration.webhook_support import admin


def _room(invoke: Any, room_id: str = "lobby", admins: list[str] | None = None) -> None:
    body = {"room_id": room_id, "name": room_id, "admin_user_ids": admins or []}
    assert invoke("admin", http_event("http-create-room.json", body=body))["statusCode"] == 201


def _chat(invoke: Any, body: dict, connection_id: str = "conn-alice-1", user_id: str = "alice", **kw: Any) -> dict:
    sample = f"ws-{body['action']}.json" if body["action"] in {"join", "send"} else "ws-default.json"
    return reply_body(invoke("chat", ws_event(sample, connection_id, user_id, user_id.title(), body=body, **kw)))


def _authorize(invoke: Any, minted: str) -> Any:
    event = load_event("ws-authorizer.json")
    event["headers"].pop("Sec-WebSocket-Protocol")
    event["queryStringParameters"] = {"token": minted}
    return invoke("authorizer", event)


def _raw(claims: dict[str, Any]) -> str:
    return jwt.encode({"iss": "roomcast", **claims}, JWT_SECRET, algorithm="HS256")


def test_send_after_a_real_close_is_room_closed(stack, invoke, monkeypatch):
    # A real close ends the membership too; the refusal must still say why.
    from roomcast import gateway

    monkeypatch.setattr(gateway.Gateway, "disconnect", lambda self, connection_id: None)
    _room(invoke)
    assert _chat(invoke, {"action": "join", "room_id": "lobby"})["type"] == "joined"
    status, _ = admin(invoke, "DELETE", "/rooms/lobby")
    assert status == 202
    reply = _chat(invoke, {"action": "send", "room_id": "lobby", "text": "late", "request_id": "r1"})
    assert reply["code"] == "room_closed" and reply["request_id"] == "r1"
    # A room that is open but not joined is still not_member.
    _room(invoke, "other")
    assert _chat(invoke, {"action": "send", "room_id": "other", "text": "x"})["code"] == "not_member"


def test_rooms_star_is_minted_and_joins_any_room(stack, invoke):
    minted = invoke("admin", http_event("http-mint-token.json", body={"user_id": "alice", "rooms": ["*"]}))
    assert minted["statusCode"] == 201
    policy = _authorize(invoke, reply_body(minted)["token"])
    assert policy["context"]["rooms"] == '["*"]'
    _room(invoke, "anything")
    assert _chat(invoke, {"action": "join", "room_id": "anything"}, rooms=["*"])["type"] == "joined"
    bad = invoke("admin", http_event("http-mint-token.json", body={"user_id": "alice", "rooms": ["**"]}))
    assert bad["statusCode"] == 400


def test_lifetime_is_bounded_when_minting_and_verifying(stack, invoke):
    from roomcast.settings import get_settings

    limit = get_settings().max_token_ttl_seconds
    # More than the stack allows is cut to MAX_TOKEN_TTL_SECONDS (docs/admin-api.md): the
    # answer's expires_at is the truth, and the token carries the same exp.
    before = int(time.time())
    over = invoke("admin", http_event("http-mint-token.json", body={"user_id": "a", "ttl_seconds": limit + 1}))
    assert over["statusCode"] == 201
    expires_at = reply_body(over)["expires_at"]
    assert before + limit <= expires_at <= int(time.time()) + limit
    from roomcast.auth import verify_token

    assert verify_token(JWT_SECRET, reply_body(over)["token"]).user_id == "a"
    at = invoke("admin", http_event("http-mint-token.json", body={"user_id": "a", "ttl_seconds": limit}))
    assert at["statusCode"] == 201
    assert _authorize(invoke, reply_body(at)["token"])["principalId"] == "a"
    now = int(time.time())
    to_2100 = _raw({"sub": "a", "iat": now, "exp": 4102444800})
    with pytest.raises(Exception, match=r"^Unauthorized$"):
        _authorize(invoke, to_2100)
    future_iat = _raw({"sub": "a", "iat": now + 3600, "exp": now + 7200})
    with pytest.raises(Exception, match=r"^Unauthorized$"):
        _authorize(invoke, future_iat)


@pytest.mark.parametrize(
    "claims",
    [
        {"sub": "../../ROOM#x"},
        {"sub": "a b"},
        {"sub": ""},
        {"sub": 12},
        {"sub": "x" * 129},
        {"sub": "ok", "name": "n" * 81},
        {"sub": "ok", "name": ""},
        {"sub": "ok", "name": 5},
        {"sub": "ok", "rooms": ["ROOM#x"]},
        {"sub": "ok", "rooms": "lobby"},
        {"sub": "ok", "iat": "1"},
    ],
)
def test_claims_outside_the_protocol_rules_are_unauthorized(stack, invoke, claims):
    now = int(time.time())
    with pytest.raises(Exception, match=r"^Unauthorized$"):
        _authorize(invoke, _raw({"iat": now, "exp": now + 600, **claims}))


def test_a_valid_sub_of_128_chars_without_name_is_accepted(stack, invoke):
    long_id = "u" * 128
    assert _authorize(invoke, token(long_id, long_id[:80]))["principalId"] == long_id
    now = int(time.time())
    policy = _authorize(invoke, _raw({"sub": long_id, "iat": now, "exp": now + 600}))
    assert policy["context"]["name"] == long_id[:80]


def test_room_scoped_token_cannot_close_another_room_it_administers(stack, invoke):
    _room(invoke, "mine", admins=["alice"])
    _room(invoke, "theirs", admins=["alice"])
    refused = _chat(invoke, {"action": "close", "room_id": "theirs", "request_id": "c1"}, rooms=["mine"])
    assert refused["code"] == "forbidden" and refused["request_id"] == "c1"
    from roomcast.dal.store import get_store

    assert get_store().require_room("theirs").state == "open"
    allowed = _chat(invoke, {"action": "close", "room_id": "mine"}, rooms=["mine"])
    assert allowed["type"] == "room.closed"
