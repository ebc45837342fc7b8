"""Membership and moderation (issue 14) on moto: each act's effect and every refusal - a
non-moderator, an unknown user, a ban or mute that expires (an injected clock), a member
taken off a members-only room while connected - and search, presence, online status and
forced disconnects."""

from __future__ import annotations

import json
from typing import Any

import pytest

from roomcast import clock
from roomcast.ids import id_time_ms, iso
from tests.helpers import clear_posted, http_event, posted_frames, reply_body, ws_event
from tests.integration.test_close_room import disconnected

__all__ = ["disconnected"]  # the fixture, re-used from test_close_room

BOB = ("conn-bob-1", "bob")
BOB2 = ("conn-bob-2", "bob")
CAROL = ("conn-carol-1", "carol")
DAVE = ("conn-dave-1", "dave")
ALICE = ("conn-alice-1", "alice")


@pytest.fixture
def frozen_clock():
    """The clock moderation reads (roomcast/clock.py), moved by hand."""
    now = [1_800_000_000.0]
    clock.install(lambda: now[0])
    yield now
    clock.install(None)


def api(invoke: Any, method: str, path: str, body: Any = None, query: dict[str, str] | None = None) -> tuple[int, Any]:
    event = http_event("http-get-room.json")
    event["rawPath"] = event["requestContext"]["http"]["path"] = path
    event["requestContext"]["http"]["method"] = method
    event["routeKey"] = f"{method} {path}"
    event["pathParameters"] = {}
    event["queryStringParameters"] = query or None
    event["rawQueryString"] = "&".join(f"{k}={v}" for k, v in (query or {}).items())
    event["body"] = json.dumps(body) if body is not None else None
    response = invoke("admin", event)
    return response["statusCode"], json.loads(response["body"]) if response.get("body") else None


def room(invoke: Any, room_id: str = "lobby", **extra: Any) -> dict:
    status, body = api(invoke, "POST", "/rooms", {"room_id": room_id, "name": room_id, "admin_user_ids": ["alice"], **extra})
    assert status == 201, body
    return body


def connect(invoke: Any, who: tuple[str, str]) -> None:
    invoke("connect", ws_event("ws-connect.json", connection_id=who[0], user_id=who[1], name=who[1].title()))


def act(invoke: Any, who: tuple[str, str], body: dict) -> dict:
    event = ws_event("ws-default.json", connection_id=who[0], user_id=who[1], name=who[1].title(), body=body)
    return reply_body(invoke("chat", event)) or {}


def join(invoke: Any, who: tuple[str, str], room_id: str = "lobby") -> dict:
    return act(invoke, who, {"action": "join", "room_id": room_id})


def send(invoke: Any, who: tuple[str, str], text: str, room_id: str = "lobby") -> dict:
    return act(invoke, who, {"action": "send", "room_id": room_id, "text": text})


def modlog(room_id: str = "lobby") -> list[dict]:
    from roomcast.dal.store import get_store

    return [e.model_dump(exclude_none=True) for page in get_store().iter_modlog(room_id) for e in page]


def member_ids(invoke: Any, room_id: str = "lobby") -> set[str]:
    status, body = api(invoke, "GET", f"/rooms/{room_id}")
    assert status == 200
    return {m["user_id"] for m in body["members"]}


def kicked_frames(connection_id: str) -> list[dict]:
    """A user's second connection first hears the first one leave (member.left), as anyone in the room."""
    return [f for f in posted_frames(connection_id) if f["type"] == "kicked"]


def moderator(invoke: Any, user: str = "carol", room_id: str = "lobby") -> None:
    status, body = api(invoke, "PUT", f"/rooms/{room_id}/members/{user}", {"role": "moderator"})
    assert status == 200 and body["member"]["role"] == "moderator", body


# ------------------------------------------------------------ members-only rooms


def test_members_only_room_admits_listed_users_and_its_admins(stack, invoke):
    created = room(invoke, access="members")
    assert created["access"] == "members"
    assert join(invoke, ALICE)["type"] == "joined"  # in admin_user_ids: no listing needed
    refused = join(invoke, BOB)
    assert refused["code"] == "members_only"
    assert member_ids(invoke) == {"alice"}
    status, body = api(invoke, "PUT", "/rooms/lobby/members/bob", {"by": "ops"})
    assert status == 200 and body["changed"] is True and body["member"]["role"] == "member"
    assert join(invoke, BOB)["type"] == "joined"
    # The same role again writes and logs nothing; another role is a role_changed.
    assert api(invoke, "PUT", "/rooms/lobby/members/bob", {})[1]["changed"] is False
    assert api(invoke, "PUT", "/rooms/lobby/members/bob", {"role": "moderator"})[1]["member"]["role"] == "moderator"
    assert [(e["act"], e["target_user"], e["by"], e.get("role")) for e in modlog()] == [
        ("member_added", "bob", "ops", "member"), ("role_changed", "bob", "admin-api", "moderator"),
    ]


