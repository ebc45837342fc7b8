"""Generate docs/asyncapi.yaml (AsyncAPI 3.0) from the pydantic frame models.

The payload schemas come from the models themselves (roomcast.models.frames and, when it
is there, roomcast.models.signaling), so the document cannot drift from the code;
tests/unit/test_chat_protocol_docs.py fails when the committed file is stale and checks
every example below against the models.

    .venv/bin/python scripts/gen_asyncapi.py            # rewrite docs/asyncapi.yaml
    .venv/bin/python scripts/gen_asyncapi.py --check    # exit 1 if it is stale
"""

from __future__ import annotations

import argparse
import importlib
import sys
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

ROOT = Path(__file__).resolve().parent.parent
OUTPUT = ROOT / "docs" / "asyncapi.yaml"

ROOM = "01hzroomstandup"
MSG_1 = "0193a6f2c1b7a4f0e3c2d1b0a"
MSG_2 = "0193a6f2c4e01d2c3b4a59687"
CALL = "0193a6f3a0c17e6d5c4b3a291"
AT = "2026-11-22T09:30:00.000Z"
MESSAGE_1 = {
    "id": MSG_1,
    "room_id": ROOM,
    "user_id": "alice",
    "name": "Alice",
    "text": "Good morning!",
    "sent_at": AT,
    "client_msg_id": "6f1c2b7e-2f0a-4b53-9d0e-0c1f6a8f2a11",
}
MESSAGE_2 = {
    "id": MSG_2,
    "room_id": ROOM,
    "user_id": "bob",
    "name": "Bob",
    "text": "Morning. Ready when you are.",
    "sent_at": "2026-11-22T09:30:04.120Z",
    "client_msg_id": "0d8e9a41-5b8c-4a3e-8f43-2b7f3b0c9d55",
    "meta": {"reply_to": MSG_1},
}


