"""roomcast's own payload parts and signatures, received by the reference receiver.

The sender side builds the parts (roomcast.webhooks.payload) and the headers
(roomcast.webhooks.signing); this checks that what it produces is exactly what the
receiver and docs/webhooks.md expect: verifiable, dedupable, reassembled in order.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from examples.receiver import Receiver, start_receiver

payload = pytest.importorskip(
    "roomcast.webhooks.payload", reason="the sender's payload module is not in this tree"
)
signing = pytest.importorskip(
    "roomcast.webhooks.signing", reason="the sender's signing module is not in this tree"
)

from roomcast.ids import iso, new_id  # noqa: E402 - after the skips above
from roomcast.models.records import MessageRecord, Room, RoomStats, SessionRecord  # noqa: E402

START_MS = 1_795_000_000_000


@pytest.fixture
def secrets() -> list[str]:
    return [signing.generate_secret(), signing.generate_secret()]


@pytest.fixture
def receiver(tmp_path: Path, secrets: list[str]) -> Iterator[Receiver]:
    # The receiver knows only the second secret: roomcast signs with both (a rotation).
    running = start_receiver(secrets=secrets[1:], db_path=tmp_path / "r.sqlite3")
    try:
        yield running
    finally:
        running.stop()


def closed_room(messages: int) -> tuple[Room, list[MessageRecord], list[SessionRecord]]:
    room = Room(
        room_id="room-big",
        name="Big room",
        admin_user_ids=["alice"],
        metadata={"k": "v"},
        state="closed",
        created_at=START_MS,
        closed_at=START_MS + 3_600_000,
        closed_by="alice",
        stats=RoomStats(current_users=0, peak_users=3, total_joins=4, message_count=messages),
    )
    chats = [
        MessageRecord(
            room_id=room.room_id,
            message_id=new_id(START_MS + i),
            user_id=f"user-{i % 3}",
            name=f"User {i % 3}",
            text=f"message number {i} " + "x" * (i % 50),
            sent_at=START_MS + i,
            client_msg_id=f"c-{i}" if i % 2 else None,
            meta={"i": i} if i % 7 == 0 else None,
        )
        for i in range(messages)
    ]
    sessions = [
        SessionRecord(
            room_id=room.room_id,
            session_id=new_id(START_MS + i),
            user_id=f"user-{i}",
            name=f"User {i}",
            connection_id=f"conn-{i}",
            joined_at=START_MS + i,
            left_at=START_MS + 3_600_000,
            duration_ms=3_600_000 - i,
            end_reason="room_closed",
        )
        for i in range(4)
    ]
    return room, chats, sessions


def records(
    chats: list[MessageRecord], sessions: list[SessionRecord]
) -> Iterator[tuple[int, bytes]]:
    """What payload.iter_records yields from DynamoDB, from lists instead."""
    for message in chats:
        yield 0, json.dumps(payload.chat_item(message), separators=(",", ":")).encode()
    for session in sessions:
        yield 1, json.dumps(payload.session_item(session), separators=(",", ":")).encode()


def send(receiver: Receiver, secrets: list[str], delivery_id: str, part: Any) -> requests.Response:
    webhook_id = payload.webhook_id(delivery_id, part.number)
    headers = signing.webhook_headers(secrets, webhook_id, int(time.time()), part.body)
    return requests.post(receiver.webhook_url, data=part.body, headers=headers, timeout=10)


def test_roomcast_parts_arrive_complete_and_in_order(
    receiver: Receiver, secrets: list[str]
) -> None:
    room, chats, sessions = closed_room(600)
    delivery_id = new_id()
    parts = list(payload.PartBuilder(room, delivery_id, 16 * 1024).parts(records(chats, sessions)))
    assert len(parts) >= 3, "the fixture must make a multi-part delivery"

    # Out of order (last first), each sent twice: every copy verifies, one is stored.
    for part in reversed(parts):
        for _ in range(2):
            response = send(receiver, secrets, delivery_id, part)
            assert response.status_code == 200, response.text

    stored = requests.get(f"{receiver.url}/rooms/{room.room_id}", timeout=10).json()
    assert stored["sync"] == {
        "sync_id": delivery_id,
        "parts_received": len(parts),
        "last_part": len(parts),
        "complete": True,
        "timestamp": iso(START_MS + 3_600_000),
    }
    assert [c["id"] for c in stored["chat_history"]] == [m.message_id for m in chats]
    assert stored["chat_history"] == [payload.chat_item(m) for m in chats]
    assert stored["session_history"] == [payload.session_item(s) for s in sessions]
    assert stored["call_history"] == []
    # The reference receiver keeps the seed system's four counters (not the connection counts).
    kept = ("current_users", "peak_users", "total_joins", "message_count")
    assert stored["stats"] == {k: v for k, v in room.stats.model_dump().items() if k in kept}
    assert stored["start_time"] == iso(START_MS)
    assert stored["closed_by"] == "alice"
    totals = requests.get(f"{receiver.url}/stats", timeout=10).json()
    assert totals["deliveries"] == len(parts)
    assert totals["duplicates"] == len(parts)
    assert totals["chats"] == 600


def test_a_roomcast_signature_with_a_tampered_body_is_refused(
    receiver: Receiver, secrets: list[str]
) -> None:
    room, chats, sessions = closed_room(3)
    delivery_id = new_id()
    (part,) = list(
        payload.PartBuilder(room, delivery_id, 512 * 1024).parts(records(chats, sessions))
    )
    headers = signing.webhook_headers(
        secrets, payload.webhook_id(delivery_id, 1), int(time.time()), part.body
    )
    forged = part.body.replace(b'"Big room"', b'"Big ROOM"')
    response = requests.post(receiver.webhook_url, data=forged, headers=headers, timeout=10)
    assert response.status_code == 401
    assert requests.get(f"{receiver.url}/rooms/{room.room_id}", timeout=10).status_code == 404
