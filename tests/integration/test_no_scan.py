"""No Scan in any code path that serves a client frame or an admin request (docs/architecture.md, "Data model").

Two checks: statically, the deployed code (layer + functions) never names a Scan; at
runtime, a DynamoDB client on which any Scan raises serves the whole flow.
"""

from __future__ import annotations

import ast
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from tests.conftest import ROOT, load_event
from tests.helpers import http_event, reply_body, ws_event

DEPLOYED = [ROOT / "layers" / "roomcast" / "roomcast", ROOT / "functions"]
SCAN_NAMES = {"scan", "parallel_scan"}


def _scan_uses(path: Path, root: Path = ROOT) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        where = f"{path.relative_to(root)}:{getattr(node, 'lineno', '?')}"
        if isinstance(node, ast.Attribute) and node.attr.lower() in SCAN_NAMES:
            found.append(f"{where} .{node.attr}")
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value.strip().lower() in SCAN_NAMES:
            # get_paginator("scan"), _make_api_call("Scan", ...), getattr(client, "scan")
            found.append(f"{where} {node.value!r}")
    return found


def test_static_no_scan_in_deployed_code():
    files = sorted(p for base in DEPLOYED for p in base.rglob("*.py"))
    assert len(files) >= 10  # the walk found the code
    uses = [use for path in files for use in _scan_uses(path)]
    assert uses == []


def test_static_check_sees_a_scan(tmp_path):
    sample = tmp_path / "x.py"
    sample.write_text('c.scan(TableName="t")\np = c.get_paginator("scan")\nc._make_api_call("Scan", {})\n')
    assert len(_scan_uses(sample, tmp_path)) == 3


class ScanForbidden(AssertionError):
    pass


@pytest.fixture
def no_scan(stack) -> Iterator[Counter[str]]:
    """Every DynamoDB client made from here on (and the cached one) raises on Scan.

    Handlers are registered on boto3's default session, whose clients copy its event
    handlers when created; the stack fixture has just cleared the cached clients.
    Yields a count of the DynamoDB operations that were made, so a test can show the
    guard sat on the client the code really used.
    """
    calls: Counter[str] = Counter()

    def count(model: Any, **_: Any) -> None:
        calls[model.name] += 1

    def refuse(model: Any, **_: Any) -> None:
        raise ScanForbidden(f"DynamoDB {model.name} on a serving path")

    events = boto3._get_default_session().events
    events.register("before-call.dynamodb", count, unique_id="roomcast-test-count")
    events.register("before-call.dynamodb.Scan", refuse, unique_id="roomcast-test-no-scan")
    try:
        yield calls
    finally:
        events.unregister("before-call.dynamodb", unique_id="roomcast-test-count")
        events.unregister("before-call.dynamodb.Scan", unique_id="roomcast-test-no-scan")


def test_guard_refuses_a_scan(no_scan):
    from roomcast.dal.dynamo import dynamodb_client
    from roomcast.settings import get_settings

    with pytest.raises(ScanForbidden):
        dynamodb_client().scan(TableName=get_settings().table_name)
    with pytest.raises(ScanForbidden):
        list(dynamodb_client().get_paginator("scan").paginate(TableName=get_settings().table_name))


def test_full_flow_makes_no_scan(no_scan, invoke):
    def chat(body: dict[str, Any], cid: str = "conn-alice-1", user: str = "alice") -> dict[str, Any] | None:
        sample = f"ws-{body['action']}.json" if body["action"] in {"join", "leave", "send", "history", "typing", "ping"} else "ws-default.json"
        return reply_body(invoke("chat", ws_event(sample, cid, user, user.title(), body=body)))

    assert invoke("admin", http_event("http-health.json", api_key=None))["statusCode"] == 200
    assert invoke("admin", http_event("http-create-room.json"))["statusCode"] == 201
    for i in range(3):
        assert invoke("admin", http_event("http-create-room.json", body={"room_id": f"extra-{i}", "name": "x"}))["statusCode"] == 201
    minted = reply_body(invoke("admin", http_event("http-mint-token.json")))
    authorizer = load_event("ws-authorizer.json")
    authorizer["headers"]["Sec-WebSocket-Protocol"] = f"roomcast.v1, {minted['token']}"
    assert invoke("authorizer", authorizer)["policyDocument"]["Statement"][0]["Effect"] == "Allow"
    for cid, user in (("conn-alice-1", "alice"), ("conn-bob-1", "bob")):
        assert invoke("connect", ws_event("ws-connect.json", cid, user, user.title()))["statusCode"] == 200
        assert chat({"action": "join", "room_id": "lobby"}, cid, user)["type"] == "joined"
    for i in range(4):
        assert chat({"action": "send", "room_id": "lobby", "text": f"m{i}", "client_msg_id": f"c{i}"})["type"] == "ack"
    assert chat({"action": "send", "room_id": "lobby", "text": "m0", "client_msg_id": "c0"})["duplicate"] is True
    page = chat({"action": "history", "room_id": "lobby", "limit": 2})
    assert chat({"action": "history", "room_id": "lobby", "limit": 2, "before": page["next_cursor"]})["type"] == "history"
    assert chat({"action": "typing", "room_id": "lobby"}, "conn-bob-1", "bob") is None
    assert chat({"action": "ping"})["type"] == "pong"
    assert chat({"action": "dance"})["code"] == "unknown_action"
    assert chat({"action": "history", "room_id": "lobby", "before": "x"})["code"] == "invalid_cursor"
    assert chat({"action": "leave", "room_id": "lobby"})["type"] == "left"
    assert chat({"action": "send", "room_id": "lobby", "text": "x"})["code"] == "not_member"
    room = reply_body(invoke("admin", http_event("http-get-room.json")))
    assert room["stats"]["message_count"] == 4
    listed = reply_body(invoke("admin", http_event("http-list-rooms.json") | {"queryStringParameters": {"limit": "2"}, "rawQueryString": "limit=2"}))
    assert len(listed["rooms"]) == 2 and listed["next_cursor"]
    assert invoke("admin", http_event("http-list-rooms.json") | {"queryStringParameters": {"limit": "2", "cursor": listed["next_cursor"]}})["statusCode"] == 200
    assert invoke("disconnect", ws_event("ws-disconnect.json", "conn-bob-1", "bob"))["statusCode"] == 200
    assert invoke("disconnect", ws_event("ws-disconnect.json"))["statusCode"] == 200

    # The guard sat on the client the code used: its reads and writes were counted.
    assert no_scan["Query"] > 0 and no_scan["TransactWriteItems"] > 0 and no_scan["GetItem"] > 0
    assert no_scan["Scan"] == 0