def test_a_roster_change_racing_another_is_refused_and_writes_nothing(stack, invoke, monkeypatch):
    from roomcast.dal.moderation import ModerationStore

    room(invoke, access="members")
    assert api(invoke, "PUT", "/rooms/lobby/members/bob", {})[0] == 200
    # The read saw no entry, but another request wrote one before this write (a race).
    with monkeypatch.context() as patched:
        patched.setattr(ModerationStore, "get_roster", lambda self, room_id, user_id: None)
        status, body = api(invoke, "PUT", "/rooms/lobby/members/bob", {"role": "admin"})
    assert (status, body["code"]) == (409, "conflict")
    assert api(invoke, "GET", "/rooms/lobby/members")[1]["members"][0]["role"] == "member"
    assert [e["act"] for e in modlog()] == ["member_added"]


def test_open_room_is_open_by_default(stack, invoke):
    assert room(invoke)["access"] == "open"
    assert join(invoke, BOB)["type"] == "joined"


def test_members_list_is_paged(stack, invoke):
    room(invoke, access="members")
    for user in ("u1", "u2", "u3"):
        assert api(invoke, "PUT", f"/rooms/lobby/members/{user}", {})[0] == 200
    status, first = api(invoke, "GET", "/rooms/lobby/members", query={"limit": "2"})
    assert status == 200 and [m["user_id"] for m in first["members"]] == ["u1", "u2"] and first["next_cursor"]
    status, second = api(invoke, "GET", "/rooms/lobby/members", query={"limit": "2", "cursor": first["next_cursor"]})
    assert [m["user_id"] for m in second["members"]] == ["u3"] and "next_cursor" not in second


def test_member_removed_from_members_only_room_while_connected_leaves_it(stack, invoke):
    room(invoke, access="members")
    assert api(invoke, "PUT", "/rooms/lobby/members/bob", {})[0] == 200
    for who in (BOB, BOB2, ALICE):
        connect(invoke, who)
        assert join(invoke, who)["type"] == "joined"
    clear_posted()
    status, body = api(invoke, "DELETE", "/rooms/lobby/members/bob", query={"by": "ops"})
    assert status == 200 and body["act"] == "member_removed" and body["connections_removed"] == 2
    for connection_id in (BOB[0], BOB2[0]):
        (kicked,) = kicked_frames(connection_id)
        assert kicked["cause"] == "removed" and kicked["by"] == "ops"
    assert [f["type"] for f in posted_frames(ALICE[0])] == ["member.left", "member.left"]
    assert member_ids(invoke) == {"alice"}
    assert send(invoke, BOB, "still here?")["code"] == "not_member"
    assert join(invoke, BOB)["code"] == "members_only"
    assert api(invoke, "DELETE", "/rooms/lobby/members/bob")[1]["code"] == "user_not_found"


def test_member_removed_from_an_open_room_stays_in_it(stack, invoke):
    room(invoke)
    moderator(invoke, "bob")
    connect(invoke, BOB)
    join(invoke, BOB)
    status, body = api(invoke, "DELETE", "/rooms/lobby/members/bob")
    assert status == 200 and body["connections_removed"] == 0
    assert member_ids(invoke) == {"bob"}


# ---------------------------------------------------------------------- kick


