"""Fan-out wall time for N members with injected per-call latency vs. the bound ceil(N/K)*L.

Part 1 drives roomcast.gateway.Gateway (K workers) with a stub management client whose
post_to_connection sleeps L: measured / bound near 1.0 means the pool is saturated as
designed; the sequential N*L is printed for contrast.

Part 2 puts a real botocore apigatewaymanagementapi client (SigV4, HTTP, urllib3 pool)
in front of a small HTTP server on 127.0.0.1 that answers each PostToConnection after L.
It compares botocore's default max_pool_connections=10 with a pool sized to the workers
(what roomcast does). botocore's pool does not block: with more threads than pooled
connections it opens extra connections and throws them away after one request, so the
cost of a small pool is connection churn - one more TCP (and, against AWS, TLS) handshake
per discarded connection. The server can charge a simulated handshake cost on each new
connection (--handshake-ms) to show what that churn costs when handshakes are not free.

    PYTHONPATH=local:layers/roomcast:. .venv/bin/python bench/bench_fanout.py
"""

from __future__ import annotations

import argparse
import logging
import math
import multiprocessing
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from bench._common import FAKE_AWS_ENV, _patched_environ, median, print_table


class SleepingManagementApi:
    """A management client whose every PostToConnection takes `latency` seconds."""

    def __init__(self, latency: float) -> None:
        self.latency = latency
        self.posts = 0
        self._lock = threading.Lock()

    def post_to_connection(self, ConnectionId: str, Data: bytes) -> dict[str, Any]:
        time.sleep(self.latency)
        with self._lock:
            self.posts += 1
        return {}


def timed_broadcast(gateway: Any, n: int, repeats: int) -> float:
    """Median wall seconds of one broadcast to n connections."""
    targets = [f"conn{i:06d}=" for i in range(n)]
    samples = []
    for _ in range(repeats):
        started = time.perf_counter()
        result = gateway.broadcast(targets, {"type": "message", "text": "hi"})
        samples.append(time.perf_counter() - started)
        assert result.delivered == n, result
    return median(samples)


def stub_rows(
    sizes: list[int], workers: int, latency: float, repeats: int
) -> list[tuple[Any, ...]]:
    from roomcast.gateway import Gateway

    rows = []
    for n in sizes:
        client = SleepingManagementApi(latency)
        gateway = Gateway(None, client=client, workers=workers, retries=0)
        measured = timed_broadcast(gateway, n, repeats)
        bound = math.ceil(n / workers) * latency
        sequential = n * latency
        rows.append(
            (
                n,
                workers,
                measured * 1000,
                bound * 1000,
                measured / bound,
                sequential * 1000,
                sequential / measured,
            )
        )
    return rows


# ------------------------------------------------------------------ part 2: real botocore


class _SlowHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as API Gateway's endpoint does

    def setup(self) -> None:
        super().setup()
        with self.server.connections.get_lock():  # type: ignore[attr-defined]
            self.server.connections.value += 1  # type: ignore[attr-defined]
        self._first = True

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length", "0"))
        self.rfile.read(length)
        delay = self.server.latency  # type: ignore[attr-defined]
        if self._first:
            delay += self.server.handshake  # type: ignore[attr-defined]
            self._first = False
        time.sleep(delay)
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


