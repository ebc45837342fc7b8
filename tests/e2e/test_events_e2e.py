"""Events through the local runtime: the template's DynamoDB stream event source, the
events function, the events queue's SQS source and the event delivery function, all run
by the runtime as Lambda would (no special code path), into a loopback receiver."""

from __future__ import annotations

import json
import time
import uuid

import pytest
from standardwebhooks.webhooks import Webhook
from websockets.asyncio.client import connect

from roomcast_local.harness import RunningRuntime
from tests.e2e.aio import run
from tests.e2e.test_runtime import request
from tests.integration.webhook_support import ScriptedReceiver

pytestmark = pytest.mark.e2e


def test_a_message_in_the_runtime_reaches_an_endpoint_as_a_signed_event(local_runtime: RunningRuntime) -> None:
    room_id = f"ev-{uuid.uuid4().hex[:8]}"
    with ScriptedReceiver() as receiver:
        status, endpoint = local_runtime.admin("POST", "/endpoints", {
            "url": receiver.url, "room_ids": [room_id], "event_types": ["room.created", "message.created",
                                                                         "member.joined"]})
        assert status == 201, endpoint
        local_runtime.create_room("Events", room_id=room_id)
        token = local_runtime.token("evan", "Evan")

        async def scenario() -> None:
            async with connect(local_runtime.ws_url, subprotocols=["roomcast.v1", token]) as ws:  # type: ignore[list-item]
                joined = await request(ws, {"action": "join", "room_id": room_id})
                assert joined["type"] == "joined", joined
                ack = await request(ws, {"action": "send", "room_id": room_id, "text": "to the endpoint"})
                assert ack["type"] == "ack", ack

        run(scenario())
        events: list[dict] = []
        deadline = time.monotonic() + 30  # the batching window (5 s) and cold starts
        while len(events) < 3 and time.monotonic() < deadline:
            time.sleep(0.2)
            events = [e for r in list(receiver.requests)
                      for e in Webhook(endpoint["secret"]).verify(r.body, r.headers)["data"]["events"]]
    assert sorted(e["type"] for e in events) == ["member.joined", "message.created", "room.created"], events
    message = next(e for e in events if e["type"] == "message.created")
    assert message["data"]["message"]["text"] == "to the endpoint"
    status, listing = local_runtime.admin("GET", f"/endpoints/{endpoint['endpoint_id']}/deliveries")
    assert status == 200 and {d["status"] for d in listing["deliveries"]} == {"delivered"}, json.dumps(listing)
    assert "reading the stream of" in local_runtime.log_text()