# (message name, model module, model class, direction, title, summary, examples).
# direction: "send" = client -> server, "receive" = server -> client.
CHAT: list[tuple[str, str, str, str, str, str, list[dict[str, Any]]]] = [
    (
        "join",
        "frames",
        "JoinFrame",
        "send",
        "join",
        "Become a member of an open room. Reply: joined (presence snapshot + latest history page).",
        [{"action": "join", "room_id": ROOM, "request_id": "r1", "history_limit": 50}],
    ),
    (
        "leave",
        "frames",
        "LeaveFrame",
        "send",
        "leave",
        "Stop being a member. Reply: left. The others get member.left.",
        [{"action": "leave", "room_id": ROOM, "request_id": "r7"}],
    ),
    (
        "send",
        "frames",
        "SendFrame",
        "send",
        "send",
        "Store a message, then fan it out. Reply: ack. client_msg_id makes a resend idempotent.",
        [
            {
                "action": "send",
                "room_id": ROOM,
                "request_id": "r2",
                "text": "Good morning!",
                "client_msg_id": MESSAGE_1["client_msg_id"],
            }
        ],
    ),
    (
        "history",
        "frames",
        "HistoryFrame",
        "send",
        "history",
        "Page backwards through the room's messages (members only). Reply: history.",
        [{"action": "history", "room_id": ROOM, "request_id": "r3", "before": MSG_2, "limit": 50}],
    ),
    (
        "typing",
        "frames",
        "TypingFrame",
        "send",
        "typing",
        "Ephemeral: relayed to the other members as typing, never stored, no reply.",
        [{"action": "typing", "room_id": ROOM, "is_typing": True}],
    ),
    (
        "ping",
        "frames",
        "PingFrame",
        "send",
        "ping",
        "Keep-alive under API Gateway's 10-minute idle timeout. Reply: pong.",
        [{"action": "ping", "request_id": "r4"}],
    ),
    (
        "close",
        "frames",
        "CloseFrame",
        "send",
        "close",
        "Room admins only: close the room (same as the admin API's close). Reply: room.closed.",
        [{"action": "close", "room_id": ROOM, "request_id": "r9"}],
    ),
    (
        "joined",
        "frames",
        "JoinedFrame",
        "receive",
        "joined",
        "Reply to join.",
        [
            {
                "type": "joined",
                "request_id": "r1",
                "room": {"room_id": ROOM, "name": "Standup", "state": "open"},
                "members": [
                    {"user_id": "alice", "name": "Alice", "connections": 1, "joined_at": AT},
                    {"user_id": "bob", "name": "Bob", "connections": 2, "joined_at": AT},
                ],
                "history": {"messages": [MESSAGE_1, MESSAGE_2], "next_cursor": MSG_1},
            }
        ],
    ),
    (
        "left",
        "frames",
        "LeftFrame",
        "receive",
        "left",
        "Reply to leave.",
        [{"type": "left", "request_id": "r7", "room_id": ROOM}],
    ),
    (
        "ack",
        "frames",
        "AckFrame",
        "receive",
        "ack",
        "Reply to send, once the message is durably stored; duplicate=true for a resend. "
        "delivered/failed/gone count the posts made inline; queued counts the member "
        "connections left to range jobs in a room above the split threshold.",
        [
            {
                "type": "ack",
                "request_id": "r2",
                "message": MESSAGE_1,
                "duplicate": False,
                "delivered": 3,
                "failed": 0,
                "gone": 0,
                "queued": 0,
            }
        ],
    ),
    (
        "message",
        "frames",
        "MessageFrame",
        "receive",
        "message",
        "A message from another member (the sender gets an ack instead).",
        [{"type": "message", "message": MESSAGE_2}],
    ),
    (
        "historyPage",
        "frames",
        "HistoryFrameOut",
        "receive",
        "history",
        "Reply to history: oldest first within the page; next_cursor pages further back.",
        [{"type": "history", "request_id": "r3", "room_id": ROOM, "messages": [MESSAGE_1]}],
    ),
    (
        "typingEvent",
        "frames",
        "TypingEventFrame",
        "receive",
        "typing",
        "Another member started or stopped typing.",
        [{"type": "typing", "room_id": ROOM, "user_id": "bob", "name": "Bob", "is_typing": True}],
    ),
    (
        "memberJoined",
        "frames",
        "MemberEventFrame",
        "receive",
        "member.joined",
        "A user joined (or opened another connection): connection_count is theirs now.",
        [
            {
                "type": "member.joined",
                "room_id": ROOM,
                "user_id": "carol",
                "name": "Carol",
                "connection_count": 1,
                "at": AT,
            }
        ],
    ),
    (
        "memberLeft",
        "frames",
        "MemberEventFrame",
        "receive",
        "member.left",
        "A connection left; the user is gone from the room when connection_count is 0.",
        [
            {
                "type": "member.left",
                "room_id": ROOM,
                "user_id": "carol",
                "name": "Carol",
                "connection_count": 0,
                "at": AT,
            }
        ],
    ),
    (
        "pong",
        "frames",
        "PongFrame",
        "receive",
        "pong",
        "Reply to ping.",
        [{"type": "pong", "request_id": "r4", "server_time": AT}],
    ),
    (
        "roomClosed",
        "frames",
        "RoomClosedFrame",
        "receive",
        "room.closed",
        "The room was closed (to every member; to the closer as the reply to close). "
        "The server then closes the members' connections.",
        [
            {"type": "room.closed", "room_id": ROOM, "closed_by": "alice", "at": AT},
            {
                "type": "room.closed",
                "request_id": "r9",
                "room_id": ROOM,
                "closed_by": "alice",
                "at": AT,
            },
        ],
    ),
    (
        "notification",
        "frames",
        "NotificationFrame",
        "receive",
        "notification",
        "An admin broadcast (POST /broadcasts) to every connection, a room's members or "
        "some users' connections. notification.id is the broadcast id: drop repeats.",
        [
            {
                "type": "notification",
                "notification": {
                    "id": "0193a6f4b2d15c6e7f8091a2b",
                    "type": "maintenance",
                    "data": {"text": "Restart at 02:00 UTC", "minutes": 5},
                    "sent_at": AT,
                },
            }
        ],
    ),
    (
        "error",
        "frames",
        "ErrorFrame",
        "receive",
        "error",
        "A refusal, with a stable code; echoes request_id when the frame had one.",
        [
            {
                "type": "error",
                "code": "not_member",
                "message": "join the room first",
                "request_id": "r3",
            }
        ],
    ),
]