def test_moderator_kicks_every_connection_of_a_user(stack, invoke):
    room(invoke)
    moderator(invoke)
    for who in (BOB, BOB2, CAROL):
        connect(invoke, who)
        join(invoke, who)
    clear_posted()
    reply = act(invoke, CAROL, {"action": "kick", "room_id": "lobby", "user_id": "bob", "reason": "spam", "request_id": "k1"})
    assert reply == {"type": "moderated", "request_id": "k1", "room_id": "lobby", "act": "kicked",
                     "target_user": "bob", "connections_removed": 2}
    for connection_id in (BOB[0], BOB2[0]):
        (kicked,) = kicked_frames(connection_id)
        assert (kicked["cause"], kicked["by"], kicked["reason"]) == ("kick", "carol", "spam")
    assert member_ids(invoke) == {"carol"}
    assert send(invoke, BOB, "hello?")["code"] == "not_member"
    listed, entry = modlog()  # carol's listing as moderator, then the kick, once for two connections
    assert listed["act"] == "member_added"
    assert (entry["act"], entry["by"], entry["target_user"], entry["reason"]) == ("kicked", "carol", "bob", "spam")
    # A kick is not a ban: they may come back.
    assert join(invoke, BOB)["type"] == "joined"
    # Unknown user: nobody of that name has a connection here.
    assert act(invoke, CAROL, {"action": "kick", "room_id": "lobby", "user_id": "nobody"})["code"] == "user_not_found"
    assert act(invoke, CAROL, {"action": "kick", "room_id": "nowhere", "user_id": "bob"})["code"] == "room_not_found"


def test_kick_at_limits_many_connections_and_online_caps(stack, invoke):
    """27 connections of one user (above the 25 online status looks at): all leave on one kick."""
    room(invoke)
    sockets = [(f"conn-bob-{i}", "bob") for i in range(27)]
    for who in sockets:
        connect(invoke, who)
        assert join(invoke, who)["type"] == "joined"
    (user,) = api(invoke, "POST", "/users/online", {"user_ids": ["bob"]})[1]["users"]
    assert user["connections"] == 25 and user["connections_truncated"] is True and user["rooms"] == ["lobby"]
    status, body = api(invoke, "POST", "/rooms/lobby/kicks", {"user_id": "bob", "reason": "x" * 500})
    assert status == 201 and body["connections_removed"] == 27
    assert member_ids(invoke) == set()
    assert api(invoke, "POST", "/rooms/lobby/kicks", {"user_id": "bob", "reason": "x" * 501})[1]["code"] == "bad_request"
    assert [e["act"] for e in modlog()] == ["kicked"]  # one act, however many connections


def test_online_status_for_100_users_at_once(stack, invoke):
    for who in (BOB, CAROL):
        connect(invoke, who)
    users = [f"user{i}" for i in range(98)] + ["bob", "carol"]
    status, body = api(invoke, "POST", "/users/online", {"user_ids": users})
    assert status == 200 and [u["user_id"] for u in body["users"]] == users
    assert {u["user_id"] for u in body["users"] if u["online"]} == {"bob", "carol"}


def test_admin_api_kick_and_its_refusals(stack, invoke):
    room(invoke)
    connect(invoke, BOB)
    join(invoke, BOB)
    status, body = api(invoke, "POST", "/rooms/lobby/kicks", {"user_id": "bob"})
    assert status == 201 and body["by"] == "admin-api" and body["connections_removed"] == 1
    # Unknown user (nobody of that name in the room): refused, nothing logged.
    status, body = api(invoke, "POST", "/rooms/lobby/kicks", {"user_id": "nobody"})
    assert status == 404 and body["code"] == "user_not_found"
    assert [e["act"] for e in modlog()] == ["kicked"]
    assert api(invoke, "POST", "/rooms/nowhere/kicks", {"user_id": "bob"})[1]["code"] == "room_not_found"
    assert api(invoke, "POST", "/rooms/lobby/kicks", {"user_id": "bad user"})[1]["code"] == "bad_request"


def test_non_moderators_are_refused_every_act(stack, invoke):
    room(invoke)
    assert api(invoke, "PUT", "/rooms/lobby/members/dave", {"role": "member"})[0] == 200
    for who in (BOB, DAVE):
        connect(invoke, who)
        join(invoke, who)
    message_id = send(invoke, BOB, "hi")["message"]["id"]
    before = modlog()
    frames = [
        {"action": "kick", "room_id": "lobby", "user_id": "bob"},
        {"action": "ban", "room_id": "lobby", "user_id": "bob"},
        {"action": "unban", "room_id": "lobby", "user_id": "bob"},
        {"action": "mute", "room_id": "lobby", "user_id": "bob", "duration_seconds": 60},
        {"action": "unmute", "room_id": "lobby", "user_id": "bob"},
        {"action": "delete_message", "room_id": "lobby", "message_id": message_id},
    ]
    for frame in frames:
        assert act(invoke, DAVE, frame)["code"] == "not_moderator", frame
    # A token whose rooms claim leaves the room out is refused before the role is looked at.
    event = ws_event("ws-default.json", connection_id="conn-carol-9", user_id="carol", rooms=["elsewhere"], body=frames[0])
    moderator(invoke)
    assert reply_body(invoke("chat", event))["code"] == "forbidden"
    assert modlog()[: len(before)] == before and [e["act"] for e in modlog()[len(before):]] == ["member_added"]
    assert member_ids(invoke) == {"bob", "dave"}
    assert send(invoke, BOB, "still talking")["type"] == "ack"


