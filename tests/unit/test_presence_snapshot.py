"""presence.snapshot: one entry per user, connections counted, earliest join first."""

from __future__ import annotations

from roomcast.ids import iso
from roomcast.logic.presence import snapshot
from roomcast.models.records import MemberRecord


def member(cid: str, user: str, joined_at: int, name: str | None = None) -> MemberRecord:
    return MemberRecord(room_id="lobby", connection_id=cid, user_id=user, name=name or user.title(), joined_at=joined_at, session_id=f"s-{cid}")


def test_empty():
    assert snapshot([]) == []


def test_groups_connections_by_user_in_join_order():
    members = [
        member("c3", "bob", 3_000),
        member("c1", "alice", 1_000),
        member("c4", "alice", 4_000),
        member("c2", "carol", 2_000),
        member("c5", "bob", 500),
    ]
    result = [m.dump() for m in snapshot(members)]
    assert result == [
        {"user_id": "bob", "name": "Bob", "connections": 2, "joined_at": iso(500)},
        {"user_id": "alice", "name": "Alice", "connections": 2, "joined_at": iso(1_000)},
        {"user_id": "carol", "name": "Carol", "connections": 1, "joined_at": iso(2_000)},
    ]


def test_name_and_join_time_come_from_the_earliest_connection():
    members = [member("late", "dan", 9_000, name="Dan (phone)"), member("early", "dan", 1_000, name="Dan")]
    (only,) = snapshot(members)
    assert (only.name, only.joined_at, only.connections) == ("Dan", iso(1_000), 2)


def test_accepts_any_iterable():
    assert len(snapshot(member(f"c{i}", f"u{i % 3}", i) for i in range(10))) == 3
