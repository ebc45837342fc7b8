"""`roomcast_cli replay` and `token --api` against a small fake of the admin API over
real HTTP on loopback (the routes and bodies of functions/admin/app.py)."""

from __future__ import annotations

import io
import json
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from roomcast.auth import mint_token, verify_token
from roomcast_cli.cli import main

API_KEY = "cli-admin-key-0123456789abcdef"
JWT_SECRET = "cli-admin-jwt-secret-0123456789abcdef012345"


@dataclass
class FakeAdmin:
    deliveries: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    requests: list[dict[str, Any]] = field(default_factory=list)
    url: str = ""


def _handler(state: FakeAdmin) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

        def _reply(self, status: int, body: dict[str, Any]) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _handle(self, method: str) -> None:
            length = int(self.headers.get("content-length") or 0)
            raw = self.rfile.read(length) if length else b""
            body = json.loads(raw) if raw else None
            state.requests.append(
                {
                    "method": method,
                    "path": self.path,
                    "key": self.headers.get("x-api-key"),
                    "body": body,
                }
            )
            if self.headers.get("x-api-key") != API_KEY:
                # The admin authorizer's answers (docs/admin-api.md, "Errors").
                if self.headers.get("x-api-key"):
                    self._reply(403, {"message": "Forbidden"})
                else:
                    self._reply(401, {"message": "Unauthorized"})
                return
            if method == "GET" and (m := re.fullmatch(r"/rooms/([^/]+)/deliveries", self.path)):
                if m.group(1) not in state.deliveries:
                    self._reply(
                        404, {"type": "error", "code": "room_not_found", "message": "no such room"}
                    )
                else:
                    self._reply(
                        200, {"room_id": m.group(1), "deliveries": state.deliveries[m.group(1)]}
                    )
            elif method == "POST" and (
                m := re.fullmatch(r"/rooms/([^/]+)/deliveries/([^/]+)/replay", self.path)
            ):
                room, delivery = m.groups()
                if not any(d["delivery_id"] == delivery for d in state.deliveries.get(room, [])):
                    self._reply(
                        404,
                        {
                            "type": "error",
                            "code": "delivery_not_found",
                            "message": "no such delivery",
                        },
                    )
                else:
                    self._reply(
                        202,
                        {"room_id": room, "delivery_id": delivery, "run": 1, "status": "pending"},
                    )
            elif method == "POST" and self.path == "/tokens":
                assert isinstance(body, dict)
                token, expires = mint_token(
                    JWT_SECRET,
                    body["user_id"],
                    body.get("name") or body["user_id"],
                    body.get("ttl_seconds") or 3600,
                    body.get("rooms"),
                    body.get("admin", False),
                )
                self._reply(
                    201, {"token": token, "expires_at": expires, "user_id": body["user_id"]}
                )
            else:
                self._reply(404, {"type": "error", "code": "not_found", "message": "no route"})

        def do_GET(self) -> None:
            self._handle("GET")

        def do_POST(self) -> None:
            self._handle("POST")

    return Handler


@pytest.fixture
def admin() -> Iterator[FakeAdmin]:
    state = FakeAdmin()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


