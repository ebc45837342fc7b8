"""A room's fan-out in one invocation vs. split into range jobs, with injected latency.

Drives the real code: `roomcast.logic.fanout.to_room` (the send path: first range
inline, the rest cut into range jobs) and `roomcast.logic.range_jobs.run_job` (the
FanoutFunction's work per job), with `roomcast.gateway.Gateway` (K workers) posting to
a stub management client whose every PostToConnection sleeps L. Each queued job runs in
its own thread with its own Gateway, as concurrent Lambda invocations would; the queue
itself is a list (SQS's pick-up latency is not in the figure - add it with --pickup-ms).
DynamoDB is an in-memory stand-in for the member ranges (a sorted key list), so the
figure is the fan-out's and not moto's.

    one invocation:  bound ceil(N / K) * L
    split:           bound ceil(T / K) * L   (T = FANOUT_SPLIT_THRESHOLD: one range)

    PYTHONPATH=local:layers/roomcast:. .venv/bin/python bench/bench_fanout_split.py
"""

from __future__ import annotations

import argparse
import bisect
import math
import multiprocessing
import os
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from bench._common import FAKE_AWS_ENV, _patched_environ, print_table
from bench.bench_fanout import SleepingManagementApi


class MemoryRanges:
    """The FanoutStore calls the split makes, over one room's sorted member keys."""

    def __init__(self, room_id: str, n: int) -> None:
        from roomcast.dal.fanout import Target

        self.room_id = room_id
        self.keys = [f"MEMBER#conn{i:06d}=" for i in range(n)]
        self.targets = {k: Target(k.removeprefix("MEMBER#"), f"u{i}") for i, k in enumerate(self.keys)}
        self.done: set[tuple[str, str]] = set()
        self._lock = threading.Lock()

    def _slice(self, after: str | None, through: str | None) -> list[str]:
        lo = bisect.bisect_right(self.keys, after) if after else 0
        hi = bisect.bisect_right(self.keys, through) if through else len(self.keys)
        return self.keys[lo:hi]

    def read_range(self, source: Any, after: str | None, through: str | None, limit: int | None = None) -> Any:
        keys = self._slice(after, through)
        more = limit is not None and len(keys) > limit
        keys = keys[:limit] if limit is not None else keys
        return [self.targets[k] for k in keys], (keys[-1] if keys else after), more

    def cut_ranges(self, source: Any, after: str | None, size: int, uncounted: str | None = None) -> Any:
        from roomcast.dal.fanout import KeyRange

        keys = [k for k in self._slice(after, None) if k != uncounted]
        ranges, start = [], after
        for i in range(0, len(keys), size):
            chunk = keys[i : i + size]
            through = chunk[-1] if i + size < len(keys) else None
            ranges.append(KeyRange(after=start, through=through, count=len(chunk)))
            start = through
        return ranges

    def job_done(self, fanout_id: str, job_id: str) -> bool:
        return (fanout_id, job_id) in self.done

    def finish_job(self, fanout_id: str, job_id: str, now_s: int, broadcast_counts: Any = None) -> bool:
        with self._lock:
            first = (fanout_id, job_id) not in self.done
            self.done.add((fanout_id, job_id))
        return first

    def message_item(self, room_id: str, message_id: str) -> dict[str, Any]:
        return {"room_id": room_id, "message_id": message_id, "user_id": "sender", "name": "S", "text": "hi", "sent_at": 0}


class StartingQueue:
    """The fan-out queue as Lambda's SQS trigger looks from outside: a job starts its own
    invocation as soon as it is sent (here: a task on `start`)."""

    queue_url = "memory://fanout"

    def __init__(self, start: Any) -> None:
        self.start = start
        self.bodies: list[str] = []
        self.pending: list[Any] = []

    def send_batch(self, bodies: list[str]) -> list[int]:
        self.bodies.extend(bodies)
        self.pending.extend(self.start(b) for b in bodies)
        return []


