"""The fan-out split (docs/scaling-and-cost.md) in a room of 20,000 member connections.

The management API is a stub that counts posts per connection (moto's would hold 20,000
buffers and never answers 410); DynamoDB and SQS are moto with the template's resources.
The members are written with BatchWriteItem; the send, the range jobs (through the
FanoutFunction handler, from the FanoutQueue) and the joins are the real code.

FANOUT_TEST_MEMBERS sets the room's size (default 20,000); the split threshold is a 25th
of it, so the room always splits into 25 ranges. With the local runtime's moto correction
(Query reads its partition, transactions copy only their items) the four tests take about
a minute at 20,000; FANOUT_TEST_MEMBERS=2000 runs them in seconds while developing.
"""

from __future__ import annotations

import itertools
import json
import os
import threading
from collections import Counter, defaultdict
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from tests.helpers import http_event, reply_body, ws_event

MEMBERS = int(os.environ.get("FANOUT_TEST_MEMBERS", "20000"))
RANGES = 25
THRESHOLD = MEMBERS // RANGES
GONE_EVERY = MEMBERS // 40 - 3  # about 40 stale connections, two or fewer per range
# The tests of duplicates and of ephemeral frames need the split, not the size.
SMALL = 500


class CountingManagementApi:
    """PostToConnection that counts what each connection received; `gone` answers 410."""

    def __init__(self) -> None:
        self.frames: dict[str, list[bytes]] = defaultdict(list)
        self.gone: set[str] = set()
        self._lock = threading.Lock()

    def post_to_connection(self, ConnectionId: str, Data: bytes) -> dict[str, Any]:
        if ConnectionId in self.gone:
            raise ClientError(
                {"Error": {"Code": "GoneException"}, "ResponseMetadata": {"HTTPStatusCode": 410}},
                "PostToConnection",
            )
        with self._lock:
            self.frames[ConnectionId].append(Data)
        return {}

    def delete_connection(self, ConnectionId: str) -> dict[str, Any]:
        return {}

    def received(self, frame_type: str) -> Counter[str]:
        return Counter(
            cid for cid, frames in self.frames.items() for d in frames if json.loads(d)["type"] == frame_type
        )


@pytest.fixture
def api(stack, monkeypatch: pytest.MonkeyPatch) -> CountingManagementApi:
    from roomcast import gateway
    from roomcast.settings import reset_settings

    fake = CountingManagementApi()

    def factory(endpoint_url: str | None, pool: int) -> CountingManagementApi:
        return fake

    factory.cache_clear = lambda: None  # type: ignore[attr-defined]
    monkeypatch.setattr(gateway, "_client", factory)
    monkeypatch.setenv("FANOUT_SPLIT_THRESHOLD", str(THRESHOLD))
    reset_settings()
    return fake