def run(argv: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    return main(argv, out=out, err=err), out.getvalue(), err.getvalue()


def deliveries() -> list[dict[str, Any]]:
    # Listed oldest first on purpose: the tool must pick the latest, not the first.
    return [
        {
            "delivery_id": "0190000000000aaaaaaaaaaaa",
            "created_at": "2026-11-20T10:00:00.000Z",
            "status": "failed",
        },
        {
            "delivery_id": "0190000000001bbbbbbbbbbbb",
            "created_at": "2026-11-21T10:00:00.000Z",
            "status": "delivered",
        },
        {
            "delivery_id": "0190000000000cccccccccccc",
            "created_at": "2026-11-19T10:00:00.000Z",
            "status": "delivered",
        },
    ]


def test_replay_without_delivery_replays_the_latest(
    admin: FakeAdmin, monkeypatch: pytest.MonkeyPatch
) -> None:
    admin.deliveries["room-1"] = deliveries()
    monkeypatch.setenv("ROOMCAST_ADMIN_KEY", API_KEY)
    code, out, err = run(["replay", "--api", admin.url + "/", "--room", "room-1"])
    assert code == 0, err
    assert json.loads(out) == {
        "room_id": "room-1",
        "delivery_id": "0190000000001bbbbbbbbbbbb",
        "run": 1,
        "status": "pending",
    }
    assert [(r["method"], r["path"]) for r in admin.requests] == [
        ("GET", "/rooms/room-1/deliveries"),
        ("POST", "/rooms/room-1/deliveries/0190000000001bbbbbbbbbbbb/replay"),
    ]
    assert all(r["key"] == API_KEY for r in admin.requests)
    assert API_KEY not in out + err


def test_replay_of_a_given_delivery(admin: FakeAdmin) -> None:
    admin.deliveries["room-1"] = deliveries()
    code, out, _ = run(
        [
            "replay",
            "--api",
            admin.url,
            "--key",
            API_KEY,
            "--room",
            "room-1",
            "--delivery",
            "0190000000000aaaaaaaaaaaa",
        ]
    )
    assert code == 0
    assert json.loads(out)["delivery_id"] == "0190000000000aaaaaaaaaaaa"
    assert [r["method"] for r in admin.requests] == ["POST"]


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["--key", "wrong-key", "--room", "room-1"], 'HTTP 403 ({"message": "Forbidden"}'),
        (["--key", API_KEY, "--room", "nope"], "HTTP 404 (room_not_found"),
        (["--key", API_KEY, "--room", "empty"], "has no deliveries"),
        (
            ["--key", API_KEY, "--room", "room-1", "--delivery", "missing"],
            "HTTP 404 (delivery_not_found",
        ),
    ],
)
def test_replay_failures_exit_1_with_the_api_error(
    admin: FakeAdmin, argv: list[str], expected: str
) -> None:
    admin.deliveries["room-1"] = deliveries()
    admin.deliveries["empty"] = []
    code, out, err = run(["replay", "--api", admin.url, *argv])
    assert code == 1
    assert out == ""
    assert expected in err
    assert API_KEY not in err and "wrong-key" not in err


def test_replay_without_a_key_is_a_usage_error(
    admin: FakeAdmin, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("ROOMCAST_ADMIN_KEY", raising=False)
    code, _, err = run(["replay", "--api", admin.url, "--room", "room-1"])
    assert code == 2 and "ROOMCAST_ADMIN_KEY" in err
    assert admin.requests == []


def test_replay_against_a_closed_port_fails_cleanly() -> None:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    code, _, err = run(
        [
            "replay",
            "--api",
            f"http://127.0.0.1:{port}",
            "--key",
            API_KEY,
            "--room",
            "r",
            "--timeout",
            "5",
        ]
    )
    assert code == 1
    assert "ConnectionError" in err
    assert API_KEY not in err


def test_token_through_the_api_prints_a_token_that_verifies(admin: FakeAdmin) -> None:
    code, out, err = run(
        [
            "token",
            "--api",
            admin.url,
            "--key",
            API_KEY,
            "--user",
            "carol",
            "--name",
            "Carol",
            "--rooms",
            "r1, r2",
            "--admin",
            "--ttl",
            "900",
        ]
    )
    assert code == 0, err
    identity = verify_token(JWT_SECRET, out.strip())
    assert (identity.user_id, identity.name, identity.rooms, identity.admin) == (
        "carol",
        "Carol",
        ["r1", "r2"],
        True,
    )
    assert admin.requests[0]["body"] == {
        "user_id": "carol",
        "name": "Carol",
        "rooms": ["r1", "r2"],
        "admin": True,
        "ttl_seconds": 900,
    }
    assert admin.requests[0]["key"] == API_KEY
    assert API_KEY not in out + err


def test_token_through_the_api_with_a_wrong_key_fails(admin: FakeAdmin) -> None:
    code, out, err = run(["token", "--api", admin.url, "--key", "nope", "--user", "carol"])
    assert (code, out) == (1, "")
    assert "HTTP 403" in err
