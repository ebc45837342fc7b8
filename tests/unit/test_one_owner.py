"""One owner per concept: the frame unions own the action names; the template's routes,
the chat handler's dispatch table and the error message follow them."""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any

from roomcast.models.frames import CHAT_ACTIONS
from roomcast.models.signaling import SIGNAL_ACTIONS
from roomcast_local.cfn import load_template
from tests.conftest import ROOT, load_handler

ROUTES_OF_EVERY_WEBSOCKET_API = {"$connect", "$disconnect", "$default"}


def _routes() -> dict[str, Any]:
    resources = load_template(ROOT / "template.yaml")["Resources"]
    routes = {}
    for resource in resources.values():
        if resource["Type"] == "AWS::ApiGatewayV2::Route":
            props = resource["Properties"]
            routes[props["RouteKey"]] = str(props["Target"])
    return routes


def test_the_template_routes_exactly_the_actions_of_the_frame_unions() -> None:
    routes = _routes()
    assert set(routes) == CHAT_ACTIONS | SIGNAL_ACTIONS | ROUTES_OF_EVERY_WEBSOCKET_API
    for action in CHAT_ACTIONS:
        assert "ChatIntegration" in routes[action], action
    for action in SIGNAL_ACTIONS:
        assert "SignalIntegration" in routes[action], action
    # Unknown actions reach the chat function, which answers unknown_action.
    assert "ChatIntegration" in routes["$default"]


def test_the_chat_handler_dispatches_every_chat_action_and_no_other(stack) -> None:
    assert set(load_handler("chat")._ACTIONS) == CHAT_ACTIONS


def test_the_union_derives_the_names_from_each_frames_literal() -> None:
    from roomcast.models.common import actions_of
    from roomcast.models.frames import ChatFrame, JoinFrame

    assert actions_of(JoinFrame) == {"join"}
    assert actions_of(ChatFrame) == CHAT_ACTIONS
    assert "signal" not in CHAT_ACTIONS and {"signal"} == SIGNAL_ACTIONS


def _module_imports(path: Path) -> set[str]:
    """Every roomcast module a file imports, at the top or inside a function."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("roomcast"):
            names.add(node.module)
            names.update(f"{node.module}.{a.name}" for a in node.names)
        elif isinstance(node, ast.Import):
            names.update(a.name for a in node.names if a.name.startswith("roomcast"))
    return names


def test_logic_modules_import_each_other_without_a_cycle() -> None:
    logic = ROOT / "layers" / "roomcast" / "roomcast" / "logic"
    modules = {f"roomcast.logic.{p.stem}": p for p in logic.glob("*.py") if p.stem != "__init__"}
    graph = {name: {m for m in _module_imports(path) if m in modules and m != name} for name, path in modules.items()}

    def reaches(start: str, goal: str, seen: set[str]) -> bool:
        for nxt in graph[start]:
            if nxt == goal or (nxt not in seen and reaches(nxt, goal, seen | {nxt})):
                return True
        return False

    cycles = sorted(name for name in graph if reaches(name, name, {name}))
    assert cycles == []
    # The pair the cycle used to run through: signaling uses presence, never the reverse.
    assert "roomcast.logic.presence" in graph["roomcast.logic.signaling"]
    assert "roomcast.logic.signaling" not in graph["roomcast.logic.presence"]


def test_one_sqs_client_and_one_client_error_helper() -> None:
    layer = ROOT / "layers" / "roomcast" / "roomcast"
    sqs_factories = []
    error_code_reads = []
    for path in layer.rglob("*.py"):
        text = path.read_text()
        if 'boto3.client(\n        "sqs"' in text or 'boto3.client("sqs"' in text:
            sqs_factories.append(path.relative_to(layer).as_posix())
        if '.get("Error", {}).get("Code")' in text:
            error_code_reads.append(path.relative_to(layer).as_posix())
    assert sqs_factories == ["queue.py"]
    assert error_code_reads == ["aws_errors.py"]
