"""The ring timer through the local runtime: an unanswered invite becomes `missed`.

Proves the serverless mechanism end to end: the signal function sends a delayed message
to CallTimerQueue (DelaySeconds = CALL_RING_TIMEOUT_SECONDS), the runtime's SQS poller
hands it to CallTimerFunction after the delay, and both sides hear `call-hangup` with
status `missed`. A dedicated runtime with a 2-second ring timeout keeps the wait short;
the two users are plain WebSocket clients (no browser needed here).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
from websockets.sync.client import ClientConnection, connect

from roomcast_local.harness import RunningRuntime, start_runtime

pytestmark = pytest.mark.e2e

RING_SECONDS = 2
WAIT_SECONDS = 60  # a bound, not a speed assertion


@pytest.fixture(scope="module")
def short_ring_runtime(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningRuntime]:
    logs = tmp_path_factory.mktemp("call-timer-runtime")
    runtime = start_runtime(
        "--quiet", "--no-receiver", "--env", f"CALL_RING_TIMEOUT_SECONDS={RING_SECONDS}",
        log_path=logs / "runtime.log",
    )
    try:
        yield runtime
    finally:
        runtime.stop()


def open_socket(runtime: RunningRuntime, user_id: str, name: str) -> ClientConnection:
    token = runtime.token(user_id, name)
    return connect(runtime.ws_url, subprotocols=["roomcast.v1", token], open_timeout=20)  # type: ignore[list-item]


def request(ws: ClientConnection, frame: dict[str, Any]) -> dict[str, Any]:
    ws.send(json.dumps(frame))
    return wait_for(ws, lambda f: f.get("request_id") == frame["request_id"])


def wait_for(ws: ClientConnection, match: Any) -> dict[str, Any]:
    deadline = time.monotonic() + WAIT_SECONDS
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise AssertionError("no matching frame in time")
        frame = json.loads(ws.recv(timeout=remaining))
        if match(frame):
            return frame


def test_unanswered_invite_becomes_missed(short_ring_runtime: RunningRuntime) -> None:
    runtime = short_ring_runtime
    room_id = runtime.create_room("Ring room")["room_id"]
    with open_socket(runtime, "ring-alice", "Alice") as alice, open_socket(runtime, "ring-bob", "Bob") as bob:
        for ws in (alice, bob):
            joined = request(ws, {"action": "join", "room_id": room_id, "request_id": "j"})
            assert joined["type"] == "joined", joined
        ack = request(
            alice,
            {"action": "signal", "room_id": room_id, "type": "call-invite", "to": "ring-bob", "request_id": "i"},
        )
        assert ack["type"] == "signal.ack" and ack["status"] == "invited", ack
        call_id = ack["call_id"]
        invite = wait_for(bob, lambda f: f.get("type") == "signal")
        assert invite["signal"] == "call-invite" and invite["call_id"] == call_id

        # Nobody answers: the delayed timer message ends it, and both sides are told.
        for ws in (alice, bob):
            hangup = wait_for(ws, lambda f: f.get("type") == "signal" and f.get("signal") == "call-hangup")
            assert hangup["call_id"] == call_id
            assert hangup["status"] == "missed" and hangup["reason"] == "no-answer"

        late = request(
            bob,
            {"action": "signal", "room_id": room_id, "type": "call-accept", "call_id": call_id, "request_id": "a"},
        )
        assert late["type"] == "error" and late["code"] == "invalid_call_state", late

    status, room = runtime.admin("GET", f"/rooms/{room_id}")
    assert status == 200
    [call] = room["calls"]
    assert (call["call_id"], call["status"], call["reason"]) == (call_id, "missed", "no-answer")
    assert "started_at" not in call  # never accepted
