"""WebRTC signaling: the 1:1 call state machine, the relay, and the ring timer.

    invited --accept--> accepted --hangup / disconnect--> ended
    invited --reject--> rejected
    invited --hangup by the caller / disconnect--> ended
    invited --ring timeout (timer or lazy check)--> missed
    (an invite that cannot ring is written straight away as failed: user-offline, busy)

Every transition is one conditional write on the call record (dal/calls.py), so racing
signals produce one winner and a clear `invalid_call_state` for the loser. Offers,
answers and candidates write nothing: they are relayed untouched between the two
connections the call is pinned to (the caller's from the invite, the callee's from
the accept), after a read of the call record that proves the sender is a participant
and the call is accepted.

The ring timer is a delayed SQS message (DelaySeconds = CALL_RING_TIMEOUT_SECONDS,
at most 900) consumed by the call timer function; an invite older than the timeout
is also treated as missed whenever it is next touched, so a lost timer message costs
nothing but promptness.
"""

from __future__ import annotations

import json
from typing import Any

from roomcast.dal import rate
from roomcast.dal.calls import CallStore, LockTaken
from roomcast.dal.rate import Bucket
from roomcast.errors import (
    CallNotFound,
    InvalidCallState,
    InvalidFrame,
    PayloadTooLarge,
    RateLimited,
    RoomClosed,
)
from roomcast.ids import id_time_ms, new_id, now_ms
from roomcast.logic.calls import finish_call, relay_frame
from roomcast.logic.context import Caller, Services
from roomcast.logic.presence import drop_connection
from roomcast.models.signaling import (
    ACTIVE_STATUSES,
    CallFailedFrame,
    CallState,
    SignalAckFrame,
    SignalFrame,
)
from roomcast.observability import logger, metrics
from roomcast.settings import Settings

# A client-proposed call id must be about "now", so call records keep sorting by time.
MAX_PROPOSED_ID_SKEW_MS = 5 * 60 * 1000
# ---------------------------------------------------------------- entry points


def handle_signal(services: Services, caller: Caller, frame: SignalFrame) -> Any:
    """One `signal` frame: check limits, then invite or move/relay an existing call."""
    settings = services.settings
    _check_sizes(frame, settings)
    calls = services.calls
    _take_rate_token(calls, caller, settings)
    if frame.type == "call-invite":
        return _invite(services, calls, caller, frame, settings)
    assert frame.call_id is not None  # the model requires it for every other type
    call = calls.get_call(frame.room_id, frame.call_id)
    if call is None:
        raise CallNotFound(f"no call {frame.call_id} in room {frame.room_id}")
    me = caller.identity.user_id
    if me not in (call.caller, call.callee):
        raise InvalidCallState("you are not a participant in this call")
    peer = call.callee if me == call.caller else call.caller
    if frame.to is not None and frame.to != peer:
        raise InvalidCallState(f"`to` must be the other participant ({peer})")
    call = _expire_if_overdue(services, calls, call, settings)
    if call.status not in ACTIVE_STATUSES:
        raise InvalidCallState(f"the call is already {call.status}")
    handler = {
        "call-accept": _accept,
        "call-reject": _reject,
        "call-hangup": _hangup,
    }.get(frame.type, _relay_media)
    return handler(services, calls, caller, frame, call)


