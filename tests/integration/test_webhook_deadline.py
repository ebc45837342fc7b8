"""Receivers that hold an attempt (drip one byte a second, never answer), a short Lambda
remaining time, 503 Retry-After, an IDN host, short secrets, and a schedule that
disagrees with the queue's receive budget - against real loopback servers and moto."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress

import pytest

from tests.conftest import LambdaContext, load_handler
from tests.integration.webhook_support import (
    QueueDriver,
    Reply,
    ScriptedReceiver,
    admin,
    create_room,
    only_delivery,
    provisioned_stack,
    visibility_spy,
    webhook_stack_fixture,  # noqa: F401 - the webhook_stack fixture
)

ANSWER = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok"


@contextmanager
def slow_server(drip: bool) -> Iterator[tuple[str, list[float]]]:
    """A raw TCP receiver: reads the request, then drips ANSWER one byte a second (drip)
    or never writes a byte. Yields its URL and the times each connection was closed."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    listener.settimeout(0.2)
    closed: list[float] = []
    stop = threading.Event()

    def serve(conn: socket.socket) -> None:
        conn.settimeout(0.5)
        try:
            with conn:
                with suppress(TimeoutError):
                    conn.recv(65536)
                for index in range(len(ANSWER) if drip else 120):
                    if stop.is_set():
                        return
                    if drip:
                        conn.sendall(ANSWER[index : index + 1])
                    time.sleep(1 if drip else 0.5)
                    if not drip:
                        try:
                            if conn.recv(1) == b"":
                                break  # the sender gave up
                        except TimeoutError:
                            continue
        except OSError:
            pass
        finally:
            closed.append(time.monotonic())

    def accept() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            threading.Thread(target=serve, args=(conn,), daemon=True).start()

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}/hook", closed
    finally:
        stop.set()
        listener.close()
        thread.join(timeout=5)


class ShortContext(LambdaContext):
    def __init__(self, remaining_ms: int) -> None:
        self.remaining = remaining_ms

    def get_remaining_time_in_millis(self) -> int:
        return self.remaining


@pytest.mark.parametrize("drip", [True, False], ids=["drips-a-byte-a-second", "never-answers"])
def test_an_attempt_ends_at_its_deadline_and_the_next_follows_the_schedule(monkeypatch, invoke, drip):
    # Per-read timeout 10 s: a byte a second never trips it; only the deadline (2 s) ends the attempt.
    with provisioned_stack(monkeypatch, WEBHOOK_READ_TIMEOUT="10", WEBHOOK_ATTEMPT_TIMEOUT="2") as stack:
        visibility = visibility_spy(monkeypatch)
        with slow_server(drip) as (url, _closed):
            create_room(invoke, "slow", url)
            assert admin(invoke, "DELETE", "/rooms/slow")[0] == 202
            driver = QueueDriver(stack, invoke)
            for expected_wait in (10, 20):
                started = time.monotonic()
                messages, failed = driver.poll_once()
                took = time.monotonic() - started
                assert failed == [messages[0]["MessageId"]]
                assert 2 <= took < 5, took  # the deadline, plus the bookkeeping
                assert visibility[-1] == expected_wait  # the schedule's step, as for any failure
                driver.fast_forward(failed[0])
        attempts = only_delivery(invoke, "slow")["attempts"]
        assert [a["error"] for a in attempts] == ["deadline_exceeded", "deadline_exceeded"]
        assert all(2000 <= a["latency_ms"] < 3500 for a in attempts), attempts
        assert [a["outcome"] for a in attempts] == ["retry", "retry"]


def test_a_short_remaining_time_never_loses_an_attempt(monkeypatch):
    with provisioned_stack(monkeypatch, WEBHOOK_READ_TIMEOUT="10", WEBHOOK_ATTEMPT_TIMEOUT="20") as stack:
        visibility = visibility_spy(monkeypatch)
        handler = load_handler("delivery").lambda_handler

        def invoke_with(remaining_ms: int):
            return lambda function, event: load_handler(function).lambda_handler(event, ShortContext(remaining_ms))

        invoke = invoke_with(30_000)
        with slow_server(drip=False) as (url, _closed):
            create_room(invoke, "late-in-the-invocation", url)
            assert admin(invoke, "DELETE", "/rooms/late-in-the-invocation")[0] == 202
            driver = QueueDriver(stack, invoke_with(3_000))  # less than the bookkeeping reserve
            messages, failed = driver.poll_once()
            assert failed == [messages[0]["MessageId"]] and visibility == [10]
            (attempt,) = only_delivery(invoke, "late-in-the-invocation")["attempts"]
            assert attempt["error"] == "function_time_exhausted" and attempt["outcome"] == "retry"
            assert "status_code" not in attempt

            # 7.5 s left: the attempt's deadline is cut to 2.5 s so that its record still fits.
            driver.fast_forward(failed[0])
            driver.invoke = invoke_with(7_500)
            started = time.monotonic()
            messages, failed = driver.poll_once()
            assert time.monotonic() - started < 5
            assert failed == [messages[0]["MessageId"]] and visibility == [10, 20]
        second = only_delivery(invoke, "late-in-the-invocation")["attempts"][1]
        assert second["error"] == "deadline_exceeded" and 2500 <= second["latency_ms"] < 4000
        assert handler is load_handler("delivery").lambda_handler


