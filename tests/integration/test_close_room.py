"""Closing a room: admin DELETE and the WebSocket `close` share one logic; the close is a
conditional state change, so racing closes send exactly one SQS job."""

from __future__ import annotations

import dataclasses
import json
import threading

import boto3
import pytest

from tests.helpers import posted_frames, reply_body, ws_event
from tests.integration.webhook_support import admin, create_room


def _jobs(stack) -> list[dict]:
    sqs = boto3.client("sqs", region_name="us-east-1")
    bodies = []
    while True:
        got = sqs.receive_message(QueueUrl=stack.queues["JobsQueue"], MaxNumberOfMessages=10).get("Messages", [])
        if not got:
            return bodies
        bodies.extend(json.loads(m["Body"]) for m in got)


@pytest.fixture
def disconnected(monkeypatch) -> dict[str, list[dict]]:
    """Connections closed through @connections DELETE, with the frames they had received."""
    from moto.apigatewaymanagementapi.models import ApiGatewayManagementApiBackend

    closed: dict[str, list[dict]] = {}
    real = ApiGatewayManagementApiBackend.delete_connection

    def delete_connection(self, connection_id: str) -> None:
        closed[connection_id] = posted_frames(connection_id)
        real(self, connection_id)

    monkeypatch.setattr(ApiGatewayManagementApiBackend, "delete_connection", delete_connection)
    return closed


def _join(invoke, room_id: str, connection_id: str, user_id: str, admin_claim: bool = False) -> None:
    reply = reply_body(invoke("chat", ws_event(
        "ws-join.json", connection_id=connection_id, user_id=user_id, name=user_id.title(),
        body={"action": "join", "room_id": room_id}, admin=admin_claim,
    )))
    assert reply["type"] == "joined", reply