def expire_invite(services: Services, room_id: str, call_id: str) -> str:
    """The ring timer: an invite still unanswered becomes missed. Idempotent.

    Returns what happened: "missed", "not-invited" (answered, ended or unknown) or
    "rescheduled" (the message came early, e.g. the timeout was raised meanwhile).
    """
    settings = services.settings
    calls = services.calls
    call = calls.get_call(room_id, call_id)
    if call is None or call.status != "invited":
        return "not-invited"
    remaining_ms = call.invited_at + settings.call_ring_timeout_seconds * 1000 - now_ms()
    if remaining_ms > 1000 and services.timers.enabled:
        services.timers.schedule(room_id, call_id, -(-remaining_ms // 1000))
        return "rescheduled"
    missed = finish_call(
        services, calls, call, "missed", ended_by=None, reason="no-answer", notify="both"
    )
    return "missed" if missed is not None else "not-invited"


# ---------------------------------------------------------------- limits


def _check_sizes(frame: SignalFrame, settings: Settings) -> None:
    if frame.sdp is not None:
        size = len(json.dumps(frame.sdp, separators=(",", ":")).encode())
        if size > settings.max_sdp_bytes:
            raise PayloadTooLarge(f"sdp is limited to {settings.max_sdp_bytes} bytes")
    if frame.candidate is not None:
        size = len(json.dumps(frame.candidate, separators=(",", ":")).encode())
        if size > settings.max_candidate_bytes:
            raise PayloadTooLarge(f"candidate is limited to {settings.max_candidate_bytes} bytes")


def _take_rate_token(calls: CallStore, caller: Caller, settings: Settings) -> None:
    now = now_ms()
    bucket = Bucket.per_connection(
        caller.connection_id, "signal", settings.signal_rate_burst, settings.signal_rate_per_second
    )
    wait_ms = rate.take(calls.client, calls.table, bucket, now, ttl=now // 1000 + settings.connection_ttl_seconds)
    if wait_ms is not None:
        metrics.add_metric(name="SignalRateLimited", unit="Count", value=1)
        raise RateLimited(
            f"signaling is limited to {settings.signal_rate_per_second:g} frames/s"
            f" (bursts of {settings.signal_rate_burst})",
            retry_after_ms=wait_ms,
        )


# ---------------------------------------------------------------- transitions


def _invite(
    services: Services, calls: CallStore, caller: Caller, frame: SignalFrame, settings: Settings
) -> SignalAckFrame | CallFailedFrame:
    me = caller.identity.user_id
    callee = frame.to
    assert callee is not None
    room = services.store.require_room(frame.room_id)
    if room.state != "open":
        raise RoomClosed()
    services.store.require_member(frame.room_id, caller.connection_id)
    if callee == me:
        raise InvalidCallState("you cannot call yourself")
    now = now_ms()
    if frame.call_id is not None:
        if abs(id_time_ms(frame.call_id) - now) > MAX_PROPOSED_ID_SKEW_MS:
            raise InvalidFrame("call_id: a proposed id must be a current roomcast id (ids.new_id)")
        call_id = frame.call_id
    else:
        call_id = new_id(now)
    targets = calls.member_connections(frame.room_id, callee)
    call = CallState(
        room_id=frame.room_id,
        call_id=call_id,
        caller=me,
        callee=callee,
        media=frame.media or "audio",
        status="invited",
        invited_at=now,
        caller_name=caller.identity.name,
        callee_name=next(iter(targets.values()), None),
        caller_connection=caller.connection_id,
    )
    if not targets:
        return _failed(calls, frame, call, "user-offline", now)
    lock_ttl = now // 1000 + settings.connection_ttl_seconds
    for _attempt in range(3):
        try:
            calls.put_invite(call, lock_ttl, now // 1000)
            break
        except LockTaken as taken:
            live = [u for u in taken.user_ids if not _free_stale_lock(services, calls, u, settings)]
            if not live:
                continue  # the locks named calls that were over: try again
            if me in live:
                raise InvalidCallState("you are already in a call; hang up first") from taken
            return _failed(calls, frame, call, "busy", now)
    else:
        return _failed(calls, frame, call, "busy", now)

    relay = relay_frame(call, "call-invite", sender=me, media=call.media)
    result = services.gateway.broadcast(list(targets), relay)
    if result.delivered == 0:
        # Every tab of the callee vanished between the lookup and the post.
        finish_call(services, calls, call, "failed", ended_by=None, reason="user-offline", notify="none")
        _clean_gone(services, result.gone)
        metrics.add_metric(name="CallFailed.user-offline", unit="Count", value=1)
        return CallFailedFrame(
            request_id=frame.request_id,
            room_id=frame.room_id,
            call_id=call_id,
            to=callee,
            reason="user-offline",
        )
    _clean_gone(services, result.gone)
    if services.timers.enabled:
        try:
            services.timers.schedule(frame.room_id, call_id, settings.call_ring_timeout_seconds)
        except Exception:
            # The lazy check still turns the invite into missed when it is next touched.
            logger.exception("ring timer not scheduled", extra={"call_id": call_id})
    metrics.add_metric(name="CallInvited", unit="Count", value=1)
    return SignalAckFrame(
        request_id=frame.request_id,
        signal="call-invite",
        room_id=frame.room_id,
        call_id=call_id,
        status="invited",
        delivered=result.delivered,
    )


def _failed(
    calls: CallStore, frame: SignalFrame, call: CallState, reason: str, now: int
) -> CallFailedFrame:
    failed = call.model_copy(
        update={"status": "failed", "reason": reason, "ended_at": now, "duration_ms": 0}
    )
    calls.put_failed(failed)
    metrics.add_metric(name=f"CallFailed.{reason}", unit="Count", value=1)
    return CallFailedFrame(
        request_id=frame.request_id,
        room_id=call.room_id,
        call_id=call.call_id,
        to=call.callee,
        reason=reason,  # type: ignore[arg-type]
    )


def _accept(
    services: Services, calls: CallStore, caller: Caller, frame: SignalFrame, call: CallState
) -> SignalAckFrame:
    me = caller.identity.user_id
    if me != call.callee:
        raise InvalidCallState("only the callee can accept a call")
    if call.status != "invited":
        raise InvalidCallState(f"the call is already {call.status}")
    services.store.require_member(call.room_id, caller.connection_id)
    accepted = calls.transition(
        call, ["invited"], "accepted", started_at=now_ms(), callee_connection=caller.connection_id
    )
    if accepted is None:
        raise _lost_race(calls, call)
    relay = relay_frame(accepted, "call-accept", sender=me)
    result = services.gateway.broadcast([accepted.caller_connection or ""], relay)
    # The callee's other tabs stop ringing.
    others = [
        cid for cid in calls.member_connections(call.room_id, me) if cid != caller.connection_id
    ]
    if others:
        services.gateway.broadcast(
            others, relay_frame(accepted, "call-hangup", sender=call.caller, reason="answered-elsewhere")
        )
    _clean_gone(services, result.gone)
    metrics.add_metric(name="CallAccepted", unit="Count", value=1)
    return _ack(frame, accepted, result.delivered)


def _reject(
    services: Services, calls: CallStore, caller: Caller, frame: SignalFrame, call: CallState
) -> SignalAckFrame:
    me = caller.identity.user_id
    if me != call.callee:
        raise InvalidCallState("only the callee can reject a call; the caller hangs up instead")
    if call.status != "invited":
        raise InvalidCallState(f"the call is already {call.status}; hang up instead")
    services.store.require_member(call.room_id, caller.connection_id)
    rejected = finish_call(
        services,
        calls,
        call,
        "rejected",
        ended_by=me,
        reason=frame.reason or "rejected",
        notify="peer",
        actor=me,
        signal="call-reject",
    )
    if rejected is None:
        raise _lost_race(calls, call)
    return _ack(frame, rejected, rejected.delivered)


def _hangup(
    services: Services, calls: CallStore, caller: Caller, frame: SignalFrame, call: CallState
) -> SignalAckFrame:
    me = caller.identity.user_id
    # A hang-up must win over a transition it raced (an accept landing first): one retry
    # on the fresh record, so "hang up" never leaves a call the user walked away from.
    for _attempt in range(2):
        _require_pinned(caller, call)
        if call.status == "invited":
            # The caller cancels a ringing call; a callee's hang-up while ringing is a rejection.
            to_status, reason = ("ended", "cancelled") if me == call.caller else ("rejected", "rejected")
        else:
            to_status, reason = "ended", "hangup"
        ended = finish_call(
            services,
            calls,
            call,
            to_status,
            ended_by=me,
            reason=frame.reason or reason,
            notify="peer",
            actor=me,
        )
        if ended is not None:
            return _ack(frame, ended, ended.delivered)
        fresh = calls.get_call(call.room_id, call.call_id)
        if fresh is None or fresh.status not in ACTIVE_STATUSES:
            break
        call = fresh
    raise _lost_race(calls, call)


def _relay_media(
    services: Services, calls: CallStore, caller: Caller, frame: SignalFrame, call: CallState
) -> SignalAckFrame:
    """offer / answer / ice-candidate: accepted calls only, between the pinned connections."""
    me = caller.identity.user_id
    if call.status != "accepted":
        raise InvalidCallState(f"{frame.type} before the call is accepted")
    _require_pinned(caller, call)
    target = call.callee_connection if me == call.caller else call.caller_connection
    relay = relay_frame(call, frame.type, sender=me, sdp=frame.sdp, candidate=frame.candidate)
    result = services.gateway.broadcast([target or ""], relay)
    _clean_gone(services, result.gone)
    return _ack(frame, call, result.delivered)


# ---------------------------------------------------------------- helpers


def _ack(frame: SignalFrame, call: CallState, delivered: int) -> SignalAckFrame:
    return SignalAckFrame(
        request_id=frame.request_id,
        signal=frame.type,
        room_id=call.room_id,
        call_id=call.call_id,
        status=call.status,
        delivered=delivered,
    )


def _require_pinned(caller: Caller, call: CallState) -> None:
    me = caller.identity.user_id
    pinned = call.caller_connection if me == call.caller else call.callee_connection
    if pinned is not None and pinned != caller.connection_id:
        raise InvalidCallState("this call is held by another connection of yours")


def _lost_race(calls: CallStore, call: CallState) -> InvalidCallState:
    current = calls.get_call(call.room_id, call.call_id)
    status = current.status if current else "gone"
    return InvalidCallState(f"the call is already {status}")


def _expire_if_overdue(
    services: Services, calls: CallStore, call: CallState, settings: Settings
) -> CallState:
    """The lazy half of the ring timeout: an overdue invite is missed when touched."""
    if call.status != "invited":
        return call
    if now_ms() - call.invited_at < settings.call_ring_timeout_seconds * 1000:
        return call
    missed = finish_call(services, calls, call, "missed", ended_by=None, reason="no-answer", notify="both")
    if missed is not None:
        return missed
    return calls.get_call(call.room_id, call.call_id) or call


def _free_stale_lock(services: Services, calls: CallStore, user_id: str, settings: Settings) -> bool:
    """True when the user's lock names no live call (and is gone now)."""
    lock = calls.get_lock(user_id)
    if lock is None:
        return True
    call = calls.get_call(str(lock["room_id"]), str(lock["call_id"]))
    if call is not None:
        call = _expire_if_overdue(services, calls, call, settings)
    if call is None or call.status not in ACTIVE_STATUSES:
        calls.release_lock(user_id, str(lock["call_id"]))
        return True
    # A call whose pinned connection is gone (its $disconnect ran but could not end the
    # call, or a 410 removed it) must not keep either user busy.
    for holder, connection_id in ((call.caller, call.caller_connection), (call.callee, call.callee_connection)):
        if connection_id and services.store.get_connection(connection_id) is None:
            ended = finish_call(
                services, calls, call, "ended", ended_by=holder, reason="disconnected",
                notify="peer", actor=holder,
            )
            return ended is not None or _free_stale_lock(services, calls, user_id, settings)
    return False


def _clean_gone(services: Services, gone: list[str]) -> None:
    """A 410 during a relay: that connection is over (which also ends its calls)."""
    if not gone:
        return
    for connection_id in gone:
        drop_connection(services, connection_id, reason="gone", announce=True)
