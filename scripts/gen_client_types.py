"""Generate the browser client's wire types from the server's JSON Schemas.

- client/src/wire.ts from docs/frames.schema.json (scripts/gen_frame_schemas.py): every
  frame both ways, the ClientFrame and ServerFrame unions, ErrorCode;
- client/src/webhook-events.ts from docs/events/*.schema.json
  (scripts/gen_event_schemas.py): every webhook event and the batch body.

So the chain is pydantic model -> JSON Schema -> TypeScript, with no hand edit on the way:
a field added to a frame model shows up in the client's types once the two generators
run (`make client`), and tests/unit/test_client_types.py fails while either is stale.
The converter covers what pydantic emits: objects (properties, required,
additionalProperties), arrays, const/enum, anyOf/oneOf, $ref to $defs, and {} (unknown).

    .venv/bin/python scripts/gen_client_types.py            # rewrite both files
    .venv/bin/python scripts/gen_client_types.py --check    # exit 1 if either is stale
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
FRAMES = ROOT / "docs" / "frames.schema.json"
EVENTS = ROOT / "docs" / "events"
WIRE = ROOT / "client" / "src" / "wire.ts"
WEBHOOK_EVENTS = ROOT / "client" / "src" / "webhook-events.ts"
IDENT = re.compile(r"^[A-Za-z_$][A-Za-z0-9_$]*$")


class Converter:
    """JSON Schema -> TypeScript declarations, one `export` per named definition."""

    def __init__(self, defs: dict[str, Any], rename: dict[str, str] | None = None) -> None:
        self.defs = defs
        self.rename = rename or {}

    def name(self, ref: str) -> str:
        key = ref.rsplit("/", 1)[1]
        return self.rename.get(key, key)

    def type(self, schema: Any, indent: str = "") -> str:
        if schema is True or schema == {} or schema is None:
            return "unknown"
        if "$ref" in schema:
            return self.name(schema["$ref"])
        if "const" in schema:
            return json.dumps(schema["const"])
        if "enum" in schema:
            return " | ".join(json.dumps(v) for v in schema["enum"])
        for key in ("anyOf", "oneOf"):
            if key in schema:
                parts = [self.type(option, indent) for option in schema[key]]
                return " | ".join(dict.fromkeys(parts))
        if "allOf" in schema and len(schema["allOf"]) == 1:
            return self.type(schema["allOf"][0], indent)
        kind = schema.get("type")
        if isinstance(kind, list):
            return " | ".join(self.type({**schema, "type": k}, indent) for k in kind)
        if kind == "string":
            return "string"
        if kind in ("integer", "number"):
            return "number"
        if kind == "boolean":
            return "boolean"
        if kind == "null":
            return "null"
        if kind == "array":
            item = self.type(schema.get("items", {}), indent)
            return f"({item})[]" if "|" in item else f"{item}[]"
        if kind == "object" or "properties" in schema:
            return self.object(schema, indent)
        return "unknown"

    def object(self, schema: dict[str, Any], indent: str) -> str:
        properties: dict[str, Any] = schema.get("properties", {})
        extra = schema.get("additionalProperties")
        if not properties:
            if isinstance(extra, dict) and extra:
                # An index signature rather than Record<>: TypeScript lets a type alias
                # refer to itself through one (StorableJson is recursive), not through Record.
                return f"{{ [key: string]: {self.type(extra, indent)} }}"
            return "Record<string, unknown>"
        required = set(schema.get("required", []))
        inner = indent + "  "
        lines = ["{"]
        for key, prop in properties.items():
            doc = _doc(prop, inner)
            if doc:
                lines.append(doc)
            name = key if IDENT.match(key) else json.dumps(key)
            optional = "" if key in required else "?"
            lines.append(f"{inner}{name}{optional}: {self.type(prop, inner)};")
        if extra is True or (isinstance(extra, dict) and extra is not None):
            lines.append(f"{inner}[key: string]: unknown;")
        lines.append(f"{indent}}}")
        return "\n".join(lines)

    def declaration(self, name: str, schema: dict[str, Any]) -> str:
        doc = _doc(schema, "")
        head = f"{doc}\n" if doc else ""
        body = self.type(schema)
        if body.startswith("{") and schema.get("type") == "object" and "properties" in schema:
            return f"{head}export interface {name} {body}"
        if len(body) > 90 and "{" not in body and " | " in body:
            # A long union of names or literals: one member a line, as a formatter would.
            lines = "".join(f"\n  | {part}" for part in body.split(" | "))
            return f"{head}export type {name} ={lines};"
        return f"{head}export type {name} = {body};"


def _doc(schema: Any, indent: str) -> str:
    if not isinstance(schema, dict):
        return ""
    text = schema.get("description")
    if not text:
        return ""
    lines = " ".join(str(text).split()).replace("*/", "* /")
    return f"{indent}/** {lines} */"


HEADER = """\
// GENERATED by scripts/gen_client_types.py from {source}: do not edit.
// Regenerate with `make client` (tests/unit/test_client_types.py fails while it is stale).
"""


def wire_ts() -> str:
    doc = json.loads(FRAMES.read_text())
    defs: dict[str, Any] = doc["$defs"]
    convert = Converter(defs)
    parts = [HEADER.format(source="docs/frames.schema.json")]
    parts.extend(convert.declaration(name, defs[name]) + "\n" for name in defs)
    return "\n".join(parts)


def _pascal(event_type: str) -> str:
    return "".join(part[:1].upper() + part[1:] for part in re.split(r"[._]", event_type))


def webhook_events_ts() -> str:
    """One interface per event type (`MessageCreatedEvent`), their shared $defs once each."""
    declarations: dict[str, str] = {}
    shared: dict[str, Any] = {}
    events: list[str] = []
    for path in sorted(EVENTS.glob("*.schema.json")):
        schema = json.loads(path.read_text())
        title = schema.get("title") or path.name.removesuffix(".schema.json")
        defs: dict[str, Any] = schema.get("$defs", {})
        for key, value in defs.items():
            if key in shared and shared[key] != value:
                raise SystemExit(
                    f"{path.name}: $defs/{key} differs from another file's; rename one of them"
                )
            shared[key] = value
        top = {k: v for k, v in schema.items() if k not in ("$defs", "$schema", "$id", "title")}
        name = _pascal(title) + ("Body" if title == "event.batch" else "Event")
        declarations[name] = Converter(defs).declaration(name, top)
        if title != "event.batch":
            events.append(name)
    convert = Converter(shared)
    parts = [HEADER.format(source="docs/events/*.schema.json")]
    parts.extend(convert.declaration(key, shared[key]) + "\n" for key in sorted(shared))
    parts.extend(declarations[name] + "\n" for name in sorted(declarations))
    parts.append(
        "/** Any webhook event, told apart by `type`. */\nexport type WebhookEvent =\n  | "
        + "\n  | ".join(events)
        + ";\n"
    )
    return "\n".join(parts)


def outputs() -> dict[Path, str]:
    return {WIRE: wire_ts(), WEBHOOK_EVENTS: webhook_events_ts()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if a generated file is stale")
    args = parser.parse_args(argv)
    wanted = outputs()
    if args.check:
        stale = [p for p, text in wanted.items() if not p.exists() or p.read_text() != text]
        if stale:
            names = ", ".join(str(p) for p in stale)
            print(
                f"{names} stale: run scripts/gen_client_types.py (or make client)", file=sys.stderr
            )
            return 1
        print("client/src/wire.ts and client/src/webhook-events.ts are current")
        return 0
    for path, text in wanted.items():
        path.write_text(text)
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
