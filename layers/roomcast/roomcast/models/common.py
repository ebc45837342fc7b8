"""Field types shared by frames, records and admin payloads."""

from __future__ import annotations

import base64
import binascii
import json
import math
import re
from datetime import datetime
from typing import Annotated, Any, Literal, get_args, get_origin

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    GetJsonSchemaHandler,
    StringConstraints,
    TypeAdapter,
    WithJsonSchema,
)

# Room and user ids travel in DynamoDB keys and URLs: keep them to a safe alphabet.
RoomId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_-]{1,64}$")]
UserId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_.@:-]{1,128}$")]
# Other names and ids (display names, request and message ids, who acted, types) are shown
# in UIs and logs and travel in keys: no control characters (C0, DEL, C1), so no NUL, no
# newline forging a log line, no terminal escape. Written for both regex dialects (pydantic's
# and JSON Schema's ECMA one), so docs/openapi.json and asyncapi.yaml say the same.
_CONTROL = r"\x00-\x1f\x7f-\x9f"
NO_CONTROL = rf"^[^{_CONTROL}]*$"
NoControl = StringConstraints(pattern=NO_CONTROL)
RequestId = Annotated[str, StringConstraints(min_length=1, max_length=64), NoControl]
# Leading and trailing spaces are trimmed, so a name needs one other character.
DisplayName = Annotated[
    str,
    StringConstraints(
        min_length=1,
        max_length=80,
        strip_whitespace=True,
        pattern=rf"^[^{_CONTROL}]*[^\s{_CONTROL}][^{_CONTROL}]*$",
    ),
]


# A webhook signing secret: whsec_ and the base64 of at least 24 bytes (32 characters),
# as Standard Webhooks' libraries take it (webhooks/signing.py decodes it).
WEBHOOK_SECRET_PATTERN = r"^(whsec_)?([A-Za-z0-9+/]{4}){8,}([A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$"  # noqa: S105
MIN_SECRET_BYTES = 24


def _webhook_secret(value: str) -> str:
    """The pattern, with a refusal that says what is wrong (too short, or not base64)."""
    if re.fullmatch(WEBHOOK_SECRET_PATTERN, value):
        return value
    raw = value.removeprefix("whsec_")
    try:
        size = len(base64.b64decode(raw, validate=True))
    except (binascii.Error, ValueError):
        raise ValueError("a webhook secret is whsec_ and base64 (no spaces)") from None
    raise ValueError(f"a webhook secret must decode to at least {MIN_SECRET_BYTES} bytes (it decodes to {size})")


WebhookSecret = Annotated[
    str,
    StringConstraints(max_length=256),
    AfterValidator(_webhook_secret),
    WithJsonSchema({"type": "string", "maxLength": 256, "pattern": WEBHOOK_SECRET_PATTERN}),
]

_RFC3339 = re.compile(
    r"^(\d{4}-\d{2}-\d{2})[Tt](\d{2}:\d{2}):(\d{2})(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$"
)


def _rfc3339(value: str) -> str:
    """RFC 3339 (JSON Schema's date-time), as the documents say, and nothing looser; the
    value comes back as datetime.fromisoformat reads it (T, Z; a leap second as :59.999)."""
    found = _RFC3339.match(value)
    if found is None:
        raise ValueError("an RFC 3339 time with a zone, e.g. 2026-01-31T12:00:00Z")
    day, minutes, seconds, fraction, zone = found.groups()
    if seconds == "60":
        seconds, fraction = "59", ".999"
    normal = f"{day}T{minutes}:{seconds}{(fraction or '')[:7]}{'Z' if zone in 'Zz' else zone}"
    if day.startswith("0000"):
        return "0001-01-01T00:00:00Z"  # before what a datetime holds: from the beginning
    try:
        datetime.fromisoformat(normal).timestamp()
    except OverflowError:
        # An offset that moves it out of years 1..9999: the nearest end of time.
        return "0001-01-01T00:00:00Z" if day < "5000" else "9999-12-31T23:59:59Z"
    except ValueError:
        raise ValueError("not a valid date and time") from None
    return normal


Rfc3339 = Annotated[str, AfterValidator(_rfc3339), WithJsonSchema({"type": "string", "format": "date-time"})]


