"""Generate docs/frames.schema.json (JSON Schema 2020-12): every WebSocket frame, both ways.

The schemas come from the pydantic models (roomcast.models.frames and .signaling), as
docs/asyncapi.yaml's do; this file is the one the browser client's types are generated
from (scripts/gen_client_types.py -> client/src/wire.ts), so a field added to a frame
model reaches the client's types with no hand edit. Names are the client's: a client
frame `XFrame` is `XAction`, a server frame model loses its `Out` suffix. Server frames are
described as they are sent: OutModel.dump() leaves None fields out (so an optional field
is absent, never null) and always writes a field whose default is not None (so it is
required). `ErrorCode` lists every code roomcast.errors can send.

    .venv/bin/python scripts/gen_frame_schemas.py            # rewrite docs/frames.schema.json
    .venv/bin/python scripts/gen_frame_schemas.py --check    # exit 1 if it is stale

tests/unit/test_frame_schemas.py fails when the committed file is stale.
"""

from __future__ import annotations

import argparse
import json
import sys
import typing
from pathlib import Path
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

ROOT = Path(__file__).resolve().parent.parent
OUTPUT = ROOT / "docs" / "frames.schema.json"
SCHEMA_ID = "https://roomcast.dev/frames.schema.json"


def _union_members(union: Any) -> list[type[BaseModel]]:
    if typing.get_origin(union) is typing.Annotated:
        union = typing.get_args(union)[0]
    return list(typing.get_args(union)) or [union]


def client_frames() -> list[type[BaseModel]]:
    """Every frame a client sends: the chat union and the signal frame."""
    from roomcast.models import frames, signaling

    return [*_union_members(frames.ChatFrame), signaling.SignalFrame]


def server_frames() -> list[type[BaseModel]]:
    """Every OutModel of the frame modules with a literal `type`: what the server sends."""
    from roomcast.models import frames, signaling
    from roomcast.models.common import OutModel

    found: list[type[BaseModel]] = []
    for module in (frames, signaling):
        for value in vars(module).values():
            if (
                isinstance(value, type)
                and issubclass(value, OutModel)
                and value.__module__ == module.__name__
                and "type" in value.model_fields
                and typing.get_origin(value.model_fields["type"].annotation) is typing.Literal
            ):
                found.append(value)
    return found


def error_codes() -> list[str]:
    from roomcast import errors

    found, pending = set(), [errors.RoomcastError]
    while pending:
        cls = pending.pop()
        found.add(cls.code)
        pending.extend(cls.__subclasses__())
    return sorted(found)


def client_name(model: type[BaseModel]) -> str:
    return model.__name__.removesuffix("Frame") + "Action"


def server_name(model: type[BaseModel]) -> str:
    return model.__name__.removesuffix("Out")


def _nested_models(model: type[BaseModel], seen: set[type[BaseModel]]) -> None:
    if model in seen:
        return
    seen.add(model)
    for info in model.model_fields.values():
        stack = [info.annotation]
        while stack:
            annotation = stack.pop()
            if isinstance(annotation, type) and issubclass(annotation, BaseModel):
                _nested_models(annotation, seen)
            stack.extend(typing.get_args(annotation))


def _as_sent(schema: dict[str, Any], model: type[BaseModel]) -> None:
    """Describe an OutModel as dump() writes it: no nulls; defaults that are not None always there."""
    properties = schema.get("properties", {})
    required = set(schema.get("required", []))
    for name, info in model.model_fields.items():
        key = info.serialization_alias or info.alias or name
        prop = properties.get(key)
        if prop is None:
            continue
        options = prop.get("anyOf")
        if options and {"type": "null"} in options:
            kept = [o for o in options if o != {"type": "null"}]
            prop.pop("anyOf")
            if len(kept) == 1:
                prop.update(kept[0])
            else:
                prop["anyOf"] = kept
        if prop.get("default", "absent") is None:
            prop.pop("default")
        if not info.is_required() and info.default is not None:
            required.add(key)
    order = list(properties)
    schema["required"] = sorted(required, key=order.index)


def document() -> dict[str, Any]:
    clients = client_frames()
    servers = server_frames()
    sent: set[type[BaseModel]] = set()
    for model in servers:
        _nested_models(model, sent)
    pairs = [(m, "validation") for m in clients] + [
        (m, "serialization") for m in sorted(sent, key=lambda m: m.__name__)
    ]
    keys, top = models_json_schema(pairs, ref_template="#/$defs/{model}")
    defs: dict[str, Any] = top.get("$defs", {})

    # The client's names for the frames; nested models keep theirs.
    rename: dict[str, str] = {}
    for model in clients:
        rename[keys[(model, "validation")]["$ref"].rsplit("/", 1)[1]] = client_name(model)
    for model in sent:
        old = keys[(model, "serialization")]["$ref"].rsplit("/", 1)[1]
        rename[old] = server_name(model) if model in servers else old
        _as_sent(defs[old], model)
    text = json.dumps(defs)
    for old, new in rename.items():
        text = text.replace(f'"#/$defs/{old}"', f'"#/$defs/{new}"')
    defs = {rename.get(k, k): v for k, v in json.loads(text).items()}
    for new in rename.values():
        defs[new]["title"] = new

    client_refs = [{"$ref": f"#/$defs/{client_name(m)}"} for m in clients]
    server_refs = [{"$ref": f"#/$defs/{server_name(m)}"} for m in servers]
    defs["ClientFrame"] = {
        "description": "A frame a client sends, routed on `action`.",
        "oneOf": client_refs,
    }
    defs["ServerFrame"] = {
        "description": "A frame the server sends, told apart by `type`.",
        "oneOf": server_refs,
    }
    defs["ErrorCode"] = {
        "description": "Every `code` an error frame (or an admin API error body) can carry.",
        "enum": error_codes(),
    }
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_ID,
        "title": "roomcast WebSocket frames",
        "description": (
            "Generated by scripts/gen_frame_schemas.py from roomcast.models.frames and "
            "roomcast.models.signaling; docs/protocol.md is the prose. A frame is a ClientFrame "
            "or a ServerFrame."
        ),
        "oneOf": [{"$ref": "#/$defs/ClientFrame"}, {"$ref": "#/$defs/ServerFrame"}],
        "$defs": dict(sorted(defs.items())),
    }


def render(doc: dict[str, Any]) -> str:
    return json.dumps(doc, indent=2) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--check", action="store_true", help="exit 1 if the committed file is stale"
    )
    args = parser.parse_args(argv)
    text = render(document())
    if args.check:
        if not OUTPUT.exists() or OUTPUT.read_text() != text:
            print(
                "docs/frames.schema.json is stale: run scripts/gen_frame_schemas.py",
                file=sys.stderr,
            )
            return 1
        print("docs/frames.schema.json is current")
        return 0
    OUTPUT.write_text(text)
    print(f"wrote {OUTPUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
