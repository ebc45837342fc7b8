"""Online status under churn (issue 14), with real sockets through the local runtime: 20
clients (10 users, two sockets each) connect, join, leave and drop in concurrent rounds;
after each round POST /users/online and GET /rooms/{id}/presence agree with the sockets
that are really open. Then a forced disconnect: every socket of the user is told
`disconnected` with the reason before the server closes it."""

from __future__ import annotations

import asyncio
import json
import random
import time
from typing import Any

import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from tests.e2e.aio import run
from tests.e2e.test_chat_e2e import unique

pytestmark = pytest.mark.e2e

USERS = 10
SOCKETS_PER_USER = 2
ROUNDS = 4
# A bound on how long the runtime's $disconnect may take to land; not a speed assertion.
SETTLE_S = 30.0


async def _request(ws: ClientConnection, frame: dict[str, Any]) -> dict[str, Any]:
    """Send a frame with a request id; the reply with that id (broadcasts are skipped)."""
    request_id = unique("r")
    await ws.send(json.dumps({**frame, "request_id": request_id}))
    while True:
        reply = json.loads(await asyncio.wait_for(ws.recv(), 20))
        if reply.get("request_id") == request_id:
            return reply


class Client:
    def __init__(self, runtime: Any, user: str, index: int) -> None:
        self.runtime, self.user, self.index = runtime, user, index
        self.ws: ClientConnection | None = None
        self.rooms: set[str] = set()

    async def open(self, rooms: list[str]) -> None:
        token = self.runtime.token(self.user)
        self.ws = await connect(self.runtime.ws_url, subprotocols=["roomcast.v1", token])  # type: ignore[list-item]
        self.rooms = set()
        for room in rooms:
            reply = await _request(self.ws, {"action": "join", "room_id": room, "history_limit": 0})
            assert reply["type"] == "joined", reply
            self.rooms.add(room)

    async def leave(self, room: str) -> None:
        assert self.ws is not None
        assert (await _request(self.ws, {"action": "leave", "room_id": room}))["type"] == "left"
        self.rooms.discard(room)

    async def close(self) -> None:
        assert self.ws is not None
        await self.ws.close()
        self.ws, self.rooms = None, set()


def _expected(clients: list[Client]) -> dict[str, tuple[int, set[str]]]:
    out: dict[str, tuple[int, set[str]]] = {}
    for client in clients:
        count, rooms = out.get(client.user, (0, set()))
        if client.ws is not None:
            count, rooms = count + 1, rooms | client.rooms
        out[client.user] = (count, rooms)
    return out


def _observed(runtime: Any, users: list[str], rooms: list[str]) -> tuple[dict, dict]:
    status, body = runtime.admin("POST", "/users/online", {"user_ids": users})
    assert status == 200, body
    online = {u["user_id"]: (u["connections"], set(u["rooms"]), u["online"]) for u in body["users"]}
    presence: dict[str, dict[str, int]] = {}
    for room in rooms:
        status, page = runtime.admin("GET", f"/rooms/{room}/presence?limit=100")
        assert status == 200, page
        presence[room] = {e["user_id"]: e["connections"] for e in page["users"]}
    return online, presence


def _agree(clients: list[Client], runtime: Any, users: list[str], rooms: list[str]) -> tuple[bool, Any]:
    expected = _expected(clients)
    online, presence = _observed(runtime, users, rooms)
    want_online = {u: (c, r, c > 0) for u, (c, r) in expected.items()}
    want_presence = {
        room: {u: n for u, n in (
            (user, sum(1 for c in clients if c.user == user and c.ws is not None and room in c.rooms))
            for user in users
        ) if n}
        for room in rooms
    }
    return online == want_online and presence == want_presence, (online, want_online, presence, want_presence)


def _wait_agree(clients: list[Client], runtime: Any, users: list[str], rooms: list[str]) -> None:
    deadline = time.monotonic() + SETTLE_S
    while True:
        agreed, detail = _agree(clients, runtime, users, rooms)
        if agreed:
            return
        if time.monotonic() > deadline:
            pytest.fail(f"online status never agreed with the open sockets: {detail}")
        time.sleep(0.3)


def test_online_status_agrees_with_live_sockets_under_churn(local_runtime: Any) -> None:
    rng = random.Random(14)
    prefix = unique("churn")
    users = [f"{prefix}-u{i}" for i in range(USERS)]
    rooms = [local_runtime.create_room(f"churn {i}")["room_id"] for i in range(3)]
    clients = [Client(local_runtime, user, n) for user in users for n in range(SOCKETS_PER_USER)]

    async def round_trip(round_no: int) -> None:
        async def step(client: Client) -> None:
            choice = rng.random()
            if client.ws is None:
                if choice < 0.7:
                    await client.open(rng.sample(rooms, rng.randint(0, 3)))
            elif choice < 0.35:
                await client.close()
            elif choice < 0.55 and client.rooms:
                await client.leave(sorted(client.rooms)[0])
        if round_no == 0:
            await asyncio.gather(*(c.open(rng.sample(rooms, rng.randint(1, 3))) for c in clients))
        else:
            await asyncio.gather(*(step(c) for c in clients))

    async def churn() -> None:
        for round_no in range(ROUNDS):
            await round_trip(round_no)
            # The check runs off the loop thread: sockets stay open (and answered) meanwhile.
            await asyncio.to_thread(_wait_agree, clients, local_runtime, users, rooms)

    async def forced_disconnect() -> None:
        victim = users[0]
        mine = [c for c in clients if c.user == victim]
        for client in mine:
            if client.ws is None:
                await client.open([rooms[0]])
        await asyncio.to_thread(_wait_agree, clients, local_runtime, users, rooms)
        status, body = await asyncio.to_thread(
            local_runtime.admin, "POST", f"/users/{victim}/disconnect", {"reason": "logged out elsewhere"}
        )
        assert status == 200 and len(body["disconnected"]) == SOCKETS_PER_USER, body
        for client in mine:
            assert client.ws is not None
            frames = []
            with pytest.raises(ConnectionClosed):
                while True:
                    frames.append(json.loads(await asyncio.wait_for(client.ws.recv(), 20)))
            assert frames[-1]["type"] == "disconnected" and frames[-1]["reason"] == "logged out elsewhere", frames
            client.ws, client.rooms = None, set()
        await asyncio.to_thread(_wait_agree, clients, local_runtime, users, rooms)

    async def scenario() -> None:
        try:
            await churn()
            await forced_disconnect()
        finally:
            await asyncio.gather(*(c.close() for c in clients if c.ws is not None), return_exceptions=True)

    run(scenario(), timeout=300)
