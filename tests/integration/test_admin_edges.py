"""The admin API's edges (docs/admin-api.md, "Requests"): every request a client can send
gets a 4xx with a JSON body, never a 500 - bodies that are not UTF-8, not JSON, of another
media type, too big, too deep or with numbers too long; methods a path does not serve
(405 with Allow); paths that are not there (API Gateway's 404); types taken strictly."""

from __future__ import annotations

import base64
import copy
import json
from typing import Any

import pytest

from tests.helpers import http_event, reply_body

# Every route that takes a body, with a body it accepts (on a room that exists, "lobby").
BODY_ROUTES = [
    ("POST", "/rooms", {"name": "Edges"}),
    ("POST", "/tokens", {"user_id": "alice"}),
    ("POST", "/broadcasts", {"type": "notice"}),
    ("POST", "/rooms/lobby/messages", {"sender": {"user_id": "bot", "name": "Bot"}, "text": "hi"}),
    (
        "POST",
        "/messages/batch",
        {"sender": {"user_id": "bot", "name": "Bot"}, "text": "hi", "room_ids": ["lobby"]},
    ),
    ("POST", "/users/alice/notifications", {"type": "notice"}),
    ("POST", "/rooms/lobby/streams", {"sender": {"user_id": "bot", "name": "Bot"}}),
    ("POST", "/rooms/lobby/streams/s1/chunks", {"seq": 0, "text": "x"}),
    ("PUT", "/rooms/lobby/members/alice", {"role": "member"}),
    ("POST", "/rooms/lobby/bans", {"user_id": "mallory"}),
    ("POST", "/rooms/lobby/mutes", {"user_id": "mallory"}),
    ("POST", "/rooms/lobby/kicks", {"user_id": "mallory"}),
    ("POST", "/users/online", {"user_ids": ["alice"]}),
    ("POST", "/users/alice/disconnect", {}),
    ("POST", "/endpoints", {"url": "https://example.com/hook"}),
    ("PATCH", "/endpoints/ep1", {"description": "x"}),
    ("POST", "/endpoints/ep1/rotate-secret", {}),
    ("POST", "/endpoints/ep1/recover", {"since": "2026-01-01T00:00:00Z"}),
]


def request(
    method: str,
    path: str,
    body: Any = None,
    *,
    content_type: str | None = "application/json",
    base64_body: bytes | None = None,
    api_key: str | bool | None = True,
) -> dict[str, Any]:
    event = (
        http_event("http-create-room.json")
        if api_key is True
        else http_event("http-create-room.json", api_key=api_key or None)
    )
    event = copy.deepcopy(event)
    event["rawPath"] = event["requestContext"]["http"]["path"] = path
    event["requestContext"]["http"]["method"] = method
    event["routeKey"] = event["requestContext"]["routeKey"] = "$default"
    event.pop("body", None)
    if content_type is None:
        event["headers"].pop("content-type", None)
    else:
        event["headers"]["content-type"] = content_type
    if base64_body is not None:
        event["body"] = base64.b64encode(base64_body).decode()
        event["isBase64Encoded"] = True
    elif body is not None:
        event["body"] = body if isinstance(body, str) else json.dumps(body)
    return event


@pytest.fixture
def lobby(stack, invoke):
    assert (
        invoke("admin", request("POST", "/rooms", {"room_id": "lobby", "name": "Lobby"}))[
            "statusCode"
        ]
        == 201
    )


def _answer(invoke: Any, event: dict[str, Any]) -> tuple[int, Any]:
    response = invoke("admin", event)
    assert response["headers"]["Content-Type"] == "application/json"
    return response["statusCode"], reply_body(response)


def test_a_body_that_is_not_utf8_is_400_on_every_body_route(lobby, invoke):
    for method, path, body in BODY_ROUTES:
        raw = json.dumps(body).encode()[:-1] + b', "x": "\xff\xfe"}'
        status, answer = _answer(invoke, request(method, path, base64_body=raw))
        assert (status, answer["code"], answer["message"]) == (
            400,
            "bad_request",
            "the body must be UTF-8 JSON",
        ), path


MEDIA_TYPES = [
    "text/plain",
    "application/octet-stream",
    "multipart/form-data",
    "multipart/form-data; boundary=x",
    "application/x-www-form-urlencoded",
    "application/json; charset=latin-1",
    "application/xml",
]


def test_a_body_of_another_media_type_is_415_on_every_body_route(lobby, invoke):
    for index, (method, path, body) in enumerate(BODY_ROUTES):
        # Every route with two of the types, every type on several routes.
        for content_type in (
            MEDIA_TYPES[index % len(MEDIA_TYPES)],
            MEDIA_TYPES[(index + 3) % len(MEDIA_TYPES)],
        ):
            status, answer = _answer(invoke, request(method, path, body, content_type=content_type))
            assert (status, answer["type"], answer["code"]) == (
                415,
                "error",
                "unsupported_media_type",
            ), (path, content_type)
            assert "application/json" in answer["message"]


