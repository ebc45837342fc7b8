"""The local runtime's parts, without starting it: reading the real template, HTTP API
routing and response rules, Lambda SQS records, and warm worker processes."""

from __future__ import annotations

import json
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from roomcast_local import template as tpl
from roomcast_local.cfn import load_template, resources_of_type
from roomcast_local.httpserver import HttpApiRouter, http_api_event, http_api_response
from roomcast_local.sqs import lambda_record
from roomcast_local.workers import FunctionPool, InvokeError, worker_environment
from roomcast_local.wsgateway import new_connection_id

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def template() -> dict:
    return load_template(ROOT / "template.yaml")


def test_every_template_function_is_runnable_locally(template: dict) -> None:
    specs = tpl.functions(template, ROOT)
    assert set(specs) == set(resources_of_type(template, tpl.SERVERLESS_FUNCTION))
    for spec in specs.values():
        module = spec.handler.rpartition(".")[0].replace(".", "/")
        assert (spec.code_dir / f"{module}.py").is_file(), spec
        assert spec.layer_dirs == [ROOT / "layers" / "roomcast"]
    assert specs["AuthorizerFunction"].memory_mb == 256  # its own over Globals' 512
    assert specs["ChatFunction"].timeout == 29


def test_every_websocket_route_maps_to_a_function(template: dict) -> None:
    (api,) = tpl.websocket_apis(template)
    assert api.selection_expression == "$request.body.action"
    declared = {r["Properties"]["RouteKey"] for r in resources_of_type(template, "AWS::ApiGatewayV2::Route").values()}
    assert set(api.routes) == declared
    assert api.routes["$connect"].authorizer_function == "AuthorizerFunction"
    assert api.routes["$connect"].function == "ConnectFunction"
    assert api.routes["$disconnect"].function == "DisconnectFunction"
    assert api.routes["$default"].two_way and api.routes["join"].two_way
    assert not api.routes["$disconnect"].two_way
    assert all(route.function for route in api.routes.values())


def test_http_routes_and_sqs_sources_come_from_function_events(template: dict) -> None:
    keys = {(r.route_key, r.function) for r in tpl.http_routes(template)}
    assert ("GET /rooms/{room_id}", "AdminFunction") in keys
    assert ("POST /tokens", "AdminFunction") in keys
    sources = {s.function: s for s in tpl.sqs_sources(template)}
    for source in sources.values():
        assert source.queue_logical_id in resources_of_type(template, "AWS::SQS::Queue")
    if "DeliveryFunction" in sources:
        delivery = sources["DeliveryFunction"]
        assert delivery.report_batch_item_failures and delivery.batch_size == 10
        assert delivery.max_concurrency == 5


def test_http_api_routing_prefers_the_most_specific_route() -> None:
    router = HttpApiRouter(
        [
            tpl.HttpRoute("ANY", "$default", "Fallback", "Api"),
            tpl.HttpRoute("ANY", "/files/{proxy+}", "Files", "Api"),
            tpl.HttpRoute("GET", "/rooms/{room_id}", "Room", "Api"),
            tpl.HttpRoute("GET", "/rooms/special", "Special", "Api"),
            tpl.HttpRoute("DELETE", "/rooms/{room_id}", "Close", "Api"),
        ]
    )
    assert router.match("GET", "/rooms/special")[0].function == "Special"  # type: ignore[index]
    route, params = router.match("GET", "/rooms/r%2F1")  # type: ignore[misc]
    assert (route.function, params) == ("Room", {"room_id": "r/1"})
    assert router.match("DELETE", "/rooms/x")[0].function == "Close"  # type: ignore[index]
    route, params = router.match("POST", "/files/a/b")  # type: ignore[misc]
    assert (route.function, params) == ("Files", {"proxy": "a/b"})
    assert router.match("PATCH", "/rooms/x")[0].function == "Fallback"  # type: ignore[index]
    assert HttpApiRouter([tpl.HttpRoute("GET", "/a", "A", "Api")]).match("GET", "/b") is None


def test_http_api_v2_event_and_response_rules() -> None:
    route = tpl.HttpRoute("POST", "/rooms", "Admin", "AdminHttpApi")
    event = http_api_event(
        route, {}, "POST", "/rooms", "x=1&x=2", [("Content-Type", "application/json"), ("X-Api-Key", "k")],
        b'{"name": "n"}', "127.0.0.1", "localhost:3000",
    )
    assert event["routeKey"] == "POST /rooms" and event["version"] == "2.0"
    assert event["headers"] == {"content-type": "application/json", "x-api-key": "k"}
    assert event["queryStringParameters"] == {"x": "1,2"}
    assert json.loads(event["body"]) == {"name": "n"} and event["isBase64Encoded"] is False
    assert "pathParameters" not in event
    assert http_api_response({"a": 1}) == (200, [("Content-Type", "application/json")], b'{"a": 1}')
    assert http_api_response("text") == (200, [("Content-Type", "application/json")], b'"text"')
    status, headers, body = http_api_response(
        {"statusCode": 204, "headers": {"x": "1"}, "cookies": ["a=b"], "body": None}
    )
    assert (status, body) == (204, b"")
    assert ("Set-Cookie", "a=b") in headers and ("x", "1") in headers
    assert http_api_response({"statusCode": 200, "body": "aGk=", "isBase64Encoded": True})[2] == b"hi"


