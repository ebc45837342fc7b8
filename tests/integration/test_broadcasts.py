"""POST /broadcasts and GET /broadcasts/{id}: a `notification` frame to every connection
(through the sharded connection index), to a room, or to some users, via range jobs."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.helpers import http_event, reply_body, ws_event
from tests.integration.test_fanout_split import CountingManagementApi, queued_jobs, run_jobs


@pytest.fixture
def api(stack, monkeypatch: pytest.MonkeyPatch) -> CountingManagementApi:
    from roomcast import gateway
    from roomcast.settings import reset_settings

    fake = CountingManagementApi()

    def factory(endpoint_url: str | None, pool: int) -> CountingManagementApi:
        return fake

    factory.cache_clear = lambda: None  # type: ignore[attr-defined]
    monkeypatch.setattr(gateway, "_client", factory)
    # Small ranges, so the shards' planning jobs cut further jobs even with few connections.
    monkeypatch.setenv("FANOUT_SPLIT_THRESHOLD", "3")
    reset_settings()
    return fake


def post_broadcast(invoke: Any, body: Any) -> dict[str, Any]:
    response = invoke("admin", http_event("http-create-broadcast.json", body=body))
    return {"status": response["statusCode"], **json.loads(response["body"])}


def get_broadcast(invoke: Any, broadcast_id: str) -> dict[str, Any]:
    event = http_event("http-get-broadcast.json")
    event["rawPath"] = event["requestContext"]["http"]["path"] = f"/broadcasts/{broadcast_id}"
    event["pathParameters"] = {"broadcast_id": broadcast_id}
    response = invoke("admin", event)
    return {"status": response["statusCode"], **json.loads(response["body"])}


def connect(invoke: Any, count: int, prefix: str = "c") -> list[str]:
    ids = [f"{prefix}{i:04d}=" for i in range(count)]
    for i, cid in enumerate(ids):
        response = invoke("connect", ws_event("ws-connect.json", connection_id=cid, user_id=f"u{i % 7}", name="U"))
        assert response["statusCode"] == 200
    return ids


def drain(invoke: Any) -> int:
    runs = 0
    while records := queued_jobs():
        assert run_jobs(invoke, records) == []
        runs += len(records)
    return runs


def test_a_broadcast_reaches_every_connection_once_with_counts(api, invoke):
    from roomcast.dal import keys

    ids = connect(invoke, 80)
    api.gone.update(ids[:4])
    created = post_broadcast(invoke, {"type": "maintenance", "data": {"text": "restart", "minutes": 5}})
    assert created["status"] == 202
    assert created["state"] == "running" and created["jobs_total"] == keys.CONNECTION_INDEX_SHARDS
    # Every connection sits in one shard; 80 connections spread over several.
    assert len({keys.index_shard(c) for c in ids}) >= 8

    runs = drain(invoke)
    assert runs > keys.CONNECTION_INDEX_SHARDS  # planning jobs cut more ranges
    received = api.received("notification")
    assert set(received) == set(ids[4:]) and set(received.values()) == {1}
    frame = json.loads(api.frames[ids[10]][0])
    assert frame == {
        "type": "notification",
        "notification": {
            "id": created["broadcast_id"],
            "type": "maintenance",
            "data": {"text": "restart", "minutes": 5},
            "sent_at": created["created_at"],
        },
    }
    view = get_broadcast(invoke, created["broadcast_id"])
    assert view["status"] == 200 and view["state"] == "completed" and view["completed_at"]
    assert view["counts"] == {"targeted": 80, "delivered": 76, "failed": 0, "gone": 4}
    assert view["jobs_done"] == view["jobs_total"] == runs

    # The 410s removed those connections, index entries included: the next broadcast skips them.
    api.frames.clear()
    again = post_broadcast(invoke, {"type": "second"})
    drain(invoke)
    assert get_broadcast(invoke, again["broadcast_id"])["counts"] == {"targeted": 76, "delivered": 76, "failed": 0, "gone": 0}


def test_a_job_delivered_twice_counts_once(api, invoke):
    connect(invoke, 30)
    created = post_broadcast(invoke, {"type": "t"})
    records = queued_jobs()
    assert run_jobs(invoke, records) == []
    assert run_jobs(invoke, records) == []  # SQS delivers every first job again
    drain(invoke)
    view = get_broadcast(invoke, created["broadcast_id"])
    assert view["counts"]["targeted"] == view["counts"]["delivered"] == 30
    assert set(api.received("notification").values()) == {1}


def test_room_and_user_filters(api, invoke):
    ids = connect(invoke, 12)
    assert invoke("admin", http_event("http-create-room.json", body={"room_id": "hall", "name": "hall"}))["statusCode"] == 201
    in_room = ids[:5]
    for i, cid in enumerate(in_room):
        joined = reply_body(invoke("chat", ws_event("ws-join.json", cid, f"u{i % 7}", "U", body={"action": "join", "room_id": "hall"})))
        assert joined["type"] == "joined"
    api.frames.clear()

    room = post_broadcast(invoke, {"type": "room-only", "room_id": "hall"})
    drain(invoke)
    assert set(api.received("notification")) == set(in_room)
    assert json.loads(api.frames[in_room[0]][-1])["notification"]["room_id"] == "hall"
    assert get_broadcast(invoke, room["broadcast_id"])["counts"]["delivered"] == 5

    # Users u1 and u3 hold connections 1, 8 and 3, 10 (i % 7); the GSI is read for them.
    api.frames.clear()
    users = post_broadcast(invoke, {"type": "users", "user_ids": ["u1", "u3", "nobody"]})
    drain(invoke)
    assert set(api.received("notification")) == {ids[1], ids[8], ids[3], ids[10]}
    assert get_broadcast(invoke, users["broadcast_id"])["state"] == "completed"

    # Both: those users' connections that are in the room.
    api.frames.clear()
    post_broadcast(invoke, {"type": "both", "user_ids": ["u1", "u3"], "room_id": "hall"})
    drain(invoke)
    assert set(api.received("notification")) == {ids[1], ids[3]}


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"data": {}}, 400, "bad_request"),
        ({"type": "has space"}, 400, "bad_request"),
        ({"type": "t", "extra": 1}, 400, "bad_request"),
        ({"type": "t", "user_ids": []}, 400, "bad_request"),
        ({"type": "t", "user_ids": ["u"] * 1001}, 400, "bad_request"),
        ({"type": "t", "room_id": "no-such-room"}, 404, "room_not_found"),
        ({"type": "t", "data": "x" * (128 * 1024)}, 413, "payload_too_large"),
        ("not json", 400, "bad_request"),
    ],
)
def test_bad_broadcasts_are_refused_and_nothing_is_queued(api, invoke, body, status, code):
    refused = post_broadcast(invoke, body)
    assert (refused["status"], refused["code"]) == (status, code)
    assert queued_jobs() == []


def test_a_frame_just_under_128_kb_goes_out(api, invoke):
    connect(invoke, 2)
    created = post_broadcast(invoke, {"type": "big", "data": "x" * (128 * 1024 - 200)})
    assert created["status"] == 202
    drain(invoke)
    assert all(len(f[0]) <= 128 * 1024 for f in api.frames.values()) and len(api.frames) == 2


def test_unknown_broadcast_is_404_and_needs_the_key(api, invoke):
    assert get_broadcast(invoke, "nope")["status"] == 404
    event = http_event("http-get-broadcast.json", api_key=None)
    assert invoke("admin", event)["statusCode"] == 401
