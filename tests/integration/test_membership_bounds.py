"""Bounded, exact membership (issue 9 items 1 and 4): the rooms-per-connection cap, TTL on
every per-connection item, expired ("ghost") members, distinct-user stats, and crashes
injected around the one transaction a join or leave writes."""

from __future__ import annotations

from typing import Any

import boto3
import pytest

from tests.helpers import clear_posted, http_event, posted_frames, reply_body, ws_event


def _room(invoke: Any, room_id: str) -> None:
    assert invoke("admin", http_event("http-create-room.json", body={"room_id": room_id, "name": room_id}))["statusCode"] == 201


def _act(invoke: Any, action: str, room_id: str, connection_id: str = "conn-alice-1", user_id: str = "alice") -> dict:
    body = {"action": action, "room_id": room_id, "request_id": f"{action}-{room_id}"}
    sample = {"join": "ws-join.json", "leave": "ws-leave.json"}.get(action, "ws-default.json")
    return reply_body(invoke("chat", ws_event(sample, connection_id, user_id, user_id.title(), body=body)))


def _stats(room_id: str) -> dict[str, int]:
    from roomcast.dal.store import get_store

    return get_store().require_room(room_id).stats.model_dump()


def _items(pk: str) -> list[dict]:
    from roomcast.settings import get_settings

    client = boto3.client("dynamodb")
    found, kwargs = [], {"TableName": get_settings().table_name, "ConsistentRead": True}
    while True:
        page = client.scan(**kwargs)
        found.extend(i for i in page["Items"] if i["pk"]["S"] == pk)
        if "LastEvaluatedKey" not in page:
            return found
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def _exact(room_id: str) -> dict[str, int]:
    """What the counters must say, recomputed from the membership items themselves."""
    members = [i for i in _items(f"ROOM#{room_id}") if i["sk"]["S"].startswith("MEMBER#")]
    sessions = [i for i in _items(f"ROOM#{room_id}") if i["sk"]["S"].startswith("SESSION#")]
    return {
        "current_users": len({m["user_id"]["S"] for m in members}),
        "current_connections": len(members),
        "total_joins": len(sessions),
    }


def _counted(room_id: str) -> dict[str, int]:
    stats = _stats(room_id)
    return {k: stats[k] for k in ("current_users", "current_connections", "total_joins")}


# ------------------------------------------------------------------ the cap


def test_a_connection_at_the_cap_and_one_over_it(stack, invoke, monkeypatch):
    from roomcast.settings import reset_settings

    monkeypatch.setenv("MAX_ROOMS_PER_CONNECTION", "5")
    reset_settings()
    for i in range(7):
        _room(invoke, f"r{i}")
    for i in range(5):
        assert _act(invoke, "join", f"r{i}")["type"] == "joined"
    # Rejoining a room it is in is not a sixth room.
    assert _act(invoke, "join", "r0")["type"] == "joined"
    over = _act(invoke, "join", "r5")
    assert over["type"] == "error" and over["code"] == "too_many_rooms" and over["request_id"] == "join-r5"
    # Nothing of the refused join was written, and its counters did not move.
    assert _exact("r5") == _counted("r5") == {"current_users": 0, "current_connections": 0, "total_joins": 0}
    # Another connection of the same user has its own count.
    assert _act(invoke, "join", "r5", "conn-alice-2")["type"] == "joined"
    # Leaving one room makes room for another.
    assert _act(invoke, "leave", "r0")["type"] == "left"
    assert _act(invoke, "join", "r6")["type"] == "joined"
    assert _act(invoke, "join", "r0")["code"] == "too_many_rooms"


def test_disconnect_at_the_cap_leaves_every_room_with_exact_stats(stack, invoke, monkeypatch):
    from roomcast.dal.store import get_store
    from roomcast.settings import reset_settings

    monkeypatch.setenv("MAX_ROOMS_PER_CONNECTION", "20")
    reset_settings()
    for i in range(20):
        _room(invoke, f"r{i}")
        assert _act(invoke, "join", f"r{i}")["type"] == "joined"
        assert _act(invoke, "join", f"r{i}", "conn-bob-1", "bob")["type"] == "joined"
    clear_posted()
    invoke("disconnect", ws_event("ws-disconnect.json"))
    assert _items("CONN#conn-alice-1") == []  # links, room count and meta: all gone
    for i in range(20):
        assert _exact(f"r{i}") == _counted(f"r{i}") == {"current_users": 1, "current_connections": 1, "total_joins": 2}
        assert [m.connection_id for m in get_store().members(f"r{i}")] == ["conn-bob-1"]
    assert sum(f["type"] == "member.left" for f in posted_frames("conn-bob-1")) == 20


# ------------------------------------------------------------------ TTL


def test_every_per_connection_item_has_a_ttl(stack, invoke):
    from roomcast.settings import get_settings

    _room(invoke, "lobby")
    invoke("connect", ws_event("ws-connect.json"))
    assert _act(invoke, "join", "lobby")["type"] == "joined"
    settings = get_settings()
    per_connection = _items("CONN#conn-alice-1") + [
        i for i in _items("ROOM#lobby") if i["sk"]["S"].startswith(("MEMBER#", "PRESENCE#"))
    ]
    assert {i["sk"]["S"] for i in per_connection} == {"META", "ROOM#lobby", "ROOMCOUNT", "MEMBER#conn-alice-1", "PRESENCE#alice"}
    for item in per_connection:
        assert "ttl" in item, item["sk"]
    member = next(i for i in per_connection if i["sk"]["S"].startswith("MEMBER#"))
    joined_s = int(member["joined_at"]["N"]) // 1000
    assert int(member["expires_at"]["N"]) == joined_s + settings.connection_ttl_seconds
    assert int(member["ttl"]["N"]) == joined_s + settings.connection_ttl_seconds + settings.member_ttl_grace_seconds


