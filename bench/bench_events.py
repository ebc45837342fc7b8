"""Events through the pipeline: events per second and end-to-end latency p50/p99.

Real path, in one process: committed message writes to the template's table (moto
in-process, with its DynamoDB stream), the stream read as Lambda's event source reads it
(local/roomcast_local/streams.lambda_record), functions/events/app.py on each stream
batch, the events queue received and handed to functions/eventdelivery/app.py as
Lambda's SQS event (ten jobs per invocation, sent concurrently), and a real HTTP receiver
on 127.0.0.1 that verifies nothing and records when each event arrived. Latency is from
the message's write (its sent_at) to its arrival at the receiver.

Two runs per configuration, so the figures are ratios within one run of the machine:
1. throughput: --events written as fast as possible; events/s = events / (last arrival -
   first write); the requests that took;
2. latency at a rate: the same count paced at --rate-fraction of the measured
   throughput; p50/p99 of write -> arrival.
Compared: batches of EVENT_BATCH_MAX_EVENTS=--max-events vs batches of 1 (no batching).
Bounded: --events (default 2000) and --timeout seconds per run.

    PYTHONPATH=local:layers/roomcast:. .venv/bin/python bench/bench_events.py

moto's DynamoDB, SQS and streams run here on the same cores and under one GIL as the
functions and the receiver, so absolute figures are this machine's emulator, not AWS's;
the ratios (batching vs not) are the point.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import io
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from bench._common import ROOT, _patched_environ, moto_stack, print_table


def _ms(text: str) -> int:
    """RFC 3339 UTC with milliseconds (roomcast.ids.iso) -> epoch ms."""
    from datetime import datetime

    return int(datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp() * 1000)


class ArrivalReceiver:
    """Answers 200 at once and records (arrival time, sent_at of each message event)."""

    def __init__(self) -> None:
        self.arrivals: list[tuple[float, int]] = []
        self.requests = 0
        lock = threading.Lock()
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                return

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length") or 0))
                now = time.time()
                events = json.loads(body)["data"]["events"]
                sent = [_ms(e["data"]["message"]["sent_at"]) for e in events if e["type"] == "message.created"]
                with lock:
                    outer.requests += 1
                    outer.arrivals.extend((now, ms) for ms in sent)
                self.send_response(200)
                self.send_header("content-length", "0")
                self.end_headers()

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/events"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def _load(name: str) -> Any:
    spec = importlib.util.spec_from_file_location(f"bench_{name}_app", ROOT / "functions" / name / "app.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.lambda_handler


class _Context:
    function_name = "bench-events"
    memory_limit_in_mb = 512
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:bench-events"
    aws_request_id = "bench"

    def get_remaining_time_in_millis(self) -> int:
        return 60_000


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))] if ordered else float("nan")


def run_once(max_events: int, events: int, rate: float | None, timeout: float) -> dict[str, float]:
    """One run in a fresh stack: returns events/s, requests, p50/p99 latency (ms)."""
    import boto3

    from roomcast import queue as queue_module
    from roomcast.settings import reset_settings
    from roomcast_local.streams import lambda_record

    env = {"WEBHOOK_ALLOW_LOOPBACK": "true", "WEBHOOK_JITTER": "0", "POWERTOOLS_METRICS_DISABLED": "true",
           "POWERTOOLS_LOG_LEVEL": "ERROR", "EVENT_BATCH_MAX_EVENTS": str(max_events), "SECRET_MAX_AGE": "300"}
    with moto_stack() as stack, _patched_environ(env):
        reset_settings()
        queue_module.reset_caches()
        receiver = ArrivalReceiver()
        events_fn, delivery_fn = _load("events"), _load("eventdelivery")
        from roomcast.logic import endpoints
        from roomcast.models.events import CreateEndpointRequest
        from roomcast.wiring import services

        endpoints.create(services(), CreateEndpointRequest(url=receiver.url, event_types=["message.created"],
                                                           concurrency=10))
        ddb = boto3.client("dynamodb", region_name="us-east-1")
        table = stack.tables["Table"]
        arn = ddb.describe_table(TableName=table)["Table"]["LatestStreamArn"]
        streams = boto3.client("dynamodbstreams", region_name="us-east-1")
        shard = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]["ShardId"]
        iterator = streams.get_shard_iterator(StreamArn=arn, ShardId=shard, ShardIteratorType="LATEST")["ShardIterator"]
        sqs = boto3.client("sqs", region_name="us-east-1")
        queue_url = stack.queues["EventsQueue"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        done = threading.Event()

        def pipeline() -> None:
            nonlocal iterator
            while not done.is_set():
                response = streams.get_records(ShardIterator=iterator, Limit=500)
                iterator = response["NextShardIterator"]
                records = [lambda_record(r, arn, "us-east-1") for r in response.get("Records") or []]
                if records:
                    events_fn({"Records": records}, _Context())
                messages = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10,
                                               MessageSystemAttributeNames=["All"]).get("Messages", [])
                if messages:
                    result = delivery_fn({"Records": [{
                        "messageId": m["MessageId"], "receiptHandle": m["ReceiptHandle"], "body": m["Body"],
                        "attributes": m["Attributes"], "messageAttributes": {}, "md5OfBody": m["MD5OfBody"],
                        "eventSource": "aws:sqs", "eventSourceARN": queue_arn, "awsRegion": "us-east-1",
                    } for m in messages]}, _Context())  # fmt: skip
                    failed = {f["itemIdentifier"] for f in result["batchItemFailures"]}
                    for m in messages:
                        if m["MessageId"] not in failed:
                            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=m["ReceiptHandle"])
                elif not records:
                    time.sleep(0.01)

        worker = threading.Thread(target=pipeline, daemon=True)
        worker.start()
        started = time.time()
        for i in range(events):
            if rate:
                wait = started + i / rate - time.time()
                if wait > 0:
                    time.sleep(wait)
            sent_ms = int(time.time() * 1000)
            mid = f"{sent_ms:013x}{i:012x}"
            ddb.put_item(TableName=table, Item={
                "pk": {"S": "ROOM#bench"}, "sk": {"S": f"MSG#{mid}"}, "room_id": {"S": "bench"},
                "message_id": {"S": mid}, "user_id": {"S": "u"}, "name": {"S": "U"}, "text": {"S": f"m{i}"},
                "sent_at": {"N": str(sent_ms)},
            })
        deadline = started + timeout
        while len(receiver.arrivals) < events and time.time() < deadline:
            time.sleep(0.02)
        done.set()
        worker.join(timeout=30)
        receiver.close()
        arrivals = list(receiver.arrivals)
        if len(arrivals) < events:
            raise SystemExit(f"only {len(arrivals)} of {events} events arrived within {timeout:g} s")
        last = max(a for a, _ in arrivals)
        latencies = [a * 1000 - sent for a, sent in arrivals]
        return {"events_per_s": events / (last - started), "requests": receiver.requests,
                "p50_ms": _percentile(latencies, 0.5), "p99_ms": _percentile(latencies, 0.99)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=2000)
    parser.add_argument("--max-events", type=int, default=50, help="EVENT_BATCH_MAX_EVENTS of the batched run")
    parser.add_argument("--rate-fraction", type=float, default=0.5, help="latency run's rate / measured throughput")
    parser.add_argument("--timeout", type=float, default=180.0, help="seconds per run at most")
    args = parser.parse_args(argv)
    rows = []
    results: dict[int, dict[str, float]] = {}
    for size in (args.max_events, 1):
        # The functions' metrics lines (EMF on stdout) would bury the table.
        with contextlib.redirect_stdout(io.StringIO()):
            burst = run_once(size, args.events, None, args.timeout)
            rate = burst["events_per_s"] * args.rate_fraction
            paced = run_once(size, args.events, rate, args.timeout)
        results[size] = burst
        rows.append((f"batches of {size}: all at once", args.events, f"{burst['events_per_s']:.0f}",
                     int(burst["requests"]), f"{burst['p50_ms']:.0f}", f"{burst['p99_ms']:.0f}"))
        rows.append((f"batches of {size}: at {rate:.0f}/s", args.events, f"{paced['events_per_s']:.0f}",
                     int(paced["requests"]), f"{paced['p50_ms']:.0f}", f"{paced['p99_ms']:.0f}"))
    print(f"{args.events} message events -> one endpoint (concurrency 10) on 127.0.0.1; moto in-process")
    print_table(["run", "events", "events/s", "requests", "p50 ms", "p99 ms"], rows)
    ratio = results[args.max_events]["events_per_s"] / results[1]["events_per_s"]
    print(f"ratio (events/s, batches of {args.max_events} / batches of 1): {ratio:.2f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
