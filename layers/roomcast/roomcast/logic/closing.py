"""Closing a room: one logic for the admin API (DELETE /rooms/{id}) and the WebSocket
`close` action.

The close is a conditional state change open -> closing; only the caller that wins it
creates the delivery and, once the room is final, sends the one SQS job - however many
closes race. Members are told `room.closed`, their memberships and sessions end with
end_reason "room_closed", and their connections are closed; then closing -> closed.
The job is sent after that, so the payload sees every session ended and the final stats.

Idempotent: closing a room that is closing or closed returns the same delivery id. A
close that crashed half way (room left in "closing", or closed with no job sent) is
finished by the next close call once it is older than STALE_MS.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from roomcast.errors import NotRoomAdmin
from roomcast.ids import iso, new_id, now_ms
from roomcast.logic.context import Caller, Services
from roomcast.logic.presence import end_membership
from roomcast.models.frames import CloseFrame, RoomClosedFrame
from roomcast.models.records import MemberRecord, Room
from roomcast.models.webhooks import CloseResponse, DeliveryJob, DeliveryRecord
from roomcast.observability import logger, metrics

STALE_MS = 60_000


def _response(room: Room, already: bool) -> CloseResponse:
    return CloseResponse(
        room_id=room.room_id,
        state=room.state,
        delivery_id=room.delivery_id or "",
        closed_by=room.closed_by,
        closed_at=iso(room.closed_at) if room.closed_at else None,
        already_closed=already,
    )


def close_room(
    services: Services,
    room_id: str,
    closed_by: str,
    exclude_connection: str | None = None,
) -> CloseResponse:
    store = services.store
    room = store.require_room(room_id)
    if room.state == "open" and room.open_streams > 0:
        # Streams still being written end first, so their text is in history and in the
        # room.closed payload (stream_ended_by "room_closed"); a chunk after that is
        # refused with stream_ended. Imported here: most closes have no stream open.
        from roomcast.logic.streams import end_open_streams

        end_open_streams(services, room_id)
    if room.state == "open":
        closed_at = now_ms()
        delivery_id = new_id(closed_at)
        if store.transition_room(
            room_id, "open", "closing", delivery_id=delivery_id, closed_at=closed_at, closed_by=closed_by
        ):
            services.deliveries.create(
                DeliveryRecord(
                    room_id=room_id,
                    delivery_id=delivery_id,
                    created_at=closed_at,
                    url=room.callback_url or services.settings.default_webhook_url or None,
                )
            )
            room = room.model_copy(
                update={"state": "closing", "delivery_id": delivery_id, "closed_at": closed_at, "closed_by": closed_by}
            )
            _finish(services, room, exclude_connection)
            metrics.add_metric(name="RoomClosed", unit="Count", value=1)
            logger.info("room closed", extra={"room_id": room_id, "delivery_id": delivery_id})
            return _response(store.require_room(room_id), already=False)
        room = store.require_room(room_id)  # another close won the race
    stale = room.closed_at is not None and now_ms() - room.closed_at > STALE_MS
    if stale and room.delivery_id:
        record = services.deliveries.get(room_id, room.delivery_id)
        if room.state == "closing" or record is None or record.enqueued_at is None:
            logger.warning("finishing an interrupted close", extra={"room_id": room_id})
            if record is None:
                services.deliveries.create(
                    DeliveryRecord(room_id=room_id, delivery_id=room.delivery_id, created_at=room.closed_at or now_ms())
                )
            _finish(services, room, exclude_connection)
            room = store.require_room(room_id)
    return _response(room, already=True)


def _finish(services: Services, room: Room, exclude: str | None) -> None:
    """Tell and disconnect the members, mark the room closed, then send the one job."""
    assert room.delivery_id is not None
    _disconnect_members(services, room, exclude)
    if room.state == "closing":
        services.store.transition_room(room.room_id, "closing", "closed")
    deliveries = services.deliveries
    # The conditional claim keeps a recovering close from sending a second job. A claim that
    # never led to `enqueued_at` (its Lambda died between the two) goes stale and is taken over.
    claimed_at = now_ms()
    if deliveries.update(
        room.room_id,
        room.delivery_id,
        condition="attribute_not_exists(enqueue_claimed_at) OR "
        "(attribute_not_exists(enqueued_at) AND enqueue_claimed_at < :stale)",
        condition_values={"stale": claimed_at - STALE_MS},
        enqueue_claimed_at=claimed_at,
    ):
        try:
            services.jobs.send(DeliveryJob(room_id=room.room_id, delivery_id=room.delivery_id))
        except Exception:
            # Let the next close of this room (after STALE_MS) send it instead.
            deliveries.update(room.room_id, room.delivery_id, enqueue_claimed_at=None)
            raise
        deliveries.update(room.room_id, room.delivery_id, enqueued_at=now_ms())


def _disconnect_members(services: Services, room: Room, exclude: str | None) -> None:
    live, expired = services.store.room_members(room.room_id)
    if not live and not expired:
        return
    # Expired memberships are ended too (not told): the final stats count nobody.
    members = live + expired
    frame = RoomClosedFrame(
        room_id=room.room_id, closed_by=room.closed_by, at=iso(room.closed_at or now_ms())
    ).dump()
    targets = [m.connection_id for m in live if m.connection_id != exclude]
    # Told first, while their connections are still open.
    services.gateway.broadcast(targets, frame)

    # The memberships end 20 to a transaction (the counters are zeroed once, below); one
    # BatchGetItem of the members' call locks finds who holds a call in this room. A batch
    # that could not commit (a member left meanwhile) goes through the one-by-one leave.
    ended = {m.connection_id for m in services.store.end_memberships_on_close(room.room_id, members, now_ms(), "room_closed")}
    locks = services.calls.get_locks([m.user_id for m in members if m.connection_id in ended])
    in_call = {user for user, lock in locks.items() if lock.get("room_id") == room.room_id}

    def end(member: MemberRecord) -> None:
        # One member's failure must not leave the whole room stuck in `closing`: what is
        # missed here ends by TTL / $disconnect, and the payload still goes out.
        try:
            if member.connection_id not in ended:
                end_membership(services, member, reason="room_closed", announce=False)
            elif member.user_id in in_call:
                from roomcast.logic.calls import end_calls_for_member

                end_calls_for_member(services, member, "room_closed")
            if member.connection_id != exclude:
                services.gateway.disconnect(member.connection_id)
        except Exception:
            logger.exception("ending a membership during close failed", extra={"connection_id": member.connection_id})

    workers = max(1, min(services.gateway.workers, len(members)))
    with ThreadPoolExecutor(max_workers=workers) as pool:
        for future in [pool.submit(end, m) for m in members]:
            future.result()
    services.store.zero_current_counts(room.room_id)


def close_action(services: Services, caller: Caller, frame: CloseFrame) -> RoomClosedFrame:
    """The WebSocket `close`: room admins (or tokens with the admin claim) only."""
    from roomcast.logic.chat import check_token_allows  # chat is the close route's sibling

    check_token_allows(caller, frame.room_id)
    room = services.store.require_room(frame.room_id)
    identity = caller.identity
    if not identity.admin and identity.user_id not in room.admin_user_ids:
        raise NotRoomAdmin()
    result = close_room(services, frame.room_id, identity.user_id, exclude_connection=caller.connection_id)
    return RoomClosedFrame(
        request_id=frame.request_id,
        room_id=result.room_id,
        closed_by=result.closed_by,
        at=result.closed_at or iso(now_ms()),
    )
