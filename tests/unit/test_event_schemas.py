"""docs/events/: one JSON Schema per event type, generated from the models, current and valid."""

from __future__ import annotations

import json

from jsonschema import Draft202012Validator

from roomcast.models.events import EVENT_TYPES, MODERATION_ACTS
from scripts import gen_event_schemas
from tests.conftest import ROOT

DOCS = ROOT / "docs" / "events"


def test_the_committed_schemas_are_what_the_models_generate() -> None:
    assert gen_event_schemas.main(["--check"]) == 0


def test_a_stale_or_stray_schema_is_caught(tmp_path, monkeypatch) -> None:
    for path in DOCS.glob("*.schema.json"):
        (tmp_path / path.name).write_text(path.read_text())
    monkeypatch.setattr(gen_event_schemas, "OUTPUT", tmp_path)
    (tmp_path / "message.created.schema.json").write_text("{}\n")
    assert gen_event_schemas.main(["--check"]) == 1
    (tmp_path / "message.created.schema.json").write_text((DOCS / "message.created.schema.json").read_text())
    (tmp_path / "old.type.schema.json").write_text("{}\n")
    assert gen_event_schemas.main(["--check"]) == 1


def test_the_catalogue_is_the_issue_s_and_every_schema_is_valid() -> None:
    assert {"room.created", "room.closed", "message.created", "message.deleted", "member.joined", "member.left",
            "user.online", "user.offline", "call.started", "call.ended", "message.offline"} <= set(EVENT_TYPES)
    assert {f"moderation.{a}" for a in MODERATION_ACTS} <= set(EVENT_TYPES)
    for event_type in EVENT_TYPES:
        schema = json.loads((DOCS / f"{event_type}.schema.json").read_text())
        Draft202012Validator.check_schema(schema)
        assert schema["properties"]["type"] == {"const": event_type}


def test_a_schema_refuses_an_event_of_the_wrong_shape() -> None:
    schema = json.loads((DOCS / "message.created.schema.json").read_text())
    validator = Draft202012Validator(schema)
    good = {"id": "evt_1", "type": "message.created", "timestamp": "2026-01-01T00:00:00.000Z",
            "data": {"room_id": "r", "message": {"id": "m", "user_id": "u", "name": "U", "text": "t",
                                                 "sent_at": "2026-01-01T00:00:00.000Z"}}}
    assert list(validator.iter_errors(good)) == []
    bad = {**good, "data": {"room_id": "r", "message": {"id": "m"}}}
    assert list(validator.iter_errors(bad))
    assert list(validator.iter_errors({**good, "type": "message.deleted"}))