def test_a_moderator_may_not_act_on_the_rooms_admins(stack, invoke):
    room(invoke)
    moderator(invoke)
    connect(invoke, ALICE)
    join(invoke, ALICE)
    for action in ("kick", "ban", "mute"):
        refused = act(invoke, CAROL, {"action": action, "room_id": "lobby", "user_id": "alice"})
        assert refused["code"] == "not_moderator", refused
    assert member_ids(invoke) == {"alice"} and [e["act"] for e in modlog()] == ["member_added"]


def test_room_admin_and_admin_claim_may_moderate(stack, invoke):
    room(invoke)
    for who in (BOB, ALICE):
        connect(invoke, who)
        join(invoke, who)
    assert act(invoke, ALICE, {"action": "mute", "room_id": "lobby", "user_id": "bob"})["act"] == "muted"
    event = ws_event("ws-default.json", connection_id="conn-root-1", user_id="root", admin=True,
                     body={"action": "unmute", "room_id": "lobby", "user_id": "bob"})
    assert reply_body(invoke("chat", event))["act"] == "unmuted"


# ----------------------------------------------------------------------- ban


def test_ban_removes_live_connections_refuses_joins_and_expires(stack, invoke, frozen_clock):
    room(invoke)
    for who in (BOB, CAROL):
        connect(invoke, who)
        join(invoke, who)
    clear_posted()
    status, body = api(invoke, "POST", "/rooms/lobby/bans", {"user_id": "bob", "duration_seconds": 60, "reason": "flood"})
    until = iso(int((frozen_clock[0] + 60) * 1000))
    assert status == 201 and body["act"] == "banned" and body["until"] == until and body["connections_removed"] == 1
    (kicked,) = posted_frames(BOB[0])
    assert (kicked["cause"], kicked["until"], kicked["reason"]) == ("ban", until, "flood")
    assert member_ids(invoke) == {"carol"}
    refused = join(invoke, BOB)
    assert refused["code"] == "banned" and refused["until"] == until
    assert join(invoke, BOB2)["code"] == "banned"  # the user, on any connection
    start = frozen_clock[0]
    frozen_clock[0] = start + 59.5
    assert join(invoke, BOB)["code"] == "banned"
    frozen_clock[0] = start + 60  # at `until` exactly: the ban has ended by itself
    assert join(invoke, BOB)["type"] == "joined"
    assert [e["act"] for e in modlog()] == ["banned"]


def test_ban_without_end_lasts_until_lifted_and_any_user_can_be_banned(stack, invoke):
    room(invoke)
    # Nobody called erin was ever here: a ban can come first.
    assert api(invoke, "POST", "/rooms/lobby/bans", {"user_id": "erin"})[1]["connections_removed"] == 0
    connect(invoke, ("conn-erin-1", "erin"))
    refused = join(invoke, ("conn-erin-1", "erin"))
    assert refused["code"] == "banned" and "until" not in refused
    status, body = api(invoke, "DELETE", "/rooms/lobby/bans/erin", query={"by": "ops"})
    assert status == 200 and body["act"] == "unbanned" and body["by"] == "ops"
    assert join(invoke, ("conn-erin-1", "erin"))["type"] == "joined"
    # Nothing to lift: unknown user.
    assert api(invoke, "DELETE", "/rooms/lobby/bans/erin")[1]["code"] == "user_not_found"
    assert [e["act"] for e in modlog()] == ["banned", "unbanned"]


