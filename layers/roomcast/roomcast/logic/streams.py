"""Streamed messages (docs/protocol.md, "Streamed messages"): a bot's reply written as it
is produced. POST /rooms/{id}/streams opens one, .../chunks appends text by sequence
number, .../end finishes it; an idle stream ends itself (the call timer's queue).

Members get `message.delta` frames with the chunks that became contiguous, then one
`message` with the whole text: the only thing history and `room.closed` hold. A chunk
already received is ignored; a chunk after a gap is held until the gap fills or the
stream ends (then the held chunks are appended in seq order and the message is flagged
`incomplete`). Times come from roomcast.clock, so tests play the timeout through.
"""

from __future__ import annotations

from dataclasses import dataclass

from roomcast import clock
from roomcast.dal.streams import StreamRecord, StreamStore
from roomcast.errors import (
    Conflict,
    NotFound,
    PayloadTooLarge,
    RateLimited,
    StreamEnded,
)
from roomcast.ids import iso, new_id
from roomcast.logic.chat import Sender, check_message, deliver, new_message
from roomcast.logic.context import Services
from roomcast.logic.presence import broadcast_to_room
from roomcast.models.admin import ChunkRequest, ChunkResult, OpenStreamRequest, StreamView
from roomcast.models.frames import AckFrame, MessageDeltaFrame, StreamChunk
from roomcast.models.records import StreamEndReason
from roomcast.observability import logger, metrics

# Optimistic rounds of a chunk or an end whose write lost to a concurrent one.
WRITE_ATTEMPTS = 16
# A stream no timer ended (its timer message lost) is deleted by DynamoDB's TTL after this.
STREAM_TTL_SECONDS = 24 * 3600


def _store(services: Services) -> StreamStore:
    return StreamStore(services.store.table, services.store.client)


def _view(stream: StreamRecord, timeout: int) -> StreamView:
    return StreamView(
        stream_id=stream.message_id,
        message_id=stream.message_id,
        room_id=stream.room_id,
        next_seq=stream.next_seq,
        held=len(stream.held),
        chars=stream.chars,
        started_at=iso(stream.started_at),
        idle_timeout_seconds=timeout,
    )


def open_stream(services: Services, room_id: str, request: OpenStreamRequest) -> StreamView:
    if request.meta is not None:
        check_message(services, "", request.meta)
    settings = services.settings
    now = clock.now_ms()
    stream = StreamRecord(
        room_id=room_id,
        message_id=new_id(now),
        user_id=request.sender.user_id,
        name=request.sender.name,
        sender_kind=request.sender.kind,
        meta=request.meta,
        started_at=now,
        last_at=now,
        ttl=now // 1000 + STREAM_TTL_SECONDS,
    )
    _store(services).open(stream)
    timeout = settings.stream_idle_timeout_seconds
    try:
        services.timers.schedule_stream(room_id, stream.message_id, timeout)
    except Exception:
        # The stream is open and works; only its self-ending is lost (its end call still
        # ends it, and DynamoDB's TTL deletes it after STREAM_TTL_SECONDS otherwise).
        logger.exception("stream timer not scheduled", extra={"room_id": room_id, "stream_id": stream.message_id})
        metrics.add_metric(name="Stream.TimerNotScheduled", unit="Count", value=1)
    return _view(stream, timeout)


@dataclass(frozen=True)
class _Applied:
    stream: StreamRecord
    released: list[StreamChunk]
    duplicate: bool


def _apply(services: Services, stream: StreamRecord, seq: int, text: str, now: int) -> _Applied:
    """The stream with one chunk added (not written), or unchanged for a repeat."""
    settings = services.settings
    if seq < stream.next_seq or str(seq) in stream.held:
        return _Applied(stream, [], duplicate=True)
    # At most STREAM_MAX_HELD_CHUNKS ahead: next_seq + 1 .. next_seq + that many can be held.
    # Further is a conflict with the stream's state (409), not a malformed request: the
    # same chunk is taken once the gap before it fills.
    if seq > stream.next_seq + settings.stream_max_held_chunks:
        raise Conflict(
            f"seq {seq} is more than {settings.stream_max_held_chunks} chunks ahead of the next one ({stream.next_seq})"
        )
    if stream.chars + len(text) > settings.stream_max_chars:
        raise PayloadTooLarge(f"a stream is limited to {settings.stream_max_chars} characters")
    # GCRA on the stream item itself: the chunk rate costs no write of its own.
    interval = 1000.0 / settings.stream_chunk_rate_per_second
    tat = max(stream.tat, now) + interval
    allowed = settings.stream_chunk_rate_burst * interval
    if tat - now > allowed:
        metrics.add_metric(name="RateLimited.stream", unit="Count", value=1)
        raise RateLimited(
            f"chunks are limited to {settings.stream_chunk_rate_per_second:g} per second",
            retry_after_ms=int(tat - now - allowed) + 1,
        )
    held = dict(stream.held)
    released: list[StreamChunk] = []
    next_seq, body = stream.next_seq, stream.text
    if seq == next_seq:
        released.append(StreamChunk(seq=seq, text=text))
        next_seq += 1
        while str(next_seq) in held:
            released.append(StreamChunk(seq=next_seq, text=held.pop(str(next_seq))))
            next_seq += 1
        body += "".join(c.text for c in released)
    else:
        held[str(seq)] = text
    updated = stream.model_copy(
        update={
            "text": body,
            "next_seq": next_seq,
            "held": held,
            "chars": stream.chars + len(text),
            "chunks": stream.chunks + 1,
            "version": stream.version + 1,
            "last_at": now,
            "tat": int(tat),
        }
    )
    return _Applied(updated, released, duplicate=False)


