"""room.closed payload parts: order chat -> sessions -> calls, the size cut, the sync
object, byte-identical rebuilds, and the record/field shapes."""

from __future__ import annotations

import json
from collections.abc import Iterator

from roomcast.models.records import (
    CallRecord,
    MessageRecord,
    ModlogRecord,
    Room,
    RoomStats,
    SessionRecord,
)
from roomcast.webhooks.payload import build_parts, webhook_id

BASE = 1_795_320_000_000


class FakeStore:
    """The four page iterators of RoomStore, over lists (pages of `page_size`)."""

    def __init__(self, messages: int, sessions: int = 0, calls: int = 0, text: str = "hello", acts: int = 0) -> None:
        self.messages = [
            MessageRecord(room_id="r", message_id=f"m{i:06d}", user_id="u", name="U", text=text, sent_at=BASE + i)
            for i in range(messages)
        ]
        self.sessions = [
            SessionRecord(room_id="r", session_id=f"s{i:04d}", user_id="u", name="U", connection_id="c",
                          joined_at=BASE, left_at=BASE + 1500, duration_ms=1500, end_reason="room_closed")
            for i in range(sessions)
        ]
        self.calls = [
            CallRecord(room_id="r", call_id=f"k{i:04d}", caller="a", callee="b", status="ended",
                       invited_at=BASE, started_at=BASE + 1000, ended_at=BASE + 61000, ended_by="a",
                       reason="hangup")
            for i in range(calls)
        ]
        self.acts = [
            ModlogRecord(room_id="r", entry_id=f"a{i:04d}", act="muted" if i % 2 else "message_deleted", by="mod",
                         target_user="u", at=BASE + 2000 + i, until=BASE + 62000 if i % 2 else None,
                         message_id=None if i % 2 else f"m{i:06d}", reason="spam")
            for i in range(acts)
        ]
        self.pages_served = 0

    def _pages(self, items: list, page_size: int) -> Iterator[list]:
        for start in range(0, len(items), page_size):
            self.pages_served += 1
            yield items[start : start + page_size]

    def iter_messages(self, room_id: str, page_size: int = 500):
        return self._pages(self.messages, page_size)

    def iter_sessions(self, room_id: str, page_size: int = 500):
        return self._pages(self.sessions, page_size)

    def iter_calls(self, room_id: str, page_size: int = 500):
        return self._pages(self.calls, page_size)

    def iter_modlog(self, room_id: str, page_size: int = 500):
        return self._pages(self.acts, page_size)


ROOM = Room(room_id="r", name="Room", admin_user_ids=["a"], metadata={"k": "v"}, state="closed",
            created_at=BASE, closed_at=BASE + 3_600_000, closed_by="a", delivery_id="d1",
            stats=RoomStats(current_users=0, peak_users=3, total_joins=4, message_count=7))


def _parts(store: FakeStore, max_bytes: int, page_size: int = 7):
    return list(build_parts(store, ROOM, "d1", max_bytes, page_size))  # type: ignore[arg-type]


def test_small_room_is_one_last_part_with_every_field():
    (part,) = _parts(FakeStore(3, 2, 1), 1 << 20)
    event = json.loads(part.body)
    assert event["type"] == "room.closed" and event["timestamp"] == "2026-11-22T05:00:00.000Z"
    data = event["data"]
    assert data["sync"] == {"sync_id": "d1", "part": 1, "last": True}
    assert data["start_time"] == "2026-11-22T04:00:00.000Z" and data["end_time"] == "2026-11-22T05:00:00.000Z"
    assert data["stats"] == {"current_users": 0, "peak_users": 3, "total_joins": 4, "message_count": 7, "current_connections": 0, "peak_connections": 0}
    assert data["metadata"] == {"k": "v"} and data["closed_by"] == "a" and data["admin_user_ids"] == ["a"]
    assert data["chat_history"][0] == {"id": "m000000", "user_id": "u", "name": "U", "text": "hello", "sent_at": "2026-11-22T04:00:00.000Z"}
    assert data["session_history"][0]["duration_seconds"] == 1.5 and data["session_history"][0]["left_at"]
    assert data["call_history"][0]["duration_seconds"] == 60.0 and data["call_history"][0]["media"] == "audio"
    assert data["call_history"][0]["reason"] == "hangup"


