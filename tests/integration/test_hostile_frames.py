"""Property: malformed, oversized and hostile frames sent by a member of an open room get
only error frames with a known code, and write nothing (the whole table and what the
other member received are unchanged after every example)."""

from __future__ import annotations

import json
import re
from typing import Any

import boto3
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.helpers import http_event, posted_frames, reply_body, ws_event

KNOWN_CODES = {
    "invalid_frame",
    "unknown_action",
    "payload_too_large",
    "invalid_cursor",
    "not_member",
    "room_not_found",
    "forbidden",
    "room_closed",
}
ROOM_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
ACTIONS = ("join", "leave", "send", "history", "typing", "ping")
FIELDS = {"action", "request_id", "room_id", "history_limit", "text", "client_msg_id", "meta", "before", "limit", "is_typing"}

surrogates = st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF)
any_char = st.one_of(st.characters(), surrogates)
hostile_text = st.one_of(
    st.text(alphabet=any_char, max_size=60),
    st.sampled_from(
        [
            "' OR '1'='1",
            '"; DROP TABLE rooms;--',
            "${jndi:ldap://169.254.169.254/x}",
            "<script>alert(1)</script>",
            "{{7*7}}",
            "../../etc/passwd",
            "ROOM#lobby",
            "MEMBER#conn-bob-1",
            "lobby\x00",
            "\u202egnp.exe",
            "\ud800",
            "\udfff\ud800",
            "🙂" * 20,
        ]
    ),
)
bad_room_ids = st.one_of(
    hostile_text.filter(lambda s: not ROOM_ID.match(s)),
    st.sampled_from(["", " ", "lobby ", "a" * 65, "lòbby", "lobby#META", "ROOM#lobby"]),
)
other_rooms = st.from_regex(r"[A-Za-z0-9_-]{1,64}", fullmatch=True).filter(lambda s: s != "lobby")
huge_numbers = st.one_of(
    st.integers(min_value=10**18, max_value=10**40),
    st.integers(max_value=-1),
    st.sampled_from([float("inf"), float("-inf"), 1e308, -0.0, 1.5]),
)
junk_scalars = st.one_of(st.none(), st.booleans(), huge_numbers, st.floats(allow_nan=True), hostile_text)
junk = st.recursive(
    junk_scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4)),
    max_leaves=12,
)
not_strings = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.lists(junk_scalars, max_size=3), st.dictionaries(st.text(max_size=4), junk_scalars, max_size=2))
# Echoable request ids: UTF-8 text (a lone surrogate is refused and not echoed; see test_chat_actions).
# ... and no control characters (ids never hold them; docs/protocol.md, "Error codes").
request_ids = st.one_of(
    st.none(),
    st.text(alphabet=st.characters(codec="utf-8", blacklist_categories=("Cc",)), min_size=1, max_size=64),
)


def _dump(frame: Any) -> str:
    # allow_nan: NaN/Infinity are not JSON, yet Python's parser accepts them; clients may send them.
    return json.dumps(frame, ensure_ascii=False)


def _valid(action: str, request_id: str | None) -> dict[str, Any]:
    frame: dict[str, Any] = {"action": action}
    if action != "ping":
        frame["room_id"] = "lobby"
    if action == "send":
        frame["text"] = "hi"
    if request_id is not None:
        frame["request_id"] = request_id
    return frame


def _nested(depth: int) -> dict[str, Any]:
    root: dict[str, Any] = {}
    node = root
    for _ in range(depth):
        node["a"] = {}
        node = node["a"]
    return root