def test_503_retry_after_is_honoured(webhook_stack, invoke, monkeypatch):
    visibility = visibility_spy(monkeypatch)
    with ScriptedReceiver([Reply(503, b"busy", {"Retry-After": "7"}), Reply(200)]) as receiver:
        create_room(invoke, "busy", receiver.url)
        assert admin(invoke, "DELETE", "/rooms/busy")[0] == 202
        driver = QueueDriver(webhook_stack, invoke)
        messages, failed = driver.poll_once()
        assert failed == [messages[0]["MessageId"]]
        assert visibility == [7]  # not the schedule's 10 s
        driver.fast_forward(failed[0])
        messages, failed = driver.poll_once()
        assert failed == []
    delivery = only_delivery(invoke, "busy")
    assert delivery["status"] == "delivered"
    assert delivery["attempts"][0]["next_retry_in_seconds"] == 7


def test_an_idn_host_is_checked_resolved_and_sent_as_punycode(webhook_stack, invoke, monkeypatch):
    from roomcast.webhooks import ssrf

    asked: list[str] = []
    real = socket.getaddrinfo

    def getaddrinfo(host, port, *args, **kwargs):
        asked.append(host)
        if host == "xn--e1aybc.localhost":  # тест.localhost -> this machine's loopback receiver
            return real("127.0.0.1", port, *args, **kwargs)
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(ssrf.socket, "getaddrinfo", getaddrinfo)
    with ScriptedReceiver() as receiver:
        port = receiver.server.server_address[1]
        create_room(invoke, "idn", f"http://тест.localhost:{port}/hooks")
        assert admin(invoke, "DELETE", "/rooms/idn")[0] == 202
        driver = QueueDriver(webhook_stack, invoke)
        _, failed = driver.poll_once()
        assert failed == []
    (request,) = receiver.requests
    assert request.headers["host"] == f"xn--e1aybc.localhost:{port}"
    # Checked at creation and again at send, in IDNA form; the connection goes to the checked IP.
    assert asked.count("xn--e1aybc.localhost") == 2 and set(asked) == {"xn--e1aybc.localhost", "127.0.0.1"}
    assert only_delivery(invoke, "idn")["status"] == "delivered"


@pytest.mark.parametrize(
    "url",
    ["https://exa\u200dmple\u0000.com/hook", "https://a\u2028b.example/hook", "https://xn--.example/hook\u00ad"],
)
def test_a_host_without_an_idna_form_is_refused_at_creation(webhook_stack, invoke, url):
    status, body = admin(
        invoke, "POST", "/rooms", {"room_id": "bad-idn", "name": "x", "admin_user_ids": ["a"], "callback_url": url}
    )
    assert status == 400 and body["code"] == "unsafe_url", body


def test_a_secret_under_24_bytes_is_a_clear_400(webhook_stack, invoke):
    import base64

    for size, expected in ((16, 400), (23, 400), (24, 201)):
        secret = "whsec_" + base64.b64encode(b"k" * size).decode()
        status, body = admin(invoke, "POST", "/rooms", {
            "room_id": f"secret-{size}", "name": "x", "admin_user_ids": ["a"],
            "callback_url": "http://127.0.0.1:9/hook", "webhook_secret": secret,
        })
        assert status == expected, (size, body)
        if expected == 400:
            assert body["code"] == "bad_request" and body["message"].startswith("webhook_secret: "), body
            assert "at least 24 bytes" in json.dumps(body) and f"decodes to {size}" in json.dumps(body)


def test_a_schedule_that_disagrees_with_the_receive_budget_is_refused_at_cold_start(monkeypatch):
    import importlib.util

    from roomcast.logic.delivery import ScheduleMismatch
    from tests.conftest import ROOT

    # The queue keeps the production default's 19 receives; the function is told 3,6.
    with provisioned_stack(monkeypatch, "3,6", max_receive=19) as stack:
        spec = importlib.util.spec_from_file_location("fn_delivery_cold", ROOT / "functions" / "delivery" / "app.py")
        assert spec and spec.loader
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)  # a fresh execution environment
        invoke = lambda function, event: load_handler(function).lambda_handler(event, LambdaContext())  # noqa: E731
        with ScriptedReceiver() as receiver:
            create_room(invoke, "mismatch", receiver.url)
            assert admin(invoke, "DELETE", "/rooms/mismatch")[0] == 202
            driver = QueueDriver(stack, invoke)
            messages = driver.receive()
            with pytest.raises(ScheduleMismatch) as refused:
                module.lambda_handler(driver.event(messages), LambdaContext())  # its first invocation
            assert receiver.requests == []  # refused before any job was touched
            assert admin(invoke, "GET", "/rooms/mismatch/deliveries")[1]["deliveries"][0]["attempt_count"] == 0
    message = str(refused.value)
    assert "WEBHOOK_SCHEDULE=3,6 plans 3 receives" in message and "maxReceiveCount 19" in message
    assert "WebhookMaxReceiveCount=3" in message
