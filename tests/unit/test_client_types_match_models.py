"""client/roomcast.d.ts declares the server frames the pydantic models send: same fields,
same optionality, same `type` values. Client-only fields (set by the client itself) are
listed here with why, so a new server field cannot go untyped unnoticed."""

from __future__ import annotations

import re
import typing

import pytest
from pydantic import BaseModel

from roomcast.models import frames
from tests.conftest import ROOT

DTS = (ROOT / "client" / "roomcast.d.ts").read_text()

# d.ts interface -> the model the server serialises it from.
PAIRS: dict[str, type[BaseModel]] = {
    "Member": frames.Member,
    "Message": frames.Message,
    "HistoryPage": frames.HistoryPage,
    "RoomSummary": frames.RoomSummary,
    "JoinedFrame": frames.JoinedFrame,
    "LeftFrame": frames.LeftFrame,
    "MemberEventFrame": frames.MemberEventFrame,
    "MessageFrame": frames.MessageFrame,
    "AckFrame": frames.AckFrame,
    "HistoryFrame": frames.HistoryFrameOut,
    "TypingFrame": frames.TypingEventFrame,
    "PongFrame": frames.PongFrame,
    "RoomClosedFrame": frames.RoomClosedFrame,
    "ErrorFrame": frames.ErrorFrame,
    "Notification": frames.Notification,
    "NotificationFrame": frames.NotificationFrame,
    "OpenStream": frames.OpenStream,
    "StreamChunk": frames.StreamChunk,
    "MessageDeltaFrame": frames.MessageDeltaFrame,
    "InboxItem": frames.InboxItem,
    "InboxFrame": frames.InboxFrameOut,
    "ModeratedFrame": frames.ModeratedFrame,
    "KickedFrame": frames.KickedFrame,
    "MutedFrame": frames.MutedFrame,
    "MessageDeletedFrame": frames.MessageDeletedFrame,
    "DisconnectedFrame": frames.DisconnectedFrame,
}
# Set by the client on frames it hands to the app, never sent by the server.
CLIENT_ONLY = {
    ("MessageFrame", "catch_up"),  # messages replayed from history after a reconnect
    ("RoomClosedFrame", "synthetic"),  # learned of the closure from a failed rejoin
    ("RoomClosedFrame", "reason"),  # why the client concluded the room is closed
}

# Always sent by the server, but optional in the d.ts because the client builds this frame
# itself too (a synthetic room.closed after a failed rejoin has no server time).
WIDENED = {("RoomClosedFrame", "at")}


def interface(name: str) -> dict[str, tuple[bool, str]]:
    """field -> (optional, declared type) of `export interface <name> [extends X] {...}`."""
    match = re.search(rf"export interface {name}(?: extends (\w+))? \{{(.*?)\n\}}", DTS, re.S)
    assert match, f"{name} is not declared in client/roomcast.d.ts"
    fields = interface(match.group(1)) if match.group(1) else {}
    body = re.sub(r"/\*\*.*?\*/", "", match.group(2), flags=re.S)
    for field, optional, kind in re.findall(r"^\s*(\w+)(\??):\s*(.+?);\s*$", body, re.M):
        fields[field] = (optional == "?", kind)
    return fields


def _literal_values(model: type[BaseModel]) -> set[str]:
    return set(typing.get_args(model.model_fields["type"].annotation))


@pytest.mark.parametrize("name", sorted(PAIRS))
def test_each_server_frame_type_declares_the_models_fields(name: str) -> None:
    model = PAIRS[name]
    declared = {f: v for f, v in interface(name).items() if (name, f) not in CLIENT_ONLY}
    assert set(declared) == set(model.model_fields), name
    for field, info in model.model_fields.items():
        # OutModel.dump() leaves None out: a field that may be None is optional on the wire.
        may_be_absent = not info.is_required() and (info.default is None or type(None) in typing.get_args(info.annotation))
        if (name, field) in WIDENED:
            assert declared[field][0] and not may_be_absent, (name, field)
            continue
        assert declared[field][0] == may_be_absent, (name, field)


@pytest.mark.parametrize("name", [n for n in sorted(PAIRS) if "type" in PAIRS[n].model_fields])
def test_each_frames_type_values_match(name: str) -> None:
    declared = set(re.findall(r'"([^"]+)"', interface(name)["type"][1]))
    assert declared == _literal_values(PAIRS[name]), name


def test_every_client_only_field_is_really_absent_from_the_model() -> None:
    for name, field in CLIENT_ONLY:
        assert field in interface(name) and field not in PAIRS[name].model_fields