@st.composite
def broken_known_action(draw: st.DrawFn) -> tuple[str, str | None]:
    """A known action made invalid by exactly the kind of damage a hostile client does."""
    action = draw(st.sampled_from(ACTIONS))
    request_id = draw(request_ids)
    frame = _valid(action, request_id)
    has_room = action != "ping"
    damages = ["extra", "bad_request_id"]
    if has_room:
        damages += ["bad_room", "missing_room", "room_wrong_type"]
        damages += ["other_room"] if action in {"join", "leave", "send", "history", "typing"} else []
    damages += {
        "join": ["history_limit"],
        "send": ["text_type", "text_empty", "text_too_long", "meta_too_big", "meta_type", "meta_unstorable", "text_surrogate", "client_msg_id"],
        "history": ["limit", "before_type", "before_not_id"],
        "typing": ["is_typing"],
    }.get(action, [])
    damage = draw(st.sampled_from(damages))
    if damage == "extra":
        frame[draw(st.text(max_size=12).filter(lambda k: k not in FIELDS))] = draw(junk)
    elif damage == "bad_request_id":
        wrong_type = not_strings.filter(lambda v: v is not None)  # null is "no request_id"
        frame["request_id"] = draw(
            st.one_of(wrong_type, st.just(""), st.text(min_size=65, max_size=80), st.sampled_from(["a\x00", "\x1f", "r\n1"]))
        )
        request_id = None
    elif damage == "bad_room":
        frame["room_id"] = draw(bad_room_ids)
    elif damage == "missing_room":
        del frame["room_id"]
    elif damage == "room_wrong_type":
        frame["room_id"] = draw(not_strings)
    elif damage == "other_room":
        frame["room_id"] = draw(other_rooms)
    elif damage == "history_limit":
        frame["history_limit"] = draw(st.one_of(st.integers(min_value=101), st.integers(max_value=-1), st.just("ten"), st.just(2.5)))
    elif damage == "text_type":
        frame["text"] = draw(not_strings)
    elif damage == "text_empty":
        frame["text"] = ""
    elif damage == "text_too_long":
        frame["text"] = "x" * draw(st.integers(min_value=8001, max_value=20000))
    elif damage == "meta_too_big":
        frame["meta"] = {"blob": "y" * draw(st.integers(min_value=2100, max_value=10000))}
    elif damage == "meta_type":
        frame["meta"] = draw(st.one_of(st.lists(junk_scalars, max_size=3), st.integers(), hostile_text))
    elif damage == "meta_unstorable":
        # Values DynamoDB cannot hold (or the emulator cannot read back), somewhere inside.
        bad = draw(st.sampled_from([float("nan"), float("inf"), 1e-200, 1e300, 10**40, -(10**39), {"": 1}, [{"": None}]]))
        depth = draw(st.integers(min_value=0, max_value=4))
        value: Any = bad
        for _ in range(depth):
            value = draw(st.sampled_from([lambda v: {"k": v}, lambda v: [v], lambda v: {"x": 1, "y": [0, v]}]))(value)
        if draw(st.booleans()):
            value = {"deep": _nested(draw(st.integers(min_value=16, max_value=40)))}
        frame["meta"] = {"m": value}
    elif damage == "text_surrogate":
        # JSON may escape a lone surrogate ("\ud800"): valid UTF-8 on the wire, not text inside.
        frame["text"] = draw(st.text(max_size=10)) + draw(surrogates) + draw(st.text(max_size=10))
    elif damage == "client_msg_id":
        frame["client_msg_id"] = draw(st.one_of(st.just(""), st.text(min_size=65, max_size=90), not_strings.filter(lambda v: v is not None)))
    elif damage == "limit":
        frame["limit"] = draw(st.one_of(st.integers(min_value=101), st.integers(max_value=0), huge_numbers, st.just("many")))
    elif damage == "before_type":
        frame["before"] = draw(st.one_of(st.text(min_size=201, max_size=300), st.integers(), st.lists(st.integers(), max_size=2)))
    elif damage == "before_not_id":
        frame["before"] = draw(st.one_of(hostile_text, st.from_regex(r"[0-9a-f]{24}", fullmatch=True)).filter(lambda s: not re.fullmatch(r"[0-9a-f]{25}", s)))
    elif damage == "is_typing":
        frame["is_typing"] = draw(st.one_of(st.just("maybe"), st.just(2), st.just(1.5), st.lists(st.booleans(), max_size=2), st.just({})))
    return _dump(frame), request_id


