"""A broadcast through the local runtime to many live WebSocket connections (loopback only).

Starts the local runtime (template.yaml: the FanoutQueue, its SQS poller and the
FanoutFunction's workers come from the template like every other part), opens N
WebSocket connections (tokens of a few users, each reused for many connections), sends
one POST /broadcasts, and waits until every connection has its `notification` frame.

Prints delivered / expected (expected = the connections open when the broadcast was
sent), the time from the POST to the last arrival, the counts GET /broadcasts/{id}
reports, and the runtime's peak RSS. Bounded: N <= 5,000 (and the open-file limit),
a deadline on every phase, everything on 127.0.0.1.

    PYTHONPATH=local:layers/roomcast:. .venv/bin/python bench/bench_local_broadcast.py --connections 2000
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import sys
import time
from pathlib import Path
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import InvalidHandshake

from roomcast_local.harness import RunningRuntime, start_runtime


def tree_rss_mb(pid: int) -> float:
    """Resident memory of a process and all its descendants (from /proc)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry.name))
    total_kb, stack = 0, [pid]
    while stack:
        current = stack.pop()
        stack.extend(children.get(current, []))
        try:
            for line in Path(f"/proc/{current}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total_kb += int(line.split()[1])
        except OSError:
            continue
    return total_kb / 1024


async def scenario(
    runtime: RunningRuntime, n: int, users: int, deadline: float, workers: int
) -> dict[str, Any]:
    tokens = [runtime.token(f"bcast-{u}", f"User {u}") for u in range(users)]
    arrivals: dict[int, float] = {}
    sockets: list[ClientConnection] = []
    readers: list[asyncio.Task[None]] = []
    peak_rss = 0.0

    async def reader(index: int, ws: ClientConnection) -> None:
        async for raw in ws:
            if json.loads(raw).get("type") == "notification":
                arrivals.setdefault(index, time.perf_counter())

    retried = 0

    async def open_one(index: int) -> None:
        nonlocal retried
        for attempt in range(4):
            try:
                ws = await connect(
                    runtime.ws_url, subprotocols=["roomcast.v1", tokens[index % users]],  # type: ignore[list-item]
                    open_timeout=60, ping_interval=None, max_queue=4,
                )
                break
            except (TimeoutError, OSError, InvalidHandshake):
                # The gateway gave up on a handshake its $connect took too long for
                # (moto slows as the table grows): that socket never opened; try again.
                if attempt == 3:
                    raise
                retried += 1
                await asyncio.sleep(1)
        sockets.append(ws)
        readers.append(asyncio.create_task(reader(index, ws)))

    # The gateway gives a handshake 10 s; a burst that meets cold authorizer and connect
    # workers (seconds each on a small machine) would overrun it. So: a warm-up of one
    # connection per worker, then bursts of a few per worker.
    started = time.perf_counter()
    step = max(1, workers)
    await asyncio.wait_for(asyncio.gather(*(open_one(i) for i in range(min(n, step)))), deadline)
    for batch in range(step, n, 2 * step):
        await asyncio.wait_for(
            asyncio.gather(*(open_one(i) for i in range(batch, min(n, batch + 2 * step)))), deadline
        )
        if batch % 500 < 2 * step:
            peak_rss = max(peak_rss, tree_rss_mb(runtime.process.pid))
    connect_s = time.perf_counter() - started

    sent_at = time.perf_counter()
    status, created = await asyncio.to_thread(
        runtime.admin, "POST", "/broadcasts", {"type": "bench", "data": {"n": n}}
    )
    assert status == 202, (status, created)
    finish_by = time.perf_counter() + deadline
    while len(arrivals) < n and time.perf_counter() < finish_by:
        await asyncio.sleep(0.05)
    last = max(arrivals.values()) if arrivals else float("nan")
    view: dict[str, Any] = {}
    while time.perf_counter() < finish_by:
        _, view = await asyncio.to_thread(runtime.admin, "GET", f"/broadcasts/{created['broadcast_id']}")
        if view.get("state") == "completed":
            break
        await asyncio.sleep(0.2)
    peak_rss = max(peak_rss, tree_rss_mb(runtime.process.pid))
    for ws in sockets:
        await ws.close()
    for task in readers:
        task.cancel()
    return {
        "expected": n,
        "delivered": len(arrivals),
        "seconds": last - sent_at,
        "connect_s": connect_s,
        "retried": retried,
        "view": view,
        "peak_rss_mb": peak_rss,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--connections", type=int, default=2000)
    parser.add_argument("--users", type=int, default=20, help="tokens; each holds connections/users sockets")
    parser.add_argument("--threshold", type=int, default=100,
                        help="FANOUT_SPLIT_THRESHOLD in the runtime (below a shard's size: shards plan more jobs)")
    parser.add_argument("--max-concurrency", type=int, default=4, help="worker processes per function")
    parser.add_argument("--deadline", type=float, default=900, help="seconds each phase may take at most")
    args = parser.parse_args(argv)
    soft, _hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if not 1 <= args.connections <= 5000 or args.connections + 500 > soft:
        parser.error(f"need 1 <= connections <= 5000 and connections + 500 <= the open-file limit ({soft})")
    runtime = start_runtime(
        "--quiet", "--no-receiver", "--max-concurrency", str(args.max_concurrency),
        "--env", f"FANOUT_SPLIT_THRESHOLD={args.threshold}",
        # The whole run stays well under the idle timeout; keep the default lifetime.
    )
    try:
        result = asyncio.run(scenario(runtime, args.connections, args.users, args.deadline, args.max_concurrency))
    finally:
        code = runtime.stop()
    view = result["view"]
    ratio = result["delivered"] / result["expected"]
    print(f"local broadcast: {args.connections} WebSocket connections ({args.users} users), "
          f"FANOUT_SPLIT_THRESHOLD={args.threshold}, {args.max_concurrency} workers/function max")
    print(f"  connections opened in      {result['connect_s']:.1f} s "
          f"({result['retried']} handshakes retried)")
    print(f"  delivered / expected       {result['delivered']} / {result['expected']} = {ratio:.4f}")
    print(f"  POST -> last arrival       {result['seconds']:.2f} s")
    print(f"  GET /broadcasts/{{id}}       state={view.get('state')} counts={view.get('counts')} "
          f"jobs={view.get('jobs_done')}/{view.get('jobs_total')}")
    print(f"  runtime peak RSS           {result['peak_rss_mb']:.0f} MB (all its processes)")
    return 0 if ratio == 1.0 and code == 0 else 1


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(main())
