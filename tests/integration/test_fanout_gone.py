"""Fan-out when a connection is gone (410) or failing, with a stub @connections client.

moto's management API never answers 410 Gone, so the gateway's client is replaced by a
stub that passes most calls to moto and answers chosen connections with errors.
"""

from __future__ import annotations

import threading
from collections import Counter
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError, EndpointConnectionError

from tests.helpers import clear_posted, http_event, posted_frames, reply_body, ws_event


def _client_error(status: int, code: str) -> ClientError:
    return ClientError(
        {"Error": {"Code": code, "Message": code}, "ResponseMetadata": {"HTTPStatusCode": status}},
        "PostToConnection",
    )


class StubManagementApi:
    """A PostToConnection client: `gone` answers 410, `failing` answers 500 (`fail_times`
    times, or always), `unreachable` raises a connection error; the rest go to moto."""

    def __init__(self) -> None:
        self.real = boto3.client("apigatewaymanagementapi", endpoint_url="https://abc123.execute-api.us-east-1.amazonaws.com/prod")
        self.gone: set[str] = set()
        self.failing: dict[str, int | None] = {}
        self.unreachable: set[str] = set()
        self.calls: Counter[str] = Counter()
        self.deleted: list[str] = []
        self._lock = threading.Lock()

    def post_to_connection(self, ConnectionId: str, Data: bytes) -> dict[str, Any]:
        with self._lock:
            self.calls[ConnectionId] += 1
            attempt = self.calls[ConnectionId]
        if ConnectionId in self.gone:
            raise _client_error(410, "GoneException")
        if ConnectionId in self.unreachable:
            raise EndpointConnectionError(endpoint_url="https://example.invalid")
        if ConnectionId in self.failing:
            times = self.failing[ConnectionId]
            if times is None or attempt <= times:
                raise _client_error(500, "InternalServerErrorException")
        return self.real.post_to_connection(ConnectionId=ConnectionId, Data=Data)

    def delete_connection(self, ConnectionId: str) -> dict[str, Any]:
        self.deleted.append(ConnectionId)
        return {}


@pytest.fixture
def stub(stack, monkeypatch: pytest.MonkeyPatch) -> StubManagementApi:
    from roomcast import gateway

    fake = StubManagementApi()

    def factory(endpoint_url: str | None, pool: int) -> StubManagementApi:
        return fake

    factory.cache_clear = lambda: None  # type: ignore[attr-defined] - reset_caches() calls it
    # _client is the cached factory every Gateway asks for its boto3 client.
    monkeypatch.setattr(gateway, "_client", factory)
    return fake


MEMBERS = [("conn-alice-1", "alice"), ("conn-bob-1", "bob"), ("conn-carol-1", "carol"), ("conn-dave-1", "dave")]


def _setup_room(invoke: Any, room_id: str = "lobby", members: list[tuple[str, str]] = MEMBERS) -> None:
    body = {"room_id": room_id, "name": room_id}
    assert invoke("admin", http_event("http-create-room.json", body=body))["statusCode"] == 201
    for cid, user in members:
        invoke("connect", ws_event("ws-connect.json", connection_id=cid, user_id=user, name=user.title()))
        joined = reply_body(invoke("chat", ws_event("ws-join.json", cid, user, user.title(), body={"action": "join", "room_id": room_id})))
        assert joined["type"] == "joined"
    clear_posted()
    if isinstance(stub := _current_stub(), StubManagementApi):
        stub.calls.clear()


def _current_stub() -> object:
    from roomcast import gateway

    return gateway._client(None, 1)


def _send(invoke: Any, text: str = "hello", cid: str = "conn-alice-1", user: str = "alice") -> dict[str, Any]:
    body = {"action": "send", "room_id": "lobby", "text": text, "request_id": "s1"}
    return reply_body(invoke("chat", ws_event("ws-send.json", cid, user, user.title(), body=body)))