# Server-side messaging (issue 13): the inbox action and its reply, streamed-message deltas.
CHAT += [
    (
        "inbox",
        "frames",
        "InboxFrame",
        "send",
        "inbox",
        "The caller's inbox of stored notifications: mark some read, then a page, newest "
        "first (limit 0: only the unread count). Reply: inbox.",
        [{"action": "inbox", "request_id": "r20", "limit": 20, "mark_read": ["0193a6f4b2d15c6e7f8091a2b"]}],
    ),
    (
        "inboxPage",
        "frames",
        "InboxFrameOut",
        "receive",
        "inbox",
        "Reply to inbox: items newest first, next_cursor for older ones, the unread count.",
        [
            {
                "type": "inbox",
                "request_id": "r20",
                "items": [
                    {"id": "0193a6f4b2d15c6e7f8091a2b", "type": "mention", "data": {"by": "bob"}, "sent_at": AT, "read": True}
                ],
                "unread": 0,
                "marked": 1,
            }
        ],
    ),
    (
        "messageDelta",
        "frames",
        "MessageDeltaFrame",
        "receive",
        "message.delta",
        "Chunks of a streamed message that became contiguous, in seq order; a message with "
        "the same id and the whole text follows when the stream ends.",
        [
            {
                "type": "message.delta",
                "room_id": ROOM,
                "message_id": "0193a6f5d0e1f2a3b4c5d6e7f",
                "user_id": "helper-bot",
                "name": "Helper",
                "sender_kind": "bot",
                "chunks": [{"seq": 3, "text": "Hello"}, {"seq": 4, "text": " there"}],
            }
        ],
    ),
]

SIGNALING: list[tuple[str, str, str, str, str, str, list[dict[str, Any]]]] = [
    (
        "signal",
        "signaling",
        "SignalFrame",
        "send",
        "signal",
        "WebRTC signaling, relayed to the peer's connection in the same room. Reply: signal.ack "
        "(or call-failed for an invite to a user who is offline or busy).",
        [
            {
                "action": "signal",
                "room_id": ROOM,
                "request_id": "r10",
                "type": "call-invite",
                "to": "bob",
                "media": "video",
            },
            {
                "action": "signal",
                "room_id": ROOM,
                "request_id": "r11",
                "type": "offer",
                "call_id": CALL,
                "sdp": {
                    "type": "offer",
                    "sdp": "v=0\r\no=- 4611731400430051336 2 IN IP4 127.0.0.1\r\n...",
                },
            },
            {
                "action": "signal",
                "room_id": ROOM,
                "type": "ice-candidate",
                "call_id": CALL,
                "candidate": {
                    "candidate": "candidate:842163049 1 udp 1677729535 192.0.2.7 3478 typ srflx",
                    "sdpMid": "0",
                    "sdpMLineIndex": 0,
                },
            },
            {
                "action": "signal",
                "room_id": ROOM,
                "request_id": "r12",
                "type": "call-hangup",
                "call_id": CALL,
            },
        ],
    ),
    (
        "signalRelay",
        "signaling",
        "SignalRelayFrame",
        "receive",
        "signal",
        "A signal from the peer, with the call's status after it; SDP and candidates untouched.",
        [
            {
                "type": "signal",
                "signal": "call-invite",
                "room_id": ROOM,
                "call_id": CALL,
                "from": {"user_id": "alice", "name": "Alice"},
                "status": "invited",
                "media": "video",
            }
        ],
    ),
    (
        "signalAck",
        "signaling",
        "SignalAckFrame",
        "receive",
        "signal.ack",
        "Reply to signal: the call's status and how many connections it reached.",
        [
            {
                "type": "signal.ack",
                "request_id": "r10",
                "signal": "call-invite",
                "room_id": ROOM,
                "call_id": CALL,
                "status": "invited",
                "delivered": 1,
            }
        ],
    ),
    (
        "callFailed",
        "signaling",
        "CallFailedFrame",
        "receive",
        "call-failed",
        "Reply to an invite that cannot ring: the callee is offline or already in a call.",
        [
            {
                "type": "call-failed",
                "request_id": "r10",
                "room_id": ROOM,
                "call_id": CALL,
                "to": "bob",
                "reason": "user-offline",
            }
        ],
    ),
]