@pytest.mark.parametrize(
    "content_type", [None, "application/json; charset=UTF-8", "application/merge-patch+json"]
)
def test_json_media_types_and_no_content_type_are_read_as_json(lobby, invoke, content_type):
    status, answer = _answer(
        invoke, request("POST", "/tokens", {"user_id": "alice"}, content_type=content_type)
    )
    assert status == 201 and answer["user_id"] == "alice"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            '{"user_id": "alice", "ttl_seconds": ' + "9" * 4301 + "}",
            "the body has a number over 64 digits",
        ),
        (
            '{"user_id": "alice", "ttl_seconds": -' + "1" * 100_000 + "}",
            "the body has a number over 64 digits",
        ),
        (
            '{"user_id": "alice", "x": ' + "[" * 100_000 + "]" * 100_000 + "}",
            "the body nests deeper than 32 levels",
        ),
        (
            '{"user_id": "alice", "x": ' + '{"a":' * 40 + "1" + "}" * 40 + "}",
            "the body nests deeper than 32 levels",
        ),
        (
            '{"user_id": "alice", "ttl_seconds": NaN}',
            "the body holds NaN, which is not a JSON number",
        ),
        (
            '{"user_id": "alice", "name": "\\ud800"}',
            "the body names a lone surrogate, which is not UTF-8 text",
        ),
        ('{"user_id": "alice",', "the body is not JSON"),
    ],
)
def test_numbers_nesting_and_json_syntax_the_routes_cannot_take_are_400(
    lobby, invoke, text, message
):
    status, answer = _answer(invoke, request("POST", "/tokens", text))
    assert (status, answer["code"], answer["message"]) == (400, "bad_request", message)


def test_a_body_over_1_mb_is_413_before_it_is_parsed(lobby, invoke):
    text = json.dumps({"type": "notice", "data": "x" * (1024 * 1024)})
    status, answer = _answer(invoke, request("POST", "/broadcasts", text))
    assert (status, answer["code"]) == (413, "payload_too_large")


def test_invalid_base64_is_400(lobby, invoke):
    event = request("POST", "/tokens", "not base64 at all!")
    event["isBase64Encoded"] = True
    status, answer = _answer(invoke, event)
    assert (status, answer["message"]) == (400, "the body is not valid base64")


def test_a_body_sent_to_a_route_that_takes_none_is_ignored(lobby, invoke):
    status, answer = _answer(
        invoke, request("GET", "/rooms", base64_body=b"\xff\xfe", content_type="text/plain")
    )
    assert status == 200 and "rooms" in answer


@pytest.mark.parametrize(
    ("method", "path", "allow"),
    [
        ("PUT", "/rooms", "GET, POST"),
        ("PATCH", "/rooms/lobby", "DELETE, GET"),
        ("TRACE", "/tokens", "POST"),
        ("OPTIONS", "/rooms/lobby/messages", "GET, POST"),
        ("HEAD", "/endpoints/ep1", "DELETE, GET, PATCH"),
        ("GET", "/rooms/lobby/streams/s1/end", "POST"),
    ],
)
def test_a_method_the_path_does_not_serve_is_405_with_allow(lobby, invoke, method, path, allow):
    response = invoke("admin", request(method, path))
    assert response["statusCode"] == 405
    assert response["headers"]["Allow"] == allow
    assert reply_body(response)["code"] == "method_not_allowed"


@pytest.mark.parametrize(
    "path", ["/nothing", "/rooms/lobby/nothing", "/rooms/a/b/c/d/e", "/"]
)
def test_a_path_no_route_serves_is_api_gateways_404(lobby, invoke, path):
    assert _answer(invoke, request("GET", path)) == (404, {"message": "Not Found"})


@pytest.mark.parametrize(
    ("method", "path", "name"),
    [
        ("GET", "/rooms/lo\x00bby", "room_id"),
        ("GET", "/endpoints/ep\x07", "endpoint_id"),
        ("POST", "/users/a b/disconnect", "user_id"),
        ("POST", '/rooms/lobby/streams/a"#\\x/end', None),
    ],
)
def test_a_path_parameter_of_any_characters_reaches_its_route_and_is_validated(
    lobby, invoke, method, path, name
):
    # A parameter is one decoded segment, whatever it holds: its route's type refuses it
    # (400 naming it) or the id is not there (404), never a 404 that names nothing.
    status, answer = _answer(invoke, request(method, path, {} if method == "POST" else None))
    if name is None:
        assert (status, answer["code"]) == (404, "not_found"), answer
    else:
        assert (status, answer["code"]) == (400, "bad_request"), answer
        assert answer["message"].startswith(f"{name}:"), answer


