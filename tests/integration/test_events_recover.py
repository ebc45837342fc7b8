"""An endpoint's failed batches: listed with their attempts, recovered with the same
webhook-id, through the admin API and the CLI; an endpoint failing for the documented
span is disabled. The injected clock plays the schedule (TEST_SCHEDULE: 10 s, 20 s)."""

from __future__ import annotations

import io
import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

import pytest

from roomcast.ids import iso
from roomcast.webhooks.signing import verify
from roomcast_cli.cli import main
from tests.conftest import ADMIN_KEY
from tests.helpers import http_event, ws_event
from tests.integration.events_support import EventsDriver, StreamReader, create_endpoint, run_stream
from tests.integration.webhook_support import (
    FakeClock,
    Reply,
    ScriptedReceiver,
    admin,
    create_room,
    injected_clock,
    provisioned_stack,
)


@pytest.fixture(name="clocked")
def clocked_fixture(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Any, FakeClock]]:
    with injected_clock(monkeypatch) as fake, provisioned_stack(
        monkeypatch, SECRET_MAX_AGE="0", EVENT_ENDPOINT_DISABLE_AFTER_SECONDS="25"
    ) as stack:
        yield stack, fake


def _say(invoke: Any, room: str, text: str) -> None:
    invoke("chat", ws_event("ws-join.json", body={"action": "join", "room_id": room}))
    reply = invoke("chat", ws_event("ws-send.json", body={"action": "send", "room_id": room, "text": text,
                                                           "client_msg_id": text}))
    assert '"ack"' in reply["body"], reply


def _play_schedule(driver: EventsDriver, fake: FakeClock, steps: list[int]) -> None:
    """Each failed attempt's wait passes on the clock; the message comes back."""
    messages, failed = driver.poll_once()
    assert len(messages) == 1
    for step in steps:
        assert failed, "expected a retry"
        fake.advance(step + 0.5)  # the message is hidden for the step (the clock is frozen else)
        messages, failed = driver.poll_once()
        assert len(messages) == 1


class AdminOverHttp:
    """The real admin handler behind a loopback HTTP server, for the CLI."""

    def __init__(self, invoke: Any) -> None:
        outer = self
        self.invoke = invoke

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                return

            def _any(self) -> None:
                parts = urlsplit(self.path)
                length = int(self.headers.get("content-length") or 0)
                event = http_event("http-get-room.json", api_key=self.headers.get("x-api-key"))
                event["rawPath"] = parts.path
                event["rawQueryString"] = parts.query
                event["queryStringParameters"] = dict(p.split("=", 1) for p in parts.query.split("&") if p) or None
                event["requestContext"]["http"].update(method=self.command, path=parts.path)
                event["routeKey"] = f"{self.command} {parts.path}"
                event["pathParameters"] = {}
                event["body"] = self.rfile.read(length).decode() if length else None
                response = outer.invoke("admin", event)
                body = (response.get("body") or "").encode()
                self.send_response(response["statusCode"])
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_GET = do_POST = _any

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def _cli(*argv: str) -> tuple[int, list[dict[str, Any]], str]:
    out, err = io.StringIO(), io.StringIO()
    code = main(list(argv), out=out, err=err)
    return code, [json.loads(line) for line in out.getvalue().splitlines()], err.getvalue()


