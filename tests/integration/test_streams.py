"""Streamed messages (issue 13): chunks out of order and twice, gaps, a mid-stream joiner,
the idle timeout (an injected clock), the limits, concurrent chunks, on moto."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest

from tests.helpers import clear_posted, posted_frames, reply_body, ws_event
from tests.integration.test_server_messaging import BOT, _chat, _history, _join
from tests.integration.webhook_support import admin, create_room, fake_clock_fixture  # noqa: F401 (a fixture)


@pytest.fixture
def lobby(stack, invoke):
    create_room(invoke, "lobby", None)
    _join(invoke, "conn-alice-1", "alice")
    clear_posted()
    return "lobby"


def _open(invoke: Any, room: str = "lobby") -> str:
    status, view = admin(invoke, "POST", f"/rooms/{room}/streams", {"sender": BOT})
    assert status == 201, view
    assert view["next_seq"] == 0 and view["stream_id"] == view["message_id"]
    return view["stream_id"]


def _chunk(invoke: Any, stream: str, seq: int, text: str, room: str = "lobby") -> tuple[int, Any]:
    return admin(invoke, "POST", f"/rooms/{room}/streams/{stream}/chunks", {"seq": seq, "text": text})


def _end(invoke: Any, stream: str, room: str = "lobby") -> tuple[int, Any]:
    return admin(invoke, "POST", f"/rooms/{room}/streams/{stream}/end")


def _assembled(connection_id: str, stream: str) -> str:
    """What a client assembles from the deltas it got: each chunk at its seq, once."""
    text, next_seq = "", 0
    for frame in posted_frames(connection_id):
        if frame["type"] == "message.delta" and frame["message_id"] == stream:
            for chunk in frame["chunks"]:
                assert chunk["seq"] == next_seq, frame  # the server sends each seq once, in order
                text += chunk["text"]
                next_seq += 1
    return text


def _items(prefix: str) -> list[dict]:
    from roomcast.settings import get_settings

    client = boto3.client("dynamodb")
    return [i for i in client.scan(TableName=get_settings().table_name)["Items"] if i["sk"]["S"].startswith(prefix)]


def test_chunks_out_of_order_and_twice_give_the_right_text(lobby, invoke):
    stream = _open(invoke)
    answers = [_chunk(invoke, stream, seq, text) for seq, text in
               [(1, "wor"), (0, "Hello "), (1, "wor"), (3, "!"), (0, "Hello "), (2, "ld")]]
    assert [a[0] for a in answers] == [200] * 6
    assert [a[1]["duplicate"] for a in answers] == [False, False, True, False, True, False]
    assert [a[1]["next_seq"] for a in answers] == [0, 2, 2, 2, 2, 4]
    assert [a[1]["held"] for a in answers] == [1, 0, 0, 1, 1, 0]
    # Deltas reach the member in order, each chunk once; nothing is in history yet.
    assert _assembled("conn-alice-1", stream) == "Hello world!"
    assert _history() == [] and not [f for f in posted_frames("conn-alice-1") if f["type"] == "message"]
    status, ack = _end(invoke, stream)
    assert status == 200 and ack["type"] == "ack", ack
    message = ack["message"]
    assert message["id"] == stream and message["text"] == "Hello world!"
    assert (message["sender_kind"], message["streamed"], message["stream_ended_by"]) == ("bot", True, "end")
    assert "incomplete" not in message
    finals = [f for f in posted_frames("conn-alice-1") if f["type"] == "message"]
    assert [f["message"]["text"] for f in finals] == ["Hello world!"]
    # One MSG item with the whole text, the stream item gone, the room's count back to 0.
    assert [(m.message_id, m.text, m.streamed) for m in _history()] == [(stream, "Hello world!", True)]
    assert _items("STREAM#") == []
    from roomcast.dal.store import get_store

    room = get_store().get_room("lobby")
    assert room is not None and room.open_streams == 0 and room.stats.message_count == 1
    # Ending again answers the stored message; a chunk after the end is refused.
    again = _end(invoke, stream)
    assert again[0] == 200 and again[1]["duplicate"] is True and again[1]["message"]["text"] == "Hello world!"
    late = _chunk(invoke, stream, 4, "more")
    assert (late[0], late[1]["code"]) == (409, "stream_ended")


def test_a_gap_that_never_fills_ends_with_the_held_chunks_in_order(lobby, invoke):
    stream = _open(invoke)
    for seq, text in [(0, "a"), (4, "e"), (2, "c")]:
        assert _chunk(invoke, stream, seq, text)[0] == 200
    assert _assembled("conn-alice-1", stream) == "a"  # c and e are held behind the gaps
    status, ack = _end(invoke, stream)
    assert status == 200 and ack["message"]["text"] == "ace" and ack["message"]["incomplete"] is True


def test_a_mid_stream_joiner_sees_the_text_so_far_then_the_deltas(lobby, invoke):
    stream = _open(invoke)
    _chunk(invoke, stream, 0, "The answer ")
    _chunk(invoke, stream, 2, "42")  # held
    joined = _join(invoke, "conn-bob-1", "bob")
    assert joined["type"] == "joined"
    [state] = joined["streams"]
    assert (state["message_id"], state["text"], state["next_seq"]) == (stream, "The answer ", 1)
    assert state["sender_kind"] == "bot" and state["user_id"] == "helper-bot"
    clear_posted()
    _chunk(invoke, stream, 1, "is ")
    deltas = [f for f in posted_frames("conn-bob-1") if f["type"] == "message.delta"]
    assert [[(c["seq"], c["text"]) for c in d["chunks"]] for d in deltas] == [[(1, "is "), (2, "42")]]
    assert state["text"] + "".join(c["text"] for d in deltas for c in d["chunks"]) == "The answer is 42"
    _end(invoke, stream)
    # With no stream open, a join reads no streams (and says nothing of them).
    assert "streams" not in _join(invoke, "conn-carol-1", "carol")


def test_an_idle_stream_ends_itself_after_the_timeout(lobby, invoke, fake_clock, monkeypatch):
    from roomcast.settings import get_settings

    timeout = get_settings().stream_idle_timeout_seconds
    stream = _open(invoke)
    _chunk(invoke, stream, 0, "partial ")
    _chunk(invoke, stream, 1, "reply")
    sqs = boto3.client("sqs")
    queue = get_settings().call_timer_queue_url or __import__("os").environ["CALL_TIMER_QUEUE_URL"]

    def fire() -> str:
        """Receive the due timer message and run the call timer function on it."""
        messages = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10).get("Messages", [])
        assert len(messages) == 1, messages
        body = json.loads(messages[0]["Body"])
        assert body == {"kind": "stream", "room_id": "lobby", "stream_id": stream}
        sqs.delete_message(QueueUrl=queue, ReceiptHandle=messages[0]["ReceiptHandle"])
        event = {"Records": [{"messageId": messages[0]["MessageId"], "receiptHandle": "r", "body": messages[0]["Body"],
                              "attributes": {}, "messageAttributes": {}, "md5OfBody": "", "eventSource": "aws:sqs",
                              "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:timer", "awsRegion": "us-east-1"}]}
        assert invoke("calltimer", event) == {"batchItemFailures": []}
        return body["stream_id"]

    # Not due yet: the delayed message is not visible.
    assert sqs.receive_message(QueueUrl=queue).get("Messages", []) == []
    fake_clock.advance(timeout - 10)
    _chunk(invoke, stream, 2, ".")  # activity: the timer that fires next finds it recent
    fake_clock.advance(11)
    fire()
    assert _history() == [] and len(_items("STREAM#")) == 1  # rescheduled, still open
    fake_clock.advance(timeout)
    fire()
    [message] = _history()
    assert (message.text, message.stream_ended_by, message.streamed) == ("partial reply.", "timeout", True)
    assert _items("STREAM#") == []
    finals = [f for f in posted_frames("conn-alice-1") if f["type"] == "message"]
    assert finals[-1]["message"]["stream_ended_by"] == "timeout"


def test_an_idle_stream_with_no_text_is_discarded(lobby, invoke, fake_clock):
    from roomcast.logic import streams
    from roomcast.wiring import services

    stream = _open(invoke)
    fake_clock.advance(3600)
    assert streams.expire(services(), "lobby", stream) == "discarded"
    assert _history() == [] and _items("STREAM#") == []
    assert streams.expire(services(), "lobby", stream) == "gone"
    status, body = _end(invoke, stream)
    assert (status, body["code"]) == (404, "not_found")


def test_two_chunks_at_once_lose_nothing(lobby, invoke, monkeypatch):
    """Chunk 0's write is overtaken by chunk 1's (both read version 0): the conditional
    write refuses the stale one, which reads again and lands on top."""
    from roomcast.dal.streams import StreamStore
    from roomcast.logic import streams
    from roomcast.models.admin import ChunkRequest
    from roomcast.wiring import services

    stream = _open(invoke)
    original = StreamStore.replace
    calls: list[int] = []

    def racing(self: StreamStore, record: Any, expected_version: int) -> bool:
        calls.append(expected_version)
        if len(calls) == 1:
            # Another request's chunk lands between this one's read and its write.
            monkeypatch.setattr(StreamStore, "replace", original)
            streams.append_chunk(services(), "lobby", stream, ChunkRequest(seq=1, text="B"))
            monkeypatch.setattr(StreamStore, "replace", racing)
        return original(self, record, expected_version)

    monkeypatch.setattr(StreamStore, "replace", racing)
    result = streams.append_chunk(services(), "lobby", stream, ChunkRequest(seq=0, text="A"))
    assert calls == [0, 1] and result.next_seq == 2
    assert _end(invoke, stream)[1]["message"]["text"] == "AB"


def test_ending_a_stream_with_no_text_discards_it_with_204(lobby, invoke):
    stream = _open(invoke)
    ended = _end(invoke, stream)
    assert (ended[0], ended[1]) == (204, None)
    assert _items("STREAM#") == [] and posted_frames("conn-alice-1") == []
    again = _end(invoke, stream)
    assert (again[0], again[1]["code"]) == (404, "not_found")


def test_stream_limits(lobby, invoke, monkeypatch):
    from roomcast.settings import get_settings, reset_settings

    settings = get_settings()
    stream = _open(invoke)
    big = _chunk(invoke, stream, 0, "x" * (settings.stream_max_chunk_chars + 1))
    assert (big[0], big[1]["code"]) == (413, "payload_too_large")
    # STREAM_MAX_HELD_CHUNKS ahead is held; one more is a conflict with the stream's state.
    ahead = _open(invoke)
    edge = _chunk(invoke, ahead, settings.stream_max_held_chunks, "e")
    assert (edge[0], edge[1]["held"], edge[1]["next_seq"]) == (200, 1, 0)
    far = _chunk(invoke, ahead, settings.stream_max_held_chunks + 1, "x")
    assert (far[0], far[1]["code"]) == (409, "conflict")
    assert "more than" in far[1]["message"]
    for bad in ({"seq": -1, "text": "x"}, {"seq": 0, "text": ""}, {"seq": 0}, {"seq": "a", "text": "x"}):
        answer = admin(invoke, "POST", f"/rooms/lobby/streams/{stream}/chunks", bad)
        assert (answer[0], answer[1]["code"]) == (400, "bad_request"), bad
    # The whole stream's size: filled to the limit exactly, then one character over.
    chunk = settings.stream_max_chunk_chars
    total, seq = 0, 0
    while total + chunk <= settings.stream_max_chars:
        assert _chunk(invoke, stream, seq, "y" * chunk)[0] == 200
        total += chunk
        seq += 1
    rest = settings.stream_max_chars - total
    if rest:
        assert _chunk(invoke, stream, seq, "y" * rest)[0] == 200
        seq += 1
    over = _chunk(invoke, stream, seq, "z")
    assert (over[0], over[1]["code"]) == (413, "payload_too_large")
    ack = _end(invoke, stream)[1]
    assert len(ack["message"]["text"]) == settings.stream_max_chars
    # The final message fits one frame: the member got it.
    assert [f for f in posted_frames("conn-alice-1") if f["type"] == "message"]
    # The chunk rate: a burst of 3 at 1 per second, then rate_limited with a wait.
    monkeypatch.setenv("STREAM_CHUNK_RATE_BURST", "3")
    monkeypatch.setenv("STREAM_CHUNK_RATE_PER_SECOND", "1")
    reset_settings()
    from roomcast.settings import AdminSettings, configure

    configure(AdminSettings)
    limited = _open(invoke)
    assert [_chunk(invoke, limited, s, "t")[0] for s in range(3)] == [200, 200, 200]
    refused = _chunk(invoke, limited, 3, "t")
    assert (refused[0], refused[1]["code"]) == (429, "rate_limited") and refused[1]["retry_after_ms"] > 0
    assert _chunk(invoke, limited, 2, "t")[1]["duplicate"] is True  # a repeat is not limited


def test_stream_refusals(lobby, invoke):
    assert admin(invoke, "POST", "/rooms/nowhere/streams", {"sender": BOT})[1]["code"] == "room_not_found"
    assert admin(invoke, "POST", "/rooms/lobby/streams", {"sender": {"user_id": "b"}})[0] == 400
    unknown = _chunk(invoke, "0" * 25, 0, "x")
    assert (unknown[0], unknown[1]["code"]) == (404, "not_found")
    assert _chunk(invoke, "0" * 25, 0, "x", room="nowhere")[1]["code"] == "room_not_found"
    assert admin(invoke, "POST", "/rooms/lobby/streams/not-an-id/end")[1]["code"] == "not_found"


def test_a_close_ends_the_open_streams_so_the_payload_holds_their_text(lobby, invoke, monkeypatch):
    from roomcast import gateway
    from roomcast.dal.store import get_store
    from roomcast.webhooks.payload import chat_item

    # Keep the sockets (moto forgets a deleted connection's frames) to see what they got.
    monkeypatch.setattr(gateway.Gateway, "disconnect", lambda self, connection_id: None)
    stream = _open(invoke)
    _chunk(invoke, stream, 0, "cut ")
    _chunk(invoke, stream, 1, "short")
    empty = _open(invoke)  # no text: discarded, no message
    assert admin(invoke, "DELETE", "/rooms/lobby")[0] == 202
    # The member saw the final message before room.closed.
    types = [f["type"] for f in posted_frames("conn-alice-1")]
    assert types.index("message") < types.index("room.closed"), types
    [item] = [chat_item(m) for page in get_store().iter_messages("lobby") for m in page]
    assert (item["text"], item["stream_ended_by"]) == ("cut short", "room_closed")
    assert _items("STREAM#") == []
    assert admin(invoke, "POST", "/rooms/lobby/streams", {"sender": BOT})[1]["code"] == "room_closed"
    late = _chunk(invoke, stream, 2, "x")
    assert (late[0], late[1]["code"]) == (409, "stream_ended")
    assert _end(invoke, stream)[1]["duplicate"] is True
    assert _end(invoke, empty)[0] == 404


def test_a_join_reply_with_large_open_streams_stays_within_128_kb(lobby, invoke):
    """Four streams of 16,000 two-byte characters (32 KB each): the join lists those that
    fit in its 48 KB for streams, beside a history of large messages, under 128 KB."""
    from roomcast.logic.pages import REPLY_LIMIT_BYTES, encoded_size
    from roomcast.settings import get_settings

    settings = get_settings()
    for _ in range(3):
        admin(invoke, "POST", "/rooms/lobby/messages", {"sender": BOT, "text": "é" * settings.max_message_chars})
    streams = []
    for _ in range(4):
        stream = _open(invoke)
        chunk = settings.stream_max_chunk_chars
        for seq in range(settings.stream_max_chars // chunk):
            assert _chunk(invoke, stream, seq, "é" * chunk)[0] == 200
        streams.append(stream)
    joined = _join(invoke, "conn-bob-1", "bob")
    assert encoded_size(joined) < REPLY_LIMIT_BYTES
    assert [s["message_id"] for s in joined["streams"]] == streams[:1]
    assert len(joined["streams"][0]["text"]) == settings.stream_max_chars
    assert joined["history"]["messages"]  # the history still has room


def test_history_and_the_webhook_payload_hold_the_whole_text_with_flags(lobby, invoke):
    from roomcast.dal.store import get_store
    from roomcast.webhooks.payload import chat_item

    admin(invoke, "POST", "/rooms/lobby/messages", {"sender": {"user_id": "sys", "name": "System"}, "text": "notice"})
    _chat(invoke, "conn-alice-1", "alice", {"action": "send", "room_id": "lobby", "text": "hi"})
    stream = _open(invoke)
    _chunk(invoke, stream, 0, "bot ")
    _chunk(invoke, stream, 1, "reply")
    _end(invoke, stream)
    items = [chat_item(m) for page in get_store().iter_messages("lobby") for m in page]
    by_text = {i["text"]: i for i in items}
    assert set(by_text) == {"notice", "hi", "bot reply"}
    assert by_text["notice"]["sender_kind"] == "system" and "streamed" not in by_text["notice"]
    assert not {"sender_kind", "streamed"} & set(by_text["hi"])
    assert by_text["bot reply"] | {"id": None, "sent_at": None} == {
        "id": None, "sent_at": None, "user_id": "helper-bot", "name": "Helper", "text": "bot reply",
        "sender_kind": "bot", "streamed": True, "stream_ended_by": "end",
    }
    page = reply_body(invoke("chat", ws_event("ws-default.json", body={"action": "history", "room_id": "lobby"})))
    assert [m["text"] for m in page["messages"]] == ["notice", "hi", "bot reply"]


def test_a_chunk_that_lands_while_the_stream_ends_is_in_the_message(lobby, invoke, monkeypatch):
    """The end read the stream, then a chunk wrote it: the end's transaction (conditional
    on the version it read) writes nothing, and the end reads again and includes the chunk."""
    from roomcast.dal.store import RoomStore
    from roomcast.logic import streams
    from roomcast.models.admin import ChunkRequest
    from roomcast.wiring import services

    stream = _open(invoke)
    _chunk(invoke, stream, 0, "first ")
    original = RoomStore.put_message
    attempts: list[str] = []

    def racing(self: RoomStore, message: Any, *args: Any, **kwargs: Any) -> Any:
        attempts.append(message.text)
        if len(attempts) == 1:
            streams.append_chunk(services(), "lobby", stream, ChunkRequest(seq=1, text="second"))
        return original(self, message, *args, **kwargs)

    monkeypatch.setattr(RoomStore, "put_message", racing)
    ack = streams.end_stream(services(), "lobby", stream)
    assert attempts == ["first ", "first second"] and ack.message.text == "first second"
    assert [m.text for m in _history()] == ["first second"]


def test_a_stream_at_the_largest_settings_fits_one_frame_and_one_item(lobby, invoke, monkeypatch):
    """STREAM_MAX_CHARS and STREAM_MAX_CHUNK_CHARS at their maximum (30,000) with 4-byte
    characters: the final message frame stays under 128 KB, the item under 400 KB, and a
    joiner's reply leaves the stream out (over its 48 KB for streams) rather than grow."""
    from roomcast.logic.pages import REPLY_LIMIT_BYTES, encoded_size
    from roomcast.settings import AdminSettings, configure

    monkeypatch.setenv("STREAM_MAX_CHARS", "30000")
    monkeypatch.setenv("STREAM_MAX_CHUNK_CHARS", "30000")
    configure(AdminSettings)
    stream = _open(invoke)
    assert _chunk(invoke, stream, 0, "😀" * 30000)[0] == 200
    [item] = _items("STREAM#")
    assert len(json.dumps(item, ensure_ascii=False).encode()) < 400 * 1024
    joined = _join(invoke, "conn-bob-1", "bob")
    assert "streams" not in joined or joined["streams"] == []
    assert encoded_size(joined) < REPLY_LIMIT_BYTES
    over = _chunk(invoke, stream, 1, "x")
    assert (over[0], over[1]["code"]) == (413, "payload_too_large")
    assert _end(invoke, stream)[0] == 200
    [final] = [f for f in posted_frames("conn-alice-1") if f["type"] == "message"]
    assert len(final["message"]["text"]) == 30000
    assert encoded_size(final) < REPLY_LIMIT_BYTES