def _missing(services: Services, room_id: str, stream_id: str) -> Exception:
    """Why a stream is not there: it ended (its message is stored) or never was."""
    if services.store.get_message(room_id, stream_id) is not None:
        return StreamEnded()
    services.store.require_room(room_id)
    return NotFound("no such stream")


def append_chunk(services: Services, room_id: str, stream_id: str, request: ChunkRequest) -> ChunkResult:
    settings = services.settings
    if len(request.text) > settings.stream_max_chunk_chars:
        raise PayloadTooLarge(f"a chunk is limited to {settings.stream_max_chunk_chars} characters")
    store = _store(services)
    for _attempt in range(WRITE_ATTEMPTS):
        stream = store.get(room_id, stream_id)
        if stream is None:
            raise _missing(services, room_id, stream_id)
        applied = _apply(services, stream, request.seq, request.text, clock.now_ms())
        if applied.duplicate:
            metrics.add_metric(name="Stream.DuplicateChunk", unit="Count", value=1)
            return ChunkResult(stream_id=stream_id, seq=request.seq, duplicate=True, next_seq=stream.next_seq,
                               held=len(stream.held))
        # Conditional on the version read: a concurrent chunk makes this one read again.
        if store.replace(applied.stream, expected_version=stream.version):
            break
    else:
        raise Conflict("the stream is busy; try again")
    delivered = 0
    if applied.released:
        frame = MessageDeltaFrame(
            room_id=room_id,
            message_id=stream_id,
            user_id=stream.user_id,
            name=stream.name,
            sender_kind=stream.sender_kind,
            chunks=applied.released,
        )
        # Not a stored message: above the split threshold no delta is sent (the final
        # message still is, through range jobs; docs/scaling-and-cost.md).
        delivered = broadcast_to_room(services, room_id, frame.dump()).delivered
    return ChunkResult(
        stream_id=stream_id,
        seq=request.seq,
        duplicate=False,
        next_seq=applied.stream.next_seq,
        held=len(applied.stream.held),
        delivered=delivered,
    )


def _finish(services: Services, room_id: str, stream_id: str, ended_by: StreamEndReason) -> AckFrame | None:
    """Write the stream's message (its text, then held chunks in seq order) and delete the
    stream in one transaction, then fan the message out. None: the stream had no text and
    is discarded. Raises for a stream that is not there."""
    store = _store(services)
    for _attempt in range(WRITE_ATTEMPTS):
        stream = store.get(room_id, stream_id)
        if stream is None:
            raise _missing(services, room_id, stream_id)
        held = sorted(stream.held.items(), key=lambda kv: int(kv[0]))
        text = stream.text + "".join(chunk for _, chunk in held)
        if not text:
            if store.discard(stream):
                return None
            continue
        sender = Sender(stream.user_id, stream.name, kind=stream.sender_kind)
        record = new_message(room_id, sender, text, None, stream.meta, sent_at=stream.started_at,
                             message_id=stream.message_id)
        record.streamed = True
        record.stream_ended_by = ended_by
        record.incomplete = True if held else None
        try:
            return deliver(services, record, sender, extra=[store.end_item(stream)], open_streams_change=-1)
        except Conflict:
            continue  # a chunk landed meanwhile: end with it
    raise Conflict("the stream is busy; try again")


def end_stream(services: Services, room_id: str, stream_id: str) -> AckFrame | None:
    """The finished message's ack; None when the stream had no text: it is discarded, no
    message is written or sent (the route answers 204, and a second end 404)."""
    try:
        ack = _finish(services, room_id, stream_id, "end")
    except StreamEnded:
        # An end repeated (a retry after a lost answer): the message as stored.
        from roomcast.logic.chat import message_out

        stored = services.store.get_message(room_id, stream_id)
        if stored is None:
            raise
        return AckFrame(message=message_out(stored), duplicate=True)
    return ack


def expire(services: Services, room_id: str, stream_id: str) -> str:
    """The idle timer: end a stream nobody wrote to for the timeout, else look again later."""
    stream = _store(services).get(room_id, stream_id)
    if stream is None:
        return "gone"
    timeout_ms = services.settings.stream_idle_timeout_seconds * 1000
    idle_ms = clock.now_ms() - stream.last_at
    if idle_ms < timeout_ms:
        services.timers.schedule_stream(room_id, stream_id, -(-(timeout_ms - idle_ms) // 1000))
        return "rescheduled"
    try:
        ack = _finish(services, room_id, stream_id, "timeout")
    except (StreamEnded, NotFound):
        return "gone"
    logger.info("stream timed out", extra={"room_id": room_id, "stream_id": stream_id})
    metrics.add_metric(name="Stream.TimedOut", unit="Count", value=1)
    return "discarded" if ack is None else "ended"


def end_open_streams(services: Services, room_id: str) -> int:
    """End every stream open in a room that is closing; how many became messages."""
    ended = 0
    for stream in _store(services).open_streams(room_id):
        try:
            ended += _finish(services, room_id, stream.message_id, "room_closed") is not None
        except (StreamEnded, NotFound):
            continue  # ended meanwhile by its end call or its timer
        except Exception:
            # The close goes on: a stream that could not end is left out of the payload.
            logger.exception("ending a stream on close failed", extra={"room_id": room_id})
    return ended