def test_a_ban_whose_removal_never_ran_still_stops_sends_and_typing(stack, invoke, monkeypatch):
    """A crash between the ban's write and the removal of the user's connections: the user
    is still a member, but the send and typing checks refuse them."""
    from roomcast.logic import moderation

    room(invoke)
    connect(invoke, BOB)
    join(invoke, BOB)

    def crash(*args: Any, **kwargs: Any) -> int:
        raise RuntimeError("the invocation died here")

    monkeypatch.setattr(moderation, "remove_from_room", crash)
    assert api(invoke, "POST", "/rooms/lobby/bans", {"user_id": "bob", "duration_seconds": 60})[0] == 500
    assert [e["act"] for e in modlog()] == ["banned"]  # the ban itself committed, logged
    assert member_ids(invoke) == {"bob"}
    refused = send(invoke, BOB, "sneaky")
    assert refused["code"] == "banned" and refused["until"]
    assert act(invoke, BOB, {"action": "typing", "room_id": "lobby"})["code"] == "banned"


def test_ban_in_one_room_is_not_a_ban_in_another(stack, invoke):
    room(invoke)
    room(invoke, "other")
    api(invoke, "POST", "/rooms/lobby/bans", {"user_id": "bob"})
    connect(invoke, BOB)
    assert join(invoke, BOB)["code"] == "banned"
    assert join(invoke, BOB, "other")["type"] == "joined"


def test_ban_refuses_a_members_only_join_too(stack, invoke):
    room(invoke, access="members")
    api(invoke, "PUT", "/rooms/lobby/members/bob", {})
    api(invoke, "POST", "/rooms/lobby/bans", {"user_id": "bob"})
    assert join(invoke, BOB)["code"] == "banned"


# ---------------------------------------------------------------------- mute


def test_mute_refuses_sends_and_typing_until_it_expires(stack, invoke, frozen_clock):
    room(invoke)
    moderator(invoke)
    for who in (BOB, CAROL):
        connect(invoke, who)
        join(invoke, who)
    clear_posted()
    reply = act(invoke, CAROL, {"action": "mute", "room_id": "lobby", "user_id": "bob", "duration_seconds": 30})
    until = iso(int((frozen_clock[0] + 30) * 1000))
    assert reply["act"] == "muted" and reply["until"] == until
    (muted,) = posted_frames(BOB[0])
    assert (muted["type"], muted["by"], muted["until"]) == ("muted", "carol", until)
    refused = send(invoke, BOB, "let me talk")
    assert refused["code"] == "muted" and refused["until"] == until
    assert act(invoke, BOB, {"action": "typing", "room_id": "lobby"})["code"] == "muted"
    # They still read.
    assert act(invoke, BOB, {"action": "history", "room_id": "lobby"})["type"] == "history"
    assert member_ids(invoke) == {"bob", "carol"}
    frozen_clock[0] += 31
    assert send(invoke, BOB, "back")["type"] == "ack"
    history = act(invoke, CAROL, {"action": "history", "room_id": "lobby"})
    assert [m["text"] for m in history["messages"]] == ["back"]  # the refused send stored nothing


def test_unmute_lifts_a_mute_for_good(stack, invoke):
    room(invoke)
    connect(invoke, BOB)
    join(invoke, BOB)
    assert api(invoke, "POST", "/rooms/lobby/mutes", {"user_id": "bob"})[0] == 201
    assert send(invoke, BOB, "x")["code"] == "muted"
    clear_posted()
    status, body = api(invoke, "DELETE", "/rooms/lobby/mutes/bob")
    assert status == 200 and body["act"] == "unmuted"
    assert [f["type"] for f in posted_frames(BOB[0])] == ["unmuted"]
    assert send(invoke, BOB, "x")["type"] == "ack"
    assert api(invoke, "DELETE", "/rooms/lobby/mutes/bob")[1]["code"] == "user_not_found"
    assert api(invoke, "POST", "/rooms/lobby/mutes", {"user_id": "bob", "duration_seconds": 0})[1]["code"] == "bad_request"


# ------------------------------------------------------------ message deletion


