"""Local end-to-end: many WebSocket clients in many rooms chatting through the local
runtime (real gateway, real worker processes, moto), over loopback only.

Phases, each timed: start (until the ready line), setup (rooms and tokens through the
admin API), connect (every client at once, --connect-concurrency in flight), join (all
at once), warm-up (not counted), then the sending in one or both modes:

- open loop (--rate R): the messages leave at R per second whatever the answers, spread
  over the clients in turn, so latency is latency and not the queue of a closed loop;
- closed loop: every client sends its next message when the previous one is acked, the
  runtime saturated (the throughput it reaches is printed as sends per second).

For each mode: acks received, ack latency (send -> ack) and delivery latency (send ->
arrival at each other member of the room) p50/p99, delivered / expected (must be 1.0).
The runtime's RSS (its own process: moto lives there; and its worker processes) at rest
(just after the ready line), with every client connected, and at the end. --stop-under-load sends SIGTERM during a last open-loop
burst and reports the time to exit, the exit code and the $disconnect counts.

    PYTHONPATH=local:layers/roomcast:. .venv/bin/python bench/bench_local_e2e.py \\
        --clients 500 --rooms 20 --messages 2 --rate 40 --mode open
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import signal
import sys
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from websockets.asyncio.client import ClientConnection, connect

from roomcast_local.harness import RunningRuntime, child_pids, start_runtime

LIMITS = {"clients": 1000, "rooms": 200, "messages": 100, "rate": 500.0}
MAX_RUNTIME_RSS_MB = 6000  # bounded: the run stops before the machine suffers


def rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def memory(runtime: RunningRuntime) -> tuple[float, float, int]:
    """(runtime process RSS, its workers' RSS summed, worker count) in MB."""
    workers = child_pids(runtime.process.pid)
    return rss_mb(runtime.process.pid), sum(rss_mb(p) for p in workers), len(workers)


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


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
        try:
            async for raw in self.ws:
                arrived = time.perf_counter()
                frame = json.loads(raw)
                rid = frame.get("request_id")
                if rid in self.replies:
                    future = self.replies.pop(rid)
                    if not future.done():
                        future.set_result(frame)
                elif frame.get("type") == "message":
                    self.received[frame["message"]["text"]] = arrived
        except Exception:  # the socket closed (the end, or a stopped runtime)
            return

    async def request(self, frame: dict[str, Any], timeout: float) -> dict[str, Any]:
        assert self.ws is not None
        rid = uuid.uuid4().hex[:12]
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self.replies[rid] = future
        await self.ws.send(json.dumps({**frame, "request_id": rid}))
        return await asyncio.wait_for(future, timeout)


class Sending:
    """The messages of one mode, their acks and their deliveries."""

    def __init__(self, crowd: list[Client], label: str) -> None:
        self.crowd = crowd
        self.label = label
        self.sent: dict[str, tuple[float, str, int]] = {}  # text -> (sent at, room, sender)
        self.acks: list[float] = []
        self.refused = 0
        self.lost = 0  # no ack within the timeout
        self.members = {}
        for client in crowd:
            self.members.setdefault(client.room, []).append(client)

    async def send(self, client: Client, n: int, timeout: float) -> None:
        text = f"{self.label}-{client.index}-{n}"
        at = time.perf_counter()
        self.sent[text] = (at, client.room, client.index)
        try:
            ack = await client.request({"action": "send", "room_id": client.room, "text": text}, timeout)
        except (TimeoutError, Exception):
            self.lost += 1
            return
        if ack.get("type") == "ack":
            self.acks.append((time.perf_counter() - at) * 1000)
        else:
            self.refused += 1

    def expected(self) -> int:
        return sum(len(self.members[room]) - 1 for _, room, _ in self.sent.values())

    def delivered(self) -> list[float]:
        latencies = []
        for client in self.crowd:
            for text, arrived in client.received.items():
                sent = self.sent.get(text)
                if sent is not None and sent[1] == client.room and sent[2] != client.index:
                    latencies.append((arrived - sent[0]) * 1000)
        return latencies

    async def settle(self, seconds: float) -> None:
        end = time.perf_counter() + seconds
        while len(self.delivered()) < self.expected() and time.perf_counter() < end:
            await asyncio.sleep(0.1)


async def open_loop(crowd: list[Client], messages: int, rate: float, label: str, timeout: float) -> tuple[Sending, float]:
    sending = Sending(crowd, label)
    started = time.perf_counter()
    tasks = []
    for i in range(len(crowd) * messages):
        due = started + i / rate
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(sending.send(crowd[i % len(crowd)], i // len(crowd), timeout)))
    offered_s = time.perf_counter() - started
    await asyncio.gather(*tasks)
    return sending, offered_s


async def closed_loop(crowd: list[Client], messages: int, label: str, timeout: float) -> tuple[Sending, float]:
    sending = Sending(crowd, label)

    async def talk(client: Client) -> None:
        for n in range(messages):
            await sending.send(client, n, timeout)

    started = time.perf_counter()
    await asyncio.gather(*(talk(c) for c in crowd))
    return sending, time.perf_counter() - started


def report(sending: Sending, title: str, seconds: float, extra: str) -> bool:
    latencies = sending.delivered()
    expected = sending.expected()
    ratio = len(latencies) / expected if expected else 1.0
    print(f"  {title}: {len(sending.sent)} messages in {seconds:.1f}s ({extra})")
    print(f"    acks                     {len(sending.acks)} / {len(sending.sent)}  (refused {sending.refused}, "
          f"no ack in time {sending.lost})")
    print(f"    ack latency p50 / p99    {percentile(sending.acks, 0.5):.0f} / {percentile(sending.acks, 0.99):.0f} ms")
    print(f"    delivery p50 / p99       {percentile(latencies, 0.5):.0f} / {percentile(latencies, 0.99):.0f} ms")
    print(f"    delivered / expected     {len(latencies)} / {expected} = {ratio:.4f}")
    return ratio == 1.0 and len(sending.acks) == len(sending.sent)


async def scenario(runtime: RunningRuntime, args: argparse.Namespace, phases: dict[str, float]) -> dict[str, Any]:
    results: dict[str, Any] = {"ok": True}
    started = time.perf_counter()
    room_ids = [runtime.create_room(f"bench {i}")["room_id"] for i in range(args.rooms)]
    with ThreadPoolExecutor(max_workers=8) as pool:
        tokens = list(pool.map(lambda i: runtime.token(f"bench-{i}", f"Bench {i}"), range(args.clients)))
    crowd = [Client(i, room_ids[i % args.rooms], tokens[i]) for i in range(args.clients)]
    phases["setup (rooms, tokens)"] = time.perf_counter() - started

    started = time.perf_counter()
    gate = asyncio.Semaphore(args.connect_concurrency)
    readers: list[asyncio.Task[None]] = []

    async def open_socket(client: Client) -> None:
        async with gate:
            client.ws = await connect(runtime.ws_url, subprotocols=["roomcast.v1", client.token],  # type: ignore[list-item]
                                      open_timeout=120, close_timeout=5, max_queue=None)
        readers.append(asyncio.create_task(client.reader()))

    await asyncio.gather(*(open_socket(c) for c in crowd))
    phases["connect (concurrent)"] = time.perf_counter() - started
    started = time.perf_counter()
    async def join(client: Client) -> dict[str, Any]:
        async with gate:  # each join fans member.joined out to the room: bounded too
            return await client.request({"action": "join", "room_id": client.room}, 600)

    joins = await asyncio.gather(*(join(c) for c in crowd))
    refused = [j for j in joins if j.get("type") != "joined"]
    if refused:
        raise RuntimeError(f"{len(refused)} joins refused, e.g. {refused[0]}")
    phases["join (concurrent)"] = time.perf_counter() - started
    # Warm-up, not counted: the function pools grow to their size now (each new worker
    # is a cold start), so the figures below are those of warm execution environments.
    started = time.perf_counter()
    await asyncio.gather(*(c.request({"action": "ping"}, 120) for c in crowd))
    phases["warm-up (ping each)"] = time.perf_counter() - started
    results["rss_rest"] = memory(runtime)

    if args.mode in ("open", "both"):
        sending, offered_s = await open_loop(crowd, args.messages, args.rate, "open", args.ack_timeout)
        await sending.settle(10)
        phases["open loop"] = offered_s
        results["ok"] &= report(sending, f"open loop at {args.rate:g} messages/s offered", offered_s,
                                f"{len(sending.sent) / offered_s:.1f}/s sent")
    if args.mode in ("closed", "both"):
        sending, took = await closed_loop(crowd, args.messages, "closed", args.ack_timeout)
        await sending.settle(10)
        phases["closed loop"] = took
        results["ok"] &= report(sending, "closed loop (next send after the ack)", took,
                                f"{len(sending.sent) / took:.1f} sends/s reached")
    results["rss_end"] = memory(runtime)

    if args.stop_under_load:
        # A burst that outlasts the signal: SIGTERM lands while messages are in flight.
        burst = asyncio.create_task(open_loop(crowd, max(args.messages, 4), args.rate, "burst", 30))
        await asyncio.sleep(1.0)
        signalled = time.perf_counter()
        runtime.process.send_signal(signal.SIGTERM)
        code = await asyncio.to_thread(runtime.process.wait, 30)
        results["stop"] = (time.perf_counter() - signalled, code)
        burst.cancel()
    else:
        started = time.perf_counter()
        await asyncio.gather(*(c.ws.close() for c in crowd if c.ws is not None))
        phases["close (every socket)"] = time.perf_counter() - started
    for task in readers:
        task.cancel()
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=40)
    parser.add_argument("--rooms", type=int, default=8)
    parser.add_argument("--messages", type=int, default=2, help="messages per client in each mode")
    parser.add_argument("--mode", choices=("open", "closed", "both"), default="both")
    parser.add_argument("--rate", type=float, default=20.0, help="open loop: messages per second offered")
    parser.add_argument("--connect-concurrency", type=int, default=100, help="handshakes in flight at most")
    parser.add_argument("--max-concurrency", type=int, default=4, help="worker processes per function")
    parser.add_argument("--ack-timeout", type=float, default=60.0)
    parser.add_argument("--stop-under-load", action="store_true",
                        help="end with SIGTERM during a burst: time to exit, exit code, $disconnect counts")
    args = parser.parse_args(argv)
    if not (1 <= args.rooms <= args.clients <= LIMITS["clients"] and args.rooms <= LIMITS["rooms"]
            and 1 <= args.messages <= LIMITS["messages"] and 0 < args.rate <= LIMITS["rate"]):
        parser.error(f"need 1 <= rooms <= clients, within {LIMITS}")
    phases: dict[str, float] = {}
    started = time.perf_counter()
    runtime = start_runtime("--quiet", "--no-receiver", "--max-concurrency", str(args.max_concurrency))
    phases["start (to the ready line)"] = time.perf_counter() - started
    start_rss = memory(runtime)
    stop_code = None
    try:
        result = asyncio.run(scenario(runtime, args, phases))
    finally:
        if runtime.process.poll() is None:
            assert rss_mb(runtime.process.pid) < MAX_RUNTIME_RSS_MB
            stop_started = time.perf_counter()
            stop_code = runtime.stop()
            phases["stop (SIGINT, idle)"] = time.perf_counter() - stop_started
    print(f"local e2e: {args.clients} clients in {args.rooms} rooms, {args.messages} messages each per mode, "
          f"{args.max_concurrency} workers/function max, ulimit -n {os.sysconf('SC_OPEN_MAX')}")
    for name, seconds in phases.items():
        print(f"  phase {name:28} {seconds:7.2f} s")
    for label, (own, workers, count) in (("at start", start_rss), ("connected", result["rss_rest"]),
                                         ("at end", result["rss_end"])):
        print(f"  runtime RSS {label:9} {own:7.1f} MB  (+ {count} workers {workers:.0f} MB)")
    # At rest = just after the ready line, before any client: the strictest reference.
    growth = result["rss_end"][0] / start_rss[0]
    print(f"  runtime RSS end / at start (rest)  {growth:.2f}  (must be <= 1.5)")
    ok = bool(result["ok"]) and growth <= 1.5
    if "stop" in result:
        took, code = result["stop"]
        counts = re.findall(r"\$disconnect for .*", runtime.log_text())
        forced = "exiting now" in runtime.log_text()
        print(f"  SIGTERM under load: exited {code} after {took:.2f} s (must be <= 5, exit 0); watchdog fired: {forced}")
        print(f"    {counts[-1] if counts else 'no $disconnect summary in the log'}")
        ok &= code == 0 and took <= 5.0
    elif stop_code is not None:
        ok &= stop_code == 0
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
