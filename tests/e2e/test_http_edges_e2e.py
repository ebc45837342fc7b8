"""The admin API's edges through the local HTTP front, as a client meets them: each input
that used to answer 500 (or HTML) answers a 4xx with a JSON body, a percent-encoded path
parameter is decoded once as API Gateway decodes it, and every method gets JSON
(docs/admin-api.md, "Requests"; docs/local-runtime.md, "HTTP requests")."""

from __future__ import annotations

import http.client
import json
import socket
from typing import Any
from urllib.parse import urlsplit

import pytest


def _raw(
    runtime: Any,
    method: str,
    path: str,
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
    key: bool = True,
) -> tuple[int, dict[str, str], bytes]:
    split = urlsplit(runtime.base_url)
    connection = http.client.HTTPConnection(split.hostname, split.port, timeout=60)
    sent = {"X-Api-Key": runtime.admin_key} if key else {}
    sent.update(headers or {})
    connection.request(method, path, body=body, headers=sent)
    response = connection.getresponse()
    data = response.read()
    connection.close()
    return response.status, {k.lower(): v for k, v in response.getheaders()}, data


@pytest.fixture(scope="module")
def edges_room(local_runtime) -> str:
    local_runtime.create_room("Edges", room_id="edges")
    return "edges"


@pytest.mark.parametrize(
    ("headers", "body", "status", "code"),
    [
        ({"Content-Type": "application/json"}, b'{"user_id": "a\xff\xfe"}', 400, "bad_request"),
        ({"Content-Type": "text/plain"}, b'{"user_id": "alice"}', 415, "unsupported_media_type"),
        (
            {"Content-Type": "application/octet-stream"},
            b'{"user_id": "alice"}',
            415,
            "unsupported_media_type",
        ),
        ({"Content-Type": "multipart/form-data"}, b"--x\r\n\r\n", 415, "unsupported_media_type"),
        (
            {"Content-Type": "application/json"},
            b'{"user_id": "alice", "ttl_seconds": ' + b"9" * 4301 + b"}",
            400,
            "bad_request",
        ),
        (
            {"Content-Type": "application/json"},
            b'{"user_id": "alice", "x": ' + b"[" * 100_000 + b"]" * 100_000 + b"}",
            400,
            "bad_request",
        ),
        (
            {"Content-Type": "application/json"},
            b'{"user_id": "alice", "admin": "yes"}',
            400,
            "bad_request",
        ),
    ],
    ids=[
        "not-utf8",
        "text-plain",
        "octet-stream",
        "multipart-no-boundary",
        "4301-digits",
        "100000-deep",
        "admin-yes",
    ],
)
def test_what_used_to_be_a_500_is_a_4xx_with_the_error_body(
    local_runtime, headers, body, status, code
):
    got, answer_headers, data = _raw(local_runtime, "POST", "/api/tokens", body, headers)
    assert answer_headers["content-type"] == "application/json"
    answer = json.loads(data)
    assert (got, answer["type"], answer["code"]) == (status, "error", code), answer


def test_a_percent_encoded_path_parameter_is_decoded_once(local_runtime):
    body = json.dumps({"type": "notice"}).encode()
    encoded = _raw(
        local_runtime,
        "POST",
        "/api/users/a%40b/notifications",
        body,
        {"Content-Type": "application/json"},
    )
    assert encoded[0] == 201
    assert json.loads(encoded[2])["notification"]["user_id"] == "a@b"
    plain = _raw(
        local_runtime,
        "POST",
        "/api/users/a@b/notifications",
        body,
        {"Content-Type": "application/json"},
    )
    assert plain[0] == 201
    # Decoded once only: %2540 is the text "%40", which no user id may hold (400 naming it).
    twice = _raw(
        local_runtime,
        "POST",
        "/api/users/a%2540b/notifications",
        body,
        {"Content-Type": "application/json"},
    )
    assert twice[0] == 400 and json.loads(twice[2])["message"].startswith("user_id:")
    # Eleven encoded é are eleven characters, not 66: an endpoint id that is not there (404).
    status, _, data = _raw(local_runtime, "GET", "/api/endpoints/" + "%C3%A9" * 11)
    assert (status, json.loads(data)["code"]) == (404, "not_found")


def test_put_rooms_is_405_with_allow(local_runtime):
    status, headers, data = _raw(
        local_runtime, "PUT", "/api/rooms", b"{}", {"Content-Type": "application/json"}
    )
    assert (status, headers["allow"]) == (405, "GET, POST")
    assert json.loads(data)["code"] == "method_not_allowed"


@pytest.mark.parametrize("method", ["TRACE", "OPTIONS", "CONNECT", "BREW", "HEAD"])
def test_no_method_answers_html(local_runtime, edges_room, method):
    # HEAD of the page and the client is a GET without the body (their own HTML): API paths only.
    paths = ["/api/rooms", f"/api/rooms/{edges_room}"] + (
        [] if method == "HEAD" else ["/", "/client/"]
    )
    for path in paths:
        status, headers, data = _raw(local_runtime, method, path)
        assert "html" not in headers.get("content-type", ""), (method, path)
        assert status == 405 and headers["allow"], (method, path, status)
        if method != "HEAD":
            assert json.loads(data)["message"], (method, path)


def test_an_unknown_path_is_api_gateways_404_and_needs_the_key(local_runtime):
    status, _, data = _raw(local_runtime, "GET", "/api/no/such/path")
    assert (status, json.loads(data)) == (404, {"message": "Not Found"})
    assert _raw(local_runtime, "GET", "/api/no/such/path", key=False)[:1] == (401,)
    status, _, data = _raw(local_runtime, "GET", "/api/rooms", headers={"X-Api-Key": "wrong"})
    assert (status, json.loads(data)) == (403, {"message": "Forbidden"})


def test_a_malformed_request_line_is_answered_in_json(local_runtime):
    split = urlsplit(local_runtime.base_url)
    with socket.create_connection((split.hostname, split.port), timeout=30) as raw:
        raw.sendall(
            b"GET /api/rooms HTTP/1.1\r\nHost: x\r\nContent-Length: nope\r\nX-Api-Key: k\r\n\r\n"
        )
        answer = raw.recv(4096)
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 400") and b"application/json" in head
    assert json.loads(body)["message"].startswith("Bad Request")
