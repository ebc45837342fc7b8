"""Close memory: the delivery's peak memory (tracemalloc) next to one page's size.

A room.closed delivery is built page by page and sent part by part, so its peak memory
should stay a small multiple of one DynamoDB page (plus one part) whatever the room's
size. For rooms of --sizes messages this closes the room, then runs the delivery of its
job under tracemalloc (real path: logic.delivery.deliver -> payload parts -> requests to a
receiver on 127.0.0.1) and prints the peak, one page of messages as the store returns it,
and their ratio. A peak that does not grow with the room is the point.

AWS is moto, run as a separate `moto_server` process on 127.0.0.1 (as DynamoDB is a
separate service): in-process moto deep-copies every Query result and keeps those copies
alive until a GC pass, which would bill moto's own allocations to the delivery
(--in-process shows that figure).

    PYTHONPATH=local:layers/roomcast:. .venv/bin/python bench/bench_close_memory.py
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import socket
import subprocess
import sys
import threading
import time
import tracemalloc
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from bench._common import (
    FAKE_AWS_ENV,
    SECRET_VALUES,
    TEMPLATE,
    _patched_environ,
    _reset_roomcast_caches,
    batch_put,
    moto_stack,
    print_table,
)


@contextmanager
def moto_server_stack() -> Iterator[Any]:
    """template.yaml provisioned in a moto_server subprocess; env points boto3 at it."""
    import boto3
    import requests

    from roomcast_local.cfn import load_template
    from roomcast_local.stack import provision

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = Path(sys.executable).parent / "moto_server"
    process = subprocess.Popen(
        [str(server), "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    endpoint = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                requests.get(endpoint + "/moto-api/", timeout=1)
                break
            except requests.RequestException:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        with _patched_environ({**FAKE_AWS_ENV, "AWS_ENDPOINT_URL": endpoint}):
            stack = provision(load_template(TEMPLATE), boto3.Session(), secret_values=SECRET_VALUES)
            env: dict[str, str] = {}
            for logical_id in stack.functions:
                env.update(stack.function_environment(logical_id))
            os.environ.update(env)
            _reset_roomcast_caches()
            try:
                yield stack
            finally:
                _reset_roomcast_caches()
    finally:
        process.terminate()
        process.wait(timeout=10)

BASE_MS = 1_795_320_000_000


class NullReceiver:
    """Reads each body in small chunks (so the receiver's own buffers stay out of the peak)."""

    def __init__(self) -> None:
        self.parts = 0
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                return

            def do_POST(self) -> None:
                left = int(self.headers.get("content-length") or 0)
                while left:
                    left -= len(self.rfile.read(min(left, 16384)))
                outer.parts += 1
                self.send_response(204)
                self.end_headers()

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hook"


@contextmanager
def _extra_env(values: dict[str, str]) -> Iterator[None]:
    """Add variables (keeping the AWS endpoint that _patched_environ would strip)."""
    saved = dict(os.environ)
    os.environ.update(values)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


def _seed(table: str, room_id: str, count: int) -> None:
    import boto3

    from roomcast.dal import keys
    from roomcast.dal.dynamo import to_item
    from roomcast.ids import new_id

    items = []
    for i in range(count):
        message_id = new_id(BASE_MS + i)
        items.append(to_item({
            "pk": keys.room_pk(room_id), "sk": keys.message_sk(message_id), "room_id": room_id,
            "message_id": message_id, "user_id": f"user-{i % 40}", "name": f"User {i % 40}",
            "text": f"message {i}: the quick brown fox jumps over the lazy dog", "sent_at": BASE_MS + i,
        }))  # fmt: skip
    batch_put(boto3.client("dynamodb", region_name="us-east-1"), table, items)


def run(sizes: list[int], page_size: int, part_bytes: int, in_process: bool = False) -> list[tuple[Any, ...]]:
    import boto3

    from roomcast import queue as queue_module
    from roomcast.gateway import Gateway
    from roomcast.logic import closing, delivery, rooms
    from roomcast.models.admin import CreateRoomRequest
    from roomcast.settings import reset_settings
    from roomcast.wiring import services as wired

    rows = []
    env = {"WEBHOOK_ALLOW_LOOPBACK": "true", "WEBHOOK_PAGE_SIZE": str(page_size),
           "WEBHOOK_MAX_PART_BYTES": str(part_bytes)}  # fmt: skip
    with (moto_stack() if in_process else moto_server_stack()) as stack, _extra_env(env):
        reset_settings()
        queue_module.reset_caches()
        receiver = NullReceiver()
        services = dataclasses.replace(wired(), gateway=Gateway(None))
        store = services.store
        sqs = boto3.client("sqs", region_name="us-east-1")
        queue_url = stack.queues["JobsQueue"]
        # The first delivery also pays one-time costs (lazy imports, the HTTP session, the
        # secret cache): a small warm-up room, not reported.
        for index, size in enumerate([200, *sizes]):
            room_id = f"mem-{index}-{size}"
            rooms.create_room_with_secret(services, CreateRoomRequest(room_id=room_id, name=room_id, callback_url=receiver.url))
            _seed(stack.tables["Table"], room_id, size)
            closing.close_room(services, room_id, "bench")
            (message,) = sqs.receive_message(QueueUrl=queue_url, MessageSystemAttributeNames=["All"])["Messages"]
            job = delivery.ReceivedJob(
                message_id=message["MessageId"], receipt_handle=message["ReceiptHandle"], body=message["Body"],
                receive_count=1, queue_url=queue_url,
            )
            dservices = wired()
            dservices.store.get_room(room_id)  # clients and connection pools exist before tracing

            # One page, as the delivery holds it: the store's page of MessageRecords.
            tracemalloc.start()
            page = next(store.iter_messages(room_id, page_size=page_size))
            page_bytes, _ = tracemalloc.get_traced_memory()
            tracemalloc.stop()
            del page

            parts_before = receiver.parts
            tracemalloc.start()
            outcome = delivery.deliver(dservices, job)
            _, peak = tracemalloc.get_traced_memory()
            tracemalloc.stop()
            assert outcome == "delivered", outcome
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
            if index:
                rows.append((size, receiver.parts - parts_before, peak / 1e6, page_bytes / 1e6, peak / page_bytes))
        receiver.server.shutdown()
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="2000,10000,40000", help="messages per room")
    parser.add_argument("--page-size", type=int, default=500, help="WEBHOOK_PAGE_SIZE")
    parser.add_argument("--part-bytes", type=int, default=256 * 1024, help="WEBHOOK_MAX_PART_BYTES")
    parser.add_argument("--in-process", action="store_true", help="moto in this process (mock_aws)")
    args = parser.parse_args(argv)
    rows = run([int(s) for s in args.sizes.split(",")], args.page_size, args.part_bytes, args.in_process)
    print(f"page = {args.page_size} messages; part limit = {args.part_bytes:,} bytes")
    print_table(["messages", "parts", "delivery peak MB", "one page MB", "peak / page"], rows)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
