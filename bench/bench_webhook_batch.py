"""Webhook batch: ten jobs in one SQS batch to a slow receiver vs. one job.

The delivery function sends the jobs of a batch concurrently (a thread pool), so a batch
of 10 to a receiver that takes --delay-ms per request should take about as long as one
delivery (ratio ~1x), not ten times as long (the sequential bound). Real path: rooms are
created and closed through the logic, the jobs are received from the template's queue
(moto in-process) and handed to functions/delivery/app.py as Lambda's SQS event; the
receiver is a real HTTP server on 127.0.0.1.

    PYTHONPATH=local:layers/roomcast:. .venv/bin/python bench/bench_webhook_batch.py
"""

from __future__ import annotations

import argparse
import dataclasses
import importlib.util
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from bench._common import ROOT, _patched_environ, median, moto_stack, print_table


class SlowReceiver:
    def __init__(self, delay: float) -> None:
        delay_s = delay

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                return

            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("content-length") or 0))
                time.sleep(delay_s)
                self.send_response(200)
                self.send_header("content-length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hook"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def _handler() -> Any:
    spec = importlib.util.spec_from_file_location("bench_delivery_app", ROOT / "functions/delivery/app.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.lambda_handler


class _Context:
    function_name = "bench-delivery"
    memory_limit_in_mb = 512
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:bench-delivery"
    aws_request_id = "bench"

    def get_remaining_time_in_millis(self) -> int:
        return 240_000


def measure(batch: int, delay_ms: int, repeats: int) -> tuple[float, float]:
    """(median seconds for one job, median seconds for a batch of `batch` jobs)."""
    import boto3

    from roomcast import queue as queue_module
    from roomcast.gateway import Gateway
    from roomcast.logic import closing, rooms
    from roomcast.models.admin import CreateRoomRequest
    from roomcast.settings import reset_settings
    from roomcast.wiring import services as wired

    # Metrics off: the EMF lines the delivery function prints would bury the figures.
    quiet = {"WEBHOOK_ALLOW_LOOPBACK": "true", "WEBHOOK_JITTER": "0", "POWERTOOLS_METRICS_DISABLED": "true"}
    with moto_stack() as stack, _patched_environ(quiet):
        reset_settings()
        queue_module.reset_caches()
        receiver = SlowReceiver(delay_ms / 1000)
        handler = _handler()
        sqs = boto3.client("sqs", region_name="us-east-1")
        url = stack.queues["JobsQueue"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        services = dataclasses.replace(wired(), gateway=Gateway(None))
        counter = 0

        def one_batch(size: int) -> float:
            nonlocal counter
            for _ in range(size):
                counter += 1
                room_id = f"bench-{counter}"
                rooms.create_room_with_secret(
                    services, CreateRoomRequest(room_id=room_id, name=room_id, callback_url=receiver.url)
                )
                closing.close_room(services, room_id, "bench")
            messages: list[dict[str, Any]] = []
            while len(messages) < size:
                messages += sqs.receive_message(
                    QueueUrl=url, MaxNumberOfMessages=10, MessageSystemAttributeNames=["All"]
                ).get("Messages", [])
            event = {"Records": [{
                "messageId": m["MessageId"], "receiptHandle": m["ReceiptHandle"], "body": m["Body"],
                "attributes": m["Attributes"], "messageAttributes": {}, "md5OfBody": m["MD5OfBody"],
                "eventSource": "aws:sqs", "eventSourceARN": arn, "awsRegion": "us-east-1",
            } for m in messages]}  # fmt: skip
            started = time.perf_counter()
            response = handler(event, _Context())
            elapsed = time.perf_counter() - started
            assert response["batchItemFailures"] == [], response
            for m in messages:
                sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
            return elapsed

        one_batch(1)  # warm-up: imports, clients, thread pool
        singles, batches = [], []
        for _ in range(repeats):  # interleaved, so drift hits both sides alike
            singles.append(one_batch(1))
            batches.append(one_batch(batch))
        receiver.close()
        return median(singles), median(batches)


def run(batch: int, delay_ms: int, repeats: int) -> list[tuple[str, int, float, float]]:
    one, many = measure(batch, delay_ms, repeats)
    # The same with an instant receiver: what is left is roomcast's own work per job, which
    # here includes moto's in-process DynamoDB/SQS (CPU under one GIL, unlike the service).
    one0, many0 = measure(batch, 0, repeats)
    wait_one, wait_many = max(one - one0, 1e-9), max(many - many0, 0.0)
    return [
        ("1 job", 1, one * 1000, 1.0),
        (f"{batch} jobs, one batch", batch, many * 1000, many / one),
        (f"{batch} jobs, sequential bound", batch, one * batch * 1000, float(batch)),
        ("1 job, instant receiver", 1, one0 * 1000, one0 / one),
        (f"{batch} jobs, instant receiver", batch, many0 * 1000, many0 / one),
        (f"receiver wait only: {batch} vs 1", batch, wait_many * 1000, wait_many / wait_one),
    ]




def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--batch", type=int, default=10)
    parser.add_argument("--delay-ms", type=int, default=200, help="receiver's time per request")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args(argv)
    rows = run(args.batch, args.delay_ms, args.repeats)
    print(f"receiver: {args.delay_ms} ms per request on 127.0.0.1; median of {args.repeats} runs")
    print_table(["delivery", "webhooks", "wall ms", "x one delivery"], rows)
    print(f"ratio (batch of {args.batch} / one delivery): {rows[1][3]:.2f}x  (sequential would be {args.batch}x)")
    print(f"ratio of the time spent waiting on the receiver: {rows[5][3]:.2f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