@st.composite
def unknown_action(draw: st.DrawFn) -> tuple[str, str | None]:
    request_id = draw(request_ids)
    action = draw(st.one_of(not_strings, hostile_text.filter(lambda a: a not in ACTIONS), st.sampled_from(["JOIN", "join ", "$default", "$connect", "signal", "admin"])))
    frame: dict[str, Any] = {"action": action, "room_id": "lobby", "text": "hi"}
    if draw(st.booleans()):
        del frame["action"]
    frame.update(draw(st.dictionaries(st.text(max_size=8).filter(lambda k: k not in FIELDS), junk, max_size=3)))
    if request_id is not None:
        frame["request_id"] = request_id
    return _dump(frame), request_id


not_objects = st.one_of(
    junk.filter(lambda v: not isinstance(v, dict)).map(_dump),
    st.text(alphabet=any_char, max_size=200),  # mostly not JSON at all
    st.sampled_from(["", " ", "{", '{"action": "join"', "[" * 5000 + "]" * 5000, "[" * 20000, '{"a":' * 3000, "\x00", "null", "true"]),
).map(lambda body: (body, None))


@st.composite
def oversized(draw: st.DrawFn) -> tuple[str, str | None]:
    request_id = draw(request_ids)
    frame = _valid(draw(st.sampled_from(ACTIONS)), request_id)
    frame["pad" if draw(st.booleans()) else "text"] = "z" * draw(st.integers(min_value=32 * 1024, max_value=40 * 1024))
    return _dump(frame), request_id


hostile_frames = st.one_of(broken_known_action(), unknown_action(), not_objects, oversized())


def _table_items() -> list[dict[str, Any]]:
    """Every item but rate buckets: a refused send still spends its token (floods of refused
    frames are limited too)."""
    from roomcast.settings import get_settings

    client = boto3.client("dynamodb")
    items: list[dict[str, Any]] = []
    params: dict[str, Any] = {"TableName": get_settings().table_name, "ConsistentRead": True}
    while True:
        page = client.scan(**params)
        items.extend(i for i in page["Items"] if not i["sk"]["S"].startswith("RATE#"))
        if "LastEvaluatedKey" not in page:
            return sorted(items, key=lambda i: (i["pk"]["S"], i["sk"]["S"]))
        params["ExclusiveStartKey"] = page["LastEvaluatedKey"]


@pytest.fixture
def open_room(stack, invoke) -> None:
    """alice (the attacker) and bob are members of the open room `lobby`, with one message."""
    assert invoke("admin", http_event("http-create-room.json"))["statusCode"] == 201
    assert reply_body(invoke("chat", ws_event("ws-join.json")))["type"] == "joined"
    assert reply_body(invoke("chat", ws_event("ws-join.json", connection_id="conn-bob-1", user_id="bob", name="Bob")))["type"] == "joined"
    assert reply_body(invoke("chat", ws_event("ws-send.json")))["type"] == "ack"


@settings(
    max_examples=150,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(case=hostile_frames)
def test_hostile_frames_get_only_error_frames_and_write_nothing(open_room, invoke, case):
    body, request_id = case
    before = _table_items()
    bob_before = posted_frames("conn-bob-1")
    event = ws_event("ws-default.json", body=body)
    response = invoke("chat", event)
    assert response["statusCode"] == 200
    reply = reply_body(response)
    assert reply is not None and reply["type"] == "error", reply
    assert reply["code"] in KNOWN_CODES, reply
    assert set(reply) <= {"type", "code", "message", "request_id"}
    assert isinstance(reply["message"], str) and len(reply["message"]) <= 200
    assert "Traceback" not in reply["message"] and "File \"" not in reply["message"]
    if request_id is not None:
        assert reply.get("request_id") == request_id
    # The reply is sendable: API Gateway carries UTF-8 text.
    response["body"].encode("utf-8")
    assert _table_items() == before
    assert posted_frames("conn-bob-1") == bob_before
