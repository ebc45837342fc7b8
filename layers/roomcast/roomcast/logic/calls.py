"""Ending calls: the one conditional write that finishes a call, who is told, and what
happens to a user's call when a membership ends (leave, disconnect, 410 Gone).

Below both logic/presence.py (a membership that ends ends its calls here) and
logic/signaling.py (the `signal` frames): it imports neither (docs/architecture.md).
"""

from __future__ import annotations

from typing import Any

from roomcast.dal.calls import CallStore
from roomcast.ids import iso, now_ms
from roomcast.logic.context import Services
from roomcast.models.records import MemberRecord
from roomcast.models.signaling import (
    ACTIVE_STATUSES,
    CallState,
    CallView,
    Peer,
    SignalRelayFrame,
)
from roomcast.observability import metrics

# Membership end reasons (logic/presence.py) as the reason a call ended.
_END_REASONS = {"disconnect": "disconnected", "gone": "disconnected", "leave": "left"}


_READ = object()


def end_calls_for_member(
    services: Services, member: MemberRecord, reason: str, lock: dict[str, Any] | object | None = _READ
) -> bool:
    """A membership ended (leave, disconnect, 410 Gone): end the user's call in that room.

    The call ends when the departing connection is the one the call is pinned to, or,
    while it still rings, when the callee has no other connection left in the room.
    The peer gets a call-hangup relay with the reason (e.g. "disconnected").
    """
    calls = services.calls
    # A leave passes the lock it read with its counters (one request fewer); a close, none.
    if lock is _READ:
        lock = calls.get_lock(member.user_id)
    if not isinstance(lock, dict) or lock.get("room_id") != member.room_id:
        return False
    call_id = str(lock["call_id"])
    # Two rounds: a transition that lands between the read and the write (an accept
    # racing the caller's disconnect) is re-judged on the fresh record.
    for _attempt in range(2):
        call = calls.get_call(member.room_id, call_id)
        if call is None or call.status not in ACTIVE_STATUSES:
            calls.release_lock(member.user_id, call_id)
            return False
        if member.user_id == call.caller:
            pinned = call.caller_connection == member.connection_id
        elif call.status == "accepted":
            pinned = call.callee_connection == member.connection_id
        else:
            # Still ringing: another tab of the callee may yet answer.
            pinned = not calls.member_connections(member.room_id, member.user_id)
        if not pinned:
            return False
        ended = finish_call(
            services,
            calls,
            call,
            "ended",
            ended_by=member.user_id,
            reason=_END_REASONS.get(reason, reason),
            notify="peer",
            actor=member.user_id,
        )
        if ended is not None:
            return True
    return False


def call_view(call: CallState) -> CallView:
    return CallView(
        call_id=call.call_id,
        caller=call.caller,
        callee=call.callee,
        caller_name=call.caller_name,
        callee_name=call.callee_name,
        media=call.media,
        status=call.status,
        invited_at=iso(call.invited_at),
        started_at=iso(call.started_at) if call.started_at else None,
        ended_at=iso(call.ended_at) if call.ended_at else None,
        duration_ms=call.duration_ms,
        duration_seconds=call.duration_ms / 1000 if call.duration_ms is not None else None,
        ended_by=call.ended_by,
        reason=call.reason,
    )


def recent_call_views(calls: CallStore, room_id: str, limit: int = 100) -> list[CallView]:
    """The room's latest calls for the admin view (the webhook carries all of them)."""
    return [call_view(c) for c in calls.recent_calls(room_id, limit)]


class FinishedCall(CallState):
    delivered: int = 0


def finish_call(
    services: Services,
    calls: CallStore,
    call: CallState,
    to_status: str,
    ended_by: str | None,
    reason: str,
    notify: str,
    actor: str | None = None,
    signal: str = "call-hangup",
) -> FinishedCall | None:
    """End a call (one conditional write), release both locks, tell who must know.

    notify: "peer" (the participant who is not `actor`), "both" or "none".
    Returns None when the call was no longer active (another transition won).
    """
    now = now_ms()
    duration = now - call.started_at if call.started_at and call.status == "accepted" else 0
    done = calls.transition(
        call,
        [call.status],
        to_status,
        ended_at=now,
        duration_ms=max(0, duration),
        ended_by=ended_by,
        reason=reason,
    )
    if done is None:
        return None
    calls.release_lock(done.caller, done.call_id)
    calls.release_lock(done.callee, done.call_id)
    metrics.add_metric(name=f"CallFinished.{to_status}", unit="Count", value=1)
    delivered = 0
    users = {"peer": [u for u in (done.caller, done.callee) if u != actor], "both": [done.caller, done.callee]}
    for user_id in users.get(notify, []):
        sender = done.callee if user_id == done.caller else done.caller
        frame = relay_frame(done, signal, sender=sender, reason=reason)  # type: ignore[arg-type]
        # Gone connections found here are left to TTL and the next fan-out: no recursion.
        delivered += services.gateway.broadcast(connections_of(calls, done, user_id), frame).delivered
    return FinishedCall(**done.model_dump(), delivered=delivered)


def connections_of(calls: CallStore, call: CallState, user_id: str) -> list[str]:
    """Where a participant hears about the call: its pinned tab, else every tab in the room."""
    pinned = call.caller_connection if user_id == call.caller else call.callee_connection
    if pinned:
        return [pinned]
    return list(calls.member_connections(call.room_id, user_id))


def relay_frame(
    call: CallState,
    signal: str,
    sender: str,
    media: str | None = None,
    sdp: dict[str, Any] | None = None,
    candidate: dict[str, Any] | None = None,
    reason: str | None = None,
) -> dict[str, Any]:
    name = call.caller_name if sender == call.caller else call.callee_name
    # Validated from a dict: the wire name `from` is a Python keyword.
    return SignalRelayFrame.model_validate(
        {
            "signal": signal,
            "room_id": call.room_id,
            "call_id": call.call_id,
            "from": Peer(user_id=sender, name=name or sender),
            "status": call.status,
            "media": media,
            "sdp": sdp,
            "candidate": candidate,
            "reason": reason,
        }
    ).dump()