class StrictModel(BaseModel):
    """Inbound models reject unknown fields (a typo is an error, not a silent no-op) and
    take JSON types as they are: a boolean is true or false (never "yes", 1 or "on"), an
    integer is an integer (never "5", 5.0 or true), a string is a string (never 5)."""

    model_config = ConfigDict(extra="forbid", str_max_length=65536, strict=True)


def encoded_size(payload: Any) -> int:
    """Bytes of a value as compact UTF-8 JSON, as replies are encoded; every "N KB of JSON"
    limit (meta, metadata, notification data) is measured this way."""
    return len(json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode("utf-8", "surrogatepass"))


class OutModel(BaseModel):
    """Outbound models: serialised without None fields to keep frames small."""

    model_config = ConfigDict(extra="forbid")

    def dump(self) -> dict:
        return self.model_dump(mode="json", exclude_none=True)


# Integers a client may store: exact in every JSON parser, JavaScript's Number included.
MAX_SAFE_INTEGER = 2**53 - 1
_SMALLEST = 1e-130  # DynamoDB's smallest magnitude


def storable_problem(value: object, max_depth: int, depth: int = 1) -> str | None:
    """Why client-given JSON (message meta, room metadata, notification data) cannot be
    stored as-is, or None; `StorableJson` is the same rule as a JSON Schema.

    DynamoDB nests at most 32 levels and holds numbers within 1E-130..9.99E+125 of 38
    digits; integers are kept within +-(2^53 - 1) so that a browser reads back what was
    stored. Empty map keys are refused too: the emulator stores them but cannot read them
    back, so one message or room would break every later read.
    """
    if depth > max_depth:
        return f"nests deeper than {max_depth} levels"
    if isinstance(value, dict):
        for name, item in value.items():
            if not name:
                return "keys must not be empty"
            if problem := storable_problem(item, max_depth, depth + 1):
                return problem
    elif isinstance(value, list):
        for item in value:
            if problem := storable_problem(item, max_depth, depth + 1):
                return problem
    elif isinstance(value, bool):
        return None
    elif isinstance(value, int) or (isinstance(value, float) and value.is_integer()):
        if abs(value) > MAX_SAFE_INTEGER:
            return "integers are limited to +-(2^53 - 1)"
    elif isinstance(value, float) and not (math.isfinite(value) and abs(value) >= _SMALLEST):
        return "numbers must be finite, and 0 or at least 1e-130 in magnitude"
    return None


_NON_INTEGER = {
    "type": "number",
    "allOf": [{"not": {"type": "integer"}}, {"not": {"exclusiveMinimum": -_SMALLEST, "exclusiveMaximum": _SMALLEST}}],
}
_JsonKey = Annotated[str, StringConstraints(min_length=1)]
_JsonInt = Annotated[int, Field(ge=-MAX_SAFE_INTEGER, le=MAX_SAFE_INTEGER)]
_JsonNumber = Annotated[float, WithJsonSchema(_NON_INTEGER)]
type StorableJson = (
    bool | _JsonInt | _JsonNumber | str | list[StorableJson] | dict[_JsonKey, StorableJson] | None
)
_SCHEMAS = {"any": TypeAdapter(StorableJson).core_schema, "object": TypeAdapter(dict[_JsonKey, StorableJson]).core_schema}


class StorableShape:
    """Documents a field as `StorableJson` (docs/openapi.json, asyncapi.yaml): what
    storable_problem lets through, bar the depth and size limits JSON Schema cannot
    state. Validation stays the field's own (`dict[str, Any]` or `Any`, then
    storable_problem), whose refusals name the first problem plainly."""

    def __init__(self, kind: Literal["any", "object"]) -> None:
        self.kind = kind

    def __get_pydantic_json_schema__(self, core_schema: Any, handler: GetJsonSchemaHandler) -> Any:
        return handler(_SCHEMAS[self.kind])


def actions_of(frames: Any) -> frozenset[str]:
    """The `action` values of a frame type or a (possibly Annotated) union of them.

    The union is the one owner of the action names: route keys (template.yaml), the
    dispatch tables of the handlers and the `unknown_action` message all come from it.
    """
    if get_origin(frames) is Annotated:
        frames = get_args(frames)[0]
    members = get_args(frames) or (frames,)
    names: set[str] = set()
    for frame in members:
        names.update(get_args(frame.model_fields["action"].annotation))
    return frozenset(names)

