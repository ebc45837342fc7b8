"""The local runtime over loopback with a real WebSocket client: handshake and auth,
routing, limits, and the @connections endpoint, against the real template."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from roomcast_local.harness import RunningRuntime
from tests.e2e.aio import run

pytestmark = pytest.mark.e2e
WAIT = 20  # seconds any single expected frame may take (cold starts included)


def uid(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


async def recv_json(ws: ClientConnection) -> dict[str, Any]:
    return json.loads(await asyncio.wait_for(ws.recv(), WAIT))


async def recv_until(ws: ClientConnection, kind: str) -> dict[str, Any]:
    while True:
        frame = await recv_json(ws)
        if frame.get("type") == kind:
            return frame


async def request(ws: ClientConnection, frame: dict[str, Any]) -> dict[str, Any]:
    """Send a frame and return the reply that echoes its request_id."""
    rid = uid("r")
    await ws.send(json.dumps({**frame, "request_id": rid}))
    while True:
        reply = await recv_json(ws)
        if reply.get("request_id") == rid:
            return reply


def management(runtime: RunningRuntime) -> Any:
    return boto3.client(
        "apigatewaymanagementapi",
        endpoint_url=runtime.management_url,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=Config(retries={"max_attempts": 1}),
    )


def connection_of(runtime: RunningRuntime, user_id: str) -> str:
    found = [c["connectionId"] for c in runtime.connections() if c["principalId"] == user_id]
    assert len(found) == 1, runtime.connections()
    return found[0]


def test_ready_line_names_every_endpoint_and_the_token_command(
    local_runtime: RunningRuntime,
) -> None:
    line = local_runtime.ready_line
    for part in (
        local_runtime.http_url,
        local_runtime.ws_url,
        local_runtime.admin_api_url,
        local_runtime.admin_key,
    ):
        assert part and part in line
    assert "POST " + local_runtime.admin_api_url + "/tokens" in line
    config = local_runtime.config
    assert config["ws_url"] == local_runtime.ws_url
    assert config["admin_key"] == local_runtime.admin_key
    status, health = local_runtime.request("GET", local_runtime.admin_api_url + "/health")
    assert (status, health) == (200, {"status": "ok"})


def test_admin_api_requires_the_key(local_runtime: RunningRuntime) -> None:
    status, body = local_runtime.request(
        "POST", local_runtime.admin_api_url + "/rooms", {"name": "x"}
    )
    assert status == 401, body
    # Every path reaches the admin function through the $default route, behind the key:
    # without it 401, with it API Gateway's own 404 body (docs/admin-api.md, "Requests").
    status, body = local_runtime.request("GET", local_runtime.admin_api_url + "/no-such-route")
    assert (status, body) == (401, {"message": "Unauthorized"})
    status, body = local_runtime.admin("GET", "/no-such-route")
    assert (status, body) == (404, {"message": "Not Found"})


def test_token_as_subprotocol_is_accepted_and_roomcast_v1_selected(
    local_runtime: RunningRuntime,
) -> None:
    token = local_runtime.token(uid("alice"), "Alice")

    async def scenario() -> tuple[str | None, dict[str, Any]]:
        async with connect(local_runtime.ws_url, subprotocols=["roomcast.v1", token]) as ws:  # type: ignore[list-item]
            return ws.subprotocol, await request(ws, {"action": "ping"})

    subprotocol, pong = run(scenario())
    assert subprotocol == "roomcast.v1"
    assert pong["type"] == "pong"


def test_token_as_query_parameter_is_accepted(local_runtime: RunningRuntime) -> None:
    token = local_runtime.token(uid("bob"))

    async def scenario() -> dict[str, Any]:
        async with connect(f"{local_runtime.ws_url}?token={token}") as ws:
            return await request(ws, {"action": "ping"})

    assert run(scenario())["type"] == "pong"


@pytest.mark.parametrize(
    "suffix", ["?token=not-a-token", "", "?token=eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0."]
)
def test_bad_or_missing_token_is_refused_at_the_handshake(
    local_runtime: RunningRuntime, suffix: str
) -> None:
    async def scenario() -> None:
        async with connect(local_runtime.ws_url + suffix):
            pass

    with pytest.raises(InvalidStatus) as refused:
        run(scenario())
    # A REQUEST authorizer that raises "Unauthorized" is a 401, as in API Gateway.
    assert refused.value.response.status_code == 401


def test_join_and_send_between_two_sockets(local_runtime: RunningRuntime) -> None:
    room = local_runtime.create_room("Two sockets")["room_id"]
    alice, bob = uid("alice"), uid("bob")
    alice_token, bob_token = local_runtime.token(alice, "Alice"), local_runtime.token(bob, "Bob")

    async def scenario() -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
        async with (
            connect(local_runtime.ws_url, subprotocols=["roomcast.v1", alice_token]) as a,  # type: ignore[list-item]
            connect(local_runtime.ws_url, subprotocols=["roomcast.v1", bob_token]) as b,  # type: ignore[list-item]
        ):
            assert (await request(a, {"action": "join", "room_id": room}))["type"] == "joined"
            joined = await request(b, {"action": "join", "room_id": room})
            await recv_until(a, "member.joined")
            ack = await request(a, {"action": "send", "room_id": room, "text": "hello bob"})
            message = await recv_until(b, "message")
            return joined, ack, message

    joined, ack, message = run(scenario())
    assert {m["user_id"] for m in joined["members"]} == {alice, bob}
    assert ack["type"] == "ack" and ack["delivered"] == 1
    assert message["message"]["text"] == "hello bob" and message["message"]["user_id"] == alice


def test_unknown_action_gets_an_error_frame_from_default(local_runtime: RunningRuntime) -> None:
    token = local_runtime.token(uid("carol"))

    async def scenario() -> dict[str, Any]:
        async with connect(local_runtime.ws_url, subprotocols=["roomcast.v1", token]) as ws:  # type: ignore[list-item]
            return await request(ws, {"action": "dance"})

    reply = run(scenario())
    assert reply["type"] == "error" and reply["code"] == "unknown_action"


def test_a_frame_over_32_kb_closes_the_socket_with_1009(local_runtime: RunningRuntime) -> None:
    token = local_runtime.token(uid("dave"))

    async def scenario() -> int | None:
        async with connect(
            local_runtime.ws_url,
            subprotocols=["roomcast.v1", token],
            max_size=None,  # type: ignore[list-item]
        ) as ws:
            await ws.send(json.dumps({"action": "send", "room_id": "x", "text": "a" * (33 * 1024)}))
            with pytest.raises(ConnectionClosed):
                await asyncio.wait_for(ws.recv(), WAIT)
            return ws.close_code

    assert run(scenario()) == 1009


def test_fragments_under_32_kb_pass_the_gateway_but_a_message_over_128_kb_closes(
    local_runtime: RunningRuntime,
) -> None:
    token = local_runtime.token(uid("erin"))
    frame = json.dumps({"action": "ping", "pad": "b" * (60 * 1024)})

    def fragments(text: str, size: int) -> list[str]:
        return [text[i : i + size] for i in range(0, len(text), size)]

    async def scenario() -> tuple[dict[str, Any], int | None]:
        async with connect(local_runtime.ws_url, subprotocols=["roomcast.v1", token]) as ws:  # type: ignore[list-item]
            # 60 KB in 20 KB fragments: within both limits, so the handler sees it (and
            # answers with its own error: frames over 32 KB never reach it in the cloud).
            await ws.send(fragments(frame, 20 * 1024))
            reply = await recv_json(ws)
            await ws.send(fragments("c" * (130 * 1024), 30 * 1024))
            with pytest.raises(ConnectionClosed):
                await asyncio.wait_for(ws.recv(), WAIT)
            return reply, ws.close_code

    reply, code = run(scenario())
    assert reply["type"] == "error"
    assert code == 1009


def test_post_to_a_gone_connection_gets_410(local_runtime: RunningRuntime) -> None:
    client = management(local_runtime)
    with pytest.raises(ClientError) as unknown:
        client.post_to_connection(ConnectionId="NoSuchConnId=", Data=b"{}")
    assert unknown.value.response["ResponseMetadata"]["HTTPStatusCode"] == 410
    assert unknown.value.response["Error"]["Code"] == "GoneException"

    user = uid("frank")
    token = local_runtime.token(user)

    async def scenario() -> str:
        async with connect(local_runtime.ws_url, subprotocols=["roomcast.v1", token]) as ws:  # type: ignore[list-item]
            await request(ws, {"action": "ping"})
            return connection_of(local_runtime, user)

    closed_id = run(scenario())
    with pytest.raises(ClientError) as gone:
        client.post_to_connection(ConnectionId=closed_id, Data=b"{}")
    assert gone.value.response["ResponseMetadata"]["HTTPStatusCode"] == 410


def test_connections_post_get_and_delete(local_runtime: RunningRuntime) -> None:
    client = management(local_runtime)
    user = uid("gina")
    token = local_runtime.token(user)

    async def scenario() -> tuple[str, dict[str, Any], dict[str, Any], int | None]:
        async with connect(local_runtime.ws_url, subprotocols=["roomcast.v1", token]) as ws:  # type: ignore[list-item]
            await request(ws, {"action": "ping"})
            cid = connection_of(local_runtime, user)
            await asyncio.to_thread(
                client.post_to_connection, ConnectionId=cid, Data=b'{"type":"hello"}'
            )
            pushed = await recv_json(ws)
            info = await asyncio.to_thread(client.get_connection, ConnectionId=cid)
            await asyncio.to_thread(client.delete_connection, ConnectionId=cid)
            with pytest.raises(ConnectionClosed):
                await asyncio.wait_for(ws.recv(), WAIT)
            return cid, pushed, info, ws.close_code

    cid, pushed, info, code = run(scenario())
    assert pushed == {"type": "hello"}
    assert info["Identity"]["SourceIp"] == "127.0.0.1"
    assert info["ConnectedAt"] <= info["LastActiveAt"]
    assert code == 1000
    with pytest.raises(ClientError) as gone:
        client.get_connection(ConnectionId=cid)
    assert gone.value.response["ResponseMetadata"]["HTTPStatusCode"] == 410


def test_room_close_reaches_the_reference_receiver_through_sqs(
    local_runtime: RunningRuntime,
) -> None:
    from roomcast_local.cfn import load_template
    from roomcast_local.harness import ROOT

    resources = load_template(ROOT / "template.yaml").get("Resources") or {}
    if local_runtime.receiver_url is None or "DeliveryFunction" not in resources:
        pytest.skip("needs examples.receiver and the template's DeliveryFunction")
    admin = uid("alice")
    room = local_runtime.create_room("Closing", admin_user_ids=[admin])["room_id"]
    token = local_runtime.token(admin, "Alice")

    async def chat() -> None:
        async with connect(local_runtime.ws_url, subprotocols=["roomcast.v1", token]) as ws:  # type: ignore[list-item]
            await request(ws, {"action": "join", "room_id": room})
            await request(ws, {"action": "send", "room_id": room, "text": "last words"})

    run(chat())
    status, closed = local_runtime.admin("DELETE", f"/rooms/{room}")
    assert status in (200, 202), closed
    base = local_runtime.config["receiver_base_url"]
    deadline = time.monotonic() + 60
    sync: Any = None
    while time.monotonic() < deadline:
        status, sync = local_runtime.request("GET", f"{base}/rooms/{room}")
        if status == 200 and sync.get("sync", {}).get("complete"):
            break
        time.sleep(0.3)
    assert status == 200, sync
    assert [m["text"] for m in sync["chat_history"]] == ["last words"]
    assert [s["user_id"] for s in sync["session_history"]] == [admin]


def test_demo_link_at_root_keeps_its_query_through_the_redirect(local_runtime: RunningRuntime) -> None:
    import requests

    response = requests.get(f"{local_runtime.base_url}/?room=lobby&user=ann", allow_redirects=False, timeout=10)
    assert response.status_code == 302
    assert response.headers["Location"] == "/client/demo/?room=lobby&user=ann"


def test_arrays_nested_15000_deep_answer_invalid_frame_and_keep_the_socket(local_runtime: RunningRuntime) -> None:
    token = local_runtime.token(uid("nest"))
    deep = "[" * 15000 + "]" * 15000  # 30,000 bytes: under the 32 KB frame limit

    async def scenario() -> tuple[dict[str, Any], dict[str, Any]]:
        async with connect(local_runtime.ws_url, subprotocols=["roomcast.v1", token]) as ws:  # type: ignore[list-item]
            await ws.send(deep)
            refused = await recv_json(ws)
            # Still open: the next frame is answered as usual.
            return refused, await request(ws, {"action": "ping"})

    refused, pong = run(scenario())
    assert refused["type"] == "error" and refused["code"] == "invalid_frame"
    assert pong["type"] == "pong"


@pytest.mark.parametrize("path", ["/config.json", "/", "/client/demo/"])
def test_config_and_demo_answer_only_loopback_host_names(local_runtime: RunningRuntime, path: str) -> None:
    import requests

    url = f"{local_runtime.base_url}{path}"
    port = local_runtime.base_url.rsplit(":", 1)[1]
    for host in ("evil.example", f"evil.example:{port}", f"127.0.0.1.nip.io:{port}", "10.0.0.5"):
        refused = requests.get(url, headers={"Host": host}, allow_redirects=False, timeout=10)
        assert refused.status_code == 403, host
        assert local_runtime.admin_key not in refused.text
    for host in (f"127.0.0.1:{port}", f"localhost:{port}", f"[::1]:{port}"):
        allowed = requests.get(url, headers={"Host": host}, allow_redirects=False, timeout=10)
        assert allowed.status_code in (200, 302), host
    config = requests.get(f"{local_runtime.base_url}/config.json", timeout=10)
    assert config.status_code == 200 and config.json()
