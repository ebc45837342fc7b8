"""Presence: who is in a room, by user, and the broadcasts that keep it current."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from roomcast.dal.fanout import Target
from roomcast.gateway import FanoutResult
from roomcast.ids import iso, now_ms
from roomcast.logic import fanout
from roomcast.logic.context import Services
from roomcast.models.frames import Member, MemberEventFrame
from roomcast.models.records import MemberRecord
from roomcast.observability import logger

MAX_GONE_CLEANUPS_PER_BROADCAST = 10
# Expired memberships (their $disconnect never ran) ended per read of a room's members.
MAX_EXPIRED_REPAIRS_PER_READ = 10
# Rooms a closing connection leaves at once: each leave is its own transaction (its
# room's counters), so they run side by side to fit $disconnect's timeout at the cap.
DISCONNECT_WORKERS = 16


def snapshot(members: Iterable[MemberRecord]) -> list[Member]:
    """One entry per user (a user may hold several connections), earliest join first."""
    by_user: dict[str, Member] = {}
    for m in sorted(members, key=lambda r: r.joined_at):
        existing = by_user.get(m.user_id)
        if existing is None:
            by_user[m.user_id] = Member(
                user_id=m.user_id, name=m.name, connections=1, joined_at=iso(m.joined_at)
            )
        else:
            existing.connections += 1
    return list(by_user.values())


def broadcast_to_room(
    services: Services,
    room_id: str,
    payload: dict[str, Any],
    exclude: str | None = None,
    members: Sequence[MemberRecord | Target] | None = None,
    clean_gone: bool = True,
    message_id: str | None = None,
) -> FanoutResult:
    """Send a frame to every member connection of a room but `exclude`.

    Above the split threshold a stored message (`message_id`) is split into range jobs
    and other frames are not sent (logic/fanout.py). Connections that answer 410 Gone
    are removed (their sessions ended) and announced as left; that announcement does
    not recurse into further clean-ups.
    """
    result = fanout.to_room(services, room_id, payload, exclude, members, message_id)
    if clean_gone:
        clean_gone_connections(services, result.gone)
    return result


def clean_gone_connections(services: Services, gone: list[str]) -> None:
    # Bounded: each clean-up re-reads and re-notifies the room, so a burst of stale
    # connections must not eat the sender's invocation. The rest go with the next
    # broadcast, their $disconnect, or TTL.
    # A clean-up that fails must not fail what caused it (a send already stored and
    # acknowledged): it is logged, and the connection goes by the same later paths.
    for connection_id in gone[:MAX_GONE_CLEANUPS_PER_BROADCAST]:
        try:
            drop_connection(services, connection_id, reason="gone", announce=True)
        except Exception:
            logger.exception("cleaning up a gone connection failed", extra={"connection_id": connection_id})


def end_membership(
    services: Services, member: MemberRecord, reason: str, announce: bool = True,
    extra: tuple[dict[str, Any], ...] = (),
) -> bool:
    """Remove a membership, end its session, count the leave and tell the room (`extra`:
    writes that commit with the leave, such as a kick's MODLOG# item)."""
    left_at = now_ms()
    # One transaction: membership, session, links and the room's counters together.
    left = services.store.remove_member(member, left_at, reason, extra)
    if left is None:
        return False
    _end_calls(services, member, reason, left.call_lock)
    # Member events are not sent in rooms above the split threshold (logic/fanout.py).
    remaining = fanout.small_room_members(services, member.room_id) if announce else None
    if remaining is not None:
        frame = MemberEventFrame(
            type="member.left",
            room_id=member.room_id,
            user_id=member.user_id,
            name=member.name,
            connection_count=sum(1 for m in remaining if m.user_id == member.user_id),
            at=iso(left_at),
        )
        # A gone connection found while announcing is cleaned without another announcement.
        broadcast_to_room(
            services, member.room_id, frame.dump(), members=remaining, clean_gone=reason != "gone"
        )
    return True


def _end_calls(services: Services, member: MemberRecord, reason: str, call_lock: dict[str, Any] | None) -> None:
    """A member who leaves (or whose connection is over) ends the call it holds in the room."""
    # Imported here: calls and their models (~25 ms) are for leaves, not for every cold start.
    from roomcast.logic.calls import end_calls_for_member

    try:
        end_calls_for_member(services, member, reason, call_lock)
    except Exception:
        # The membership is already gone; a call left behind still ends by its peer's
        # hang-up, the ring timer, or the lock's TTL.
        logger.exception("ending the member's calls failed", extra={"room_id": member.room_id})


def live_members(services: Services, room_id: str) -> list[MemberRecord]:
    """The room's live members; memberships that outlived their connection are ended.

    An expired membership ($disconnect never ran, no 410 found it) is ignored by every
    read and ended here through the same leave transaction, which also takes it out of
    the room's counters, before DynamoDB's TTL deletes the item (docs/operations.md).
    """
    live, expired = services.store.room_members(room_id)
    for member in expired[:MAX_EXPIRED_REPAIRS_PER_READ]:
        try:
            end_membership(services, member, reason="expired", announce=False)
        except Exception:
            # Still ignored by reads; the next read tries again.
            logger.exception("ending an expired membership failed", extra={"room_id": room_id})
    return live


def drop_connection(
    services: Services, connection_id: str, reason: str, announce: bool = True
) -> int:
    """A connection is over ($disconnect, or 410 Gone): leave every room, forget it.

    At most MAX_ROOMS_PER_CONNECTION rooms; their leaves run DISCONNECT_WORKERS at a time
    (bench/bench_disconnect_at_cap.py measures the cap against $disconnect's timeout).
    """
    rooms = services.store.connection_rooms(connection_id)

    def leave(room_id: str) -> bool:
        member = services.store.get_member(room_id, connection_id, include_expired=True)
        return bool(member and end_membership(services, member, reason, announce=announce))

    ended = 0
    if rooms:
        with ThreadPoolExecutor(max_workers=min(DISCONNECT_WORKERS, len(rooms))) as pool:
            ended = sum(pool.map(leave, rooms))
    services.store.delete_room_count(connection_id)
    services.store.delete_connection(connection_id)
    logger.info("connection dropped", extra={"connection_id": connection_id, "reason": reason, "rooms": ended})
    return ended
