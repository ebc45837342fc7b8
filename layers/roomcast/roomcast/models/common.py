"""Field types shared by frames, records and admin payloads."""

from __future__ import annotations

import json
from typing import Annotated, Any, get_args, get_origin

from pydantic import BaseModel, ConfigDict, StringConstraints

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


def storable_problem(value: object, max_depth: int, depth: int = 1) -> str | None:
    """Why client-given JSON (message meta, room metadata) cannot be stored as-is, or None.

    DynamoDB nests at most 32 levels and holds numbers of 38 digits within
    1E-130..9.99E+125; what it would refuse is refused up front as bad input (not an
    internal error). Empty map keys are refused too: the emulator stores them but cannot
    read them back, so one message or room would break every later read.
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
    elif isinstance(value, int):
        if abs(value) >= 10**38:
            return "numbers are limited to 38 digits"
    elif isinstance(value, float) and value != 0 and not 1e-130 <= abs(value) < 1e125:
        return "numbers must be finite and within 1e-130..1e125"
    return None


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

