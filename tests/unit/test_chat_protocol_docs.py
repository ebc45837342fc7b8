"""docs/protocol.md and docs/asyncapi.yaml against the frame models (no network, no browser).

- docs/asyncapi.yaml is exactly what scripts/gen_asyncapi.py generates (not stale);
- every example in the AsyncAPI document, and every JSON example in protocol.md, is a
  valid frame for the model it illustrates;
- protocol.md names every frame type, every action and every error code of errors.py.
"""

from __future__ import annotations

import importlib.util
import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from roomcast import errors

ROOT = Path(__file__).resolve().parents[2]
PROTOCOL = (ROOT / "docs" / "protocol.md").read_text()


def _generator() -> Any:
    spec = importlib.util.spec_from_file_location(
        "gen_asyncapi", ROOT / "scripts" / "gen_asyncapi.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


GEN = _generator()
ENTRIES = GEN.available()


def _client_model(frame: dict[str, Any]) -> Any:
    for entry in ENTRIES:
        if entry[3] == "send" and entry[4] == frame.get("action"):
            return GEN.model_of(entry)
    return None


def _server_model(frame: dict[str, Any]) -> Any:
    for entry in ENTRIES:
        if entry[3] == "receive" and entry[4] == frame.get("type"):
            return GEN.model_of(entry)
    return None


def _validate(frame: dict[str, Any]) -> None:
    if "action" in frame:
        model = _client_model(frame)
        assert model is not None, f"no client frame model for action {frame['action']!r}"
        model.model_validate(frame)
    else:
        model = _server_model(frame)
        assert model is not None, f"no server frame model for type {frame.get('type')!r}"
        parsed = model.model_validate(frame)
        # Round trip: what the server would send for this frame is the example itself.
        assert parsed.dump() == frame, (parsed.dump(), frame)


def test_asyncapi_document_is_generated_from_the_models() -> None:
    current = (ROOT / "docs" / "asyncapi.yaml").read_text()
    assert current == GEN.render(), "docs/asyncapi.yaml is stale: run scripts/gen_asyncapi.py"
    document = yaml.safe_load(current)
    assert document["asyncapi"].startswith("3.")
    messages = document["components"]["messages"]
    schemas = document["components"]["schemas"]
    for name, message in messages.items():
        ref = message["payload"]["$ref"].rsplit("/", 1)[-1]
        assert ref in schemas, (name, ref)
    # Every $ref points inside the document.
    for ref in re.findall(r"\$ref: '?#/([^'\s]+)", current):
        node: Any = document
        for part in ref.split("/"):
            node = node[part]


@pytest.mark.parametrize(
    "example",
    [pytest.param(ex, id=f"{e[0]}-{i}") for e in ENTRIES for i, ex in enumerate(e[6])],
)
def test_asyncapi_examples_are_valid_frames(example: dict[str, Any]) -> None:
    _validate(example)


def _protocol_examples() -> list[dict[str, Any]]:
    blocks = re.findall(r"```json\n(.*?)\n```", PROTOCOL, flags=re.S)
    return [json.loads(block) for block in blocks]


def test_protocol_md_examples_are_valid_frames() -> None:
    examples = _protocol_examples()
    assert len(examples) >= 20
    for example in examples:
        _validate(example)


def test_protocol_md_covers_every_frame_and_error_code() -> None:
    seen_actions = {ex["action"] for ex in _protocol_examples() if "action" in ex}
    seen_types = {ex["type"] for ex in _protocol_examples() if "type" in ex and "action" not in ex}
    for entry in ENTRIES:
        kind = "action" if entry[3] == "send" else "type"
        assert f"### `{entry[4]}`" in PROTOCOL, f"no section for {kind} {entry[4]}"
        assert entry[4] in (seen_actions if kind == "action" else seen_types), (
            f"no JSON example for {kind} {entry[4]}"
        )
    codes = {
        cls.code
        for cls in vars(errors).values()
        if isinstance(cls, type) and issubclass(cls, errors.RoomcastError)
    }
    missing = sorted(code for code in codes if f"| `{code}` |" not in PROTOCOL)
    assert not missing, f"error codes missing from docs/protocol.md: {missing}"
