"""Events from the table's stream: which write is which event, and their batches per endpoint.

The outbox is the table itself: DynamoDB Streams (NEW_AND_OLD_IMAGES) holds a record of
every committed write and of nothing else (a cancelled transaction writes nothing, so
its writes have no records), and functions/events reads it. Each record maps to at most
one event, by the item's key and, for updates, by comparing the old and the new image,
so an event fires on the transition it names (a room's META changes on every send; it
is room.closed once, when `state` becomes closed):

    ROOM#<r> META         INSERT                                  room.created
    ROOM#<r> META         MODIFY state -> closed                  room.closed
    ROOM#<r> MSG#<m>      INSERT                                  message.created (+ message.offline
                                                                  in a members-only room)
    ROOM#<r> MODLOG#<id>  INSERT act message_deleted              message.deleted
    ROOM#<r> MODLOG#<id>  INSERT any other act                    moderation.<act>
    ROOM#<r> SESSION#<s>  INSERT                                  member.joined
    ROOM#<r> SESSION#<s>  MODIFY left_at set                      member.left
    ROOM#<r> CALL#<c>     MODIFY status -> accepted               call.started
    ROOM#<r> CALL#<c>     MODIFY status -> ended|failed|missed|rejected   call.ended
    CONN#<c> META         INSERT / REMOVE                         user.online / user.offline

Every other record (counters, rate buckets, deliveries, this pipeline's own items) maps
to nothing. An event's id is the stream record's eventID: the same record read again
(a retried or bisected stream batch) is the same event, which dal/event_deliveries.py
queues once per endpoint.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator
from typing import Any

from roomcast import clock
from roomcast.dal import keys
from roomcast.dal.dynamo import from_item
from roomcast.dal.store import room_from_item as room_from_item
from roomcast.ids import iso
from roomcast.logic.context import Services
from roomcast.models.events import (
    BATCH_TYPE,
    EndpointRecord,
    Event,
    EventBatchJob,
    EventBatchRecord,
)
from roomcast.models.records import CallRecord, MessageRecord, SessionRecord
from roomcast.observability import logger, metrics
from roomcast.webhooks.payload import call_item, chat_item, room_fields, session_item

CALL_END_STATUSES = ("ended", "failed", "missed", "rejected")


def _dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def _time(value: Any, fallback: str) -> str:
    """Item times are epoch ms (ints) in roomcast; text is passed on as it is."""
    if isinstance(value, bool) or value is None:
        return fallback
    if isinstance(value, int | float):
        return iso(int(value))
    return str(value)


def _creation_ms(record: dict[str, Any]) -> int | None:
    """The record's ApproximateCreationDateTime (epoch seconds, as Lambda gives it) in ms."""
    approx = (record.get("dynamodb") or {}).get("ApproximateCreationDateTime")
    try:
        return int(float(approx) * 1000) if approx is not None else None
    except (TypeError, ValueError):
        return None


def _record_time(record: dict[str, Any]) -> str:
    created = _creation_ms(record)
    return iso(created if created is not None else clock.now_ms())


def _image(record: dict[str, Any], which: str) -> dict[str, Any] | None:
    image = (record.get("dynamodb") or {}).get(which)
    return from_item(image) if image else None


def event_id(record: dict[str, Any]) -> str:
    return "evt_" + str(record["eventID"])