def test_gone_connection_is_removed_and_the_others_still_receive(stub, invoke):
    from roomcast.dal.store import get_store

    _setup_room(invoke)
    stub.gone.add("conn-carol-1")
    ack = _send(invoke)
    assert ack["type"] == "ack" and ack["request_id"] == "s1"
    assert (ack["delivered"], ack["failed"], ack["gone"]) == (2, 0, 1)
    for cid in ("conn-bob-1", "conn-dave-1"):
        frames = posted_frames(cid)
        assert frames[0] == {"type": "message", "message": ack["message"]}
        # ... and they learn that carol left.
        assert [(f["type"], f["user_id"]) for f in frames[1:]] == [("member.left", "carol")]
    store = get_store()
    assert sorted(m.connection_id for m in store.members("lobby")) == ["conn-alice-1", "conn-bob-1", "conn-dave-1"]
    carol = [s for page in store.iter_sessions("lobby") for s in page if s.connection_id == "conn-carol-1"]
    assert len(carol) == 1 and carol[0].end_reason == "gone" and carol[0].left_at is not None
    assert carol[0].duration_ms == carol[0].left_at - carol[0].joined_at
    assert store.get_connection("conn-carol-1") is None and store.connection_rooms("conn-carol-1") == []
    # The sender is untouched: still a member, still connected, never posted to itself.
    assert store.get_member("lobby", "conn-alice-1") is not None
    assert store.get_connection("conn-alice-1") is not None
    assert [f["type"] for f in posted_frames("conn-alice-1")] == ["member.left"]
    room = store.get_room("lobby")
    assert room is not None
    assert (room.stats.current_users, room.stats.total_joins, room.stats.message_count) == (3, 4, 1)
    assert stub.calls["conn-carol-1"] == 1  # a 410 is not retried
    # The message is durable and the next send no longer tries carol.
    again = _send(invoke, "second")
    assert (again["delivered"], again["failed"], again["gone"]) == (2, 0, 0)
    assert stub.calls["conn-carol-1"] == 1


def test_several_gone_connections_in_one_fanout(stub, invoke):
    from roomcast.dal.store import get_store

    _setup_room(invoke)
    stub.gone.update({"conn-bob-1", "conn-carol-1"})
    ack = _send(invoke)
    assert (ack["delivered"], ack["failed"], ack["gone"]) == (1, 0, 2)
    assert sorted(m.connection_id for m in get_store().members("lobby")) == ["conn-alice-1", "conn-dave-1"]
    sessions = [s for page in get_store().iter_sessions("lobby") for s in page]
    assert sorted((s.connection_id, s.end_reason) for s in sessions if s.end_reason) == [
        ("conn-bob-1", "gone"),
        ("conn-carol-1", "gone"),
    ]
    room = get_store().get_room("lobby")
    assert room is not None and room.stats.current_users == 2


def test_gone_connection_leaves_every_room_it_was_in(stub, invoke):
    from roomcast.dal.store import get_store

    _setup_room(invoke)
    assert invoke("admin", http_event("http-create-room.json", body={"room_id": "side", "name": "side"}))["statusCode"] == 201
    invoke("chat", ws_event("ws-join.json", "conn-carol-1", "carol", "Carol", body={"action": "join", "room_id": "side"}))
    stub.gone.add("conn-carol-1")
    _send(invoke)
    store = get_store()
    assert store.get_member("side", "conn-carol-1") is None
    side = store.get_room("side")
    assert side is not None and side.stats.current_users == 0


def test_gone_found_by_a_join_broadcast_is_cleaned(stub, invoke):
    from roomcast.dal.store import get_store

    _setup_room(invoke, members=MEMBERS[:2])
    stub.gone.add("conn-bob-1")
    joined = reply_body(invoke("chat", ws_event("ws-join.json", "conn-carol-1", "carol", "Carol")))
    assert joined["type"] == "joined"
    assert sorted(m.connection_id for m in get_store().members("lobby")) == ["conn-alice-1", "conn-carol-1"]


def test_non_410_error_is_retried_then_counted_failed(stub, invoke):
    from roomcast.dal.store import get_store
    from roomcast.settings import get_settings

    _setup_room(invoke)
    stub.failing["conn-bob-1"] = None  # always fails
    stub.failing["conn-carol-1"] = 1  # fails once, then succeeds
    stub.unreachable.add("conn-dave-1")
    ack = _send(invoke)
    assert (ack["delivered"], ack["failed"], ack["gone"]) == (1, 2, 0)
    attempts = get_settings().fanout_retries + 1
    assert stub.calls["conn-bob-1"] == attempts and stub.calls["conn-dave-1"] == attempts
    assert stub.calls["conn-carol-1"] == 2
    assert posted_frames("conn-carol-1") == [{"type": "message", "message": ack["message"]}]
    # Failing is not gone: nobody loses a membership over it.
    assert len(get_store().members("lobby")) == 4


