"""The admin HTTP API's gateway-level Lambda authorizer (issue 9 item 7): the function
itself, the template wiring every route but /health to it, and the local runtime's HTTP
server running it as API Gateway does (401 without the header, 403 for a wrong key, the
admin function never invoked for either, answers cached per key)."""

from __future__ import annotations

import json
import threading
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from roomcast_local import template as tpl
from roomcast_local.cfn import load_template
from roomcast_local.httpserver import API_PREFIX, LocalHttpServer
from tests.conftest import ADMIN_KEY
from tests.helpers import http_event

ROOT = Path(__file__).resolve().parents[2]


def test_the_authorizer_function_compares_the_key(stack, invoke):
    assert invoke("adminauth", http_event("http-health.json")) == {"isAuthorized": True}
    assert invoke("adminauth", http_event("http-health.json", api_key="wrong")) == {"isAuthorized": False}
    assert invoke("adminauth", http_event("http-health.json", api_key=None)) == {"isAuthorized": False}


def test_every_admin_route_but_health_is_behind_the_authorizer():
    routes = [r for r in tpl.http_routes(load_template(ROOT / "template.yaml")) if r.function == "AdminFunction"]
    assert len(routes) >= 10
    for route in routes:
        if route.path == "/health":
            assert route.authorizer is None
        else:
            assert route.authorizer is not None, route.route_key
            assert (route.authorizer.function, route.authorizer.headers) == ("AdminAuthorizerFunction", ["x-api-key"])
            assert route.authorizer.simple_responses


class Invocations:
    """The functions the server invokes, answered in-process; counts who ran."""

    def __init__(self) -> None:
        self.calls: list[str] = []
        self.lock = threading.Lock()

    def __call__(self, function: str, event: dict[str, Any]) -> Any:
        with self.lock:
            self.calls.append(function)
        if function == "AdminAuthorizerFunction":
            return {"isAuthorized": event["headers"].get("x-api-key") == ADMIN_KEY, "context": {"who": "admin"}}
        return {"statusCode": 200, "body": json.dumps({"authorizer": event["requestContext"].get("authorizer")})}


@pytest.fixture
def server(tmp_path: Path):
    routes = tpl.http_routes(load_template(ROOT / "template.yaml"))
    for route in routes:
        if route.authorizer is not None:
            route.authorizer.cache_seconds = 300
    invocations = Invocations()
    http = LocalHttpServer(host="127.0.0.1", port=0, routes=routes, invoke=invocations, gateway=None,
                           stage="prod", static_root=tmp_path, config=dict, log=lambda _: None)
    http.start()
    yield http, invocations
    http.stop()


def _get(http: LocalHttpServer, path: str, key: str | None) -> tuple[int, Any]:
    headers = {"x-api-key": key} if key is not None else {}
    request = urllib.request.Request(http.url + API_PREFIX + path, headers=headers)  # noqa: S310 - loopback http
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - loopback
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def test_anonymous_and_wrong_keys_never_reach_the_admin_function(server):
    http, invocations = server
    assert _get(http, "/rooms", None) == (401, {"message": "Unauthorized"})
    assert invocations.calls == []  # the identity source is missing: not even the authorizer runs
    assert _get(http, "/rooms", "wrong") == (403, {"message": "Forbidden"})
    assert invocations.calls == ["AdminAuthorizerFunction"]
    status, body = _get(http, "/rooms", ADMIN_KEY)
    assert status == 200 and body["authorizer"] == {"lambda": {"who": "admin"}}
    assert invocations.calls == ["AdminAuthorizerFunction", "AdminAuthorizerFunction", "AdminFunction"]
    # /health is open: no authorizer.
    assert _get(http, "/health", None)[0] == 200


def test_answers_are_cached_per_key(server):
    http, invocations = server
    for _ in range(5):
        assert _get(http, "/rooms", "wrong")[0] == 403
        assert _get(http, "/rooms", ADMIN_KEY)[0] == 200
    assert invocations.calls.count("AdminAuthorizerFunction") == 2
    assert invocations.calls.count("AdminFunction") == 5


def test_the_answer_cache_stays_bounded_under_a_scan_of_wrong_keys(server):
    from roomcast_local.httpserver import AUTH_CACHE_ENTRIES

    http, invocations = server
    authorizer = next(c.route.authorizer for c in http.router.routes if c.route.authorizer is not None)

    def event(api_key: str) -> dict[str, Any]:
        return {"headers": {"x-api-key": api_key}, "rawPath": "/rooms",
                "requestContext": {"apiId": "adminhttpapi", "http": {"method": "GET"}}}

    for i in range(AUTH_CACHE_ENTRIES + 200):
        assert http.authorize(authorizer, event(f"wrong-{i}")) == (403, {"message": "Forbidden"})
        assert len(http._auth_cache) <= AUTH_CACHE_ENTRIES
    assert http.authorize(authorizer, event(ADMIN_KEY)) is None  # the right key still passes
    assert invocations.calls.count("AdminAuthorizerFunction") == AUTH_CACHE_ENTRIES + 201