def test_lambda_sqs_record_shape() -> None:
    record = lambda_record(
        {
            "MessageId": "m1",
            "ReceiptHandle": "rh",
            "Body": "{}",
            "MD5OfBody": "99914b932bd37a50b76c8cc0dc4bd2a3",
            "Attributes": {"ApproximateReceiveCount": "3", "SentTimestamp": "1", "Other": "x"},
            "MessageAttributes": {"k": {"DataType": "String", "StringValue": "v"}},
        },
        "arn:aws:sqs:us-east-1:123456789012:q",
        "us-east-1",
    )
    assert record["messageId"] == "m1" and record["receiptHandle"] == "rh"
    assert record["attributes"] == {"ApproximateReceiveCount": "3", "SentTimestamp": "1"}
    assert record["messageAttributes"] == {
        "k": {"stringValue": "v", "stringListValues": [], "binaryListValues": [], "dataType": "String"}
    }
    assert record["eventSource"] == "aws:sqs" and record["eventSourceARN"].endswith(":q")


def test_connection_ids_look_like_api_gateways() -> None:
    ids = {new_connection_id() for _ in range(200)}
    assert len(ids) == 200
    assert all(len(i) == 16 and i.endswith("=") and i[:-1].isalnum() for i in ids)


# ---------------------------------------------------------------------- workers


@pytest.fixture
def pool(tmp_path: Path) -> Iterator[FunctionPool]:
    code = tmp_path / "code"
    code.mkdir()
    (code / "app.py").write_text(
        textwrap.dedent(
            """
            import os, time
            calls = 0

            def handler(event, context):
                global calls
                calls += 1
                if event.get("sleep"):
                    time.sleep(event["sleep"])
                if event.get("raise"):
                    raise ValueError("bad input")
                print("a log line")
                return {"calls": calls, "pid": os.getpid(), "color": os.environ.get("COLOR"),
                        "remaining": context.get_remaining_time_in_millis(),
                        "name": context.function_name}
            """
        )
    )
    spec = tpl.FunctionSpec("Fn", code, "app.handler", timeout=1.0, memory_mb=128, layer_dirs=[])
    lines: list[tuple[str, str]] = []
    env = worker_environment(spec, "stack-Fn", {"COLOR": "blue"}, "us-east-1", {})
    created = FunctionPool(spec, env, max_workers=1, log=lambda label, line: lines.append((label, line)))
    created.lines = lines  # type: ignore[attr-defined]
    yield created
    for worker in created.close():
        worker.wait_or_kill(0)


def test_worker_keeps_state_enforces_timeout_and_reports_errors(pool: FunctionPool) -> None:
    first = pool.invoke({})
    second = pool.invoke({})
    assert first.init_ms is not None and second.init_ms is None  # one cold start
    assert (first.result["calls"], second.result["calls"]) == (1, 2)
    assert first.result["pid"] == second.result["pid"]
    assert first.result["color"] == "blue" and first.result["name"] == "stack-Fn"
    assert 0 < first.result["remaining"] <= 1000
    with pytest.raises(InvokeError) as failed:
        pool.invoke({"raise": True})
    assert failed.value.error["errorType"] == "ValueError"
    assert pool.invoke({}).result["calls"] == 4  # an error does not end the environment
    with pytest.raises(InvokeError) as timed_out:
        pool.invoke({"sleep": 5})
    assert timed_out.value.error["errorType"] == "Sandbox.Timedout"
    fresh = pool.invoke({})
    assert fresh.init_ms is not None and fresh.result["calls"] == 1  # a new environment
    assert fresh.result["pid"] != first.result["pid"]
    logged = [line for _, line in pool.lines]  # type: ignore[attr-defined]
    assert "a log line" in logged
    assert any(line.startswith("cold start: Init Duration") for line in logged)
    assert "Task timed out after 1.00 seconds" in logged


def test_identity_sources_must_all_be_present_before_the_authorizer_runs() -> None:
    from roomcast_local.wsgateway import Conn, _identity_present

    def conn(headers: dict[str, str], query: dict[str, str] | None) -> Conn:
        return Conn("c=", 0, "127.0.0.1", "", headers, {}, query, None)

    sources = ["route.request.header.Auth", "route.request.querystring.token"]
    assert _identity_present(sources, conn({"auth": "x"}, {"token": "t"}))
    assert not _identity_present(sources, conn({"auth": "x"}, None))
    assert not _identity_present(sources, conn({}, {"token": "t"}))
    assert _identity_present([], conn({}, None))
