"""The client's types come from the server's models with no hand edit, and nothing drifts:

pydantic frame models -> docs/frames.schema.json (scripts/gen_frame_schemas.py) ->
client/src/wire.ts (scripts/gen_client_types.py, with docs/events/ -> webhook-events.ts)
-> client/dist/ (tsc; committed, so the demo needs no build step). Each link is checked
here: the committed files are what the generators and tsc make now.
"""

from __future__ import annotations

import filecmp
import json
import os
import re
import subprocess
import typing
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator
from pydantic import create_model

from roomcast.models import frames
from roomcast.models.common import OutModel
from scripts import gen_client_types, gen_frame_schemas
from tests.conftest import ROOT

CLIENT = ROOT / "client"
TSC = CLIENT / "node_modules" / ".bin" / "tsc"


def _need_tsc() -> None:
    if TSC.exists():
        return
    if os.environ.get("CI"):
        pytest.fail(
            "client/node_modules is missing: `make test` runs `make client-deps` (npm ci) first"
        )
    pytest.skip("TypeScript is not installed: run `make client-deps` (npm ci in client/)")


def test_the_frame_schemas_are_what_the_models_generate() -> None:
    assert gen_frame_schemas.main(["--check"]) == 0


def test_the_wire_types_are_what_the_schemas_generate() -> None:
    assert gen_client_types.main(["--check"]) == 0


def test_the_frame_schema_is_valid_and_validates_real_frames() -> None:
    doc = json.loads((ROOT / "docs" / "frames.schema.json").read_text())
    Draft202012Validator.check_schema(doc)
    validator = Draft202012Validator(doc)
    ack = frames.AckFrame(
        message=frames.Message(
            id="0" * 25, room_id="r", user_id="u", name="U", text="t", sent_at="s"
        )
    )
    assert validator.is_valid(ack.dump())  # defaults that are not None are sent: required
    assert not validator.is_valid({**ack.dump(), "surprise": 1})
    assert validator.is_valid({"action": "send", "room_id": "r", "text": "hi"})
    assert not validator.is_valid({"action": "send", "room_id": "r"})
    # A server frame never carries null (dump() drops None): the schema says so.
    assert not validator.is_valid({**ack.dump(), "request_id": None})


def test_every_frame_model_and_error_code_is_typed() -> None:
    wire = (CLIENT / "src" / "wire.ts").read_text()
    for model in gen_frame_schemas.server_frames():
        assert f"export interface {gen_frame_schemas.server_name(model)} {{" in wire, model
    for model in gen_frame_schemas.client_frames():
        assert f"export interface {gen_frame_schemas.client_name(model)} {{" in wire, model
    codes = set(
        re.findall(r'"([a-z_]+)"', wire.split("export type ErrorCode =", 1)[1].split(";", 1)[0])
    )
    assert codes == set(gen_frame_schemas.error_codes())
    # Optionality follows the wire: ack's counters are always sent, request_id only on replies.
    ack = wire.split("export interface AckFrame {", 1)[1].split("\n}", 1)[0]
    assert "  duplicate: boolean;" in ack and "  request_id?: string;" in ack
    relay = wire.split("export interface SignalRelayFrame {", 1)[1].split("\n}", 1)[0]
    assert "  from: Peer;" in relay  # the alias, as sent


def test_a_field_added_to_a_frame_model_reaches_the_client_types(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The chain with no hand edit: a new field on a model shows up in wire.ts."""
    fields: dict[str, typing.Any] = {
        name: (info.annotation, info) for name, info in frames.AckFrame.model_fields.items()
    }
    fields["seen_by"] = (list[str] | None, None)
    grown = create_model("AckFrame", __base__=OutModel, __module__=frames.__name__, **fields)  # type: ignore[call-overload]
    monkeypatch.setattr(frames, "AckFrame", grown)
    schema_path = tmp_path / "frames.schema.json"
    monkeypatch.setattr(gen_frame_schemas, "OUTPUT", schema_path)
    monkeypatch.setattr(gen_client_types, "FRAMES", schema_path)
    assert gen_frame_schemas.main([]) == 0
    wire = gen_client_types.wire_ts()
    ack = wire.split("export interface AckFrame {", 1)[1].split("\n}", 1)[0]
    assert "  seen_by?: string[];" in ack
    # ...and the committed files are now stale, which the checks above would report.
    monkeypatch.setattr(gen_client_types, "WIRE", CLIENT / "src" / "wire.ts")
    assert wire != (CLIENT / "src" / "wire.ts").read_text()


def test_a_stale_wire_file_is_caught(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    stale = tmp_path / "wire.ts"
    stale.write_text((CLIENT / "src" / "wire.ts").read_text().replace("duplicate: boolean;", ""))
    monkeypatch.setattr(gen_client_types, "WIRE", stale)
    assert gen_client_types.main(["--check"]) == 1


def test_the_committed_build_is_what_tsc_makes_of_the_sources(tmp_path: Path) -> None:
    """client/dist/ is committed (the demo runs it with no build step): it must be current."""
    _need_tsc()
    out = tmp_path / "dist"
    result = subprocess.run(
        [str(TSC), "-p", str(CLIENT / "tsconfig.json"), "--outDir", str(out)],
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
        cwd=CLIENT,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    built = sorted(p.relative_to(out) for p in out.rglob("*") if p.is_file())
    committed = sorted(
        p.relative_to(CLIENT / "dist") for p in (CLIENT / "dist").rglob("*") if p.is_file()
    )
    assert built == committed, "client/dist/ has other files than the build: run `make client`"
    _, mismatch, errors = filecmp.cmpfiles(
        out, CLIENT / "dist", [str(p) for p in built], shallow=False
    )
    assert (mismatch, errors) == ([], []), "client/dist/ is stale: run `make client`"


def test_the_demo_type_checks_against_the_client(tmp_path: Path) -> None:
    """The demo is plain JavaScript with JSDoc; tsc checks it against the built client's types."""
    _need_tsc()
    result = subprocess.run(
        [str(TSC), "-p", str(CLIENT / "demo" / "jsconfig.json")],
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
        cwd=CLIENT,
    )
    assert result.returncode == 0, result.stdout + result.stderr