def test_deleted_message_is_a_tombstone_and_members_are_told(stack, invoke):
    room(invoke)
    for who in (BOB, CAROL, ALICE):
        connect(invoke, who)
        join(invoke, who)
    kept = send(invoke, BOB, "fine")["message"]["id"]
    gone = act(invoke, BOB, {"action": "send", "room_id": "lobby", "text": "rude", "meta": {"k": 1}})["message"]["id"]
    clear_posted()
    reply = act(invoke, ALICE, {"action": "delete_message", "room_id": "lobby", "message_id": gone})
    assert reply["act"] == "message_deleted" and reply["message_id"] == gone and reply["target_user"] == "bob"
    for connection_id in (BOB[0], CAROL[0], ALICE[0]):
        (told,) = posted_frames(connection_id)
        assert told["type"] == "message.deleted" and told["message_id"] == gone and told["deleted_by"] == "alice"
    history = act(invoke, CAROL, {"action": "history", "room_id": "lobby"})["messages"]
    assert [m["id"] for m in history] == [kept, gone]
    tomb = history[1]
    assert tomb["text"] == "" and tomb["deleted"] is True and tomb["deleted_by"] == "alice" and "meta" not in tomb
    assert "deleted" not in history[0]
    # Twice, or an id that is not there: message_not_found, nothing more logged.
    assert act(invoke, ALICE, {"action": "delete_message", "room_id": "lobby", "message_id": gone})["code"] == "message_not_found"
    status, body = api(invoke, "DELETE", f"/rooms/lobby/messages/{'0' * 25}")
    assert status == 404 and body["code"] == "message_not_found"
    assert [(e["act"], e["message_id"]) for e in modlog()] == [("message_deleted", gone)]


def test_acts_on_a_closed_room_are_refused(stack, invoke):
    room(invoke)
    connect(invoke, BOB)
    join(invoke, BOB)
    message_id = send(invoke, BOB, "hi")["message"]["id"]
    assert api(invoke, "DELETE", "/rooms/lobby")[0] == 202
    for method, path, body in (
        ("POST", "/rooms/lobby/bans", {"user_id": "bob"}),
        ("POST", "/rooms/lobby/mutes", {"user_id": "bob"}),
        ("POST", "/rooms/lobby/kicks", {"user_id": "bob"}),
        ("DELETE", f"/rooms/lobby/messages/{message_id}", None),
        ("PUT", "/rooms/lobby/members/bob", {}),
    ):
        status, answer = api(invoke, method, path, body)
        assert (status, answer["code"]) == (409, "room_closed"), path
    assert modlog() == []


# ----------------------------------------------- presence, online, disconnect


def test_presence_online_status_and_forced_disconnect(stack, invoke, disconnected):
    room(invoke)
    room(invoke, "other")
    for who in (BOB, BOB2, CAROL):
        connect(invoke, who)
        join(invoke, who)
    join(invoke, BOB2, "other")
    connect(invoke, DAVE)  # online, in no room
    status, first = api(invoke, "GET", "/rooms/lobby/presence", query={"limit": "1"})
    assert status == 200 and first["users"] == [{"user_id": "bob", "connections": 2}] and first["next_cursor"]
    _, second = api(invoke, "GET", "/rooms/lobby/presence", query={"limit": "1", "cursor": first["next_cursor"]})
    assert second["users"] == [{"user_id": "carol", "connections": 1}]
    status, body = api(invoke, "POST", "/users/online", {"user_ids": ["bob", "carol", "dave", "nobody", "bob"]})
    assert status == 200
    by_user = {u["user_id"]: u for u in body["users"]}
    assert [u["user_id"] for u in body["users"]] == ["bob", "carol", "dave", "nobody"]
    assert (by_user["bob"]["online"], by_user["bob"]["connections"], sorted(by_user["bob"]["rooms"])) == (True, 2, ["lobby", "other"])
    assert (by_user["dave"]["online"], by_user["dave"]["rooms"]) == (True, [])
    assert by_user["nobody"] == {"user_id": "nobody", "online": False, "connections": 0, "rooms": []}
    assert api(invoke, "POST", "/users/online", {"user_ids": [f"u{i}" for i in range(101)]})[1]["code"] == "bad_request"

    # One connection, then all: each told `disconnected` with the reason before its DELETE.
    status, body = api(invoke, "POST", "/users/bob/disconnect", {"connection_id": BOB2[0], "reason": "device logout"})
    assert status == 200 and body == {"user_id": "bob", "disconnected": [BOB2[0]]}
    assert disconnected[BOB2[0]][-1]["type"] == "disconnected" and disconnected[BOB2[0]][-1]["reason"] == "device logout"
    assert BOB[0] not in disconnected
    assert api(invoke, "POST", "/users/bob/disconnect", {"connection_id": CAROL[0]})[1]["code"] == "user_not_found"
    assert api(invoke, "POST", "/users/nobody/disconnect", {})[1]["code"] == "user_not_found"
    status, body = api(invoke, "POST", "/users/carol/disconnect", {})
    assert status == 200 and disconnected[CAROL[0]][-1]["reason"] == "disconnected by an admin"