class _SlowServer(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 256  # a burst of connects must not overflow the listen backlog


def _serve(latency: float, handshake: float, connections: Any, ports: Any) -> None:
    server = _SlowServer(("127.0.0.1", 0), _SlowHandler)
    server.latency = latency  # type: ignore[attr-defined]
    server.handshake = handshake  # type: ignore[attr-defined]
    server.connections = connections  # type: ignore[attr-defined]
    ports.put(server.server_port)
    server.serve_forever()


@dataclass
class SlowServer:
    port: int
    _connections: Any

    @property
    def connections(self) -> int:
        return int(self._connections.value)

    def reset(self) -> None:
        with self._connections.get_lock():
            self._connections.value = 0


@contextmanager
def slow_server(latency: float, handshake: float) -> Iterator[SlowServer]:
    """The receiving end in its own process, so its CPU does not compete with the client's GIL."""
    context = multiprocessing.get_context("spawn")
    connections = context.Value("i", 0)
    ports = context.Queue()
    process = context.Process(
        target=_serve, args=(latency, handshake, connections, ports), daemon=True
    )
    process.start()
    try:
        yield SlowServer(port=ports.get(timeout=30), _connections=connections)
    finally:
        process.terminate()
        process.join(timeout=5)


class _DiscardCounter(logging.Handler):
    """Counts urllib3's 'Connection pool is full, discarding connection' warnings."""

    def __init__(self) -> None:
        super().__init__()
        self.discarded = 0

    def emit(self, record: logging.LogRecord) -> None:
        if "Connection pool is full" in record.getMessage():
            self.discarded += 1


def botocore_rows(
    n: int, workers: int, latency: float, handshake: float, pools: list[int], repeats: int
) -> list[tuple[Any, ...]]:
    import boto3
    from botocore.config import Config

    from roomcast.gateway import Gateway

    urllib3_log = logging.getLogger("urllib3.connectionpool")
    counter = _DiscardCounter()
    urllib3_log.addHandler(counter)
    urllib3_log.propagate = False  # keep the warnings off stderr; they are counted instead
    rows = []
    try:
        with _patched_environ(FAKE_AWS_ENV):
            for pool in pools:
                with slow_server(latency, handshake) as server:
                    client = boto3.client(
                        "apigatewaymanagementapi",
                        endpoint_url=f"http://127.0.0.1:{server.port}/bench",
                        config=Config(max_pool_connections=pool, retries={"max_attempts": 1}),
                    )
                    gateway = Gateway(None, client=client, workers=workers, retries=0)
                    timed_broadcast(gateway, workers, 1)  # warm: open the pool, load models
                    server.reset()
                    counter.discarded = 0
                    measured = timed_broadcast(gateway, n, repeats)
                    bound = math.ceil(n / workers) * latency
                    rows.append(
                        (
                            pool,
                            workers,
                            measured * 1000,
                            bound * 1000,
                            measured / bound if bound else float("nan"),
                            server.connections / repeats,
                            counter.discarded / repeats,
                        )
                    )
                    client.close()
    finally:
        urllib3_log.removeHandler(counter)
        urllib3_log.propagate = True
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10,100,500", help="room sizes N, comma-separated")
    parser.add_argument("--workers", type=int, default=32, help="K")
    parser.add_argument("--latency-ms", type=float, default=20.0, help="L per PostToConnection")
    parser.add_argument("--repeats", type=int, default=5, help="median of this many broadcasts")
    parser.add_argument("--botocore-n", type=int, default=500, help="N for part 2 (0 skips it)")
    parser.add_argument(
        "--handshake-ms", type=float, default=20.0, help="part 2: cost of a new connection"
    )
    args = parser.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",")]
    latency = args.latency_ms / 1000

    print(
        f"part 1: Gateway with a stub client; K={args.workers} workers, L={args.latency_ms:g} ms per post"
    )
    print_table(
        [
            "N",
            "K",
            "measured ms",
            "bound ms",
            "measured / bound",
            "sequential ms",
            "sequential / measured",
        ],
        stub_rows(sizes, args.workers, latency, args.repeats),
    )
    if args.botocore_n:
        print()
        print(
            f"part 2: real botocore client -> 127.0.0.1 server; N={args.botocore_n}, "
            f"L={args.latency_ms:g} ms, simulated handshake {args.handshake_ms:g} ms per new connection"
        )
        rows = botocore_rows(
            args.botocore_n,
            args.workers,
            latency,
            args.handshake_ms / 1000,
            [10, args.workers],
            args.repeats,
        )
        print_table(
            [
                "max_pool_connections",
                "K",
                "measured ms",
                "bound ms",
                "measured / bound",
                "connections opened",
                "discarded",
            ],
            rows,
        )
        small, sized = rows[0], rows[1]
        print(
            f"pool of 10 / pool of {args.workers}: wall {small[2] / sized[2]:.2f}x, "
            f"connections opened {small[5]:.0f} vs {sized[5]:.0f} per broadcast"
        )
        # With no server latency the wall time is the client's own cost per post (SigV4,
        # serialisation, urllib3) - serialised by the GIL, so it caps posts/s per process.
        cpu = botocore_rows(args.botocore_n, args.workers, 0.0, 0.0, [args.workers], args.repeats)[
            0
        ]
        per_post = cpu[2] / args.botocore_n
        print(
            f"client cost with L=0: {per_post:.2f} ms per post on this machine -> at most "
            f"{1000 / per_post:,.0f} posts/s per process; at L={args.latency_ms:g} ms the pool "
            f"alone would allow {args.workers / latency:,.0f} posts/s"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
