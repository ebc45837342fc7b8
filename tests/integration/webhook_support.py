"""Shared parts of the webhook tests: a scripted loopback receiver, a stack whose
schedule is in seconds, and a driver that plays Lambda's SQS event source against moto
(receive -> invoke -> delete the items not reported failed)."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import boto3
import pytest

from tests.conftest import ADMIN_KEY, JWT_SECRET, ROOT, reset_caches, serialize_moto_requests
from tests.helpers import http_event

TEST_SCHEDULE = "10,20"  # seconds; 3 attempts, maxReceiveCount 3
TEST_MAX_RECEIVE = 3


@dataclass
class Reply:
    status: int = 200
    body: bytes = b'{"ok":true}'
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    at: float = 0.0  # roomcast.clock when it arrived (an injected clock in the long-schedule tests)


class ScriptedReceiver:
    """A real HTTP server on 127.0.0.1; answers with the scripted replies, then `default`."""

    def __init__(self, replies: list[Reply] | None = None, default: Reply | None = None) -> None:
        self.replies = list(replies or [])
        self.default = default or Reply()
        self.requests: list[Received] = []
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                return

            def do_POST(self) -> None:
                from roomcast import clock

                length = int(self.headers.get("content-length") or 0)
                body = self.rfile.read(length)
                with receiver.lock:
                    receiver.requests.append(
                        Received(self.path, {k.lower(): v for k, v in self.headers.items()}, body, clock.now())
                    )
                    reply = receiver.replies.pop(0) if receiver.replies else receiver.default
                if reply.delay:
                    time.sleep(reply.delay)
                self.send_response(reply.status)
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                self.send_header("content-length", str(len(reply.body)))
                self.end_headers()
                self.wfile.write(reply.body)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}/hooks/roomcast"

    def __enter__(self) -> ScriptedReceiver:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=10)


@contextmanager
def provisioned_stack(
    monkeypatch: pytest.MonkeyPatch, schedule: str = TEST_SCHEDULE, max_receive: int | None = None, **env: str
) -> Iterator[Any]:
    """conftest's stack with another schedule; maxReceiveCount = the schedule's plan unless given."""
    from moto import mock_aws

    from roomcast.webhooks.schedule import max_receive_count, parse_schedule
    from roomcast_local.cfn import load_template
    from roomcast_local.stack import provision

    serialize_moto_requests(monkeypatch)
    receives = max_receive_count(parse_schedule(schedule)) if max_receive is None else max_receive
    with mock_aws():
        provisioned = provision(
            load_template(ROOT / "template.yaml"),
            boto3.Session(),
            parameters={"WebhookSchedule": schedule, "WebhookMaxReceiveCount": receives},
            secret_values={"JwtSecret": JWT_SECRET, "AdminApiKeySecret": ADMIN_KEY},
        )
        variables: dict[str, str] = {}
        for logical_id in provisioned.functions:
            variables.update(provisioned.function_environment(logical_id))
        variables.update(WEBHOOK_ALLOW_LOOPBACK="true", WEBHOOK_JITTER="0", WEBHOOK_READ_TIMEOUT="2",
                         WEBHOOK_CONNECT_TIMEOUT="2",
                         # Rooms here fill with dozens of messages sent back to back; the
                         # send rate limits have their own tests (test_send_rate_limits.py).
                         SEND_RATE_BURST="1000", USER_SEND_RATE_BURST="1000")
        variables.update(env)
        for name, value in variables.items():
            monkeypatch.setenv(name, value)
        reset_caches()
        yield provisioned
        reset_caches()


@pytest.fixture(name="webhook_stack")
def webhook_stack_fixture(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """conftest's stack, provisioned with the seconds schedule (maxReceiveCount to match)."""
    with provisioned_stack(monkeypatch) as provisioned:
        yield provisioned


class FakeClock:
    """One time for roomcast.clock and for moto (which reads moto.core.utils.utcnow)."""

    def __init__(self, start: float = 1_800_000_000.0) -> None:
        self.t = start

    def now(self) -> float:
        return self.t

    def advance(self, seconds: float) -> None:
        self.t += seconds


@contextmanager
def injected_clock(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeClock]:
    """An injected clock, and moto's SQS with the 12-hour limit counted from the receive (AWS's rule)."""
    import datetime

    import moto.core.utils

    from roomcast import clock
    from roomcast_local.moto_sqs_visibility import install

    install()
    fake = FakeClock()
    monkeypatch.setattr(
        moto.core.utils, "utcnow",
        lambda: datetime.datetime.fromtimestamp(fake.t, datetime.UTC).replace(tzinfo=None),
    )
    clock.install(fake.now)
    try:
        yield fake
    finally:
        clock.install(None)


@pytest.fixture(name="fake_clock")
def fake_clock_fixture(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeClock]:
    with injected_clock(monkeypatch) as fake:
        yield fake


