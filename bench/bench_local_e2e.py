"""Local end-to-end: many WebSocket clients in many rooms chatting through the local
runtime (real gateway, real worker processes, moto), over loopback only.

Prints messages delivered / expected (must be 1.0) and the end-to-end latency (send ->
arrival at each other member) percentiles, all measured in one run.

    PYTHONPATH=local:layers/roomcast:. .venv/bin/python bench/bench_local_e2e.py \
        --clients 40 --rooms 8 --messages 10
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
import uuid
from typing import Any

from websockets.asyncio.client import ClientConnection, connect

from roomcast_local.harness import RunningRuntime, start_runtime


class Client:
    def __init__(self, index: int, room: str, token: str) -> None:
        self.index = index
        self.room = room
        self.token = token
        self.ws: ClientConnection | None = None
        self.received: dict[str, float] = {}  # message text -> arrival (perf_counter)
        self.replies: dict[str, asyncio.Future[dict[str, Any]]] = {}

    async def reader(self) -> None:
        assert self.ws is not None
        async for raw in self.ws:
            arrived = time.perf_counter()
            frame = json.loads(raw)
            rid = frame.get("request_id")
            if rid in self.replies:
                self.replies.pop(rid).set_result(frame)
            elif frame.get("type") == "message":
                self.received[frame["message"]["text"]] = arrived

    async def request(self, frame: dict[str, Any], timeout: float) -> dict[str, Any]:
        assert self.ws is not None
        rid = uuid.uuid4().hex[:12]
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self.replies[rid] = future
        await self.ws.send(json.dumps({**frame, "request_id": rid}))
        return await asyncio.wait_for(future, timeout)


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


async def scenario(
    runtime: RunningRuntime, clients: int, rooms: int, messages: int, deadline_s: float, pause_s: float = 0.0
) -> dict[str, Any]:
    room_ids = [runtime.create_room(f"bench {i}")["room_id"] for i in range(rooms)]
    crowd = [Client(i, room_ids[i % rooms], runtime.token(f"bench-{i}", f"Bench {i}")) for i in range(clients)]
    readers: list[asyncio.Task[None]] = []
    for client in crowd:
        client.ws = await connect(runtime.ws_url, subprotocols=["roomcast.v1", client.token])  # type: ignore[list-item]
        readers.append(asyncio.create_task(client.reader()))
    for client in crowd:
        joined = await client.request({"action": "join", "room_id": client.room}, 60)
        assert joined["type"] == "joined", joined
    # Warm-up, not counted: every client sends once at the same time, so the function
    # pools grow to their size now (each new worker is a cold start of a second or more
    # on a small machine) and the figures below are those of warm execution environments.
    await asyncio.gather(*(c.request({"action": "ping"}, 60) for c in crowd))
    await asyncio.gather(*(c.request({"action": "history", "room_id": c.room}, 60) for c in crowd))
    sent: dict[str, tuple[float, str, int]] = {}  # text -> (sent at, room, sender)
    acks_failed = 0

    async def talk(client: Client) -> None:
        nonlocal acks_failed
        for n in range(messages):
            text = f"m-{client.index}-{n}"
            sent[text] = (time.perf_counter(), client.room, client.index)
            ack = await client.request({"action": "send", "room_id": client.room, "text": text}, 60)
            if ack.get("type") != "ack":
                acks_failed += 1
            if pause_s:
                await asyncio.sleep(pause_s)

    started = time.perf_counter()
    await asyncio.wait_for(asyncio.gather(*(talk(c) for c in crowd)), deadline_s)
    sending_s = time.perf_counter() - started
    members = {room: [c for c in crowd if c.room == room] for room in room_ids}
    expected = sum(len(members[room]) - 1 for _, room, _ in sent.values())

    def delivered() -> int:
        return sum(1 for c in crowd for text in c.received if sent[text][1] == c.room and sent[text][2] != c.index)

    settle = time.perf_counter() + 10  # fan-out finishes before the ack; allow stragglers
    while delivered() < expected and time.perf_counter() < settle:
        await asyncio.sleep(0.05)
    latencies = [
        (c.received[text] - at) * 1000
        for c in crowd
        for text, (at, room, sender) in sent.items()
        if room == c.room and sender != c.index and text in c.received
    ]
    for client in crowd:
        assert client.ws is not None
        await client.ws.close()
    for task in readers:
        task.cancel()
    return {
        "sent": len(sent),
        "expected": expected,
        "delivered": delivered(),
        "acks_failed": acks_failed,
        "sending_s": sending_s,
        "latencies": latencies,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--clients", type=int, default=40)
    parser.add_argument("--rooms", type=int, default=8)
    parser.add_argument("--messages", type=int, default=10, help="messages per client")
    parser.add_argument("--max-concurrency", type=int, default=4, help="worker processes per function")
    parser.add_argument("--pause", type=float, default=0.0,
                        help="seconds a client waits after each ack (0: closed loop, the runtime saturated)")
    parser.add_argument("--deadline", type=float, default=300, help="seconds the sending may take at most")
    args = parser.parse_args(argv)
    if not (1 <= args.rooms <= args.clients <= 500 and 1 <= args.messages <= 1000):
        parser.error("need 1 <= rooms <= clients <= 500 and 1 <= messages <= 1000")
    runtime = start_runtime("--quiet", "--no-receiver", "--max-concurrency", str(args.max_concurrency))
    try:
        result = asyncio.run(scenario(runtime, args.clients, args.rooms, args.messages, args.deadline, args.pause))
    finally:
        code = runtime.stop()
    ratio = result["delivered"] / result["expected"] if result["expected"] else 1.0
    lat = result["latencies"]
    print(f"local e2e: {args.clients} clients in {args.rooms} rooms, {args.messages} messages each, "
          f"{args.max_concurrency} workers/function max, pause {args.pause:g}s")
    print(f"  messages sent            {result['sent']}  (acks refused: {result['acks_failed']})")
    print(f"  delivered / expected     {result['delivered']} / {result['expected']} = {ratio:.4f}")
    print(f"  latency p50 / p99 (ms)   {percentile(lat, 0.5):.1f} / {percentile(lat, 0.99):.1f}"
          f"  (mean {statistics.fmean(lat) if lat else float('nan'):.1f})")
    print(f"  p99 / p50                {percentile(lat, 0.99) / percentile(lat, 0.5):.2f}" if lat else "")
    print(f"  sends per second         {result['sent'] / result['sending_s']:.1f}")
    print(f"  runtime exit code        {code}")
    return 0 if ratio == 1.0 and result["acks_failed"] == 0 and code == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
