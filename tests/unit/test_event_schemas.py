"""docs/events/: one JSON Schema per event type, generated from the models, current and valid."""

from __future__ import annotations

import json
import re

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


def _catalogue_rows() -> dict[str, str]:
    """docs/webhooks.md's catalogue: event type -> its `data` cell."""
    text = (ROOT / "docs" / "webhooks.md").read_text()
    table = text[text.index("| type | when (the committed write) | `data` |") :].split("\n\n", 1)[0]
    rows: dict[str, str] = {}
    for line in table.splitlines()[2:]:
        kinds, _when, data = (cell.strip() for cell in line.strip("|").split("|", 2))
        for kind in re.findall(r"`([a-z_.<>]+)`", kinds):
            rows[kind] = data
    return rows


def _fields(cell: str) -> list[tuple[str, str, bool]]:
    """(parent, field, optional) for each field the cell's field lists name; a list is a
    backticked run with a comma or braces (`a, b?, c{d, e?}`)."""
    found: list[tuple[str, str, bool]] = []
    for run in re.findall(r"`([^`]*)`", cell):
        if "," not in run and "{" not in run:
            continue
        parent = ""
        for token in re.findall(r"[a-z_]+\??\{?|\}", run):
            if token == "}":
                parent = ""
            elif token.endswith("{"):
                parent = token[:-1]
                found.append(("", parent, False))
            else:
                found.append((parent, token.rstrip("?"), token.endswith("?")))
    return found


def test_the_catalogue_table_names_every_field_as_the_schemas_do() -> None:
    """Every field docs/webhooks.md lists for a type is in its schema, required exactly when
    the table does not mark it `?`; every required field of the schema is listed."""
    rows = _catalogue_rows()
    types = [*EVENT_TYPES, "endpoint.test"]
    for event_type in types:
        cell = rows.get(event_type) or rows["moderation.<act>"]
        schema = json.loads((DOCS / f"{event_type}.schema.json").read_text())
        data = schema["properties"]["data"]
        listed = _fields(cell)
        assert listed, event_type
        for parent, field, optional in listed:
            node = data
            if parent:
                ref = data["properties"][parent].get("$ref") or data["properties"][parent]["anyOf"][0]["$ref"]
                node = schema["$defs"][ref.rsplit("/", 1)[1]]
            assert field in node["properties"], (event_type, parent, field)
            assert (field in node.get("required", [])) == (not optional), (event_type, parent, field, optional)
        named = {field for parent, field, _ in listed if not parent}
        assert set(data.get("required", [])) <= named, (event_type, set(data["required"]) - named)


def test_every_session_end_reason_is_in_the_member_left_schema_and_the_catalogue() -> None:
    from typing import get_args

    from roomcast.logic.moderation import SESSION_END
    from roomcast.models.events import SessionEndReason

    reasons = set(get_args(SessionEndReason))
    schema = json.loads((DOCS / "member.left.schema.json").read_text())
    assert set(schema["properties"]["data"]["properties"]["end_reason"]["enum"]) == reasons
    assert set(SESSION_END.values()) <= reasons
    cell = _catalogue_rows()["member.left"]
    assert all(f"`{reason}`" in cell for reason in reasons), cell


def test_an_event_timestamp_is_defined() -> None:
    for event_type in [*EVENT_TYPES, "endpoint.test", "event.batch"]:
        stamp = json.loads((DOCS / f"{event_type}.schema.json").read_text())["properties"]["timestamp"]
        assert stamp["format"] == "date-time" and len(stamp.get("description", "")) > 40, event_type