# Membership and moderation (issue 14): moderators' actions and what the affected users get.
MODERATION: list[tuple[str, str, str, str, str, str, list[dict[str, Any]]]] = [
    ("kick", "frames", "KickFrame", "send", "kick",
     "Moderators and room admins: the user's connections leave the room (kicked). Reply: moderated.",
     [{"action": "kick", "room_id": ROOM, "user_id": "bob", "reason": "spam", "request_id": "m1"}]),
    ("ban", "frames", "BanFrame", "send", "ban",
     "Moderators: refuse the user's joins (for duration_seconds, or until unban); live connections are removed.",
     [{"action": "ban", "room_id": ROOM, "user_id": "bob", "duration_seconds": 3600, "request_id": "m2"}]),
    ("unban", "frames", "UnbanFrame", "send", "unban", "Moderators: lift a ban. Reply: moderated.",
     [{"action": "unban", "room_id": ROOM, "user_id": "bob", "request_id": "m3"}]),
    ("mute", "frames", "MuteFrame", "send", "mute",
     "Moderators: the user's sends and typing answer muted (for duration_seconds, or until unmute); they still read.",
     [{"action": "mute", "room_id": ROOM, "user_id": "bob", "duration_seconds": 600, "reason": "calm down", "request_id": "m4"}]),
    ("unmute", "frames", "UnmuteFrame", "send", "unmute", "Moderators: lift a mute. Reply: moderated.",
     [{"action": "unmute", "room_id": ROOM, "user_id": "bob", "request_id": "m5"}]),
    ("deleteMessage", "frames", "DeleteMessageFrame", "send", "delete_message",
     "Moderators: the message becomes a tombstone in history; members get message.deleted. Reply: moderated.",
     [{"action": "delete_message", "room_id": ROOM, "message_id": MSG_1, "request_id": "m6"}]),
    ("moderated", "frames", "ModeratedFrame", "receive", "moderated",
     "Reply to a moderator's action: the act as recorded (MODLOG#, room.closed moderation_history).",
     [{"type": "moderated", "request_id": "m1", "room_id": ROOM, "act": "kicked", "target_user": "bob",
       "connections_removed": 2}]),
    ("kicked", "frames", "KickedFrame", "receive", "kicked",
     "To each connection taken out of a room: cause kick (may join again), ban (refused until `until`, "
     "or for good) or removed (off a members-only room's list). The client does not rejoin it.",
     [{"type": "kicked", "room_id": ROOM, "cause": "ban", "by": "carol", "reason": "spam",
       "until": "2026-11-22T10:30:00.000Z", "at": AT}]),
    ("muted", "frames", "MutedFrame", "receive", "muted",
     "To the muted user's connections in the room (until: when it ends; none: until unmute).",
     [{"type": "muted", "room_id": ROOM, "by": "carol", "until": "2026-11-22T09:40:00.000Z", "at": AT}]),
    ("unmuted", "frames", "MutedFrame", "receive", "unmuted",
     "To the user's connections in the room when their mute is lifted.",
     [{"type": "unmuted", "room_id": ROOM, "by": "carol", "at": AT}]),
    ("messageDeleted", "frames", "MessageDeletedFrame", "receive", "message.deleted",
     "To the room's members: a moderator deleted this message (history now holds its tombstone).",
     [{"type": "message.deleted", "room_id": ROOM, "message_id": MSG_1, "deleted_by": "carol", "deleted_at": AT}]),
    ("disconnected", "frames", "DisconnectedFrame", "receive", "disconnected",
     "Sent just before the server closes the connection (POST /users/{id}/disconnect).",
     [{"type": "disconnected", "reason": "device logout", "at": AT}]),
]