@pytest.mark.parametrize(
    ("key", "status", "body"),
    [(None, 401, {"message": "Unauthorized"}), ("wrong", 403, {"message": "Forbidden"})],
)
def test_the_functions_own_key_check_answers_as_the_gateway_does(stack, invoke, key, status, body):
    # Reached only if the authorizer were bypassed; the bodies are the gateway's, so one
    # contract holds (docs/admin-api.md, "Errors").
    assert _answer(invoke, request("GET", "/rooms", api_key=key or False)) == (status, body)
    assert _answer(invoke, request("PUT", "/nothing", api_key=key or False)) == (status, body)


@pytest.mark.parametrize("admin", ["yes", 1, "on", "true", 0, None, "false"])
def test_admin_must_be_a_json_boolean(stack, invoke, admin):
    status, answer = _answer(
        invoke, request("POST", "/tokens", {"user_id": "alice", "admin": admin})
    )
    assert (status, answer["code"]) == (400, "bad_request")
    assert answer["message"].startswith("admin: Input should be a valid boolean")


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/users/alice/notifications", {"type": "n", "store": 0}, "store"),
        ("/users/alice/notifications", {"type": "n", "ttl_seconds": "3600"}, "ttl_seconds"),
        ("/users/alice/notifications", {"type": "n", "ttl_seconds": 3600.5}, "ttl_seconds"),
        ("/tokens", {"user_id": "alice", "ttl_seconds": True}, "ttl_seconds"),
        ("/tokens", {"user_id": 12}, "user_id"),
        ("/rooms/lobby/streams/s1/chunks", {"seq": "0", "text": "x"}, "seq"),
        ("/endpoints", {"url": "https://example.com/h", "enabled": "true"}, "enabled"),
        ("/endpoints", {"url": "https://example.com/h", "concurrency": 2.5}, "concurrency"),
    ],
)
def test_numbers_and_booleans_are_json_numbers_and_booleans(lobby, invoke, path, body, field):
    status, answer = _answer(invoke, request("POST", path, body))
    assert (status, answer["code"]) == (400, "bad_request")
    assert answer["message"].startswith(f"{field}:")


def test_a_message_meta_that_cannot_be_stored_is_bad_request_over_http(lobby, invoke):
    # What a WebSocket send answers invalid_frame is bad_request in the admin API's table.
    body = {"sender": {"user_id": "bot", "name": "Bot"}, "text": "x", "meta": {"a": {"": 1}}}
    status, answer = _answer(invoke, request("POST", "/rooms/lobby/messages", body))
    assert (status, answer["code"]) == (400, "bad_request") and "meta" in answer["message"]


def test_a_stored_notification_answers_the_unread_count(lobby, invoke):
    for expected in (1, 2):
        status, answer = _answer(invoke, request("POST", "/users/alice/notifications", {"type": "n", "store": True}))
        assert (status, answer["stored"], answer["unread"]) == (201, True, expected)
    status, answer = _answer(invoke, request("POST", "/users/alice/notifications", {"type": "n"}))
    assert status == 201 and "unread" not in answer


def test_endpoint_test_may_be_named_in_event_types(lobby, invoke, monkeypatch):
    from roomcast.settings import reset_settings

    monkeypatch.setenv("WEBHOOK_ALLOW_LOOPBACK", "true")  # as the local runtime: a loopback receiver
    reset_settings()
    body = {"url": "http://127.0.0.1:9/hook", "event_types": ["endpoint.test", "message.created"]}
    status, answer = _answer(invoke, request("POST", "/endpoints", body))
    assert status == 201 and answer["event_types"] == ["endpoint.test", "message.created"], answer
    # Every type of the catalogue at once (all 20) is a filter as it reads.
    from roomcast.models.events import SUBSCRIBABLE_TYPES

    every = {"url": "http://127.0.0.1:9/all", "event_types": list(SUBSCRIBABLE_TYPES)}
    assert _answer(invoke, request("POST", "/endpoints", every))[0] == 201
    assert len(SUBSCRIBABLE_TYPES) == 20


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/rooms", {"name": "Lob\x00by"}, "name"),
        ("/rooms", {"name": "Lob\nby"}, "name"),
        ("/rooms", {"name": "x", "room_id": "lob\x00by"}, "room_id"),
        ("/tokens", {"user_id": "alice", "name": "Al\x1bice"}, "name"),
        (
            "/rooms/lobby/messages",
            {"sender": {"user_id": "bot", "name": "B\x00"}, "text": "x"},
            "sender.name",
        ),
        (
            "/rooms/lobby/messages",
            {"sender": {"user_id": "bot", "name": "B"}, "text": "x", "client_msg_id": "a\x00"},
            "client_msg_id",
        ),
        ("/users/alice/notifications", {"type": "no\x7ftice"}, "type"),
        ("/rooms/lobby/bans", {"user_id": "mallory", "by": "mod\x00"}, "by"),
    ],
)
def test_control_characters_are_refused_in_names_and_ids(lobby, invoke, path, body, field):
    status, answer = _answer(invoke, request("POST", path, body))
    assert (status, answer["code"]) == (400, "bad_request")
    assert answer["message"].startswith(f"{field}:")