def test_ten_concurrent_closes_make_one_job(stack, invoke):
    from roomcast.dal.store import get_store
    from roomcast.gateway import Gateway
    from roomcast.logic.closing import close_room
    from roomcast.wiring import services as wired

    create_room(invoke, "race", None)
    _join(invoke, "race", "conn-a", "alice")
    _join(invoke, "race", "conn-b", "bob")
    services = dataclasses.replace(wired(), gateway=Gateway(None))
    start = threading.Barrier(10)
    results: list = []
    errors: list = []

    def close(i: int) -> None:
        try:
            start.wait(timeout=10)
            results.append(close_room(services, "race", f"closer-{i}"))
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=close, args=(i,)) for i in range(10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert errors == []
    assert len(results) == 10
    assert len({r.delivery_id for r in results}) == 1
    assert sum(not r.already_closed for r in results) == 1
    jobs = _jobs(stack)
    assert jobs == [{"room_id": "race", "delivery_id": results[0].delivery_id, "replay": False, "run": 0}]
    room = get_store().require_room("race")
    assert room.state == "closed" and room.closed_by.startswith("closer-")
    assert room.stats.current_users == 0


def test_admin_delete_is_idempotent_and_members_are_told_and_disconnected(stack, invoke, disconnected):
    from roomcast.dal.store import get_store

    create_room(invoke, "standup", None)
    _join(invoke, "standup", "conn-alice", "alice")
    _join(invoke, "standup", "conn-bob", "bob")
    status, first = admin(invoke, "DELETE", "/rooms/standup")
    assert status == 202 and first["state"] == "closed" and first["already_closed"] is False
    status, again = admin(invoke, "DELETE", "/rooms/standup")
    assert status == 202 and again["delivery_id"] == first["delivery_id"] and again["already_closed"] is True
    assert len(_jobs(stack)) == 1

    assert sorted(disconnected) == ["conn-alice", "conn-bob"]
    for frames in disconnected.values():
        frame = frames[-1]  # the last thing each member heard before the socket closed
        assert frame["type"] == "room.closed" and frame["room_id"] == "standup"
        assert frame["closed_by"] == "admin-api" and frame["at"].endswith("Z")
    store = get_store()
    assert store.members("standup") == []
    sessions = [s for page in store.iter_sessions("standup") for s in page]
    assert {s.end_reason for s in sessions} == {"room_closed"} and all(s.left_at for s in sessions)

    # A send after the close is refused (the membership is gone, and the room is closed).
    reply = reply_body(invoke("chat", ws_event("ws-send.json", connection_id="conn-alice", body={"action": "send", "room_id": "standup", "text": "late"})))
    assert reply["type"] == "error" and reply["code"] in ("room_closed", "not_member")
    reply = reply_body(invoke("chat", ws_event("ws-join.json", connection_id="conn-carol", user_id="carol", body={"action": "join", "room_id": "standup"})))
    assert reply["code"] == "room_closed"
    status, view = admin(invoke, "GET", "/rooms/standup")
    assert view["state"] == "closed" and view["delivery_id"] == first["delivery_id"]
    assert view["delivery_status"] == "pending"
    status, missing = admin(invoke, "DELETE", "/rooms/no-such-room")
    assert status == 404 and missing["code"] == "room_not_found"


def test_send_in_the_closing_window_is_room_closed(stack, invoke):
    """The send transaction checks state == open: a member still listed while the room is
    closing cannot add a message to a record that is being finalised."""
    from roomcast.dal.store import get_store

    create_room(invoke, "window", None)
    _join(invoke, "window", "conn-alice", "alice")
    assert get_store().transition_room("window", "open", "closing")
    reply = reply_body(invoke("chat", ws_event("ws-send.json", connection_id="conn-alice", body={"action": "send", "room_id": "window", "text": "now?"})))
    assert reply["code"] == "room_closed"


def test_websocket_close_is_for_room_admins(stack, invoke, disconnected):
    create_room(invoke, "ws-close", None)  # admin_user_ids = ["alice"]
    _join(invoke, "ws-close", "conn-alice", "alice")
    _join(invoke, "ws-close", "conn-bob", "bob")
    frame = {"action": "close", "room_id": "ws-close", "request_id": "r-close"}
    refused = reply_body(invoke("chat", ws_event("ws-join.json", connection_id="conn-bob", user_id="bob", body=frame)))
    assert refused == {"type": "error", "code": "not_room_admin", "message": refused["message"], "request_id": "r-close"}
    assert _jobs(stack) == []

    closed = reply_body(invoke("chat", ws_event("ws-join.json", connection_id="conn-alice", user_id="alice", body=frame)))
    assert closed["type"] == "room.closed" and closed["request_id"] == "r-close"
    assert closed["closed_by"] == "alice"
    assert list(disconnected) == ["conn-bob"]  # the closing admin keeps its socket (and its reply)
    assert disconnected["conn-bob"][-1]["type"] == "room.closed"
    assert len(_jobs(stack)) == 1


def test_token_admin_claim_may_close_any_room(stack, invoke):
    create_room(invoke, "ops", None)
    frame = {"action": "close", "room_id": "ops"}
    closed = reply_body(invoke("chat", ws_event("ws-join.json", connection_id="conn-ops", user_id="operator", body=frame, admin=True)))
    assert closed["type"] == "room.closed" and closed["closed_by"] == "operator"


def test_create_room_refuses_unsafe_callback_urls(stack, invoke):
    for url in ("http://example.com/hook", "https://127.0.0.1/hook", "https://10.1.2.3/x",
                "https://169.254.169.254/latest/meta-data", "ftp://example.com", "https://user:pw@example.com/"):
        status, body = admin(invoke, "POST", "/rooms", {"name": "bad", "callback_url": url})
        assert status == 400 and body["code"] == "unsafe_url", (url, body)
    status, body = admin(invoke, "POST", "/rooms", {"name": "bad", "callback_url": "https://93.184.215.14/hook", "webhook_secret": "not base64!!!!!!!!"})
    assert status == 400 and body["code"] == "bad_request"
    status, body = admin(invoke, "POST", "/rooms", {"name": "bad", "webhook_secret": "whsec_" + "A" * 32})
    assert status == 400 and body["code"] == "bad_request"


def test_create_room_generates_a_secret_once_and_stores_it(stack, invoke):
    from roomcast.webhooks.secrets import load_secrets

    status, created = admin(invoke, "POST", "/rooms", {"room_id": "hooked", "name": "Hooked", "callback_url": "https://93.184.215.14/hook"})
    assert status == 201, created
    secret = created["webhook_secret"]
    assert secret.startswith("whsec_") and created["callback_url"] == "https://93.184.215.14/hook"
    status, view = admin(invoke, "GET", "/rooms/hooked")
    assert "webhook_secret" not in view and secret not in json.dumps(view)
    from roomcast.dal.store import get_store

    room = get_store().require_room("hooked")
    assert load_secrets(room.webhook_secret_id) == [secret]
    # Given a secret, it is stored but not echoed back.
    given = "whsec_" + "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    status, created = admin(invoke, "POST", "/rooms", {"room_id": "given", "name": "Given", "callback_url": "https://93.184.215.14/", "webhook_secret": given})
    assert status == 201 and "webhook_secret" not in created


def test_a_close_whose_lambda_died_after_claiming_the_job_is_finished_later(stack, invoke, monkeypatch):
    from roomcast.dal.deliveries import DeliveryStore
    from roomcast.dal.store import get_store
    from roomcast.logic import closing
    from roomcast.queue import JobsQueue

    create_room(invoke, "crashy", None)
    working_send = JobsQueue.send

    def died(self, job) -> None:
        raise RuntimeError("the Lambda died here")

    monkeypatch.setattr(JobsQueue, "send", died)
    status, _ = admin(invoke, "DELETE", "/rooms/crashy")
    assert status == 500 and _jobs(stack) == []
    monkeypatch.setattr(JobsQueue, "send", working_send)
    store = get_store()
    room = store.get_room("crashy")
    deliveries = DeliveryStore(store.table, store.client)
    # As if it had died for good between the claim and the send: the claim stays.
    later = closing.now_ms() + 2 * closing.STALE_MS
    deliveries.update("crashy", room.delivery_id, enqueue_claimed_at=later - 1_000)

    monkeypatch.setattr(closing, "now_ms", lambda: later)
    status, _ = admin(invoke, "DELETE", "/rooms/crashy")
    assert status == 202 and _jobs(stack) == []  # a claim younger than STALE_MS is respected

    monkeypatch.setattr(closing, "now_ms", lambda: later + closing.STALE_MS)
    status, again = admin(invoke, "DELETE", "/rooms/crashy")
    assert status == 202 and again["delivery_id"] == room.delivery_id
    assert [j["delivery_id"] for j in _jobs(stack)] == [room.delivery_id]
    admin(invoke, "DELETE", "/rooms/crashy")
    assert _jobs(stack) == []  # enqueued_at is set now: no second job


@pytest.mark.parametrize("members", [3, 45])
def test_a_close_ends_every_membership_in_batches_and_falls_back_for_a_batch_that_cannot_commit(stack, invoke, disconnected, members):
    """Memberships end 20 to a transaction; a batch holding a membership the counters never
    saw (no room count: it cannot commit) goes one by one. Either way nothing stays: no
    member, no link, no presence count, every session ended, current counters at 0 and the
    peaks kept."""
    from roomcast.dal import keys
    from roomcast.dal.dynamo import to_item
    from roomcast.dal.store import get_store
    from roomcast.settings import get_settings

    create_room(invoke, "batch", None)
    for i in range(members):
        _join(invoke, "batch", f"conn-{i}", f"user{i % 30}")
    ghost = {"pk": keys.room_pk("batch"), "sk": keys.member_sk("conn-ghost"), "room_id": "batch",
             "connection_id": "conn-ghost", "user_id": "ghost", "name": "Ghost",
             "joined_at": 1_700_000_000_000, "session_id": "s-ghost"}
    boto3.client("dynamodb").put_item(TableName=get_settings().table_name, Item=to_item(ghost))
    assert admin(invoke, "DELETE", "/rooms/batch")[0] == 202
    client, table = boto3.client("dynamodb"), get_settings().table_name
    left = client.query(TableName=table, KeyConditionExpression="pk = :p",
                        ExpressionAttributeValues={":p": {"S": keys.room_pk("batch")}})["Items"]
    kinds = {i["sk"]["S"].split("#")[0] for i in left}
    assert "MEMBER" not in kinds and "PRESENCE" not in kinds
    sessions = [i for i in left if i["sk"]["S"].startswith("SESSION#") and i["sk"]["S"] != "SESSION#s-ghost"]
    assert len(sessions) == members and all(s["end_reason"]["S"] == "room_closed" for s in sessions)
    for i in range(members):
        assert client.get_item(TableName=table, Key={"pk": {"S": keys.conn_pk(f"conn-{i}")},
                                                     "sk": {"S": keys.conn_room_sk("batch")}}).get("Item") is None
    stats = get_store().require_room("batch").stats
    assert (stats.current_users, stats.current_connections) == (0, 0)
    assert (stats.peak_users, stats.peak_connections) == (min(members, 30), members)
    # Everyone was told and then disconnected.
    assert {f"conn-{i}" for i in range(members)} <= set(disconnected)
    assert all(any(f["type"] == "room.closed" for f in disconnected[f"conn-{i}"]) for i in range(members))