def event_of(record: dict[str, Any]) -> Event | None:
    """The event one stream record is, or None (see the module docstring's table)."""
    name = record.get("eventName")
    raw_keys = (record.get("dynamodb") or {}).get("Keys") or {}
    pk = (raw_keys.get("pk") or {}).get("S", "")
    sk = (raw_keys.get("sk") or {}).get("S", "")
    new, old = _image(record, "NewImage"), _image(record, "OldImage")
    when = _record_time(record)

    def make(event_type: str, data: dict[str, Any], room_id: str | None, at: str = when) -> Event:
        return Event(id=event_id(record), type=event_type, timestamp=at, data=data, room_id=room_id)

    if pk.startswith("CONN#") and sk == keys.META:
        item = new if name == "INSERT" else old
        if name not in ("INSERT", "REMOVE") or not item:
            return None
        expired = (record.get("userIdentity") or {}).get("principalId") == "dynamodb.amazonaws.com"
        data = {"user_id": item.get("user_id"), "name": item.get("name"), "connection_id": item.get("connection_id"),
                "at": when}
        if name == "INSERT":
            return make("user.online", data, None)
        return make("user.offline", {**data, "reason": "expired" if expired else "disconnect"}, None)
    if not pk.startswith("ROOM#"):
        return None
    room_id = pk[len("ROOM#"):]
    if sk == keys.META and new:
        if name == "INSERT":
            room = room_from_item(new)
            return make("room.created", {"room_id": room.room_id, "name": room.name,
                                         "admin_user_ids": room.admin_user_ids, "metadata": room.metadata,
                                         "created_at": iso(room.created_at)}, room_id, iso(room.created_at))
        if name == "MODIFY" and new.get("state") == "closed" and (old or {}).get("state") != "closed":
            room = room_from_item(new)
            return make("room.closed", room_fields(room), room_id, _time(room.closed_at, when))
        return None
    if sk.startswith("MSG#") and name == "INSERT" and new:
        message = chat_item(MessageRecord(**new))
        if new.get("sender_kind"):
            message["sender_kind"] = new["sender_kind"]
        return make("message.created", {"room_id": room_id, "message": message}, room_id, message["sent_at"])
    if sk.startswith("MODLOG#") and name == "INSERT" and new:
        act = str(new.get("act") or "")
        if not act:
            return None
        data = {"room_id": room_id, "act": act}
        for field in ("by", "target_user", "message_id", "reason", "role"):
            if new.get(field) is not None:
                data[field] = str(new[field])
        for field in ("at", "until"):
            if new.get(field) is not None:
                data[field] = _time(new[field], when)
        event_type = "message.deleted" if act == "message_deleted" else f"moderation.{act}"
        return make(event_type, data, room_id, str(data.get("at", when)))
    if sk.startswith("SESSION#") and new:
        if name == "INSERT":
            session = session_item(SessionRecord(**new))
            return make("member.joined", {"room_id": room_id, **session}, room_id, session["joined_at"])
        if name == "MODIFY" and new.get("left_at") is not None and (old or {}).get("left_at") is None:
            session = session_item(SessionRecord(**new))
            return make("member.left", {"room_id": room_id, **session}, room_id, session["left_at"] or when)
        return None
    if sk.startswith("CALL#") and name == "MODIFY" and new and old:
        before, after = old.get("status"), new.get("status")
        if before == after:
            return None
        call = call_item(CallRecord(**new))
        if after == "accepted":
            return make("call.started", {"room_id": room_id, **call}, room_id, call["started_at"] or when)
        if after in CALL_END_STATUSES:
            return make("call.ended", {"room_id": room_id, **call}, room_id, call["ended_at"] or when)
    return None


def offline_event(services: Services, created: Event, rooms: dict[str, dict[str, Any] | None]) -> Event | None:
    """message.offline for a message in a members-only room: its roster minus who is present."""
    room_id = created.room_id or ""
    if room_id not in rooms:
        rooms[room_id] = services.store.client.get_item(
            TableName=services.store.table, Key={"pk": {"S": keys.room_pk(room_id)}, "sk": {"S": keys.META}},
        ).get("Item")
    meta = rooms[room_id]
    if not meta or (meta.get("access") or {}).get("S") != "members":
        return None
    roster = _sk_suffixes(services, room_id, "ROSTER#")
    present = set(_sk_suffixes(services, room_id, "PRESENCE#"))
    sender = (created.data.get("message") or {}).get("user_id")
    offline = [user for user in roster if user not in present and user != sender]
    if not offline:
        return None
    cap = services.settings.event_offline_max_users
    return Event(
        id=created.id + ".offline",
        type="message.offline",
        timestamp=created.timestamp,
        data={"room_id": room_id, "message": created.data["message"], "offline_user_ids": offline[:cap],
              "offline_truncated": len(offline) > cap},
        room_id=room_id,
    )


def _sk_suffixes(services: Services, room_id: str, prefix: str) -> list[str]:
    from roomcast.dal.dynamo import query_pages, values

    found: list[str] = []
    for page in query_pages(
        services.store.client,
        TableName=services.store.table,
        KeyConditionExpression="pk = :p AND begins_with(sk, :s)",
        ExpressionAttributeValues=values(p=keys.room_pk(room_id), s=prefix),
        ProjectionExpression="sk",
    ):
        found.extend(item["sk"][len(prefix):] for item in page)
    return found


def events_of(services: Services, records: Iterable[dict[str, Any]], wants_offline: bool) -> list[Event]:
    """The events of a stream batch, in stream order (per room, the order of its writes)."""
    events: list[Event] = []
    rooms: dict[str, dict[str, Any] | None] = {}
    for record in records:
        try:
            event = event_of(record)
        except Exception:
            # An item this mapping cannot read is logged and skipped, never a stuck shard.
            logger.exception("stream record not mapped", extra={"event_id": record.get("eventID")})
            metrics.add_metric(name="EventUnmapped", unit="Count", value=1)
            continue
        if event is None:
            continue
        events.append(event)
        if wants_offline and event.type == "message.created":
            offline = offline_event(services, event, rooms)
            if offline is not None:
                events.append(offline)
    return events