def test_gateway_counts_outcomes_directly(stack):
    from roomcast.gateway import Gateway

    fake = StubManagementApi()
    fake.real = None  # type: ignore[assignment]
    fake.gone.add("g")
    fake.failing["f"] = None

    delivered: list[str] = []

    def post(ConnectionId: str, Data: bytes) -> dict[str, Any]:
        if ConnectionId in ("g", "f"):
            return StubManagementApi.post_to_connection(fake, ConnectionId, Data)
        delivered.append(ConnectionId)
        return {}

    fake.post_to_connection = post  # type: ignore[method-assign]
    gateway = Gateway(None, client=fake, workers=4, retries=1, backoff_seconds=0)
    result = gateway.broadcast(["a", "g", "b", "f", "a", "c"], {"type": "x"})
    assert (result.delivered, result.failed, result.gone) == (3, 1, ["g"])
    assert sorted(delivered) == ["a", "b", "c"]  # duplicates are posted once
    assert fake.calls["f"] == 2 and fake.calls["g"] == 1
    assert gateway.broadcast([], {"type": "x"}).delivered == 0


def test_stale_connections_are_cleaned_a_bounded_number_per_broadcast(stub, invoke):
    from roomcast.dal.store import get_store
    from roomcast.logic.presence import MAX_GONE_CLEANUPS_PER_BROADCAST

    stale = [(f"conn-ghost-{i:02d}", f"ghost{i:02d}") for i in range(MAX_GONE_CLEANUPS_PER_BROADCAST + 3)]
    _setup_room(invoke, members=[("conn-alice-1", "alice"), ("conn-bob-1", "bob"), *stale])
    stub.gone.update(cid for cid, _ in stale)

    ack = reply_body(invoke("chat", ws_event("ws-send.json", body={"action": "send", "room_id": "lobby", "text": "one"})))
    assert ack["type"] == "ack" and ack["delivered"] == 1 and ack["gone"] == len(stale)
    left = {m.connection_id for m in get_store().members("lobby")} & {cid for cid, _ in stale}
    assert len(left) == 3  # the first ten were cleaned; three wait for the next broadcast

    ack = reply_body(invoke("chat", ws_event("ws-send.json", body={"action": "send", "room_id": "lobby", "text": "two"})))
    assert ack["gone"] == 3
    assert {m.connection_id for m in get_store().members("lobby")} == {"conn-alice-1", "conn-bob-1"}


def test_a_close_goes_through_when_a_disconnect_times_out(stub, invoke, monkeypatch):
    import json as _json
    import os

    from botocore.exceptions import ReadTimeoutError

    from roomcast.dal.store import get_store

    _setup_room(invoke)

    def slow_delete(ConnectionId: str) -> dict[str, Any]:
        if ConnectionId == "conn-bob-1":
            raise ReadTimeoutError(endpoint_url="https://abc123.execute-api.us-east-1.amazonaws.com")
        stub.deleted.append(ConnectionId)
        return {}

    monkeypatch.setattr(stub, "delete_connection", slow_delete)
    event = http_event("http-get-room.json")
    event["requestContext"]["http"]["method"] = "DELETE"
    event["routeKey"] = event["requestContext"]["routeKey"] = "DELETE /rooms/{room_id}"
    response = invoke("admin", event)
    assert response["statusCode"] == 202, response
    room = get_store().get_room("lobby")
    assert room is not None and room.state == "closed"
    assert set(stub.deleted) == {"conn-alice-1", "conn-carol-1", "conn-dave-1"}
    messages = boto3.client("sqs").receive_message(QueueUrl=os.environ["JOBS_QUEUE_URL"], MaxNumberOfMessages=10)
    jobs = [_json.loads(m["Body"]) for m in messages.get("Messages", [])]
    assert [j["room_id"] for j in jobs] == ["lobby"]
