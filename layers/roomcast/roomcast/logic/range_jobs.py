"""Range jobs of split fan-outs and broadcasts (docs/scaling-and-cost.md, "The split").

The fan-out function runs one job per SQS record (`run_job`): it posts one range of a
room's members, of a connection-index shard, or of some users' connections, and cleans
up the connections that answered 410 Gone. A planning job (a broadcast to a room or a
shard) reads its first range and cuts the rest into further jobs.

POST /broadcasts stores a `notification` frame and queues its first jobs
(`create_broadcast`); GET /broadcasts/{id} reads the counts the jobs add up.

Apart from logic/fanout.py because presence sends through that module, and the jobs
clean up through presence.
"""

from __future__ import annotations

import json
from typing import Any

from roomcast.dal.fanout import FanoutStore, Source, Target, iter_chunks
from roomcast.dal.keys import CONNECTION_INDEX_SHARDS
from roomcast.errors import NotFound, PayloadTooLarge
from roomcast.ids import iso, new_id, now_ms
from roomcast.logic.context import Services
from roomcast.logic.fanout import enqueue, post
from roomcast.logic.presence import clean_gone_connections
from roomcast.models.fanout import (
    USERS_PER_JOB,
    BroadcastCounts,
    BroadcastRequest,
    BroadcastView,
    FanoutJob,
)
from roomcast.models.frames import Notification, NotificationFrame
from roomcast.observability import logger, metrics

# API Gateway's limit for one message to a connection.
MAX_FRAME_BYTES = 128 * 1024


def _frame_for(services: Services, store: FanoutStore, job: FanoutJob) -> dict[str, Any] | None:
    if job.kind == "broadcast":
        record = store.get_broadcast(job.fanout_id)
        return json.loads(record["frame"]) if record else None
    # Imported on use: a broadcast's jobs never render a message (the fan-out function's cold start).
    from roomcast.logic.chat import message_out
    from roomcast.models.frames import MessageFrame
    from roomcast.models.records import MessageRecord

    item = store.message_item(job.room_id or "", job.fanout_id)
    return MessageFrame(message=message_out(MessageRecord(**item))).dump() if item else None


def _user_targets(services: Services, store: FanoutStore, user_ids: list[str], room_id: str | None) -> list[Target]:
    targets: dict[str, Target] = {}
    for user_id in dict.fromkeys(user_ids):
        for connection_id in services.store.user_connections(user_id):
            if room_id is not None and store.room_connection(room_id, connection_id) is None:
                continue
            targets[connection_id] = Target(connection_id, user_id)
    return list(targets.values())