# ---------------------------------------------------------------- batches
def event_json(event: Event) -> str:
    return _dumps(event.model_dump(mode="json"))


def chunks(events: list[Event], max_events: int, max_bytes: int) -> Iterator[list[tuple[Event, str]]]:
    """Consecutive runs of at most `max_events` events whose JSON sums to at most
    `max_bytes` (an event larger than that travels alone)."""
    run: list[tuple[Event, str]] = []
    size = 0
    for event in events:
        text = event_json(event)
        extra = len(text.encode()) + 1
        if run and (len(run) >= max_events or size + extra > max_bytes):
            yield run
            run, size = [], 0
        run.append((event, text))
        size += extra
    if run:
        yield run


def batch_id_for(endpoint_id: str, event_ids: list[str], first_ms: int) -> str:
    """Deterministic: the same events for the same endpoint are the same batch (and webhook-id)."""
    digest = hashlib.sha256((endpoint_id + "\n" + "\n".join(event_ids)).encode()).hexdigest()[:24]
    return f"{first_ms:013d}-{digest}"


def webhook_id(batch_id: str) -> str:
    return f"evb_{batch_id}"


def batch_body(endpoint_id: str, batch_id: str, run: list[tuple[Event, str]]) -> str:
    head = _dumps({"type": BATCH_TYPE, "timestamp": run[-1][0].timestamp})[:-1]
    ids = _dumps({"endpoint_id": endpoint_id, "batch_id": batch_id})[:-1]
    return head + ',"data":' + ids + ',"events":[' + ",".join(text for _, text in run) + "]}}"


def _first_ms(record_ms: dict[str, int], run: list[tuple[Event, str]]) -> int:
    return record_ms.get(run[0][0].id.removesuffix(".offline"), 0)


def enqueue_for_endpoint(
    services: Services, endpoint: EndpointRecord, events: list[Event], record_ms: dict[str, int]
) -> list[str]:
    """Queue the endpoint's matching events as batches; the batch ids to send jobs for."""
    settings = services.settings
    matched = [event for event in events if endpoint.accepts(event)]
    to_send: list[str] = []
    now = clock.now_ms()
    for run in chunks(matched, settings.event_batch_max_events, settings.event_batch_max_bytes):
        while run:
            ids = [event.id for event, _ in run]
            batch_id = batch_id_for(endpoint.endpoint_id, ids, _first_ms(record_ms, run))
            record = EventBatchRecord(
                endpoint_id=endpoint.endpoint_id, batch_id=batch_id, created_at=now, event_count=len(run),
                event_types=sorted({event.type for event, _ in run}),
                body=batch_body(endpoint.endpoint_id, batch_id, run),
            )
            result = services.event_deliveries.enqueue(record, ids, now)
            if result.batch_id is not None:
                to_send.append(result.batch_id)
                if result.new:
                    metrics.add_metric(name="EventsQueued", unit="Count", value=len(run))
                break
            # Some of these events are queued already (in a batch cut differently): the rest
            # go in a batch of their own, and the batches they are in get their jobs again.
            to_send.extend(b for b in sorted(result.other_batches) if b not in to_send)
            run = [(event, text) for event, text in run if event.id not in result.queued_elsewhere]
    return to_send


def process_stream(services: Services, records: list[dict[str, Any]]) -> int:
    """One stream batch: map, match, queue, send the jobs. Returns the jobs sent.

    Raises on a failure: the event source mapping retries the batch (or its halves) and
    the queueing is idempotent, so a retry never doubles an event."""
    endpoints = [e for e in services.endpoints.list_all() if e.enabled]
    if not endpoints:
        return 0
    wants_offline = any(e.event_types is None or "message.offline" in e.event_types for e in endpoints)
    events = events_of(services, records, wants_offline)
    if not events:
        return 0
    record_ms = {event_id(r): _creation_ms(r) or 0 for r in records if r.get("eventID")}
    bodies: list[str] = []
    for endpoint in endpoints:
        for batch_id in enqueue_for_endpoint(services, endpoint, events, record_ms):
            bodies.append(EventBatchJob(endpoint_id=endpoint.endpoint_id, batch_id=batch_id).model_dump_json())
    for start in range(0, len(bodies), 10):
        refused = services.events_queue.send_batch(bodies[start:start + 10])
        if refused:
            raise RuntimeError(f"SQS refused {len(refused)} event batch jobs")
    return len(bodies)