def test_failed_batches_are_listed_and_recovered_with_the_same_webhook_id(clocked, invoke):
    stack, fake = clocked
    stream = StreamReader(stack)
    driver = EventsDriver(stack, invoke)
    api = AdminOverHttp(invoke)
    try:
        with ScriptedReceiver(default=Reply(status=500)) as receiver:
            endpoint = create_endpoint(admin, invoke, receiver.url, event_types=["message.created"])
            eid = endpoint["endpoint_id"]
            create_room(invoke, "flaky", None)
            # A batch's time is its first stream record's ApproximateCreationDateTime, which
            # moto stamps from the real clock (the injected one drives SQS and roomcast).
            started = iso(int(time.time() * 1000) - 60_000)
            _say(invoke, "flaky", "lost?")
            run_stream(invoke, stream.new())
            _play_schedule(driver, fake, [10, 20])
            assert len(receiver.requests) == 3
            first_id = receiver.requests[0].headers["webhook-id"]
            assert {r.headers["webhook-id"] for r in receiver.requests} == {first_id}

            code, rows, err = _cli("endpoints", "--api", api.url, "--key", ADMIN_KEY, "--endpoint", eid,
                                   "--status", "failed")
            assert code == 0, err
            (failed,) = rows
            assert failed["webhook_id"] == first_id and failed["attempt_count"] == 3
            assert [a["status_code"] for a in failed["attempts"]] == [500, 500, 500]
            assert [a["outcome"] for a in failed["attempts"]] == ["retry", "retry", "failed"]
            # The last attempt came 30 s after the first failure (> the 25 s span): disabled,
            # and a recovery waits for it to be re-enabled.
            status, shown = admin(invoke, "GET", f"/endpoints/{eid}")
            assert shown["enabled"] is False and shown["disabled_reason"] == "failing" and shown["failing_since"]
            code, rows, err = _cli("recover", "--api", api.url, "--key", ADMIN_KEY, "--endpoint", eid,
                                   "--since", started)
            assert code == 1 and "PATCH enabled=true" in err
            status, _ = admin(invoke, "PATCH", f"/endpoints/{eid}", {"enabled": True})
            assert status == 200

            receiver.default = Reply(status=200)
            code, rows, err = _cli("recover", "--api", api.url, "--key", ADMIN_KEY, "--endpoint", eid,
                                   "--since", started)
            assert code == 0 and rows[0]["recovered"] == 1, (rows, err)
            driver.drain()
            assert len(receiver.requests) == 4 and receiver.requests[3].headers["webhook-id"] == first_id
            # Signed at the injected clock's time: checked against it (standardwebhooks reads the real one).
            assert verify(endpoint["secret"], receiver.requests[3].body, receiver.requests[3].headers, int(fake.now()))
            code, rows, _ = _cli("endpoints", "--api", api.url, "--key", ADMIN_KEY, "--endpoint", eid)
            assert [(r["status"], r["attempt_count"]) for r in rows] == [("delivered", 4)]
            code, rows, _ = _cli("endpoints", "--api", api.url, "--key", ADMIN_KEY)
            assert [r["endpoint_id"] for r in rows] == [eid] and "failing_since" not in rows[0]
            # A recovery since later than the batch finds nothing.
            code, rows, _ = _cli("recover", "--api", api.url, "--key", ADMIN_KEY, "--endpoint", eid,
                                 "--since", iso(int(fake.now() * 1000) + 60_000))
            assert rows[0]["recovered"] == 0
            status, body = admin(invoke, "POST", f"/endpoints/{eid}/recover", {"since": "yesterday"})
            assert status == 400 and body["code"] == "bad_request"
    finally:
        api.close()


def test_an_endpoint_failing_for_the_span_is_disabled(clocked, invoke):
    stack, fake = clocked
    stream = StreamReader(stack)
    driver = EventsDriver(stack, invoke)
    with ScriptedReceiver(default=Reply(status=503)) as receiver:
        endpoint = create_endpoint(admin, invoke, receiver.url, event_types=["message.created"])
        eid = endpoint["endpoint_id"]
        create_room(invoke, "down", None)
        _say(invoke, "down", "x")
        run_stream(invoke, stream.new())
        # Attempts at 0 s and 10 s keep it enabled; the one at 30 s (failing for 30 s >= 25 s) disables it.
        driver.poll_once()
        fake.advance(10.5)
        driver.poll_once()
        status, shown = admin(invoke, "GET", f"/endpoints/{eid}")
        assert status == 200 and shown["enabled"] is True
        fake.advance(20.5)
        driver.drain()
        _, shown = admin(invoke, "GET", f"/endpoints/{eid}")
        assert shown["enabled"] is False and shown["disabled_reason"] == "failing"
        sent = len(receiver.requests)
        _say(invoke, "down", "y")
        run_stream(invoke, stream.new())
        driver.drain()
        assert len(receiver.requests) == sent == 3