def test_ghost_members_are_gone_after_their_ttl(stack, invoke, monkeypatch):
    """$disconnect never ran for alice's connection. DynamoDB deletes expired items only
    eventually (and moto never does), so correct reads ignore expired memberships
    themselves; the clock that decides expiry is moved past the TTL."""
    import time

    from roomcast.dal import store as store_module
    from roomcast.settings import get_settings

    _room(invoke, "lobby")
    assert _act(invoke, "join", "lobby")["type"] == "joined"  # the ghost-to-be
    later = int(time.time()) + get_settings().connection_ttl_seconds + 1
    monkeypatch.setattr(store_module, "now_s", lambda: later)
    # Bob joins at that later time too (his membership expires a lifetime after it).
    from roomcast.logic import chat

    monkeypatch.setattr(chat, "now_ms", lambda: later * 1000)
    clear_posted()
    joined = _act(invoke, "join", "lobby", "conn-bob-1", "bob")
    assert [m["user_id"] for m in joined["members"]] == ["bob"]
    assert posted_frames("conn-alice-1") == []  # nobody posts to a ghost
    # The read that found it ended it, counters included, before TTL deletes anything.
    assert _exact("lobby") == _counted("lobby") == {"current_users": 1, "current_connections": 1, "total_joins": 2}
    sessions = [i for i in _items("ROOM#lobby") if i["sk"]["S"].startswith("SESSION#")]
    assert sorted(i.get("end_reason", {}).get("S", "-") for i in sessions) == ["-", "expired"]
    # Its own frames are refused: it is no member any more.
    assert _act(invoke, "history", "lobby")["code"] == "not_member"


# ------------------------------------------------------------------ stats


def test_one_user_on_two_sockets_and_another_peak_at_two_users_three_connections(stack, invoke):
    _room(invoke, "lobby")
    _act(invoke, "join", "lobby", "conn-alice-1", "alice")
    _act(invoke, "join", "lobby", "conn-alice-2", "alice")
    _act(invoke, "join", "lobby", "conn-bob-1", "bob")
    assert _stats("lobby") == {
        "current_users": 2, "peak_users": 2, "total_joins": 3, "message_count": 0,
        "current_connections": 3, "peak_connections": 3,
    }
    _act(invoke, "leave", "lobby", "conn-alice-1", "alice")
    assert _stats("lobby")["current_users"] == 2  # alice is still there on her other socket
    _act(invoke, "leave", "lobby", "conn-alice-2", "alice")
    _act(invoke, "leave", "lobby", "conn-bob-1", "bob")
    assert _stats("lobby") == {
        "current_users": 0, "peak_users": 2, "total_joins": 3, "message_count": 0,
        "current_connections": 0, "peak_connections": 3,
    }


class Crash(Exception):
    pass


@pytest.mark.parametrize("when", ["before", "after"])
def test_a_crash_around_the_membership_write_leaves_stats_exact(stack, invoke, monkeypatch, when):
    """The Lambda dies before or right after the join's (or leave's) transaction commits:
    the client never gets its reply and tries again. The counters are written in that
    same transaction, so they are exact at every point and never negative."""
    from roomcast.dal.store import get_store

    _room(invoke, "lobby")
    client = get_store().client
    real = client.transact_write_items
    crashes = {"left": 0}

    def dying(**params: Any) -> Any:
        if crashes["left"] > 0:
            crashes["left"] -= 1
            if when == "after":
                real(**params)
            raise Crash("the Lambda died here")
        return real(**params)

    monkeypatch.setattr(client, "transact_write_items", dying)
    for action, cid, user in [("join", "conn-alice-1", "alice"), ("join", "conn-alice-2", "alice"),
                              ("join", "conn-bob-1", "bob"), ("leave", "conn-alice-1", "alice"),
                              ("leave", "conn-bob-1", "bob"), ("leave", "conn-alice-2", "alice")]:
        crashes["left"] = 1
        crashed = _act(invoke, action, "lobby", cid, user)
        assert crashed["code"] == "internal_error"
        assert _exact("lobby") == _counted("lobby")
        retried = _act(invoke, action, "lobby", cid, user)  # the client's retry
        # A leave whose transaction committed before the crash finds nothing left to end.
        assert retried["type"] in ({"join": "joined", "leave": "left"}[action], "error")
        assert _exact("lobby") == _counted("lobby")
    stats = _stats("lobby")
    assert stats["current_users"] == stats["current_connections"] == 0
    assert stats["peak_users"] == 2 and stats["peak_connections"] == 3 and stats["total_joins"] == 3


def test_a_membership_the_counters_never_saw_still_leaves_and_counters_stay_at_zero(stack, invoke):
    """Drift (a membership written outside a join: no counters, no presence count, no room
    count) must not make the leave impossible: the member goes, counters stay at zero."""
    from roomcast.dal import keys
    from roomcast.dal.dynamo import to_item
    from roomcast.settings import get_settings

    _room(invoke, "drift")
    item = {
        "pk": keys.room_pk("drift"), "sk": keys.member_sk("conn-ghost"), "room_id": "drift",
        "connection_id": "conn-ghost", "user_id": "ghost", "name": "Ghost",
        "joined_at": 1_700_000_000_000, "session_id": "s-ghost",
    }
    boto3.client("dynamodb").put_item(TableName=get_settings().table_name, Item=to_item(item))
    assert _act(invoke, "leave", "drift", "conn-ghost", "ghost")["type"] == "left"
    stats = _stats("drift")
    assert (stats["current_users"], stats["current_connections"]) == (0, 0)
    assert not [i for i in _items("ROOM#drift") if i["sk"]["S"].startswith("MEMBER#")]
