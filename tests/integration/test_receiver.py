"""The reference receiver (examples/receiver) over real HTTP on loopback.

Payloads are signed with the `standardwebhooks` package's own signer, so these tests
check the receiver against the library every endpoint owner uses, not against itself.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests
from standardwebhooks import Webhook

from examples.receiver import Receiver, start_receiver

ROOT = Path(__file__).resolve().parents[2]
HTTP_TIMEOUT = 10


def new_secret() -> str:
    return "whsec_" + base64.b64encode(os.urandom(32)).decode()


SECRET = new_secret()
OTHER_SECRET = new_secret()


def room_data(
    room_id: str = "room-1",
    chats: list[dict[str, Any]] | None = None,
    sync: dict[str, Any] | None = None,
) -> dict[str, Any]:
    return {
        "room_id": room_id,
        "name": "Standup",
        "admin_user_ids": ["alice"],
        "metadata": {"team": "core"},
        "start_time": "2026-11-22T03:00:00.000Z",
        "end_time": "2026-11-22T04:00:00.000Z",
        "closed_by": "alice",
        "stats": {"current_users": 0, "peak_users": 2, "total_joins": 3, "message_count": 2},
        "chat_history": chats
        if chats is not None
        else [
            {"id": "m1", "user_id": "alice", "name": "Alice", "text": "hi", "sent_at": "t1"},
            {
                "id": "m2",
                "user_id": "bob",
                "name": "Bob",
                "text": "hello",
                "sent_at": "t2",
                "client_msg_id": "c-2",
                "meta": {"reply_to": "m1"},
            },
            # A tombstone: the moderator's deletion, by the rule of docs/webhooks.md.
            {"id": "m3", "user_id": "bob", "name": "Bob", "text": "", "sent_at": "t2",
             "deleted": True, "deleted_by": "alice", "deleted_at": "t3"},
        ],
        "session_history": [
            {
                "session_id": "s1",
                "user_id": "alice",
                "name": "Alice",
                "connection_id": "conn-1",
                "joined_at": "t0",
                "left_at": "t3",
                "duration_seconds": 3600,
                "end_reason": "room_closed",
            }
        ],
        "call_history": [
            {
                "call_id": "call-1",
                "caller": "alice",
                "callee": "bob",
                "media": "audio",
                "status": "ended",
                "invited_at": "t1",
                "started_at": "t1",
                "ended_at": "t2",
                "duration_seconds": 60,
                "ended_by": "bob",
                "reason": "hangup",
            }
        ],
        "moderation_history": [
            {"act": "muted", "by": "alice", "target_user": "bob", "at": "t2", "until": "t3", "reason": "flood"},
            {"act": "message_deleted", "by": "alice", "target_user": "bob", "at": "t2", "message_id": "m3"},
            {"act": "member_added", "by": "admin-api", "target_user": "carol", "at": "t2", "role": "moderator"},
        ],
        "sync": sync or {"sync_id": f"sync-{room_id}", "part": 1, "last": True},
    }


def event_body(data: dict[str, Any]) -> bytes:
    return json.dumps(
        {"type": "room.closed", "timestamp": "2026-11-22T04:00:00.000Z", "data": data}
    ).encode()


def signed_headers(
    webhook_id: str,
    body: bytes,
    secrets: list[str] | None = None,
    at: datetime | None = None,
) -> dict[str, str]:
    """Headers as roomcast sends them: one v1 signature per active secret."""
    when = at or datetime.now(tz=UTC)
    signatures = [Webhook(s).sign(webhook_id, when, body.decode()) for s in (secrets or [SECRET])]
    return {
        "webhook-id": webhook_id,
        "webhook-timestamp": str(int(when.timestamp())),
        "webhook-signature": " ".join(signatures),
        "content-type": "application/json",
        "user-agent": "roomcast-webhooks/test",
    }


@pytest.fixture
def receiver(tmp_path: Path) -> Iterator[Receiver]:
    running = start_receiver(secrets=[SECRET], db_path=tmp_path / "receiver.sqlite3")
    try:
        yield running
    finally:
        running.stop()


def post(
    receiver: Receiver, body: bytes, headers: dict[str, str], path: str = "/webhooks"
) -> requests.Response:
    return requests.post(receiver.url + path, data=body, headers=headers, timeout=HTTP_TIMEOUT)


def get(receiver: Receiver, path: str) -> requests.Response:
    return requests.get(receiver.url + path, timeout=HTTP_TIMEOUT)


def stats(receiver: Receiver) -> dict[str, int]:
    response = get(receiver, "/stats")
    assert response.status_code == 200
    return response.json()


def test_a_payload_signed_by_standardwebhooks_verifies_and_is_stored(receiver: Receiver) -> None:
    data = room_data()
    body = event_body(data)
    response = post(receiver, body, signed_headers("dlv-1.1", body))
    assert response.status_code == 200, response.text
    assert response.json() == {"ok": True, "duplicate": False}

    room = get(receiver, "/rooms/room-1").json()
    assert room["name"] == "Standup"
    assert room["admin_user_ids"] == ["alice"]
    assert room["metadata"] == {"team": "core"}
    assert room["closed_by"] == "alice"
    assert room["stats"] == data["stats"]
    assert room["chat_history"] == data["chat_history"]
    assert room["session_history"] == data["session_history"]
    assert room["call_history"] == data["call_history"]
    assert room["moderation_history"] == data["moderation_history"]
    assert room["sync"]["complete"] is True
    assert stats(receiver)["deliveries"] == 1


def test_the_sync_room_alias_is_accepted(receiver: Receiver) -> None:
    body = event_body(room_data("room-alias"))
    response = post(receiver, body, signed_headers("dlv-a.1", body), path="/sync/room")
    assert response.status_code == 200
    assert get(receiver, "/rooms/room-alias").status_code == 200


@pytest.mark.parametrize(
    "case",
    [
        "tampered body",
        "wrong secret",
        "stale timestamp",
        "future timestamp",
        "no signature",
        "garbage signature",
    ],
)
def test_unverified_deliveries_are_refused_and_not_stored(receiver: Receiver, case: str) -> None:
    body = event_body(room_data("room-x"))
    headers = signed_headers("dlv-x.1", body)
    if case == "tampered body":
        body = body.replace(b'"Standup"', b'"Hacked!"')
    elif case == "wrong secret":
        headers = signed_headers("dlv-x.1", body, secrets=[OTHER_SECRET])
    elif case == "stale timestamp":
        headers = signed_headers("dlv-x.1", body, at=datetime.now(tz=UTC) - timedelta(minutes=10))
    elif case == "future timestamp":
        headers = signed_headers("dlv-x.1", body, at=datetime.now(tz=UTC) + timedelta(minutes=10))
    elif case == "no signature":
        del headers["webhook-signature"]
    else:
        headers["webhook-signature"] = "v1 not-base64!!"

    response = post(receiver, body, headers)
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_signature"
    assert get(receiver, "/rooms/room-x").status_code == 404
    totals = stats(receiver)
    assert totals["deliveries"] == 0
    assert totals["refused"] == 1


def test_a_verified_body_that_is_not_json_is_a_400_and_stores_nothing(receiver: Receiver) -> None:
    body = b'{"type": "room.closed", "data": '
    response = post(receiver, body, signed_headers("dlv-bad.1", body))
    assert response.status_code == 400
    assert response.json()["error"] == "bad_json"
    # The id was not consumed: a corrected delivery under it would still be stored.
    assert stats(receiver)["deliveries"] == 0


def test_a_verified_payload_with_a_bad_shape_is_a_400_and_stores_nothing(
    receiver: Receiver,
) -> None:
    data = room_data("room-shape")
    data["chat_history"] = "not a list"
    body = event_body(data)
    response = post(receiver, body, signed_headers("dlv-shape.1", body))
    assert response.status_code == 400
    assert response.json()["error"] == "bad_payload"
    totals = stats(receiver)
    assert totals["deliveries"] == 0 and totals["syncs"] == 0


def test_the_same_webhook_id_twice_is_stored_once(receiver: Receiver) -> None:
    body = event_body(room_data("room-dup"))
    first = post(receiver, body, signed_headers("dlv-dup.1", body))
    # A retry carries a new timestamp (and so a new signature) but the same webhook-id.
    time.sleep(1.1)
    second = post(receiver, body, signed_headers("dlv-dup.1", body))
    assert first.json()["duplicate"] is False
    assert second.status_code == 200
    assert second.json()["duplicate"] is True
    totals = stats(receiver)
    assert totals["deliveries"] == 1
    assert totals["duplicates"] == 1
    assert totals["chats"] == 3 and totals["moderation_acts"] == 3
    assert receiver.store.delivery_count("dlv-dup.1") == 2


def test_concurrent_copies_of_one_webhook_id_store_one(receiver: Receiver) -> None:
    copies = 12
    body = event_body(room_data("room-race"))
    headers = signed_headers("dlv-race.1", body)
    barrier = threading.Barrier(copies)
    results: list[dict[str, Any]] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def send() -> None:
        try:
            barrier.wait(timeout=HTTP_TIMEOUT)
            response = post(receiver, body, headers)
            with lock:
                results.append({"status": response.status_code, **response.json()})
        except BaseException as exc:
            with lock:
                errors.append(exc)

    threads = [threading.Thread(target=send) for _ in range(copies)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors
    assert [r["status"] for r in results] == [200] * copies
    assert sum(1 for r in results if not r["duplicate"]) == 1
    totals = stats(receiver)
    assert totals["deliveries"] == 1
    assert totals["duplicates"] == copies - 1
    assert totals["chats"] == 3 and totals["moderation_acts"] == 3
    assert totals["sessions"] == 1
    assert totals["calls"] == 1


def test_a_three_part_sync_sent_out_of_order_completes_with_chat_in_order(
    receiver: Receiver,
) -> None:
    messages = [
        {
            "id": f"m{i:03d}",
            "user_id": "alice",
            "name": "Alice",
            "text": f"message {i}",
            "sent_at": f"t{i:03d}",
        }
        for i in range(9)
    ]
    parts = {
        n: room_data(
            "room-parts",
            chats=messages[(n - 1) * 3 : n * 3],
            sync={"sync_id": "sync-p", "part": n, "last": n == 3},
        )
        for n in (1, 2, 3)
    }

    for received, n in enumerate((3, 1, 2), start=1):
        body = event_body(parts[n])
        response = post(receiver, body, signed_headers(f"dlv-p.{n}", body))
        assert response.status_code == 200
        room = get(receiver, "/rooms/room-parts").json()
        assert room["sync"]["parts_received"] == received
        # Complete only once every part 1..N is in, whatever the arrival order.
        assert room["sync"]["complete"] is (received == 3)

    assert room["sync"]["last_part"] == 3
    assert room["parts"] == [1, 2, 3]
    assert [m["id"] for m in room["chat_history"]] == [m["id"] for m in messages]
    # Each part repeats the session and call rows of this fixture: three parts, three copies.
    assert len(room["session_history"]) == 3
    listed = get(receiver, "/rooms").json()
    assert [r["room_id"] for r in listed["rooms"]] == ["room-parts"]
    assert listed["rooms"][0]["sync"]["complete"] is True


def test_get_endpoints_serve_what_was_stored(receiver: Receiver) -> None:
    assert get(receiver, "/health").json() == {"status": "ok"}
    assert get(receiver, "/rooms").json() == {"rooms": [], "count": 0, "offset": 0}
    for n, room_id in enumerate(("room-a", "room-b")):
        body = event_body(room_data(room_id))
        assert post(receiver, body, signed_headers(f"dlv-g{n}.1", body)).status_code == 200

    listed = get(receiver, "/rooms").json()
    assert listed["count"] == 2
    assert {r["room_id"] for r in listed["rooms"]} == {"room-a", "room-b"}
    assert all(r["stats"]["peak_users"] == 2 for r in listed["rooms"])
    assert "chat_history" not in listed["rooms"][0]
    first = get(receiver, "/rooms?limit=1").json()["rooms"]
    second = get(receiver, "/rooms?limit=1&offset=1").json()["rooms"]
    assert len(first) == len(second) == 1
    assert {first[0]["room_id"], second[0]["room_id"]} == {"room-a", "room-b"}
    assert get(receiver, "/rooms?limit=0").status_code == 400
    assert get(receiver, "/rooms/room-a").json()["room_id"] == "room-a"
    assert get(receiver, "/rooms/nope").status_code == 404
    assert get(receiver, "/elsewhere").status_code == 404
    assert get(receiver, "/webhooks").status_code == 405
    totals = stats(receiver)
    assert totals == {
        "rooms": 2,
        "syncs": 2,
        "complete_syncs": 2,
        "deliveries": 2,
        "duplicates": 0,
        "chats": 6,
        "sessions": 2,
        "calls": 2,
        "moderation_acts": 6,
        "events": 0,
        "refused": 0,
    }


def test_rotation_any_active_secret_verifies(tmp_path: Path) -> None:
    old, new = SECRET, OTHER_SECRET
    # The receiver knows both while rotating; the sender signs with both, then only the new.
    with start_receiver(secrets=[old, new], db_path=tmp_path / "both.sqlite3") as both:
        for n, signing in enumerate(([old, new], [new], [old])):
            body = event_body(room_data(f"room-rot-{n}"))
            assert (
                post(both, body, signed_headers(f"dlv-rot{n}.1", body, secrets=signing)).status_code
                == 200
            )
    # A receiver that already dropped the old secret still accepts the dual-signed header.
    with start_receiver(secrets=[new], db_path=tmp_path / "new.sqlite3") as only_new:
        body = event_body(room_data("room-rot-x"))
        assert (
            post(only_new, body, signed_headers("dlv-rotx.1", body, secrets=[old, new])).status_code
            == 200
        )
        assert (
            post(only_new, body, signed_headers("dlv-roty.1", body, secrets=[old])).status_code
            == 401
        )


def test_the_secret_is_never_logged(receiver: Receiver, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="roomcast.receiver")
    body = event_body(room_data("room-log"))
    post(receiver, body, signed_headers("dlv-log.1", body))
    post(receiver, body, signed_headers("dlv-log.2", body, secrets=[OTHER_SECRET]))
    lines = [r.getMessage() for r in caplog.records]
    assert any("id=dlv-log.1" in line and "verified=True stored=True" in line for line in lines)
    assert any("id=dlv-log.2" in line and "verified=False" in line for line in lines)
    secret_material = (SECRET, SECRET.removeprefix("whsec_"))
    assert not any(s in line for s in secret_material for line in lines)


def test_the_command_line_serves_with_secrets_from_the_environment(tmp_path: Path) -> None:
    env = {**os.environ, "RECEIVER_SECRETS": f"{SECRET},{OTHER_SECRET}", "PYTHONPATH": str(ROOT)}
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "examples.receiver",
            "--port",
            "0",
            "--db",
            str(tmp_path / "cli.sqlite3"),
        ],
        cwd=tmp_path,
        env=env,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stderr is not None
        line = process.stderr.readline()  # the "listening on URL" line, logged once bound
        assert "listening on http://127.0.0.1:" in line, line
        url = line.split("listening on ", 1)[1].split(" ", 1)[0]
        assert "2 secret(s)" in line
        assert SECRET not in line
        body = event_body(room_data("room-cli"))
        response = requests.post(
            url + "/webhooks",
            data=body,
            headers=signed_headers("dlv-cli.1", body),
            timeout=HTTP_TIMEOUT,
        )
        assert response.status_code == 200
        assert requests.get(url + "/rooms/room-cli", timeout=HTTP_TIMEOUT).status_code == 200
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_the_command_line_refuses_a_malformed_secret(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("RECEIVER_SECRETS", None)
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "examples.receiver",
            "--port",
            "0",
            "--secret",
            "not-a-secret",
            "--db",
            str(tmp_path / "x.sqlite3"),
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 2
    assert "whsec_" in result.stderr
    assert "not-a-secret" not in result.stderr


def test_a_complete_sync_is_shown_before_a_later_incomplete_one(receiver: Receiver) -> None:
    done = event_body(room_data("room-two", sync={"sync_id": "sync-a", "part": 1, "last": True}))
    assert post(receiver, done, signed_headers("dlv-two-a.1", done)).status_code == 200
    partial = event_body(room_data("room-two", sync={"sync_id": "sync-b", "part": 2, "last": True}))
    assert post(receiver, partial, signed_headers("dlv-two-b.2", partial)).status_code == 200

    room = get(receiver, "/rooms/room-two").json()
    assert room["sync"]["sync_id"] == "sync-a" and room["sync"]["complete"] is True
    (listed,) = get(receiver, "/rooms").json()["rooms"]
    assert listed["sync"]["sync_id"] == "sync-a"
    totals = stats(receiver)
    assert (totals["rooms"], totals["syncs"], totals["complete_syncs"]) == (1, 2, 1)