def measure(
    n: int, threshold: int, workers: int, latency: float, pickup: float, processes: bool = True
) -> tuple[float, float, int]:
    """(one invocation seconds, split seconds, posts of the split) for a room of n."""
    from roomcast.gateway import Gateway
    from roomcast.logic import fanout, range_jobs
    from roomcast.logic.context import Services
    from roomcast.models.fanout import FanoutJob

    client = SleepingManagementApi(latency)
    frame = {"type": "message", "message": {"id": "m", "text": "hi"}}

    # One invocation: every member posted by one Gateway.
    ranges = MemoryRanges("big", n)
    started = time.perf_counter()
    result = Gateway(None, client=client, workers=workers, retries=0).broadcast(
        (t.connection_id for t in ranges.targets.values()), frame
    )
    single = time.perf_counter() - started
    assert result.delivered == n

    # The split: the send path, each queued job in its own "invocation" as it is queued.
    client.posts = 0
    os.environ["FANOUT_SPLIT_THRESHOLD"] = str(threshold)
    from roomcast.settings import get_settings, reset_settings

    reset_settings()
    jobs_queue: list[StartingQueue] = []

    def invocation() -> Services:
        # Only what the split touches: the ranges in memory, the queue that starts jobs, a
        # Gateway over the sleeping stub (the others are never called on this path).
        return Services(
            settings=get_settings(),
            store=None,  # type: ignore[arg-type]
            calls=None,  # type: ignore[arg-type]
            deliveries=None,  # type: ignore[arg-type]
            fanout=ranges,  # type: ignore[arg-type]
            fanout_queue=jobs_queue[0] if jobs_queue else None,  # type: ignore[arg-type]
            gateway=Gateway(None, client=client, workers=workers, retries=0),
            jobs=None,  # type: ignore[arg-type]
            timers=None,  # type: ignore[arg-type]
            secrets=None,  # type: ignore[arg-type]
        )

    global _job_runner
    def run(body: str) -> tuple[str, int]:
        time.sleep(pickup)
        before = client.posts
        outcome = range_jobs.run_job(invocation(), FanoutJob.model_validate_json(body))
        return outcome, client.posts - before

    _job_runner = run
    slots = max(1, min(math.ceil(n / threshold), 64))
    try:
        if processes:
            # Its own (forked) process per job: its own interpreter lock, as each Lambda
            # invocation has its own CPU. Forked before the send starts.
            pool: Any = multiprocessing.get_context("fork").Pool(processes=slots)
            queue = StartingQueue(lambda body: pool.apply_async(_run_job, (body,)))
        else:
            pool = ThreadPoolExecutor(max_workers=slots)
            queue = StartingQueue(lambda body: pool.submit(run, body))
        jobs_queue.append(queue)
        started = time.perf_counter()
        inline = fanout.to_room(invocation(), "big", frame, exclude=None, message_id="m")
        outcomes = [p.get(timeout=600) if processes else p.result(timeout=600) for p in queue.pending]
        split = time.perf_counter() - started
        if processes:
            pool.close()
            pool.join()
        else:
            pool.shutdown()
    finally:
        jobs_queue.clear()
    posted_by_jobs = sum(p for _, p in outcomes)
    assert {o for o, _ in outcomes} <= {"done"} and inline.delivered + inline.queued == n, (inline, outcomes)
    assert inline.delivered + posted_by_jobs == n, (inline.delivered, posted_by_jobs)
    return single, split, len(queue.bodies)


_job_runner: Any = None


def _run_job(body: str) -> tuple[str, int]:
    # A module-level function for the process pool; the forked child has the closure.
    return _job_runner(body)


def run(
    sizes: list[int], threshold: int, workers: int, latency: float, pickup: float, processes: bool = True
) -> list[tuple[Any, ...]]:
    rows = []
    with _patched_environ({**FAKE_AWS_ENV, "POWERTOOLS_METRICS_DISABLED": "true", "POWERTOOLS_LOG_LEVEL": "WARNING"}):
        for n in sizes:
            single, split, jobs = measure(n, threshold, workers, latency, pickup, processes)
            bound_single = math.ceil(n / workers) * latency
            bound_split = math.ceil(min(n, threshold) / workers) * latency + pickup
            rows.append(
                (n, jobs, single * 1000, single / bound_single, split * 1000, split / bound_split, single / split)
            )
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="1000,5000,20000", help="member connections of the room")
    parser.add_argument("--threshold", type=int, default=800, help="FANOUT_SPLIT_THRESHOLD")
    parser.add_argument("--workers", type=int, default=32, help="K: FANOUT_WORKERS")
    parser.add_argument("--latency-ms", type=float, default=20.0, help="L: per PostToConnection")
    parser.add_argument("--threads", action="store_true", help="jobs as threads of this process (one GIL)")
    parser.add_argument("--pickup-ms", type=float, default=0.0, help="per job: queue -> invocation latency")
    args = parser.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",")]
    if not all(1 <= s <= 50_000 for s in sizes):
        parser.error("sizes must be within 1..50000")
    latency, pickup = args.latency_ms / 1000, args.pickup_ms / 1000
    rows = run(sizes, args.threshold, args.workers, latency, pickup, not args.threads)
    print(f"K = {args.workers} workers per invocation, L = {args.latency_ms:g} ms per post, "
          f"T = {args.threshold} per range, pick-up {args.pickup_ms:g} ms per job, "
          f"jobs as {'threads' if args.threads else 'processes'}")
    print_table(
        ["members", "jobs", "one invocation ms", "/ ceil(N/K)L", "split ms", "/ ceil(T/K)L", "one / split"],
        rows,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
