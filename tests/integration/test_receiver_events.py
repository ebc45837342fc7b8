"""The reference receiver (examples/receiver) takes event batches: every type of the
catalogue, each event stored once (by its id) and shown at GET /events; and it takes
what the real pipeline sends it."""

from __future__ import annotations

import json
from typing import Any

import requests

from examples.receiver import start_receiver
from roomcast.models.events import EVENT_TYPES
from tests.helpers import ws_event
from tests.integration.events_support import EventsDriver, StreamReader, create_endpoint, run_stream
from tests.integration.test_receiver import HTTP_TIMEOUT, SECRET, signed_headers
from tests.integration.webhook_support import admin, create_room, provisioned_stack


def _batch(batch_id: str, events: list[dict[str, Any]]) -> bytes:
    return json.dumps({"type": "event.batch", "timestamp": "2026-11-22T04:00:00.000Z",
                       "data": {"endpoint_id": "ep_1", "batch_id": batch_id, "events": events}}).encode()


def _event(n: int, event_type: str) -> dict[str, Any]:
    return {"id": f"evt_{n}", "type": event_type, "timestamp": "2026-11-22T04:00:00.000Z",
            "data": {"room_id": "r1", "n": n}}


def test_every_event_type_is_accepted_stored_once_and_shown(tmp_path) -> None:
    receiver = start_receiver(secrets=[SECRET], db_path=tmp_path / "r.sqlite3")
    try:
        events = [_event(n, t) for n, t in enumerate(EVENT_TYPES)]
        body = _batch("b1", events)
        response = requests.post(receiver.webhook_url, data=body, headers=signed_headers("evb_b1", body),
                                 timeout=HTTP_TIMEOUT)
        assert response.status_code == 200, response.text
        # Re-batched (a new webhook-id) with one new event: only that one is added.
        again = _batch("b2", [*events[:3], _event(99, "message.created")])
        response = requests.post(receiver.webhook_url, data=again, headers=signed_headers("evb_b2", again),
                                 timeout=HTTP_TIMEOUT)
        assert response.status_code == 200
        shown = requests.get(receiver.url + "/events?limit=1000", timeout=HTTP_TIMEOUT).json()
        assert sorted(e["type"] for e in shown["events"]) == sorted([*EVENT_TYPES, "message.created"])
        assert requests.get(receiver.url + "/stats", timeout=HTTP_TIMEOUT).json()["events"] == len(EVENT_TYPES) + 1
        only = requests.get(receiver.url + "/events?type=moderation.banned&room=r1", timeout=HTTP_TIMEOUT).json()
        assert [e["id"] for e in only["events"]] == [f"evt_{EVENT_TYPES.index('moderation.banned')}"]
        bad = _batch("b3", [{"id": 1}])
        response = requests.post(receiver.webhook_url, data=bad, headers=signed_headers("evb_b3", bad),
                                 timeout=HTTP_TIMEOUT)
        assert response.status_code == 400
        assert requests.get(receiver.url + "/stats", timeout=HTTP_TIMEOUT).json()["events"] == len(EVENT_TYPES) + 1
    finally:
        receiver.stop()


def test_the_pipeline_into_the_reference_receiver(monkeypatch, invoke, tmp_path) -> None:
    receiver = start_receiver(secrets=[SECRET], db_path=tmp_path / "r.sqlite3")
    try:
        with provisioned_stack(monkeypatch) as stack:
            stream = StreamReader(stack)
            create_endpoint(admin, invoke, receiver.webhook_url, secret=SECRET)
            create_room(invoke, "ref", None)
            invoke("connect", ws_event("ws-connect.json"))
            invoke("chat", ws_event("ws-join.json", body={"action": "join", "room_id": "ref"}))
            invoke("chat", ws_event("ws-send.json", body={"action": "send", "room_id": "ref", "text": "hi"}))
            run_stream(invoke, stream.new())
            EventsDriver(stack, invoke).drain()
        shown = requests.get(receiver.url + "/events", timeout=HTTP_TIMEOUT).json()["events"]
        assert sorted(e["type"] for e in shown) == ["member.joined", "message.created", "room.created", "user.online"]
        assert receiver.stats()["refused"] == 0
    finally:
        receiver.stop()
