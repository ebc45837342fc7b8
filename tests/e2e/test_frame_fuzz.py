"""A frame fuzzer over the WebSocket routes, generated from the frame models: every frame
it sends is one the models' own JSON Schemas (the ones docs/asyncapi.yaml is made of) call
invalid, sent over one real connection to the local runtime. Each must be answered with
an `error` frame - `invalid_frame`, or `unknown_action` for an action that is not one -
never `internal_error`, and the socket must stay open throughout (docs/protocol.md,
"Error codes").

The frames are built from each model's schema: a valid value for each required field,
then one kind of damage - a field of another JSON type, a string or number outside its
bounds or pattern, a required field left out, an unknown field, an action that is none -
or a frame that is not a JSON object at all (bad syntax, NaN, an integer of thousands of
digits, 5,000 levels of nesting, a lone surrogate, a list, binary). A generated frame the
schema still accepts is discarded, so the test never depends on a guess.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Annotated, Any, get_args, get_origin

import jsonschema
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from websockets.sync.client import ClientConnection, connect

from roomcast.models.frames import CHAT_ACTIONS, ChatFrame
from roomcast.models.signaling import SIGNAL_ACTIONS, SignalFrame

EXAMPLES = 500
ACTIONS = CHAT_ACTIONS | SIGNAL_ACTIONS
# The answers a malformed frame may get (docs/protocol.md): nothing else, and never internal_error.
MALFORMED_CODES = {"invalid_frame", "unknown_action"}


def _models(union: Any) -> list[type]:
    if get_origin(union) is Annotated:
        union = get_args(union)[0]
    members = get_args(union)
    if not members:
        return [union]
    return [model for member in members for model in _models(member)]


MODELS = [*_models(ChatFrame), SignalFrame]
SCHEMAS = {model: model.model_json_schema() for model in MODELS}


def _branches(schema: dict[str, Any]) -> list[dict[str, Any]]:
    return schema.get("anyOf", [schema])


def _non_null(schema: dict[str, Any]) -> dict[str, Any]:
    return next((b for b in _branches(schema) if b.get("type") != "null"), schema)


def valid_value(schema: dict[str, Any]) -> st.SearchStrategy[Any]:
    schema = _non_null(schema)
    if "const" in schema:
        return st.just(schema["const"])
    if "enum" in schema:
        return st.sampled_from(schema["enum"])
    kind = schema.get("type")
    if kind == "string":
        low, high = schema.get("minLength", 1), min(schema.get("maxLength", 20), 20)
        if "pattern" in schema:
            return st.from_regex(schema["pattern"], fullmatch=True).filter(
                lambda s: low <= len(s) <= schema.get("maxLength", 10**6)
            )
        return st.text(
            st.characters(min_codepoint=0x20, max_codepoint=0x7E),
            min_size=low,
            max_size=max(low, high),
        )
    if kind == "integer":
        return st.integers(schema.get("minimum", -(10**6)), schema.get("maximum", 10**6))
    if kind == "boolean":
        return st.booleans()
    if kind == "array":
        return st.lists(valid_value(schema.get("items", {"type": "string"})), max_size=2)
    return st.just({})


def wrong_type(schema: dict[str, Any]) -> st.SearchStrategy[Any]:
    """A JSON value of a type the field does not take."""
    allowed = {b.get("type") for b in _branches(schema)}
    pool: list[Any] = []
    if not allowed & {"string"}:
        pool += ["5", "true", "yes", ""]
    if not allowed & {"integer", "number"}:
        pool += [5, 5.5, -1, 10**20]
    elif "integer" in allowed and "number" not in allowed:
        pool += [5.5, "5"]
    if "boolean" not in allowed:
        pool += [True, False]
    if "null" not in allowed:
        pool += [None]
    if "array" not in allowed:
        pool += [[], ["x"]]
    if "object" not in allowed:
        pool += [{}, {"a": 1}]
    return st.sampled_from(pool)


def out_of_bounds(schema: dict[str, Any]) -> st.SearchStrategy[Any]:
    """A value of the right type that breaks a bound, pattern or enumeration."""
    schema = _non_null(schema)
    options: list[Any] = []
    if "enum" in schema or "const" in schema:
        options += ["not-one-of-them", "JOIN", ""]
    if schema.get("type") == "string":
        if "maxLength" in schema:
            options.append("a" * (schema["maxLength"] + 1))
        if schema.get("minLength", 0) > 0:
            options.append("")
        if "pattern" in schema:
            options += ["has space", "nul\x00byte", "line\nbreak", "é" * 3, "a" * 300]
    if schema.get("type") == "integer":
        if "minimum" in schema:
            options.append(schema["minimum"] - 1)
        if "maximum" in schema:
            options.append(schema["maximum"] + 1)
    if schema.get("type") == "array" and "maxItems" in schema:
        options.append(["x"] * (schema["maxItems"] + 1))
    return st.sampled_from(options) if options else st.nothing()


@st.composite
def broken_frame(draw: st.DrawFn) -> tuple[str, Any, str]:
    """(what was broken, the frame as text or bytes, the codes it may get)."""
    model = draw(st.sampled_from(MODELS))
    schema = SCHEMAS[model]
    properties, required = schema["properties"], set(schema.get("required", []))
    frame = {name: draw(valid_value(properties[name])) for name in sorted(required)}
    damage = draw(st.sampled_from(["type", "bounds", "missing", "unknown_field", "action"]))
    field = draw(st.sampled_from(sorted(properties)))
    if damage == "type":
        frame[field] = draw(wrong_type(properties[field]))
    elif damage == "bounds":
        frame[field] = draw(out_of_bounds(properties[field]))
    elif damage == "missing":
        assume(required - {"action"})
        frame.pop(draw(st.sampled_from(sorted(required - {"action"}))))
    elif damage == "unknown_field":
        name = draw(st.text(min_size=1, max_size=12).filter(lambda n: n not in properties))
        frame[name] = draw(st.sampled_from([1, "x", None, [], {}]))
    else:
        frame["action"] = draw(
            st.one_of(
                st.text(max_size=20).filter(lambda a: a not in ACTIONS),
                wrong_type({"type": "string"}),
            )
        )
        codes = "unknown_action"
        return f"{model.__name__}: action", json.dumps(frame), codes
    assume(not jsonschema.Draft202012Validator(schema).is_valid(frame))
    # A frame whose action is no action is unknown_action, whatever else is wrong with it.
    action = frame.get("action")
    broke_action = field == "action" and not (isinstance(action, str) and action in ACTIONS)
    return (
        f"{model.__name__}: {damage} {field}",
        json.dumps(frame),
        "unknown_action" if broke_action else "invalid_frame",
    )


# Frames that are not a JSON object the models can read; built when drawn (some are long).
NOT_AN_OBJECT: dict[str, tuple[Any, str]] = {
    "invalid JSON": ('{"action": "join", "room_id": ', "invalid_frame"),
    "a list": ('[{"action": "ping"}]', "invalid_frame"),
    "a string": ('"ping"', "invalid_frame"),
    "a number": ("5", "invalid_frame"),
    "null": ("null", "invalid_frame"),
    "NaN": ('{"action": "join", "room_id": "r", "history_limit": NaN}', "invalid_frame"),
    "a 5,000-digit integer": (
        '{"action": "join", "room_id": "r", "history_limit": ' + "9" * 5000 + "}",
        "invalid_frame",
    ),
    "5,000 levels of nesting": (
        '{"action": "send", "room_id": "r", "text": "x", "meta": '
        + '{"a":' * 5000
        + "1"
        + "}" * 5001,
        "invalid_frame",
    ),
    "a lone surrogate": ('{"action": "send", "room_id": "r", "text": "\\ud800"}', "invalid_frame"),
    "no action": ('{"room_id": "r"}', "unknown_action"),
    "binary": (b'{"action": "ping"}', "invalid_frame"),
}
not_an_object = st.sampled_from(sorted(NOT_AN_OBJECT)).map(
    lambda label: (label, *NOT_AN_OBJECT[label])
)
frames = st.one_of(broken_frame(), not_an_object)


@pytest.fixture(scope="module")
def socket(local_runtime) -> Iterator[ClientConnection]:
    token = local_runtime.token("fuzzer", "Fuzzer")
    with connect(local_runtime.ws_url, subprotocols=["roomcast.v1", token], open_timeout=30) as ws:  # type: ignore[list-item]
        yield ws


SENT: list[str] = []


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.filter_too_much,
    ],
)
@given(case=frames)
def test_every_malformed_frame_gets_a_documented_error_and_the_socket_stays_open(socket, case):
    what, frame, code = case
    socket.send(frame)
    reply = json.loads(socket.recv(timeout=30))
    SENT.append(what)
    shown = (what, frame[:300], reply)
    assert reply.get("type") == "error", shown
    assert reply["code"] != "internal_error", shown
    assert reply["code"] == code and reply["code"] in MALFORMED_CODES, shown


def test_the_fuzzed_socket_is_still_open_and_answers(socket, local_runtime):
    # Runs after the fuzzer (file order): the same connection, still served.
    assert len(SENT) >= EXAMPLES // 2, f"only {len(SENT)} frames were sent"
    socket.send(json.dumps({"action": "ping", "request_id": "after-fuzz"}))
    assert json.loads(socket.recv(timeout=30))["type"] == "pong"
    kinds = sorted(
        {what.split(": ")[1].split(" ")[0] if ": " in what else "not an object" for what in SENT}
    )
    print(
        f"\nframe fuzzer: {len(SENT)} malformed frames over one socket, damages: {', '.join(kinds)}"
    )
