"""Events from the real writes of server messaging and moderation (issues 13 and 14), not
hand-made items: a server message, a finished stream, a members-only room's offline members,
a ban, a mute and a message deletion, each through the table's stream to an endpoint once."""

from __future__ import annotations

from collections import Counter

from tests.helpers import ws_event
from tests.integration.events_support import (
    EventsDriver,
    StreamReader,
    create_endpoint,
    events_stack_fixture,  # noqa: F401 - the events_stack fixture
    run_stream,
    verified_events,
)
from tests.integration.webhook_support import ScriptedReceiver, admin, create_room


def test_server_messages_streams_and_moderation_become_events_once(events_stack, invoke):
    stream = StreamReader(events_stack)
    driver = EventsDriver(events_stack, invoke)
    with ScriptedReceiver() as receiver:
        endpoint = create_endpoint(admin, invoke, receiver.url, description="features")
        create_room(invoke, "feat", None, access="members", admin_user_ids=["alice"])
        assert admin(invoke, "PUT", "/rooms/feat/members/alice", {"role": "moderator"})[0] == 200
        assert admin(invoke, "PUT", "/rooms/feat/members/bob", {"role": "member"})[0] == 200
        invoke("connect", ws_event("ws-connect.json"))  # alice, online in the room; bob is not
        invoke("chat", ws_event("ws-join.json", body={"action": "join", "room_id": "feat"}))

        bot = {"user_id": "bot", "name": "Bot", "kind": "bot"}
        status, posted = admin(invoke, "POST", "/rooms/feat/messages", {"sender": bot, "text": "notice"})
        assert status == 201, posted
        stream_id = admin(invoke, "POST", "/rooms/feat/streams", {"sender": bot})[1]["stream_id"]
        for seq, text in ((1, "world"), (0, "hello "), (1, "world")):  # out of order, once twice
            assert admin(invoke, "POST", f"/rooms/feat/streams/{stream_id}/chunks", {"seq": seq, "text": text})[0] == 200
        assert admin(invoke, "POST", f"/rooms/feat/streams/{stream_id}/end")[0] == 200
        assert admin(invoke, "POST", "/rooms/feat/mutes", {"user_id": "bob", "duration_seconds": 60})[0] == 201
        assert admin(invoke, "POST", "/rooms/feat/bans", {"user_id": "mallory"})[0] == 201
        message_id = posted["message"]["id"]
        assert admin(invoke, "DELETE", f"/rooms/feat/messages/{message_id}")[0] == 200

        run_stream(invoke, stream.new())
        driver.drain()
        events = verified_events(receiver, endpoint["secret"])

    by_type = Counter(e["type"] for e in events)
    created = [e for e in events if e["type"] == "message.created"]
    texts = sorted(e["data"]["message"]["text"] for e in created)
    assert texts == ["hello world", "notice"], created  # the stream once, with its whole text
    assert {e["data"]["message"].get("sender_kind") for e in created} == {"bot"}
    streamed = {e["data"]["message"]["text"]: e["data"]["message"].get("streamed") for e in created}
    assert streamed == {"hello world": True, "notice": None}
    assert by_type["message.deleted"] == 1
    assert by_type["moderation.muted"] == 1 and by_type["moderation.banned"] == 1
    assert by_type["moderation.member_added"] == 2
    # message.offline: the listed member who was not in the room (bob) for each message.
    offline = [e for e in events if e["type"] == "message.offline"]
    assert len(offline) == 2
    assert [e["data"]["offline_user_ids"] for e in offline] == [["bob"], ["bob"]], offline
    # Exactly once: every event id once.
    ids = [e["id"] for e in events]
    assert len(ids) == len(set(ids))
