"""The client package under Node against the real local runtime, with Node's `ws` as the
WebSocket: a room joined and a message sent and received back; and a handshake the runtime
refuses with 401 (a forged token) ends in `unauthorized` after exactly one more token,
not in a reconnect loop. `ws` reports a refused handshake's status ("Unexpected server
response: 401"); browsers do not (docs/protocol.md, "Connecting"), which is why
getToken() may throw UnauthorizedError itself."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from typing import Any

import pytest

from tests.conftest import ROOT

pytestmark = pytest.mark.e2e

CLIENT = ROOT / "client"
NODE = shutil.which("node")

SCRIPT = r"""
import { WebSocket } from "ws";
import { RoomcastClient, UnauthorizedError } from "./dist/index.js";

const { url, good, room } = JSON.parse(process.env.ROOMCAST_TEST);
const out = {};

const client = new RoomcastClient({ url, getToken: () => good, WebSocket, heartbeatMs: 0 });
await client.connect();
const r = client.room(room);
const joined = await r.join();
const ack = await r.send("from node");
const page = await r.history();
out.chat = { state: r.state, room: joined.room.room_id, acked: ack.message.text, history: page.messages.map((m) => m.text) };
client.disconnect();
out.chat.after = r.state;

let asked = 0;
const refused = new RoomcastClient({
  url, WebSocket, heartbeatMs: 0, reconnect: { minDelayMs: 1, maxDelayMs: 5 },
  getToken: () => { asked += 1; return good.slice(0, -4) + "AAAA"; },
});
const told = [];
refused.on("unauthorized", (d) => told.push(d));
try {
  await refused.connect();
  out.unauthorized = "connected";
} catch (error) {
  await new Promise((resolve) => setTimeout(resolve, 300));
  out.unauthorized = { unauthorizedError: error instanceof UnauthorizedError, status: error.status, asked, told, state: refused.state };
}
console.log(JSON.stringify(out));
"""


@pytest.mark.skipif(NODE is None, reason="node is needed to run the client under Node")
def test_the_client_under_node_with_ws_chats_and_stops_on_401(local_runtime: Any) -> None:
    if not (CLIENT / "node_modules" / "ws").exists():
        if os.environ.get("CI"):
            pytest.fail("client/node_modules is missing: `make test` runs `make client-deps` first")
        pytest.skip("ws is not installed: run `make client-deps`")
    room_id = local_runtime.create_room("Node room")["room_id"]
    env = {
        **os.environ,
        "ROOMCAST_TEST": json.dumps(
            {
                "url": local_runtime.ws_url,
                "good": local_runtime.token("node-user", "Node"),
                "room": room_id,
            }
        ),
    }
    result = subprocess.run(
        [str(NODE), "--input-type=module", "-e", SCRIPT],
        cwd=CLIENT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    assert out["chat"] == {
        "state": "joined",
        "room": room_id,
        "acked": "from node",
        "history": ["from node"],
        "after": "left",
    }
    assert out["unauthorized"] == {
        "unauthorizedError": True,
        "status": 401,
        "asked": 2,
        "told": [{"status": 401, "message": "the handshake was refused with 401"}],
        "state": "closed",
    }