def test_online_status_caps_the_rooms_listed(stack, invoke, monkeypatch):
    from roomcast.logic import moderation

    monkeypatch.setattr(moderation, "ROOMS_LISTED_PER_USER", 3)
    connect(invoke, BOB)
    for index in range(5):
        room(invoke, f"r{index}")
        assert join(invoke, BOB, f"r{index}")["type"] == "joined"
    (user,) = api(invoke, "POST", "/users/online", {"user_ids": ["bob"]})[1]["users"]
    assert len(user["rooms"]) == 3 and user["rooms_truncated"] is True and user["connections"] == 1


def test_online_status_ignores_a_connection_past_its_lifetime(stack, invoke, frozen_clock):
    connect(invoke, BOB)  # its META holds expires_at: the connection's lifetime from now (real time)
    (user,) = api(invoke, "POST", "/users/online", {"user_ids": ["bob"]})[1]["users"]
    assert user["online"] is False  # the frozen clock is years past that lifetime


# --------------------------------------------------------------------- search


def test_search_returns_exactly_the_range_and_keyword_in_order_across_pages(stack, invoke, monkeypatch):
    from roomcast.logic import moderation

    monkeypatch.setenv("SEND_RATE_BURST", "100")
    monkeypatch.setenv("USER_SEND_RATE_BURST", "100")
    # A small read per call, so some pages hold no match at all and still go on.
    monkeypatch.setattr(moderation, "SEARCH_MAX_SCANNED", 4)
    room(invoke)
    for who in (BOB, CAROL):
        connect(invoke, who)
        join(invoke, who)
    sent = []
    for index in range(40):
        who = BOB if index % 3 else CAROL
        text = f"Apple pie {index}" if index % 4 == 0 else f"banana {index}"
        sent.append(send(invoke, who, text)["message"])
    low, high = sent[6], sent[33]
    low_ms, high_ms = id_time_ms(low["id"]), id_time_ms(high["id"])
    expected = [m["id"] for m in sent if low_ms <= id_time_ms(m["id"]) <= high_ms and "apple" in m["text"].lower()]
    assert len(expected) >= 6
    got, cursor, pages, empty_pages = [], None, 0, 0
    while True:
        query = {"q": "APPLE", "from": iso(low_ms), "to": iso(high_ms), "limit": "2"}
        if cursor:
            query["cursor"] = cursor
        status, page = api(invoke, "GET", "/rooms/lobby/messages", query=query)
        assert status == 200, page
        assert page["scanned"] <= 4 and len(page["messages"]) <= 2
        got += [m["id"] for m in page["messages"]]
        pages += 1
        empty_pages += not page["messages"]
        cursor = page.get("next_cursor")
        if not cursor:
            break
        assert pages < 50
    assert got == expected
    assert empty_pages >= 1  # a page with no match still carried the cursor on

    # The user filter, and a deleted message no longer matches its words.
    status, page = api(invoke, "GET", "/rooms/lobby/messages", query={"user": "carol", "limit": "100"})
    monkeypatch.setattr(moderation, "SEARCH_MAX_SCANNED", 500)
    status, page = api(invoke, "GET", "/rooms/lobby/messages", query={"user": "carol", "limit": "100"})
    assert [m["id"] for m in page["messages"]] == [m["id"] for m in sent if m["user_id"] == "carol"]
    assert api(invoke, "DELETE", f"/rooms/lobby/messages/{expected[0]}")[0] == 200
    status, page = api(invoke, "GET", "/rooms/lobby/messages", query={"q": "apple", "limit": "100"})
    assert expected[0] not in [m["id"] for m in page["messages"]] and page["scanned"] == 40


def test_search_refuses_bad_input(stack, invoke):
    room(invoke)
    for query, code in (
        ({"from": "yesterday"}, "bad_request"),
        ({"from": "2026-01-01T00:00:00"}, "bad_request"),  # no time zone
        ({"from": "2026-01-02T00:00:00Z", "to": "2026-01-01T00:00:00Z"}, "bad_request"),
        ({"cursor": "nope"}, "invalid_cursor"),
        ({"from": "2026-01-02T00:00:00Z", "cursor": "0" * 25}, "invalid_cursor"),  # outside the range
        ({"limit": "101"}, "bad_request"),
    ):
        status, body = api(invoke, "GET", "/rooms/lobby/messages", query=query)
        assert (status, body["code"]) == ((400, code)), query
    assert api(invoke, "GET", "/rooms/nowhere/messages")[1]["code"] == "room_not_found"
