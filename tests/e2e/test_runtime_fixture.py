"""The local runtime against a small fixture template (tests/e2e/runtime_fixture): what
it reads from a template, how it shapes events and responses, workers, timeouts, the
idle timeout and lifetime, SQS event sources with partial failures and redrive, and a
clean Ctrl-C."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from roomcast_local.harness import RunningRuntime, child_pids, start_runtime
from tests.e2e.aio import run

pytestmark = pytest.mark.e2e
FIXTURE = Path(__file__).parent / "runtime_fixture" / "template.yaml"
WAIT = 20


@pytest.fixture(scope="module")
def fixture_runtime(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningRuntime]:
    logs = tmp_path_factory.mktemp("fixture-runtime")
    runtime = start_runtime(
        "--no-receiver",
        "--idle-timeout",
        "2",
        "--max-connection-seconds",
        "6",
        "--max-concurrency",
        "2",
        template=FIXTURE,
        log_path=logs / "runtime.log",
        env={"ROOMCAST_FIXTURE_PARENT_ONLY": "leak"},
    )
    try:
        yield runtime
    finally:
        assert runtime.stop() == 0, runtime.log_text()[-3000:]


def aws(runtime: RunningRuntime, service: str) -> Any:
    return boto3.client(
        service,
        endpoint_url=runtime.moto_url,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


def table_item(runtime: RunningRuntime, pk: str, wait: float = WAIT) -> dict[str, Any] | None:
    client = aws(runtime, "dynamodb")
    table = client.list_tables()["TableNames"][0]
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline:
        item = client.get_item(TableName=table, Key={"pk": {"S": pk}}).get("Item")
        if item:
            return item
        time.sleep(0.2)
    return None


# ---------------------------------------------------------------------- HTTP API


def test_http_api_event_is_payload_v2(fixture_runtime: RunningRuntime) -> None:
    status, body = fixture_runtime.request(
        "GET",
        fixture_runtime.admin_api_url + "/echo/W%C3%B6rld?a=1&a=2&b=",
        headers={"X-Custom": "v", "Cookie": "c=1; d=2"},
    )
    assert status == 201
    assert body["version"] == "2.0"
    assert body["routeKey"] == "GET /echo/{name}"
    # As an HTTP API passes it: the path decoded once (docs/local-runtime.md).
    assert body["rawPath"] == "/echo/Wörld"
    assert body["rawQueryString"] == "a=1&a=2&b="
    assert body["queryStringParameters"] == {"a": "1,2", "b": ""}
    assert body["pathParameters"] == {"name": "Wörld"}
    assert body["headers"]["x-custom"] == "v"
    assert body["cookies"] == ["c=1", "d=2"]
    assert body["requestContext"]["http"]["method"] == "GET"
    assert body["requestContext"]["http"]["sourceIp"] == "127.0.0.1"
    assert body["isBase64Encoded"] is False and "body" not in body


def test_http_api_greedy_path_body_and_response_headers(fixture_runtime: RunningRuntime) -> None:
    import urllib.request

    request = urllib.request.Request(  # noqa: S310 - loopback http
        fixture_runtime.admin_api_url + "/files/a/b/c.txt",
        data=b"\x00\x01binary",
        method="PUT",
        headers={"Content-Type": "application/octet-stream"},
    )
    with urllib.request.urlopen(request, timeout=WAIT) as response:  # noqa: S310 - loopback
        headers = response.headers
        event = json.loads(response.read())
    assert headers["x-fixture"] == "yes"
    assert headers["Set-Cookie"] == "session=abc; Path=/"
    assert event["routeKey"] == "ANY /files/{proxy+}"
    assert event["pathParameters"] == {"proxy": "a/b/c.txt"}
    assert event["isBase64Encoded"] is True and event["body"] == "AAFiaW5hcnk="


def test_a_result_without_status_code_is_a_json_200(fixture_runtime: RunningRuntime) -> None:
    assert fixture_runtime.request("GET", fixture_runtime.admin_api_url + "/plain") == (
        200,
        {"plain": True},
    )


def test_a_handler_error_is_a_500_without_details(fixture_runtime: RunningRuntime) -> None:
    status, body = fixture_runtime.request("GET", fixture_runtime.admin_api_url + "/boom")
    assert (status, body) == (500, {"message": "Internal Server Error"})


def test_warm_worker_keeps_module_state_and_sees_only_its_environment(
    fixture_runtime: RunningRuntime,
) -> None:
    _, first = fixture_runtime.request("GET", fixture_runtime.admin_api_url + "/state")
    _, second = fixture_runtime.request("GET", fixture_runtime.admin_api_url + "/state")
    assert second["pid"] == first["pid"]
    assert second["invocations"] == first["invocations"] + 1
    assert first["greeting"] == "hello-from-function"  # the function's value over Globals'
    assert first["queue_arn"].endswith(":roomcast-local-WorkQueue")  # !GetAtt resolved
    assert first["endpoint"] == fixture_runtime.moto_url
    assert first["management"] == fixture_runtime.management_url
    assert first["function_name"] == "roomcast-local-HttpFunction"
    assert first["memory"] == 128
    assert first["arn"].endswith(":function:roomcast-local-HttpFunction")
    assert 0 < first["remaining_ms"] <= 5000
    assert first["request_id"] != second["request_id"]
    assert first["leaked"] is None  # the runtime's own environment stays out
    assert (
        "[HttpFunction#" in fixture_runtime.log_text()
        and "cold start: Init Duration" in fixture_runtime.log_text()
    )


def test_timeout_kills_the_worker_and_the_next_call_gets_a_fresh_one(
    fixture_runtime: RunningRuntime,
) -> None:
    status, _ = fixture_runtime.request("GET", fixture_runtime.admin_api_url + "/slow")
    assert status == 500
    assert "Task timed out after 1.00 seconds" in fixture_runtime.log_text()
    status, _ = fixture_runtime.request("GET", fixture_runtime.admin_api_url + "/slow")
    assert status == 500
    assert fixture_runtime.log_text().count("[SlowFunction#") >= 2


# ---------------------------------------------------------------------- WebSocket


async def ask(ws: ClientConnection, frame: dict[str, Any]) -> dict[str, Any]:
    await ws.send(json.dumps(frame))
    return json.loads(await asyncio.wait_for(ws.recv(), WAIT))


def test_route_selection_reads_the_template_expression(fixture_runtime: RunningRuntime) -> None:
    async def scenario() -> list[dict[str, Any]]:
        async with connect(fixture_runtime.ws_url + "?user=zoe") as ws:
            return [
                await ask(ws, {"op": "echo", "x": 1}),
                await ask(ws, {"action": "echo"}),  # not the selection key: $default
                await ask(ws, {"op": "nope"}),
                await ask(ws, {"op": "$connect"}),  # $-routes are never selected by a body
            ]

    echo, default, unknown, dollar = run(scenario())
    assert echo["route"] == "echo" and echo["eventType"] == "MESSAGE" and echo["stage"] == "dev"
    assert echo["body"] == {"op": "echo", "x": 1}
    assert echo["authorizer"]["principalId"] == "zoe"
    assert echo["authorizer"]["plan"] == "gold" and echo["authorizer"]["level"] == 3
    assert default["route"] == unknown["route"] == dollar["route"] == "$default"


def test_binary_frames_reach_default_base64_encoded(fixture_runtime: RunningRuntime) -> None:
    async def scenario() -> dict[str, Any]:
        async with connect(fixture_runtime.ws_url) as ws:
            await ws.send(b"\x01\x02")
            return json.loads(await asyncio.wait_for(ws.recv(), WAIT))

    reply = run(scenario())
    assert (
        reply["route"] == "$default"
        and reply["isBase64Encoded"] is True
        and reply["body"] == {"binary": "AQI="}
    )


def test_one_way_route_sends_nothing_back_and_errors_get_api_gateways_frame(
    fixture_runtime: RunningRuntime,
) -> None:
    async def scenario() -> tuple[dict[str, Any], dict[str, Any]]:
        async with connect(fixture_runtime.ws_url) as ws:
            await ws.send(json.dumps({"op": "oneway"}))
            # Frames of one connection are handled in order: the next reply is the echo's.
            echoed = await ask(ws, {"op": "echo"})
            crashed = await ask(ws, {"op": "echo", "crash": True})
            return echoed, crashed

    echoed, crashed = run(scenario())
    assert echoed["route"] == "echo"
    assert table_item(fixture_runtime, "oneway#" + echoed["connectionId"]) is not None
    assert crashed["message"] == "Internal server error"
    assert crashed["connectionId"] == echoed["connectionId"] and crashed["requestId"]


def test_route_responses_over_128_kb_are_not_sent(fixture_runtime: RunningRuntime) -> None:
    """API Gateway's 128 KB per message holds for route responses as for @connections posts:
    at the limit the reply goes out, one byte over it the caller gets the failed-integration
    frame and the socket stays open."""
    async def scenario() -> tuple[str, dict[str, Any], dict[str, Any]]:
        async with connect(fixture_runtime.ws_url, max_size=None) as ws:
            await ws.send(json.dumps({"op": "echo", "pad": 128 * 1024}))
            at_limit = await asyncio.wait_for(ws.recv(), WAIT)
            await ws.send(json.dumps({"op": "echo", "pad": 128 * 1024 + 1}))
            over = json.loads(await asyncio.wait_for(ws.recv(), WAIT))
            return at_limit, over, await ask(ws, {"op": "echo"})

    at_limit, over, after = run(scenario())
    assert len(at_limit) == 128 * 1024
    assert over["message"] == "Internal server error" and over["connectionId"] and over["requestId"]
    assert after["route"] == "echo"


def test_connect_response_selects_the_subprotocol(fixture_runtime: RunningRuntime) -> None:
    async def scenario() -> str | None:
        async with connect(fixture_runtime.ws_url, subprotocols=["other", "echo.v1"]) as ws:  # type: ignore[list-item]
            return ws.subprotocol

    assert run(scenario()) == "echo.v1"


@pytest.mark.parametrize(
    ("query", "status"), [("deny=1", 403), ("unauth=1", 401), ("refuse=1", 403)]
)
def test_authorizer_and_connect_refusals(
    fixture_runtime: RunningRuntime, query: str, status: int
) -> None:
    async def scenario() -> None:
        async with connect(f"{fixture_runtime.ws_url}?{query}"):
            pass

    with pytest.raises(InvalidStatus) as refused:
        run(scenario())
    assert refused.value.response.status_code == status


def test_idle_connection_is_closed_and_disconnect_runs(fixture_runtime: RunningRuntime) -> None:
    async def scenario() -> tuple[str, int | None]:
        async with connect(fixture_runtime.ws_url) as ws:
            cid = (await ask(ws, {"op": "echo"}))["connectionId"]
            with pytest.raises(ConnectionClosed):
                await asyncio.wait_for(ws.recv(), WAIT)  # nothing is sent: idle (2 s here)
            return cid, ws.close_code

    cid, code = run(scenario())
    assert code == 1001
    item = table_item(fixture_runtime, "disconnect#" + cid)
    assert item is not None and item["code"]["N"] == "1001"


def test_connection_lifetime_ends_an_active_connection(fixture_runtime: RunningRuntime) -> None:
    async def scenario() -> tuple[int, int | None]:
        async with connect(fixture_runtime.ws_url) as ws:
            answered = 0
            try:
                for _ in range(40):  # busy, never idle: well past the 6 s lifetime
                    await ask(ws, {"op": "echo"})
                    answered += 1
                    await asyncio.sleep(0.5)
            except ConnectionClosed:
                pass
            return answered, ws.close_code

    answered, code = run(scenario())
    assert 0 < answered < 40
    assert code == 1001


# ---------------------------------------------------------------------- SQS


def test_sqs_source_partial_failures_and_redrive(fixture_runtime: RunningRuntime) -> None:
    sqs = aws(fixture_runtime, "sqs")
    queue = sqs.get_queue_url(QueueName="roomcast-local-WorkQueue")["QueueUrl"]
    dlq = sqs.get_queue_url(QueueName="roomcast-local-DeadLetters")["QueueUrl"]
    for body in ("ok-1", "ok-2", "fail-1", "ok-3"):
        sqs.send_message(
            QueueUrl=queue,
            MessageBody=body,
            MessageAttributes={"kind": {"DataType": "String", "StringValue": "t"}},
        )
    for body in ("ok-1", "ok-2", "ok-3"):
        item = table_item(fixture_runtime, "sqs#" + body)
        assert item is not None, body
        record = json.loads(item["record"]["S"])
        assert record["eventSource"] == "aws:sqs"
        assert record["eventSourceARN"].endswith(":roomcast-local-WorkQueue")
        # >= 1: a cold start can outlast the 1 s visibility timeout, and then SQS (like
        # Lambda's poller) hands the message out again - the at-least-once that handlers
        # must tolerate.
        assert int(record["attributes"]["ApproximateReceiveCount"]) >= 1
        assert record["messageAttributes"]["kind"]["stringValue"] == "t"
        assert record["awsRegion"] == "us-east-1" and record["receiptHandle"]
        assert 1 <= int(item["batch_size"]["N"]) <= 5
    # The failed record stays on the queue, comes back after its visibility timeout, and
    # after maxReceiveCount (2) receives lands in the DLQ; the successes were deleted.
    dead: list[str] = []
    deadline = time.monotonic() + 40
    while not dead and time.monotonic() < deadline:
        received = sqs.receive_message(QueueUrl=dlq, WaitTimeSeconds=1, MaxNumberOfMessages=10)
        dead = [m["Body"] for m in received.get("Messages", [])]
    assert dead == ["fail-1"]
    attributes = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["All"])["Attributes"]
    assert attributes["ApproximateNumberOfMessages"] == "0"
    assert attributes["ApproximateNumberOfMessagesNotVisible"] == "0"


# ---------------------------------------------------------------------- Ctrl-C


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="reads worker pids from /proc")
def test_ctrl_c_stops_everything_and_exits_zero(tmp_path: Path) -> None:
    runtime = start_runtime("--no-receiver", template=FIXTURE, log_path=tmp_path / "runtime.log")
    try:
        status, _ = runtime.request("GET", runtime.admin_api_url + "/plain")  # a warm worker
        assert status == 200

        async def hold() -> None:
            async with connect(runtime.ws_url) as ws:
                await ask(ws, {"op": "echo"})
                runtime.interrupt()  # Ctrl-C: SIGINT to the whole process group
                with pytest.raises(ConnectionClosed):
                    await asyncio.wait_for(ws.recv(), WAIT)
                assert ws.close_code == 1001

        workers = child_pids(runtime.process.pid)
        assert workers
        run(hold())
        assert runtime.process.wait(timeout=30) == 0
    finally:
        runtime.stop()
    log = runtime.log_text()
    assert "stopping" in log and "stopped" in log and "Traceback" not in log
    alive = [pid for pid in workers if Path(f"/proc/{pid}").exists() and "Z" not in _state(pid)]
    assert alive == []


def _state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return "gone"


def test_env_flag_overrides_every_functions_environment(runtime_factory: Any) -> None:
    runtime = runtime_factory("--no-receiver", "--env", "GREETING=from-flag", template=FIXTURE)
    status, state = runtime.request("GET", runtime.admin_api_url + "/state")
    assert status == 200 and state["greeting"] == "from-flag"