def available() -> list[tuple[str, str, str, str, str, str, list[dict[str, Any]]]]:
    """Every entry whose model exists in the code (signaling lands separately)."""
    return [entry for entry in CHAT + SIGNALING + MODERATION if model_of(entry) is not None]


def model_of(entry: tuple[Any, ...]) -> type[BaseModel] | None:
    try:
        module = importlib.import_module(f"roomcast.models.{entry[1]}")
    except ImportError:
        return None
    return getattr(module, entry[2], None)


def _feature(name: str, cls: str) -> str:
    if cls in ("CloseFrame", "RoomClosedFrame"):
        return "room-close"
    if any(e[0] == name for e in MODERATION):
        return "moderation"
    return "signaling" if any(e[0] == name for e in SIGNALING) else "chat"


def build() -> dict[str, Any]:
    entries = available()
    models: list[tuple[type[BaseModel], str]] = []
    for entry in entries:
        model = model_of(entry)
        assert model is not None
        mode = "validation" if entry[3] == "send" else "serialization"
        if (model, mode) not in models:
            models.append((model, mode))
    _, top = models_json_schema(models, ref_template="#/components/schemas/{model}")
    schemas = top.get("$defs", {})

    messages: dict[str, Any] = {}
    for name, _, cls, _direction, title, summary, examples in entries:
        messages[name] = {
            "name": title,
            "title": title,
            "summary": summary,
            "contentType": "application/json",
            "payload": {"$ref": f"#/components/schemas/{cls}"},
            "tags": [{"$ref": f"#/components/tags/{_feature(name, cls)}"}],
            "examples": [
                {"name": f"{name}{i + 1}", "payload": ex} for i, ex in enumerate(examples)
            ],
        }
        if any("request_id" in ex for ex in examples):
            messages[name]["correlationId"] = {"$ref": "#/components/correlationIds/requestId"}

    sends = [e[0] for e in entries if e[3] == "send"]
    receives = [e[0] for e in entries if e[3] == "receive"]
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "roomcast WebSocket API",
            "version": "1.0.0",
            "description": (
                "Every frame of roomcast's WebSocket API, both directions. Generated by "
                "scripts/gen_asyncapi.py from the pydantic models in roomcast.models; "
                "docs/protocol.md is the prose companion (connecting, limits, error codes, "
                "reconnect guidance). Client frames are JSON objects routed on `action`; "
                "server frames carry `type`. A reply echoes the request's `request_id`."
            ),
        },
        "defaultContentType": "application/json",
        "servers": {
            "production": {
                "host": "{apiId}.execute-api.{region}.amazonaws.com",
                "pathname": "/{stage}",
                "protocol": "wss",
                "description": "API Gateway WebSocket API (the stack's WebSocketUrl output).",
                "variables": {
                    "apiId": {"description": "the WebSocket API id"},
                    "region": {"default": "us-east-1"},
                    "stage": {"default": "prod"},
                },
                "security": [
                    {"$ref": "#/components/securitySchemes/subprotocolToken"},
                    {"$ref": "#/components/securitySchemes/queryToken"},
                ],
            },
            "local": {
                "host": "127.0.0.1:3001",
                "pathname": "/prod",
                "protocol": "ws",
                "description": "The local runtime (python -m roomcast_local).",
                "security": [
                    {"$ref": "#/components/securitySchemes/subprotocolToken"},
                    {"$ref": "#/components/securitySchemes/queryToken"},
                ],
            },
        },
        "channels": {
            "room": {
                "address": "/",
                "title": "The connection",
                "description": (
                    "One WebSocket connection carries every room the user joins. Frames are "
                    "JSON text of at most 32 KB."
                ),
                "messages": {name: {"$ref": f"#/components/messages/{name}"} for name in messages},
            }
        },
        "operations": {
            "sendFrame": {
                "action": "send",
                "channel": {"$ref": "#/channels/room"},
                "summary": "Client -> server frames (routed on `action`).",
                "messages": [{"$ref": f"#/channels/room/messages/{n}"} for n in sends],
            },
            "receiveFrame": {
                "action": "receive",
                "channel": {"$ref": "#/channels/room"},
                "summary": "Server -> client frames (discriminated by `type`).",
                "messages": [{"$ref": f"#/channels/room/messages/{n}"} for n in receives],
            },
        },
        "components": {
            "securitySchemes": {
                "subprotocolToken": {
                    "type": "httpApiKey",
                    "name": "Sec-WebSocket-Protocol",
                    "in": "header",
                    "description": (
                        "The connect token (JWT) as a subprotocol entry next to roomcast.v1: "
                        "new WebSocket(url, ['roomcast.v1', token]). The server echoes roomcast.v1."
                    ),
                },
                "queryToken": {
                    "type": "httpApiKey",
                    "name": "token",
                    "in": "query",
                    "description": "The connect token as ?token=<jwt> (for clients without subprotocols).",
                },
            },
            # Which part of roomcast a frame belongs to: the room-close and signaling frames
            # were added by their own issues (docs/webhooks.md and docs/signaling.md).
            "tags": {
                "chat": {"name": "chat", "description": "Rooms, presence, messages, history."},
                "room-close": {
                    "name": "room-close",
                    "description": "Closing a room (docs/webhooks.md): the WebSocket close action and "
                    "room.closed; the room's record then goes to its signed webhook.",
                },
                "signaling": {
                    "name": "signaling",
                    "description": "WebRTC call signaling (docs/signaling.md): relayed to the "
                    "peer in the same room, call records persisted.",
                },
                "moderation": {
                    "name": "moderation",
                    "description": "Membership and moderation (docs/protocol.md): moderators' acts "
                    "and what the affected users receive.",
                },
            },
            "correlationIds": {
                "requestId": {
                    "description": "A reply echoes the request_id of the frame it answers.",
                    "location": "$message.payload#/request_id",
                }
            },
            "messages": messages,
            "schemas": dict(sorted(schemas.items())),
        },
    }


def render() -> str:
    header = (
        "# GENERATED by scripts/gen_asyncapi.py from roomcast.models - do not edit by hand.\n"
        "# Regenerate: .venv/bin/python scripts/gen_asyncapi.py\n"
    )
    return header + yaml.safe_dump(build(), sort_keys=False, allow_unicode=True, width=100)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--check", action="store_true", help="exit 1 if docs/asyncapi.yaml is stale"
    )
    args = parser.parse_args(argv)
    text = render()
    if args.check:
        current = OUTPUT.read_text() if OUTPUT.exists() else ""
        if current != text:
            print(
                f"{OUTPUT.relative_to(ROOT)} is stale: run scripts/gen_asyncapi.py", file=sys.stderr
            )
            return 1
        return 0
    OUTPUT.write_text(text)
    print(f"wrote {OUTPUT.relative_to(ROOT)} ({len(text)} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
