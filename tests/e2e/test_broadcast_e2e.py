"""A broadcast through the local runtime: the FanoutQueue, its poller and FanoutFunction
run from template.yaml like every other part (nothing in local/ knows about them)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from typing import Any

import pytest
from websockets.asyncio.client import connect

from roomcast_local.harness import RunningRuntime
from tests.e2e.aio import run
from tests.e2e.test_runtime import WAIT, uid

pytestmark = pytest.mark.e2e


def test_a_broadcast_reaches_every_open_socket_once(local_runtime: RunningRuntime) -> None:
    tokens = [local_runtime.token(uid("b"), "B") for _ in range(3)]

    async def scenario() -> tuple[dict[str, Any], list[list[dict[str, Any]]]]:
        sockets = [await connect(local_runtime.ws_url, subprotocols=["roomcast.v1", t]) for t in tokens]  # type: ignore[list-item]
        try:
            status, created = await asyncio.to_thread(
                local_runtime.admin, "POST", "/broadcasts", {"type": "e2e", "data": {"n": 1}}
            )
            assert status == 202, created
            received: list[list[dict[str, Any]]] = []
            for ws in sockets:
                first = json.loads(await asyncio.wait_for(ws.recv(), WAIT))
                received.append([first])
            # Nothing more for a moment: the notification came once to each.
            for ws, frames in zip(sockets, received, strict=True):
                with contextlib.suppress(TimeoutError):
                    frames.append(json.loads(await asyncio.wait_for(ws.recv(), 1.0)))
            return created, received
        finally:
            for ws in sockets:
                await ws.close()

    created, received = run(scenario())
    for frames in received:
        assert [f["type"] for f in frames] == ["notification"]
        assert frames[0]["notification"]["id"] == created["broadcast_id"]
        assert frames[0]["notification"]["data"] == {"n": 1}
    deadline = time.monotonic() + WAIT
    while True:
        status, view = local_runtime.admin("GET", f"/broadcasts/{created['broadcast_id']}")
        assert status == 200, view
        if view["state"] == "completed" or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert view["state"] == "completed" and view["jobs_done"] == view["jobs_total"] >= 16
    assert view["counts"]["delivered"] >= 3 and view["counts"]["failed"] == 0