def small_threshold(monkeypatch: pytest.MonkeyPatch) -> None:
    from roomcast.settings import reset_settings

    monkeypatch.setenv("FANOUT_SPLIT_THRESHOLD", str(SMALL // RANGES))
    reset_settings()


def member_id(index: int) -> str:
    # "conn-0..." sorts before "conn-alice-1": the sender's own key lands in the last range.
    return f"conn-{index:05d}0"


def seed_room(invoke: Any, api: CountingManagementApi, room_id: str = "arena", members: int = MEMBERS) -> list[str]:
    """A room with the sender (a real join) and `members` more member connections."""
    from roomcast.dal import keys
    from roomcast.dal.dynamo import to_item

    assert invoke("admin", http_event("http-create-room.json", body={"room_id": room_id, "name": room_id}))["statusCode"] == 201
    invoke("connect", ws_event("ws-connect.json", connection_id="conn-alice-1", user_id="alice", name="Alice"))
    joined = reply_body(invoke("chat", ws_event("ws-join.json", body={"action": "join", "room_id": room_id})))
    assert joined["type"] == "joined"
    ids = [member_id(i) for i in range(members)]
    items = []
    for index, cid in enumerate(ids):
        items.append(
            {
                "pk": keys.room_pk(room_id), "sk": keys.member_sk(cid), "room_id": room_id,
                "connection_id": cid, "user_id": f"user{index}", "name": f"User {index}",
                "joined_at": 1_700_000_000_000, "session_id": f"s{index:06d}",
            }
        )
        if members == MEMBERS and index % GONE_EVERY == 5:
            # Stale ones also carry what a real join leaves: the connection and its room link.
            api.gone.add(cid)
            items.append({"pk": keys.conn_pk(cid), "sk": keys.conn_room_sk(room_id), "room_id": room_id})
            items.append(
                {"pk": keys.conn_pk(cid), "sk": keys.META, "connection_id": cid, "user_id": f"user{index}",
                 "name": "x", "connected_at": 1, "expires_at": 2}
            )
    client = boto3.client("dynamodb")
    table = os.environ["TABLE_NAME"]
    for start in range(0, len(items), 25):
        request = {table: [{"PutRequest": {"Item": to_item(i)}} for i in items[start : start + 25]]}
        while request:
            request = client.batch_write_item(RequestItems=request).get("UnprocessedItems") or None
    api.frames.clear()
    return ids


def queued_jobs() -> list[dict[str, Any]]:
    """Every job now on the fan-out queue, received (they stay invisible until deleted or
    their visibility ends), as the Lambda SQS records the poller would build."""
    sqs = boto3.client("sqs")
    url = os.environ["FANOUT_QUEUE_URL"]
    records = []
    while True:
        messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, AttributeNames=["All"]).get("Messages", [])
        if not messages:
            return records
        for m in messages:
            records.append(
                {"messageId": m["MessageId"], "receiptHandle": m["ReceiptHandle"], "body": m["Body"],
                 "attributes": m.get("Attributes", {}), "messageAttributes": {}, "md5OfBody": m["MD5OfBody"],
                 "eventSource": "aws:sqs", "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:fanout",
                 "awsRegion": "us-east-1"}
            )


def run_jobs(invoke: Any, records: list[dict[str, Any]]) -> list[str]:
    """Invoke the FanoutFunction one record per event (the template's BatchSize: 1); the
    ids of records it reported failed."""
    failed = []
    for record in records:
        response = invoke("fanout", {"Records": [record]})
        failed += [f["itemIdentifier"] for f in response["batchItemFailures"]]
    return failed


def drain(invoke: Any) -> list[dict[str, Any]]:
    """Run jobs until the queue is empty (a planning job queues more); the jobs run."""
    done = []
    while records := queued_jobs():
        assert run_jobs(invoke, records) == []
        done += [json.loads(r["body"]) for r in records]
    return done


def send(invoke: Any, text: str, room_id: str = "arena") -> dict[str, Any]:
    body = {"action": "send", "room_id": room_id, "text": text, "request_id": "r1"}
    ack = reply_body(invoke("chat", ws_event("ws-send.json", body=body)))
    assert ack["type"] == "ack", ack
    return ack


def test_a_large_room_fans_out_once_to_every_member_across_disjoint_ranges(api, invoke):
    from roomcast.dal import keys
    from roomcast.dal.store import get_store

    ids = seed_room(invoke, api)
    gone = set(api.gone)
    ack = send(invoke, "to everyone")
    # The ack covers the first range inline and queues the rest.
    assert ack["delivered"] + ack["gone"] + ack["failed"] == THRESHOLD
    assert ack["failed"] == 0 and ack["queued"] == MEMBERS - THRESHOLD
    assert len(api.frames) == THRESHOLD - ack["gone"]

    # Joins while the jobs wait: one whose key lies in a queued range, one whose key lies
    # in the range already posted inline.
    late_queued = member_id(MEMBERS // 2)[:-1] + "5"  # between two seeded keys, mid-room
    late_inline = member_id(3)[:-1] + "5"
    joined = {}
    for cid, user in ((late_queued, "lateq"), (late_inline, "latei")):
        invoke("connect", ws_event("ws-connect.json", connection_id=cid, user_id=user, name=user))
        joined[cid] = reply_body(invoke("chat", ws_event("ws-join.json", cid, user, user, body={"action": "join", "room_id": "arena"})))
        assert joined[cid]["type"] == "joined"
    api.frames.pop(late_inline, None)  # nothing else reaches them (no member events here)
    api.frames.pop(late_queued, None)

    jobs = drain(invoke)
    assert len(jobs) == RANGES - 1 and all(j["kind"] == "message" and not j.get("plan") for j in jobs)
    # The ranges are contiguous and disjoint: each starts where the previous ended, the
    # first after the inline range's last key, the last open-ended.
    jobs.sort(key=lambda j: j["job_id"] and int(j["job_id"]))
    assert jobs[0]["after"] == keys.member_sk(ids[THRESHOLD - 1])
    for previous, job in itertools.pairwise(jobs):
        assert job["after"] == previous["through"] and job["after"] < (job.get("through") or "MEMBER$")
    assert "through" not in jobs[-1]

    received = api.received("message")
    live = set(ids) - gone
    # Every live member exactly once; nothing to the sender; nothing twice.
    assert set(received) == live | {late_queued}
    assert set(received.values()) == {1}
    assert "conn-alice-1" not in api.frames
    # The joiner in a queued range got it by fan-out; the one whose range had already
    # been posted finds it in the history of its joined reply, as docs/protocol.md says.
    assert received[late_queued] == 1
    assert late_inline not in received
    assert ack["message"]["id"] in [m["id"] for m in joined[late_inline]["history"]["messages"]]

    # Stale connections (410) are removed, their sessions ended - in every range.
    store = get_store()
    for cid in gone:
        assert store.get_member("arena", cid) is None, cid
        assert store.get_connection(cid) is None
    assert len(gone) >= 40


def test_a_job_delivered_twice_repeats_posts_only_as_the_doc_says(api, invoke, monkeypatch):
    """A finished job delivered again is skipped (its marker); a job whose first run died
    after posting is posted again - the same message id, which clients drop."""
    from roomcast.dal import fanout as fanout_dal

    small_threshold(monkeypatch)
    seed_room(invoke, api, members=SMALL)
    ack = send(invoke, "twice")
    api.frames.clear()
    records = queued_jobs()
    assert len(records) == RANGES - 1

    # 1. The first job runs to completion, then SQS delivers it again: nothing is posted.
    assert run_jobs(invoke, records[:1]) == []
    first_range = set(api.frames)
    assert first_range and all(len(f) == 1 for f in api.frames.values())
    assert run_jobs(invoke, records[:1]) == []
    assert all(len(api.frames[c]) == 1 for c in first_range)

    # 2. The second job's invocation dies between posting and recording (its marker
    # write fails): the batch item is reported failed, SQS delivers it again, it posts again.
    real_finish = fanout_dal.FanoutStore.finish_job
    calls = {"n": 0}

    def dies_once(self, *args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 1:
            raise ClientError({"Error": {"Code": "InternalServerError"}}, "TransactWriteItems")
        return real_finish(self, *args, **kwargs)

    monkeypatch.setattr(fanout_dal.FanoutStore, "finish_job", dies_once)
    before = set(api.frames)
    assert run_jobs(invoke, records[1:2]) == [records[1]["messageId"]]
    second_range = set(api.frames) - before
    assert run_jobs(invoke, records[1:2]) == []
    for cid in second_range:
        bodies = [json.loads(d) for d in api.frames[cid]]
        assert len(bodies) == 2 and bodies[0] == bodies[1]  # the same frame, the same id
        assert bodies[0]["message"]["id"] == ack["message"]["id"]

    # 3. The rest run once: duplicates exist only in the range whose run died.
    assert run_jobs(invoke, records[2:]) == []
    twice = {c for c, f in api.frames.items() if len(f) > 1}
    assert twice == second_range


def test_typing_and_member_events_are_not_sent_in_a_large_room(api, invoke, monkeypatch):
    small_threshold(monkeypatch)
    seed_room(invoke, api, members=SMALL)
    body = {"action": "typing", "room_id": "arena", "is_typing": True}
    assert invoke("chat", ws_event("ws-typing.json", body=body))["statusCode"] == 200
    invoke("connect", ws_event("ws-connect.json", connection_id="conn-zed-1", user_id="zed", name="Zed"))
    joined = reply_body(invoke("chat", ws_event("ws-join.json", "conn-zed-1", "zed", "Zed", body={"action": "join", "room_id": "arena"})))
    assert joined["type"] == "joined"
    left = reply_body(invoke("chat", ws_event("ws-leave.json", "conn-zed-1", "zed", "Zed", body={"action": "leave", "room_id": "arena"})))
    assert left["type"] == "left"
    assert dict(api.frames) == {}
    assert queued_jobs() == []


def test_a_room_at_the_threshold_is_not_split(api, invoke, monkeypatch):
    from roomcast.settings import reset_settings

    seed_room(invoke, api, members=SMALL)
    # The sender plus SMALL others: exactly the threshold when it is SMALL + 1.
    monkeypatch.setenv("FANOUT_SPLIT_THRESHOLD", str(SMALL + 1))
    reset_settings()
    ack = send(invoke, "inline")
    assert ack["queued"] == 0 and ack["delivered"] == SMALL
    assert queued_jobs() == []