def test_large_room_is_cut_in_order_under_the_limit():
    store = FakeStore(500, 40, 10)
    limit = 4096
    parts = _parts(store, limit)
    assert len(parts) > 5
    assert all(len(p.body) <= limit for p in parts)
    assert [p.number for p in parts] == list(range(1, len(parts) + 1))
    assert [p.last for p in parts] == [False] * (len(parts) - 1) + [True]
    events = [json.loads(p.body)["data"] for p in parts]
    assert [m["id"] for e in events for m in e["chat_history"]] == [m.message_id for m in store.messages]
    assert [s["session_id"] for e in events for s in e["session_history"]] == [s.session_id for s in store.sessions]
    assert [c["call_id"] for e in events for c in e["call_history"]] == [c.call_id for c in store.calls]
    # chat first, then sessions, then calls: once a later section starts, earlier ones are done.
    seen = [(bool(e["chat_history"]), bool(e["session_history"]), bool(e["call_history"])) for e in events]
    last_chat = max(i for i, s in enumerate(seen) if s[0])
    first_session = min(i for i, s in enumerate(seen) if s[1])
    assert last_chat <= first_session
    for e in events:  # each part stands alone
        assert e["room_id"] == "r" and e["stats"]["peak_users"] == 3


def test_moderation_history_comes_last_and_is_cut_like_the_rest():
    store = FakeStore(200, 10, 3, acts=120)
    store.messages[0] = store.messages[0].model_copy(
        update={"text": "", "deleted": True, "deleted_by": "mod", "deleted_at": BASE + 5000}
    )
    parts = _parts(store, 4096)
    assert all(len(p.body) <= 4096 for p in parts)
    events = [json.loads(p.body)["data"] for p in parts]
    acts = [a for e in events for a in e["moderation_history"]]
    assert len(acts) == 120 and acts[0] == {
        "act": "message_deleted", "by": "mod", "target_user": "u", "at": "2026-11-22T04:00:02.000Z",
        "message_id": "m000000", "reason": "spam",
    }
    assert acts[1]["until"] == "2026-11-22T04:01:02.000Z" and "message_id" not in acts[1]
    # Every part carries the section (empty until the others are done), moderation last.
    first_act = min(i for i, e in enumerate(events) if e["moderation_history"])
    assert all(not e["call_history"] for e in events[first_act + 1 :]) and all("moderation_history" in e for e in events)
    # The deleted message keeps its place, id and author; the rule of docs/webhooks.md.
    assert events[0]["chat_history"][0] == {
        "id": "m000000", "user_id": "u", "name": "U", "text": "", "sent_at": "2026-11-22T04:00:00.000Z",
        "deleted": True, "deleted_by": "mod", "deleted_at": "2026-11-22T04:00:05.000Z",
    }


def test_parts_fill_up_to_the_limit():
    parts = _parts(FakeStore(500), 4096)
    # every part but the last could not take one more message (~100 bytes)
    assert all(len(p.body) > 4096 - 200 for p in parts[:-1])


def test_rebuilding_gives_identical_bytes():
    first = [p.body for p in _parts(FakeStore(300, 5), 3000)]
    again = [p.body for p in _parts(FakeStore(300, 5), 3000)]
    assert first == again


def test_an_oversize_record_travels_alone():
    store = FakeStore(3, text="x" * 5000)
    parts = _parts(store, 2048)
    assert len(parts) == 3 and all(len(json.loads(p.body)["data"]["chat_history"]) == 1 for p in parts)


def test_empty_room_is_one_part():
    (part,) = _parts(FakeStore(0), 2048)
    data = json.loads(part.body)["data"]
    assert data["chat_history"] == [] and data["sync"]["last"] is True


def test_unicode_is_sized_in_bytes():
    parts = _parts(FakeStore(200, text="é☃😀" * 10), 4096)
    assert all(len(p.body) <= 4096 for p in parts)
    assert json.loads(parts[0].body)["data"]["chat_history"][0]["text"].startswith("é☃😀")


def test_builder_is_lazy_one_page_at_a_time():
    store = FakeStore(1000)
    parts = build_parts(store, ROOM, "d1", 4096, 50)  # type: ignore[arg-type]
    next(parts)
    assert store.pages_served <= 2  # the first part needed only the first page(s)


def test_webhook_id_is_delivery_and_part():
    assert webhook_id("d1", 3) == "d1.3"
