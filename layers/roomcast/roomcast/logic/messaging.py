"""Server-side messaging (issue 13): messages from the server to rooms, one at a time or
in a batch, notifications to one user's connections with an optional inbox, and the
`inbox` WebSocket action. Streamed messages are logic/streams.py.

A server message goes through chat.deliver, the same path as a client's `send`: the
same transaction (idempotent by client_msg_id, `room_closed` in a closed room), the same
fan-out (split into range jobs in large rooms) and the same ack.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from roomcast.dal.fanout import Target
from roomcast.dal.inbox import InboxStore
from roomcast.errors import InvalidCursor, error_body
from roomcast.ids import is_id, iso, new_id, now_ms
from roomcast.logic import pages
from roomcast.logic.chat import Sender, check_message, deliver, new_message
from roomcast.logic.context import Caller, Services
from roomcast.logic.fanout import post
from roomcast.logic.presence import clean_gone_connections
from roomcast.models.admin import (
    BatchError,
    BatchItemResult,
    BatchMessagesRequest,
    BatchMessagesResult,
    NotificationRequest,
    NotificationResult,
    PostMessageRequest,
)
from roomcast.models.frames import (
    AckFrame,
    InboxFrame,
    InboxFrameOut,
    InboxItem,
    Notification,
    NotificationFrame,
)
from roomcast.observability import logger

# Rooms of a batch published at once. Each room's fan-out has its own worker pool
# (FANOUT_WORKERS), so this multiplies with it; 100 rooms at ~50 ms each fit well
# inside the admin function's 29 s.
BATCH_WORKERS = 4


def _sender(request: PostMessageRequest) -> Sender:
    return Sender(request.sender.user_id, request.sender.name, kind=request.sender.kind)


def post_message(services: Services, room_id: str, request: PostMessageRequest) -> AckFrame:
    check_message(services, request.text, request.meta)
    sender = _sender(request)
    record = new_message(room_id, sender, request.text, request.client_msg_id, request.meta)
    return deliver(services, record, sender)


def post_batch(services: Services, request: BatchMessagesRequest) -> BatchMessagesResult:
    """Each room on its own: one refused (unknown, closed) fails alone."""
    # The same text for every room: a message too large is refused for the whole batch.
    check_message(services, request.text, request.meta)

    def one(room_id: str) -> BatchItemResult:
        try:
            return BatchItemResult(room_id=room_id, ok=True, ack=post_message(services, room_id, request))
        except Exception as exc:
            body = error_body(exc)
            if body["code"] == "internal_error":
                logger.exception("batch message failed", extra={"room_id": room_id})
            return BatchItemResult(room_id=room_id, ok=False, error=BatchError(code=body["code"], message=body["message"]))

    with ThreadPoolExecutor(max_workers=min(BATCH_WORKERS, len(request.room_ids))) as pool:
        results = list(pool.map(one, request.room_ids))
    succeeded = sum(1 for r in results if r.ok)
    return BatchMessagesResult(results=results, succeeded=succeeded, failed=len(results) - succeeded)


def _inbox(services: Services) -> InboxStore:
    return InboxStore(services.store.table, services.store.client)


def notify_user(services: Services, user_id: str, request: NotificationRequest) -> NotificationResult:
    """A `notification` frame (the broadcast's frame, with user_id and inbox) to every live
    connection of the user (the user index), stored first when `store` is set."""
    sent_at = now_ms()
    notification = Notification(
        id=new_id(sent_at),
        type=request.type,
        data=request.data,
        sent_at=iso(sent_at),
        room_id=request.room_id,
        user_id=user_id,
        inbox=True if request.store else None,
    )
    if request.store:
        ttl = sent_at // 1000 + (request.ttl_seconds or services.settings.inbox_ttl_seconds)
        stored = notification.model_dump(exclude_none=True, include={"id", "type", "data", "sent_at", "room_id"})
        # Durable before it is sent: a client told "in your inbox" finds it there.
        _inbox(services).store(user_id, {**stored, "sent_at": sent_at}, ttl)
    connections = services.store.user_connections(user_id)
    frame = NotificationFrame(notification=notification).dump()
    result = post(services, [Target(c, user_id) for c in connections], frame)
    clean_gone_connections(services, result.gone)
    return NotificationResult(
        notification=notification,
        connections=len(connections),
        delivered=result.delivered,
        failed=result.failed,
        gone=len(result.gone),
        stored=request.store,
        # The user's unread count with this one (a consistent read after the store).
        unread=_inbox(services).unread(user_id) if request.store else None,
    )


def _item(stored: dict) -> InboxItem:
    return InboxItem(
        id=stored["id"],
        type=stored["type"],
        data=stored.get("data"),
        sent_at=iso(int(stored["sent_at"])),
        room_id=stored.get("room_id"),
        read=bool(stored.get("read")),
    )


def inbox(services: Services, caller: Caller, frame: InboxFrame) -> InboxFrameOut:
    """Mark `mark_read` read, then the newest page (within 128 KB) and the unread count.
    Only the caller's own inbox: the user id is the verified token's."""
    if frame.before is not None and not is_id(frame.before):
        raise InvalidCursor()
    if frame.mark_read and not all(is_id(i) for i in frame.mark_read):
        raise InvalidCursor("mark_read holds ids of inbox items")
    store = _inbox(services)
    user_id = caller.identity.user_id
    marked = store.mark_read(user_id, frame.mark_read or [])
    stored, cursor = store.page(user_id, frame.before, frame.limit) if frame.limit else ([], None)
    items = [_item(s) for s in stored]
    out = InboxFrameOut(request_id=frame.request_id, items=[], next_cursor=cursor, unread=store.unread(user_id),
                        marked=marked)
    keep = pages.first_that_fit(items, pages.budget_for(out.model_copy(update={"next_cursor": "0" * 25})))
    out.items = items[:keep]
    if keep < len(items):
        out.next_cursor = items[keep - 1].id if keep else frame.before
    return out