def admin(invoke: Callable[..., Any], method: str, path: str, body: Any = None) -> tuple[int, Any]:
    """Any admin API call, built from the GET sample event."""
    event = http_event("http-get-room.json")
    event["rawPath"] = path
    event["requestContext"]["http"]["method"] = method
    event["requestContext"]["http"]["path"] = path
    event["routeKey"] = f"{method} {path}"
    event["pathParameters"] = {}
    event["body"] = json.dumps(body) if body is not None else None
    response = invoke("admin", event)
    return response["statusCode"], json.loads(response["body"]) if response.get("body") else None


def create_room(invoke: Callable[..., Any], room_id: str, callback_url: str | None, **extra: Any) -> dict[str, Any]:
    body = {"room_id": room_id, "name": f"Room {room_id}", "admin_user_ids": ["alice"], **extra}
    if callback_url:
        body["callback_url"] = callback_url
    status, created = admin(invoke, "POST", "/rooms", body)
    assert status == 201, created
    return created


def close_room(invoke: Callable[..., Any], room_id: str) -> str:
    """DELETE the room through the admin API; returns its delivery id."""
    status, body = admin(invoke, "DELETE", f"/rooms/{room_id}")
    assert status == 202, body
    return str(body["delivery_id"])


def only_delivery(invoke: Callable[..., Any], room_id: str) -> dict[str, Any]:
    """The room's one delivery with its attempts (GET /rooms/{id}/deliveries)."""
    status, listing = admin(invoke, "GET", f"/rooms/{room_id}/deliveries")
    assert status == 200, listing
    (delivery,) = listing["deliveries"]
    return dict(delivery)


class QueueDriver:
    """Lambda's SQS event source, played by hand against moto's queue."""

    function = "delivery"  # the function the queue's event source invokes

    def __init__(self, stack: Any, invoke: Callable[..., Any]) -> None:
        self.sqs = boto3.client("sqs", region_name="us-east-1")
        self.queue_url = stack.queues["JobsQueue"]
        self.dlq_url = stack.queues["JobsDLQ"]
        self.arn = self.sqs.get_queue_attributes(QueueUrl=self.queue_url, AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]
        self.invoke = invoke
        self.last_handles: dict[str, str] = {}

    def receive(self, max_messages: int = 10) -> list[dict[str, Any]]:
        response = self.sqs.receive_message(
            QueueUrl=self.queue_url,
            MaxNumberOfMessages=max_messages,
            MessageSystemAttributeNames=["All"],
            WaitTimeSeconds=0,
        )
        return response.get("Messages", [])

    def event(self, messages: list[dict[str, Any]]) -> dict[str, Any]:
        return {
            "Records": [
                {
                    "messageId": m["MessageId"],
                    "receiptHandle": m["ReceiptHandle"],
                    "body": m["Body"],
                    "attributes": m.get("Attributes", {}),
                    "messageAttributes": {},
                    "md5OfBody": m["MD5OfBody"],
                    "eventSource": "aws:sqs",
                    "eventSourceARN": self.arn,
                    "awsRegion": "us-east-1",
                }
                for m in messages
            ]
        }

    def run(self, messages: list[dict[str, Any]]) -> list[str]:
        """Invoke the delivery function; delete what succeeded; return failed message ids."""
        response = self.invoke(self.function, self.event(messages))
        failed = [f["itemIdentifier"] for f in response["batchItemFailures"]]
        for m in messages:
            self.last_handles[m["MessageId"]] = m["ReceiptHandle"]
            if m["MessageId"] not in failed:
                self.sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=m["ReceiptHandle"])
        return failed

    def poll_once(self) -> tuple[list[dict[str, Any]], list[str]]:
        messages = self.receive()
        return messages, (self.run(messages) if messages else [])

    def fast_forward(self, message_id: str) -> None:
        """What the wait would do: make a retried message visible now."""
        self.sqs.change_message_visibility(
            QueueUrl=self.queue_url, ReceiptHandle=self.last_handles[message_id], VisibilityTimeout=0
        )

    def depth(self, url: str | None = None) -> int:
        attrs = self.sqs.get_queue_attributes(
            QueueUrl=url or self.queue_url,
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"]
        return int(attrs["ApproximateNumberOfMessages"]) + int(attrs["ApproximateNumberOfMessagesNotVisible"])


def visibility_spy(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Record every visibility the delivery logic sets (the real SQS call still happens)."""
    from roomcast import queue

    calls: list[int] = []
    real = queue.change_visibility

    def spy(queue_url: str, receipt_handle: str, seconds: int) -> None:
        calls.append(seconds)
        real(queue_url, receipt_handle, seconds)

    monkeypatch.setattr(queue, "change_visibility", spy)
    return calls
