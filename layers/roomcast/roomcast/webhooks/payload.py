"""The room.closed payload, built page by page and cut into parts.

Every delivery is a sequence of parts (a small room is one part: part 1, last). A part
repeats the room's fields and stats and carries the next slice of chat_history, then
session_history, then call_history, then moderation_history, in that order; it is cut before the record that
would make its body exceed the size limit. Records are serialised once, as they are
read, so memory holds one DynamoDB page plus one part - never the whole room. A single
record larger than the limit travels alone in its part (records are never split).

The body of a part is a pure function of the closed room, so a retry or a replay
rebuilds byte-identical parts and the part number in the webhook-id stays meaningful.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from roomcast.dal.store import RoomStore
from roomcast.ids import iso
from roomcast.models.records import CallRecord, MessageRecord, ModlogRecord, Room, SessionRecord

EVENT_TYPE = "room.closed"
SECTIONS = ("chat_history", "session_history", "call_history", "moderation_history")


def _dumps(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode()


def _seconds(ms: int | None) -> float | None:
    return None if ms is None else round(ms / 1000, 3)


def _time(ms: int | None) -> str | None:
    return None if ms is None else iso(ms)


def chat_item(m: MessageRecord) -> dict[str, Any]:
    item: dict[str, Any] = {
        "id": m.message_id,
        "user_id": m.user_id,
        "name": m.name,
        "text": m.text,
        "sent_at": iso(m.sent_at),
    }
    if m.client_msg_id:
        item["client_msg_id"] = m.client_msg_id
    if m.meta:
        item["meta"] = m.meta
    # Server-side and streamed messages carry their flags (docs/webhooks.md); a client's
    # message has none of them.
    for flag in ("sender_kind", "streamed", "stream_ended_by", "incomplete"):
        if (value := getattr(m, flag)) is not None:
            item[flag] = value
    if m.deleted:
        # The rule for a deleted message (docs/webhooks.md): it keeps its place, id, author
        # and time; its text is "" and it says who deleted it and when.
        item.update(deleted=True, deleted_by=m.deleted_by, deleted_at=_time(m.deleted_at))
    return item


def moderation_item(e: ModlogRecord) -> dict[str, Any]:
    """One act (MODLOG#): who did what to whom, when, until when, why."""
    item: dict[str, Any] = {"act": e.act, "by": e.by, "target_user": e.target_user, "at": iso(e.at)}
    for name, value in (("until", _time(e.until)), ("message_id", e.message_id), ("reason", e.reason), ("role", e.role)):
        if value is not None:
            item[name] = value
    return item


def session_item(s: SessionRecord) -> dict[str, Any]:
    return {
        "session_id": s.session_id,
        "user_id": s.user_id,
        "name": s.name,
        "connection_id": s.connection_id,
        "joined_at": iso(s.joined_at),
        "left_at": _time(s.left_at),
        "duration_seconds": _seconds(s.duration_ms),
        "end_reason": s.end_reason,
    }


def call_item(c: CallRecord) -> dict[str, Any]:
    duration = c.duration_ms
    if duration is None and c.started_at is not None and c.ended_at is not None:
        duration = max(0, c.ended_at - c.started_at)
    return {
        "call_id": c.call_id,
        "caller": c.caller,
        "callee": c.callee,
        "media": c.media,
        "status": c.status,
        "invited_at": iso(c.invited_at),
        "started_at": _time(c.started_at),
        "ended_at": _time(c.ended_at),
        "duration_seconds": _seconds(duration),
        "ended_by": c.ended_by,
        # Why it ended as it did: busy, user-offline, no-answer, hangup, disconnected...
        "reason": c.reason,
    }


def room_fields(room: Room) -> dict[str, Any]:
    return {
        "room_id": room.room_id,
        "name": room.name,
        "admin_user_ids": room.admin_user_ids,
        "metadata": room.metadata,
        "start_time": iso(room.created_at),
        "end_time": _time(room.closed_at),
        "closed_by": room.closed_by,
        "stats": room.stats.model_dump(),
    }


@dataclass(frozen=True)
class Part:
    number: int
    last: bool
    body: bytes
    counts: dict[str, int]


def iter_records(store: RoomStore, room_id: str, page_size: int) -> Iterator[tuple[int, bytes]]:
    """(section index, serialised record) in payload order, one DynamoDB page in memory."""
    for page in store.iter_messages(room_id, page_size=page_size):
        for message in page:
            yield 0, _dumps(chat_item(message))
    for session_page in store.iter_sessions(room_id, page_size=page_size):
        for session in session_page:
            yield 1, _dumps(session_item(session))
    for call_page in store.iter_calls(room_id, page_size=page_size):
        for call in call_page:
            yield 2, _dumps(call_item(call))
    for log_page in store.iter_modlog(room_id, page_size=page_size):
        for entry in log_page:
            yield 3, _dumps(moderation_item(entry))


class PartBuilder:
    """Assembles part bodies from serialised records without re-encoding them."""

    def __init__(self, room: Room, sync_id: str, max_bytes: int) -> None:
        self.sync_id = sync_id
        self.max_bytes = max_bytes
        envelope_head = _dumps({"type": EVENT_TYPE, "timestamp": _time(room.closed_at) or iso(room.created_at)})
        fields = _dumps(room_fields(room))
        self.head = envelope_head[:-1] + b',"data":' + fields[:-1] + b","
        # Fixed bytes of a part: head, section names and brackets, the sync object (with
        # room for a 9-digit part number and "false"), closing braces.
        empty = self._assemble([[] for _ in SECTIONS], 999_999_999, False)
        self.fixed = len(empty)

    def _assemble(self, sections: list[list[bytes]], number: int, last: bool) -> bytes:
        chunks = [self.head]
        for index, name in enumerate(SECTIONS):
            chunks.append(b'"' + name.encode() + b'":[' + b",".join(sections[index]) + b"],")
        sync = _dumps({"sync_id": self.sync_id, "part": number, "last": last})
        chunks.append(b'"sync":' + sync + b"}}")
        return b"".join(chunks)

    def parts(self, records: Iterator[tuple[int, bytes]]) -> Iterator[Part]:
        sections: list[list[bytes]] = [[] for _ in SECTIONS]
        size, count, number = self.fixed, 0, 1
        for section, data in records:
            extra = len(data) + 1  # the record and its comma
            if count and size + extra > self.max_bytes:
                yield self._part(sections, number, last=False)
                sections, size, count, number = [[] for _ in SECTIONS], self.fixed, 0, number + 1
            sections[section].append(data)
            size += extra
            count += 1
        yield self._part(sections, number, last=True)

    def _part(self, sections: list[list[bytes]], number: int, last: bool) -> Part:
        counts = {name: len(sections[i]) for i, name in enumerate(SECTIONS)}
        return Part(number=number, last=last, body=self._assemble(sections, number, last), counts=counts)


def build_parts(
    store: RoomStore, room: Room, sync_id: str, max_bytes: int, page_size: int = 500
) -> Iterator[Part]:
    builder = PartBuilder(room, sync_id, max_bytes)
    return builder.parts(iter_records(store, room.room_id, page_size))


def webhook_id(delivery_id: str, part: int) -> str:
    """Stable across retries and replays: the receiver's idempotency key."""
    return f"{delivery_id}.{part}"
