"""Fan-out at any size (docs/scaling-and-cost.md, "The split").

A room's fan-out reads its first range of member keys (FANOUT_SPLIT_THRESHOLD of them).
If that is the whole room, it is posted inline, as always. Otherwise the keys beyond it
are cut into ranges of the same size, each range goes to the fan-out queue as a job,
and the first range is posted inline; the sender's ack counts the inline range and
reports the rest as `queued`. Ranges are disjoint and cover the whole MEMBER# key
space, the last one open-ended, so every member falls in exactly one of them.

Only messages are split. `typing` and member events are not sent at all in a room
above the threshold: each would cost a post per member, and member events grow with
the room twice over (N joins x N posts).

The range jobs themselves, and broadcasts (POST /broadcasts), which use the same jobs,
are logic/range_jobs.py: they clean up gone connections (logic/presence.py), and
presence sends through this module, so the two halves live apart (no import cycle).

The ranges (`services.fanout`) and the queue of range jobs (`services.fanout_queue`)
come from the wiring, like everything else logic uses.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from roomcast.dal.fanout import Source, Target
from roomcast.dal.keys import member_sk
from roomcast.gateway import FanoutResult
from roomcast.logic.context import Services
from roomcast.models.fanout import FanoutJob
from roomcast.observability import logger, metrics
from roomcast.queue import FanoutQueue


def _threshold(services: Services) -> int:
    return services.settings.fanout_split_threshold


def _count(result: FanoutResult) -> None:
    """The same metrics for the inline range and for every range job."""
    metrics.add_metric(name="Fanout.Delivered", unit="Count", value=result.delivered)
    metrics.add_metric(name="Fanout.Failed", unit="Count", value=result.failed)
    metrics.add_metric(name="Fanout.Gone", unit="Count", value=len(result.gone))


def post(
    services: Services, targets: Sequence[Any], payload: dict[str, Any], exclude: str | None = None
) -> FanoutResult:
    result = services.gateway.broadcast(
        (t.connection_id for t in targets if t.connection_id != exclude), payload
    )
    _count(result)
    return result


def small_room_members(services: Services, room_id: str) -> list[Target] | None:
    """The room's member connections, or None when the room is above the split threshold
    (read no further than that: callers skip what large rooms do not get)."""
    targets, _, more = services.fanout.read_range(Source.room(room_id), None, None, _threshold(services))
    return None if more else targets


def to_room(
    services: Services,
    room_id: str,
    payload: dict[str, Any],
    exclude: str | None = None,
    members: Sequence[Any] | None = None,
    message_id: str | None = None,
) -> FanoutResult:
    """Post a frame to a room's member connections; split above the threshold.

    `message_id` names a stored message: only such frames are split (the range jobs
    render the same frame from the stored message). Other frames are not sent at all
    in a room above the threshold.
    """
    threshold = _threshold(services)
    if members is not None and len(members) <= threshold:
        return post(services, members, payload, exclude)
    if members is None:
        store = services.fanout
        source = Source.room(room_id)
        first, last, more = store.read_range(source, None, None, threshold)
        if not more:
            return post(services, first, payload, exclude)
    if message_id is None:
        metrics.add_metric(name="Fanout.SkippedLargeRoom", unit="Count", value=1)
        logger.info("not sent in a large room", extra={"room_id": room_id, "frame": payload.get("type")})
        return FanoutResult()
    queue = services.fanout_queue
    if not queue.queue_url or members is not None:
        # No queue configured (or members already read): post everything here.
        everyone = members if members is not None else services.store.members(room_id)
        logger.warning("fan-out not split", extra={"room_id": room_id, "members": len(everyone)})
        return post(services, everyone, payload, exclude)
    ranges = store.cut_ranges(source, last, threshold, uncounted=member_sk(exclude) if exclude else None)
    jobs = [
        FanoutJob(
            kind="message",
            fanout_id=message_id,
            job_id=str(index),
            room_id=room_id,
            after=r.after,
            through=r.through,
            exclude=exclude,
        )
        for index, r in enumerate(ranges, start=1)
    ]
    # Queued before the inline range is posted, so the jobs run while it is.
    unqueued = enqueue(queue, jobs)
    result = post(services, first, payload, exclude)
    lost = sum(r.count for i, r in enumerate(ranges) if i in unqueued)
    result.queued = sum(r.count for r in ranges) - lost
    # A range that could not be queued is counted failed: the message is stored, and
    # its members find it in history.
    result.failed += lost
    metrics.add_metric(name="Fanout.Queued", unit="Count", value=result.queued)
    metrics.add_metric(name="Fanout.Jobs", unit="Count", value=len(jobs) - len(unqueued))
    return result


def enqueue(queue: FanoutQueue, jobs: list[FanoutJob]) -> set[int]:
    """Send jobs 10 per call; the indexes of those SQS did not take."""
    unqueued: set[int] = set()
    for chunk_start in range(0, len(jobs), 10):
        chunk = jobs[chunk_start : chunk_start + 10]
        bodies = [json.dumps(j.model_dump(exclude_none=True), separators=(",", ":")) for j in chunk]
        for failed in queue.send_batch(bodies):
            unqueued.add(chunk_start + failed)
    if unqueued:
        logger.error("fan-out jobs not queued", extra={"jobs": len(unqueued)})
    return unqueued