def run_job(services: Services, job: FanoutJob) -> str:
    """Post one range. Idempotent in effect: a job already finished is skipped, and a
    job delivered twice at once posts twice (clients drop repeated ids), counted once."""
    store = services.fanout
    if store.job_done(job.fanout_id, job.job_id):
        metrics.add_metric(name="Fanout.DuplicateJob", unit="Count", value=1)
        return "duplicate"
    frame = _frame_for(services, store, job)
    if frame is None:
        # The message or broadcast is gone (its TTL, or a deleted room): nothing to send.
        store.finish_job(job.fanout_id, job.job_id, now_ms() // 1000)
        return "missing"
    children: list[FanoutJob] = []
    if job.user_ids is not None:
        targets = _user_targets(services, store, job.user_ids, job.room_id)
    else:
        source = Source.room(job.room_id) if job.room_id is not None else Source.shard(job.shard or 0)
        if job.plan:
            threshold = services.settings.fanout_split_threshold
            targets, last, more = store.read_range(source, job.after, job.through, threshold)
            if more:
                children = [
                    job.model_copy(
                        update={"job_id": f"{job.job_id}.{i}", "after": r.after, "through": r.through, "plan": False}
                    )
                    for i, r in enumerate(store.cut_ranges(source, last, threshold), start=1)
                ]
                if children and enqueue(services.fanout_queue, children):
                    # SQS redelivers this job; its posts repeat, clients drop the repeats.
                    raise RuntimeError("fan-out jobs not queued")
        else:
            targets, _, _ = store.read_range(source, job.after, job.through)
    result = post(services, targets, frame, job.exclude)
    clean_gone_connections(services, result.gone)
    counts = None
    if job.kind == "broadcast":
        counts = {
            "targeted": sum(1 for t in targets if t.connection_id != job.exclude),
            "delivered": result.delivered,
            "failed": result.failed,
            "gone": len(result.gone),
            "jobs_done": 1,
            "jobs_total": len(children),
        }
    first = store.finish_job(job.fanout_id, job.job_id, now_ms() // 1000, counts)
    if job.kind == "broadcast":
        store.complete_broadcast(job.fanout_id, now_ms())
    logger.info(
        "range job",
        extra={
            "fanout_id": job.fanout_id,
            "job_id": job.job_id,
            "delivered": result.delivered,
            "failed": result.failed,
            "gone": len(result.gone),
            "children": len(children),
        },
    )
    return "done" if first else "duplicate"


# ------------------------------------------------------------------ broadcasts


def create_broadcast(services: Services, request: BroadcastRequest) -> BroadcastView:
    """Store the notification frame and queue its first jobs; the jobs do the rest."""
    created = now_ms()
    broadcast_id = new_id(created)
    frame = NotificationFrame(
        notification=Notification(
            id=broadcast_id, type=request.type, data=request.data, sent_at=iso(created), room_id=request.room_id
        )
    ).dump()
    size = len(json.dumps(frame, separators=(",", ":"), ensure_ascii=False).encode())
    if size > MAX_FRAME_BYTES:
        raise PayloadTooLarge(f"the notification frame is {size} bytes; the limit is {MAX_FRAME_BYTES}")
    if request.room_id is not None:
        services.store.require_room(request.room_id)
    def job(job_id: str, **source: Any) -> FanoutJob:
        return FanoutJob(kind="broadcast", fanout_id=broadcast_id, job_id=job_id, **source)

    if request.user_ids is not None:
        users = list(dict.fromkeys(request.user_ids))
        jobs = [
            job(f"u{i}", user_ids=chunk, room_id=request.room_id)
            for i, chunk in enumerate(iter_chunks(users, USERS_PER_JOB))
        ]
    elif request.room_id is not None:
        jobs = [job("r", room_id=request.room_id, plan=True)]
    else:
        jobs = [job(f"s{s}", shard=s, plan=True) for s in range(CONNECTION_INDEX_SHARDS)]
    record = {
        "broadcast_id": broadcast_id,
        "type": request.type,
        "room_id": request.room_id,
        "user_ids": request.user_ids,
        "created_at": created,
        "state": "running",
        "targeted": 0,
        "delivered": 0,
        "failed": 0,
        "gone": 0,
        "jobs_done": 0,
        "jobs_total": len(jobs),
    }
    store = services.fanout
    store.put_broadcast(record, frame, created // 1000)
    queue = services.fanout_queue
    if not queue.queue_url:
        raise RuntimeError("FANOUT_QUEUE_URL is not configured")
    unqueued = enqueue(queue, jobs)
    if unqueued:
        # Never runs, so never counted: the total shrinks, and the view says so.
        store.drop_unqueued_jobs(broadcast_id, len(unqueued))
        store.complete_broadcast(broadcast_id, now_ms())
    return get_broadcast(services, broadcast_id)


def get_broadcast(services: Services, broadcast_id: str) -> BroadcastView:
    record = services.fanout.get_broadcast(broadcast_id) if len(broadcast_id) <= 64 else None
    if record is None:
        raise NotFound("no such broadcast")
    return BroadcastView(
        broadcast_id=record["broadcast_id"],
        state=record["state"],
        type=record["type"],
        room_id=record.get("room_id"),
        user_ids=record.get("user_ids"),
        created_at=iso(record["created_at"]),
        completed_at=iso(record["completed_at"]) if record.get("completed_at") else None,
        counts=BroadcastCounts(**{k: int(record.get(k, 0)) for k in ("targeted", "delivered", "failed", "gone")}),
        jobs_done=int(record.get("jobs_done", 0)),
        jobs_total=int(record.get("jobs_total", 0)),
        jobs_unqueued=int(record.get("jobs_unqueued", 0)) or None,
    )
