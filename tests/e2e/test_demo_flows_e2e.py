"""The demo as a newcomer explores it, in Chromium through the local runtime.

test_the_readme_flow is the README's whole flow on one room, as two people: chat and typing,
older history, a dropped connection that catches up, a call that connects, mute / unmute /
delete / kick / ban / unban from the member menu, a server message, a notification, the
bot's streamed reply, and the close, with no console error. Each step leaves a screenshot in
artifacts/screenshots/ (git-ignored; the paths are printed); with
ROOMCAST_README_SCREENSHOTS=1 (`make screenshots`) it also writes the README's pictures to
docs/images/. The other tests: the lobby, an invite link that opens as a second user,
older history page by page, a failed send resent once, and nothing live after a close.
"""

from __future__ import annotations

import itertools
import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest
from playwright.sync_api import Browser, Route, expect
from websockets.asyncio.client import connect

from tests.e2e.aio import run
from tests.e2e.test_call_e2e import media_browser
from tests.e2e.test_chat_e2e import WAIT_MS, DemoPage, pages, unique
from tests.e2e.test_close_e2e import _wait_for_sync

pytestmark = pytest.mark.e2e
__all__ = ["media_browser", "pages"]  # fixtures, re-used from test_chat_e2e and test_call_e2e

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "artifacts" / "screenshots"
README_IMAGES = ROOT / "docs" / "images"


def _screenshot(page: DemoPage, name: str, readme: str | None = None) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.page.screenshot(path=str(path))
    print(f"screenshot: {path}")
    if readme and os.environ.get("ROOMCAST_README_SCREENSHOTS") == "1":
        README_IMAGES.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, README_IMAGES / readme)
        print(f"README screenshot: {README_IMAGES / readme}")
    return path


@pytest.fixture
def newcomer(browser: Browser, local_runtime: Any) -> Iterator[DemoPage]:
    """A third person: a fresh browser context that opens the demo with no parameters."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    try:
        page = DemoPage(context.new_page(), local_runtime.http_url)
        yield page
        assert page.errors == [], page.errors
    finally:
        context.close()


def _texts(page: DemoPage) -> list[str]:
    return page.messages().all_text_contents()


def test_an_invite_link_opens_as_a_new_user_and_the_lobby_lists_the_room(
    pages: tuple[DemoPage, DemoPage], newcomer: DemoPage
) -> None:
    alice, bob = pages
    alice_id = unique("alice")
    room_name = f"Lobby {unique('room')}"
    room_id = alice.open(alice_id, "Alice").create_room(room_name)

    # The address and the invite link hold the room only: never who created it.
    link = alice.page.locator("#invite-link").input_value()
    assert parse_qs(urlparse(link).query) == {"room": [room_id]}
    assert parse_qs(urlparse(alice.page.url).query) == {"room": [room_id]}
    assert alice_id not in link and "Alice" not in link

    # A second tab of Alice's own browser is not Alice: it asks who it is, as Bob's will.
    tab = alice.page.context.new_page()
    try:
        tab.goto(link)
        expect(tab.locator("#invite-banner")).to_contain_text(room_name, timeout=WAIT_MS)
        expect(tab.locator("#room-panel")).to_be_hidden()
        assert tab.locator("#user-id").input_value() != alice_id
    finally:
        tab.close()

    # Bob opens it in his own browser: asked for a name, he joins as a new user.
    bob.page.goto(link)
    expect(bob.page.locator("html")).to_have_attribute("data-ready", "true", timeout=WAIT_MS)
    expect(bob.page.locator("#invite-banner")).to_contain_text(room_name, timeout=WAIT_MS)
    expect(bob.page.locator("#room-panel")).to_be_hidden()
    bob.page.fill("#user-name", "Bob")
    bob.page.click('[data-testid="invite-join"]')
    bob.wait_joined()
    bob_id = bob.page.locator("#user-id").input_value()
    assert bob_id != alice_id
    expect(bob.page.locator("#me-label")).to_have_text("Bob")
    expect(bob.page.locator("#me-label")).to_have_attribute("data-user-id", bob_id)
    for page in (alice, bob):
        expect(page.page.locator("#member-count")).to_have_text("2", timeout=WAIT_MS)
    expect(alice.member_name(bob_id)).to_have_text("Bob")
    expect(bob.member_name(alice_id)).to_have_text("Alice")
    alice.send("hello Bob")
    expect(bob.messages()).to_have_text(["hello Bob"], timeout=WAIT_MS)
    _screenshot(bob, "demo-two-user-room")

    # A reload keeps the tab's identity: Bob again, not a third user, not Alice.
    bob.page.reload()
    bob.wait_joined()
    expect(bob.page.locator("#me-label")).to_have_attribute("data-user-id", bob_id)
    expect(alice.page.locator("#member-count")).to_have_text("2", timeout=WAIT_MS)
    # The reload closed the old socket at once: Bob is one tab, not a stale two.
    expect(alice.member(bob_id).locator(".rc-row-sub")).to_have_text("online", timeout=WAIT_MS)

    # A newcomer on the bare demo page finds the room in the lobby and joins by a click.
    newcomer.page.goto(newcomer.demo_url)
    expect(newcomer.page.locator("html")).to_have_attribute("data-ready", "true", timeout=WAIT_MS)
    expect(newcomer.page.locator("#lobby-loading")).to_be_hidden(
        timeout=WAIT_MS
    )  # a loading state, then the list
    entry = newcomer.page.locator(
        f'#lobby-rooms [data-testid="lobby-room"][data-room-id="{room_id}"]'
    )
    expect(entry).to_contain_text(room_name, timeout=WAIT_MS)
    expect(entry.locator('[data-testid="lobby-room-detail"]')).to_contain_text("2 people here")
    _screenshot(newcomer, "demo-lobby")
    newcomer.page.fill("#user-name", "Carol")
    entry.locator('[data-testid="lobby-join"]').click()
    newcomer.wait_joined()
    expect(newcomer.page.locator("#room-title")).to_have_text(room_name)
    for page in (alice, bob, newcomer):
        expect(page.page.locator("#member-count")).to_have_text("3", timeout=WAIT_MS)


def _seed(local_runtime: Any, room_id: str, texts: list[str], name: str = "Seeder") -> None:
    """Send `texts` in order through real sockets, 20 per user (inside one connection's burst)."""

    async def scenario() -> None:
        for start in range(0, len(texts), 20):
            token = local_runtime.token(unique("seed"), name)
            async with connect(local_runtime.ws_url, subprotocols=["roomcast.v1", token]) as ws:  # type: ignore[list-item]
                await ws.send(json.dumps({"action": "join", "room_id": room_id, "request_id": "j"}))
                await _reply(ws, "j")
                for index, text in enumerate(texts[start : start + 20]):
                    request_id = f"s{index}"
                    await ws.send(
                        json.dumps(
                            {
                                "action": "send",
                                "room_id": room_id,
                                "text": text,
                                "request_id": request_id,
                            }
                        )
                    )
                    assert (await _reply(ws, request_id))["type"] == "ack"

    run(scenario())


async def _reply(ws: Any, request_id: str) -> dict[str, Any]:
    while True:
        frame = json.loads(await ws.recv())
        if frame.get("request_id") == request_id:
            assert frame["type"] != "error", frame
            return frame


def test_load_older_pages_through_history_to_the_start(
    pages: tuple[DemoPage, DemoPage], local_runtime: Any
) -> None:
    alice, _ = pages
    status, room = local_runtime.admin("POST", "/rooms", {"name": "Long history"})
    assert status == 201, room
    texts = [f"old {n:02d}" for n in range(1, 81)]
    _seed(local_runtime, room["room_id"], texts)

    alice.open(unique("alice"), "Alice", room=room["room_id"]).wait_joined()
    expect(alice.messages()).to_have_count(50, timeout=WAIT_MS)  # the join reply's page
    assert _texts(alice) == texts[30:]
    older = alice.page.locator("#load-older")
    expect(older).to_be_visible()
    expect(alice.page.locator("#history-start")).to_be_hidden()

    older.click()  # page 1: 25 more, above
    expect(alice.messages()).to_have_count(75, timeout=WAIT_MS)
    assert _texts(alice) == texts[5:]
    older.click()  # page 2: the last 5, and the start of the room
    expect(alice.messages()).to_have_count(80, timeout=WAIT_MS)
    assert _texts(alice) == texts
    expect(older).to_be_hidden()
    expect(alice.page.locator("#history-start")).to_be_visible()


def test_drop_connection_reconnects_rejoins_and_catches_up_once(
    pages: tuple[DemoPage, DemoPage],
) -> None:
    alice, bob = pages
    alice_id, bob_id = unique("alice"), unique("bob")
    room_id = alice.open(alice_id, "Alice").create_room("Drop me")
    bob.open(bob_id, "Bob", room=room_id).wait_joined()
    alice.send("before the drop")
    expect(bob.messages()).to_have_text(["before the drop"], timeout=WAIT_MS)

    # Hold the reconnect (it mints a fresh token first) until bob has sent while alice was away.
    def refuse(route: Route) -> None:
        route.abort("connectionrefused")

    alice.page.route("**/api/tokens", refuse)
    alice.menu("#drop-connection")
    expect(alice.page.locator("#log-panel")).to_have_attribute("open", "", timeout=WAIT_MS)
    expect(alice.page.locator("#connection-banner")).to_contain_text(
        "Connection lost", timeout=WAIT_MS
    )
    expect(alice.status()).to_have_attribute("data-state", "reconnecting", timeout=WAIT_MS)
    expect(bob.member(alice_id)).to_have_count(0, timeout=WAIT_MS)  # $disconnect ran
    missed = ["missed 1", "missed 2", "missed 3"]
    for text in missed:
        bob.send(text)
    # Written while away: queued, shown as sending, delivered once the socket is back.
    alice.page.fill("#message-input", "written while away")
    alice.page.press("#message-input", "Enter")
    away = alice.page.locator('#messages [data-testid="message"][data-mine="true"]').filter(
        has_text="written while away"
    )
    expect(away).to_have_attribute("data-state", "pending")
    expect(away.locator('[data-testid="message-state"]')).to_have_text("sending…")

    alice.page.unroute("**/api/tokens", refuse)
    expect(alice.status()).to_have_attribute("data-state", "open", timeout=WAIT_MS)
    expect(alice.page.locator('[data-testid="reconnect-note"]')).to_contain_text(
        "caught up 3 messages", timeout=WAIT_MS
    )
    expect(away).to_have_attribute("data-state", "sent", timeout=WAIT_MS)
    expect(away.locator('[data-testid="message-state"]')).to_have_text("✓ acknowledged")
    expect(alice.page.locator("#log")).to_contain_text("reconnected after")
    expect(alice.page.locator("#connection-banner")).to_be_hidden()

    want = ["before the drop", *missed, "written while away"]
    expect(alice.messages()).to_have_text(want, timeout=WAIT_MS)
    expect(bob.messages()).to_have_text(want, timeout=WAIT_MS)
    expect(bob.member(alice_id)).to_be_visible(timeout=WAIT_MS)


def test_a_refused_send_shows_failed_and_a_resend_stores_it_once(
    browser: Browser, runtime_factory: Any
) -> None:
    # A runtime of its own with a small send bucket (3, then 1/s per connection), so a burst
    # of 10 is refused in part (rate_limited) however fast this machine is.
    runtime = runtime_factory("--env", "SEND_RATE_BURST=3", "--env", "SEND_RATE_PER_SECOND=1")
    contexts = [browser.new_context(), browser.new_context()]
    try:
        alice, bob = (DemoPage(c.new_page(), runtime.http_url) for c in contexts)
        room_id = alice.open(unique("alice"), "Alice").create_room("Burst")
        bob.open(unique("bob"), "Bob", room=room_id).wait_joined()
        alice.page.evaluate(
            """() => {
                const input = document.getElementById("message-input");
                const form = document.getElementById("send-form");
                for (let i = 1; i <= 10; i++) { input.value = `burst ${i}`; form.requestSubmit(); }
            }"""
        )
        mine = alice.page.locator('#messages [data-testid="message"][data-mine="true"]')
        expect(mine).to_have_count(10, timeout=WAIT_MS)
        expect(
            alice.page.locator('#messages [data-testid="message"][data-state="pending"]')
        ).to_have_count(0, timeout=WAIT_MS)
        failed = alice.page.locator('#messages [data-testid="message"][data-state="failed"]')
        count = failed.count()
        assert 0 < count < 10, count
        first = failed.first
        text = first.locator('[data-testid="message-text"]').inner_text()
        expect(first.locator('[data-testid="message-state"]')).to_contain_text("failed")
        expect(bob.messages()).to_have_count(10 - count, timeout=WAIT_MS)
        assert text not in bob.messages().all_text_contents()

        alice.page.wait_for_timeout(1200)  # the bucket refills (1/s)
        first.locator('[data-testid="resend"]').click()
        line = mine.filter(has_text=text)
        expect(line).to_have_attribute("data-state", "sent", timeout=WAIT_MS)
        expect(line.locator('[data-testid="message-state"]')).to_have_text("✓ acknowledged")
        expect(bob.messages().filter(has_text=text)).to_have_count(1, timeout=WAIT_MS)
        expect(bob.messages()).to_have_count(10 - count + 1)
        for page in (alice, bob):
            texts = _texts(page)
            assert len(texts) == len(set(texts)), texts
            assert page.errors == [], page.errors
    finally:
        for context in contexts:
            context.close()


def test_controls_follow_the_room_state_and_nothing_is_live_after_a_close(
    pages: tuple[DemoPage, DemoPage],
) -> None:
    alice, bob = pages
    alice_id, bob_id = unique("alice"), unique("bob")
    room_id = alice.open(alice_id, "Alice").create_room("Short lived")
    alice.send("a line to moderate")
    # The room's admin gets a delete button on each message; alone, there is nobody to call.
    expect(alice.page.locator('[data-testid="delete-message"]')).to_have_count(1, timeout=WAIT_MS)
    expect(alice.page.locator("#call-start")).to_be_hidden()
    expect(alice.page.locator("#you-moderate")).to_contain_text("admin")
    bob.open(bob_id, "Bob", room=room_id).wait_joined()
    for page in (alice, bob):
        expect(page.page.locator("#call-start")).to_be_visible(timeout=WAIT_MS)
        expect(page.page.locator("#call-overlay")).to_be_hidden()
    # Actions only for those who may use them: the admin has a menu next to Bob; Bob has none,
    # no delete buttons, and no close in his room menu.
    expect(alice.member(bob_id).locator('[data-testid="member-menu"]')).to_have_count(
        1, timeout=WAIT_MS
    )
    expect(alice.member(alice_id).locator('[data-testid="member-menu"]')).to_have_count(0)
    expect(bob.member(alice_id)).to_be_visible(timeout=WAIT_MS)
    expect(bob.page.locator('[data-testid="member-menu"]')).to_have_count(0)
    expect(bob.page.locator('[data-testid="delete-message"]')).to_have_count(0)
    expect(bob.page.locator("#you-moderate")).to_be_hidden()
    bob.page.click("#room-menu-button")
    expect(bob.page.locator("#leave-room")).to_be_visible()
    expect(bob.page.locator("#close-room")).to_be_hidden()
    bob.page.keyboard.press("Escape")

    # Closing asks first: Cancel changes nothing.
    alice.menu("#close-room")
    expect(alice.page.locator("#close-dialog")).to_contain_text("Close “Short lived” for everyone?")
    alice.page.click('#close-dialog button[value="cancel"]')
    expect(alice.page.locator("#close-dialog")).to_be_hidden()
    alice.send("still open")
    expect(bob.messages().last).to_have_text("still open", timeout=WAIT_MS)

    alice.close_room()
    for page in (alice, bob):
        state = page.page.locator("#room-state")
        expect(state).to_be_visible(timeout=WAIT_MS)
        expect(state).to_contain_text("closed by Alice" if page is bob else "closed by you")
        expect(state.locator('[data-testid="room-state-action"]')).to_have_text("Back to rooms")
        for control in (
            "#message-input",
            "#send-button",
            "#copy-link",
            "#drop-connection",
            "#invite-link",
        ):
            expect(page.page.locator(control)).to_be_disabled()
        expect(page.page.locator("#call-start")).to_be_hidden()
        expect(page.page.locator("#members-title")).to_contain_text("Room closed")
        expect(page.page.locator('#members [data-testid="member"]')).to_have_count(0)
        expect(page.page.locator('[data-testid="delete-message"]')).to_have_count(0)
        for control in ("#server-message", "#ask-bot", "#notify-me"):
            expect(page.page.locator(control)).to_be_disabled()
        # Every page tells the same story, the closer's too: the room is over.
        expect(page.status()).to_have_attribute("data-state", "closed", timeout=WAIT_MS)
        expect(page.status()).to_have_text("Room closed")
    alice.page.click("#room-menu-button")
    expect(alice.page.locator("#close-room")).to_be_hidden()
    alice.page.keyboard.press("Escape")

    # Back to the rooms: the closed room is not offered.
    bob.page.click('#room-state [data-testid="room-state-action"]')
    expect(bob.page.locator("#setup-panel")).to_be_visible(timeout=WAIT_MS)
    expect(bob.page.locator("#lobby-rooms")).not_to_contain_text("Short lived", timeout=WAIT_MS)
    assert urlparse(bob.page.url).query == ""


# ---------------------------------------------------------------- the README's flow

# client/demo/server-tools.js's canned reply.
BOT_REPLY = (
    "Hello! I am a bot. This reply is streamed: each chunk is sent with a sequence number, "
    "some of them out of order, and the client puts them back in order as they arrive."
)


class Held:
    """Hold the token requests of a page (its reconnects wait), then let them through.

    Holding rather than failing them keeps the console clean: a refused request is a
    console error, a slow one is not."""

    def __init__(self, page: DemoPage) -> None:
        self.page = page
        self.routes: list[Route] = []
        page.page.route("**/api/tokens", lambda route: self.routes.append(route))

    def release(self) -> None:
        while self.routes:
            self.routes.pop(0).continue_()
        self.page.page.unroute("**/api/tokens")


def _console_errors(page: DemoPage) -> list[str]:
    return [m for m in page.console if m.startswith("error")]


def test_the_readme_flow(media_browser: Browser, local_runtime: Any) -> None:
    contexts = [
        media_browser.new_context(
            viewport={"width": 1280, "height": 800}, permissions=["microphone", "camera"]
        )
        for _ in range(2)
    ]
    try:
        alice, bob = (DemoPage(c.new_page(), local_runtime.http_url) for c in contexts)
        for page in (alice, bob):
            page.console = []
            page.page.on("console", lambda m, page=page: page.console.append(f"{m.type}: {m.text}"))
        _readme_flow(alice, bob, local_runtime)
        for page in (alice, bob):
            assert page.errors == [], page.errors
            assert _console_errors(page) == [], page.console
    finally:
        for context in contexts:
            context.close()


def _readme_flow(alice: DemoPage, bob: DemoPage, local_runtime: Any) -> None:
    alice_id = unique("alice")
    # 1. Alice names herself and creates a room; 60 earlier messages are already in it.
    alice.open(alice_id, "Alice")
    expect(alice.page.locator("#lobby-loading")).to_be_hidden(timeout=WAIT_MS)
    room_id = alice.create_room("Product standup")
    _seed(local_runtime, room_id, [f"Earlier message {n:02d}" for n in range(1, 61)], name="Carol")
    expect(alice.messages()).to_have_count(60, timeout=WAIT_MS)
    _screenshot(alice, "flow-01-room-created")

    # 2. Bob opens the invite link in his own browser, names himself and joins.
    bob.page.goto(alice.page.locator("#invite-link").input_value())
    expect(bob.page.locator("#invite-banner")).to_contain_text("Product standup", timeout=WAIT_MS)
    bob.page.fill("#user-name", "Bob")
    _screenshot(bob, "flow-02-invited")
    bob.page.click('[data-testid="invite-join"]')
    bob.wait_joined()
    bob_id = bob.page.locator("#user-id").input_value()
    expect(alice.member_name(bob_id)).to_have_text("Bob", timeout=WAIT_MS)

    # 3. Typing and chat, both ways.
    alice.page.fill("#message-input", "Morn")
    expect(bob.page.locator("#typing-indicator")).to_have_text("Alice is typing…", timeout=WAIT_MS)
    alice.page.fill("#message-input", "")
    alice.send("Morning Bob! Ready for the standup?")
    expect(bob.messages().last).to_have_text("Morning Bob! Ready for the standup?", timeout=WAIT_MS)
    bob.page.fill("#message-input", "Al")
    expect(alice.page.locator("#typing-indicator")).to_have_text("Bob is typing…", timeout=WAIT_MS)
    _screenshot(alice, "flow-03-typing")
    bob.send("Almost: shipping the client package first.")
    expect(alice.messages().last).to_have_text(
        "Almost: shipping the client package first.", timeout=WAIT_MS
    )
    expect(alice.page.locator("#typing-indicator")).to_have_text("")

    # 4. Bob loads the older messages, page by page, to the start of the room.
    expect(bob.messages()).to_have_count(52, timeout=WAIT_MS)  # the join's page of 50, then 2 live
    bob.page.click("#load-older")
    expect(bob.messages()).to_have_count(62, timeout=WAIT_MS)
    expect(bob.page.locator("#history-start")).to_be_visible()
    expect(bob.page.locator("#load-older")).to_be_hidden()
    assert bob.messages().first.inner_text() == "Earlier message 01"
    _screenshot(bob, "flow-04-load-older")

    # 5. Alice's connection drops; Bob writes meanwhile; she comes back and catches up.
    held = Held(alice)
    alice.menu("#drop-connection")
    expect(alice.status()).to_have_attribute("data-state", "reconnecting", timeout=WAIT_MS)
    expect(alice.page.locator("#connection-banner")).to_be_visible()
    expect(bob.member(alice_id)).to_have_count(0, timeout=WAIT_MS)
    for text in ("Did you see the build?", "It is green now."):
        bob.send(text)
    _screenshot(alice, "flow-05-reconnecting")
    held.release()
    expect(alice.status()).to_have_attribute("data-state", "open", timeout=WAIT_MS)
    expect(alice.page.locator('[data-testid="reconnect-note"]')).to_contain_text(
        "caught up 2 messages", timeout=WAIT_MS
    )
    expect(alice.messages().last).to_have_text("It is green now.")
    _screenshot(alice, "flow-06-caught-up")

    # 6. Bob calls Alice (a room of two: the header's Call); she accepts; the call connects.
    expect(bob.page.locator("#call-start")).to_be_visible(timeout=WAIT_MS)
    bob.page.click("#call-start")
    expect(bob.page.locator("#call-overlay")).to_contain_text("Call Alice")
    bob.page.click('[data-testid="call-video"]')
    expect(alice.page.locator("#call-incoming")).to_be_visible(timeout=WAIT_MS)
    expect(alice.page.locator("#call-state")).to_have_text("Bob is calling (video)")
    _screenshot(alice, "flow-07-incoming-call")
    alice.page.click("#call-accept")
    for page, other in ((alice, "Bob"), (bob, "Alice")):
        expect(page.page.locator("#call-state")).to_have_attribute(
            "data-state", "connected", timeout=WAIT_MS
        )
        expect(page.page.locator("#call-state")).to_contain_text(f"In a call with {other}")
    bob.page.wait_for_function(
        "() => { const s = document.getElementById('call-remote-video').srcObject;"
        " return s && s.getVideoTracks().length === 1 && s.getTracks().every(t => t.readyState === 'live'); }",
        timeout=WAIT_MS,
    )
    _screenshot(bob, "flow-08-call-connected", readme="demo-call.png")
    bob.page.click("#call-hangup")
    expect(alice.page.locator("#call-state")).to_contain_text("ended (hangup)", timeout=WAIT_MS)
    for page in (alice, bob):
        page.page.click('[data-testid="call-dismiss"]')
        expect(page.page.locator("#call-overlay")).to_be_hidden()

    # 7. Alice mutes Bob from the member menu: his composer is off, with who, why and until when.
    expect(bob.page.locator('[data-testid="member-menu"]')).to_have_count(
        0
    )  # actions only for those who may
    alice.member_action(bob_id, "member-mute")
    expect(alice.page.locator("#mod-dialog")).to_contain_text("Mute Bob")
    alice.page.fill("#mod-reason", "let the others talk")
    alice.page.click("#mod-confirm")
    expect(alice.member(bob_id).locator('.rc-badge[data-kind="muted"]')).to_be_visible(
        timeout=WAIT_MS
    )
    banner = bob.page.locator("#composer-banner")
    expect(banner).to_contain_text("You are muted by Alice", timeout=WAIT_MS)
    expect(banner).to_contain_text("until ")
    expect(banner).to_contain_text("“let the others talk”")
    expect(bob.page.locator("#message-input")).to_be_disabled()
    _screenshot(bob, "flow-09-muted")
    # The server refuses a member's moderation (the page offers him none).
    code = bob.page.evaluate(
        "(id) => window.roomcastDemo.room.mute(id).then(() => 'done', (e) => e.code)", alice_id
    )
    assert code == "not_moderator"

    # 8. Alice deletes one of Bob's messages: a tombstone on both pages.
    line = alice.page.locator('#messages [data-testid="message"]').filter(
        has_text="Did you see the build?"
    )
    line.hover()
    line.locator('[data-testid="delete-message"]').click()
    for page in (alice, bob):
        expect(
            page.page.locator('#messages [data-deleted="true"] [data-testid="message-text"]')
        ).to_have_text("(deleted by Alice)" if page is bob else "(deleted by you)", timeout=WAIT_MS)

    # 9. Kick: Bob is out, told by whom and that he may come back; he joins again, still muted.
    alice.member_action(bob_id, "member-kick")
    state = bob.page.locator("#room-state")
    expect(state).to_contain_text("You were removed from this room by Alice", timeout=WAIT_MS)
    expect(bob.page.locator("#message-input")).to_be_disabled()
    expect(bob.page.locator("#call-start")).to_be_hidden()
    expect(bob.page.locator('#members [data-testid="member"]')).to_have_count(0)
    expect(alice.member(bob_id)).to_have_count(0, timeout=WAIT_MS)
    _screenshot(bob, "flow-10-kicked")
    state.locator('[data-testid="room-state-action"]').click()
    bob.wait_joined()
    expect(alice.member(bob_id)).to_be_visible(timeout=WAIT_MS)
    # A kick is not an unmute: his send is refused `muted`, and the page learns it from that.
    bob.page.fill("#message-input", "let me speak")
    bob.page.press("#message-input", "Enter")
    refused = bob.page.locator('#messages [data-testid="message"][data-mine="true"]').filter(
        has_text="let me speak"
    )
    expect(refused).to_have_attribute("data-state", "failed", timeout=WAIT_MS)
    expect(refused).to_have_attribute("title", "muted: you are muted in this room")
    expect(banner).to_contain_text("You are muted", timeout=WAIT_MS)
    expect(bob.page.locator("#message-input")).to_be_disabled()
    alice.member_action(bob_id, "member-unmute")
    expect(banner).to_be_hidden(timeout=WAIT_MS)
    expect(bob.page.locator("#message-input")).to_be_enabled()
    expect(bob.page.locator('#messages [data-testid="system-message"]').last).to_have_text(
        "Alice unmuted you: you can write again."
    )

    # 10. Ban, then the Banned list and Unban.
    alice.member_action(bob_id, "member-ban")
    alice.page.fill("#mod-reason", "spam")
    alice.page.click("#mod-confirm")
    expect(state).to_contain_text(
        "You are banned from this room by Alice for good", timeout=WAIT_MS
    )
    expect(state).to_contain_text("“spam”")
    assert bob.room_state() == "banned"
    _screenshot(bob, "flow-11-banned")
    banned = alice.page.locator('#banned [data-testid="banned-user"]')
    expect(banned).to_have_count(1, timeout=WAIT_MS)
    expect(banned).to_contain_text("Bob")
    _screenshot(alice, "flow-12-banned-list")
    code = bob.page.evaluate(
        "() => window.roomcastDemo.room.join().then(() => 'joined', (e) => e.code)"
    )
    assert code == "banned"
    # Opening the room's link again: refused, and the page says why.
    bob.page.goto(f"{bob.demo_url}?user={bob_id}&name=Bob&room={room_id}")
    expect(bob.page.locator("#setup-error")).to_contain_text("banned", timeout=WAIT_MS)
    expect(bob.page.locator("#room-panel")).to_be_hidden()
    banned.locator('[data-testid="unban"]').click()
    expect(banned).to_have_count(0, timeout=WAIT_MS)
    expect(alice.page.locator('#messages [data-testid="mod-result"]').last).to_have_text(
        "You lifted Bob's ban."
    )
    bob.page.locator(f'#lobby-rooms [data-room-id="{room_id}"] [data-testid="lobby-join"]').click()
    bob.wait_joined()
    expect(alice.member(bob_id)).to_be_visible(timeout=WAIT_MS)

    # 11. A server message (the admin API), a notification to Bob, and the bell.
    alice.menu("#server-message")
    for page in (alice, bob):
        notice = page.page.locator('#messages [data-testid="message"][data-sender-kind="system"]')
        expect(notice).to_have_count(1, timeout=WAIT_MS)
        expect(notice.locator('[data-testid="message-text"]')).to_contain_text("Server notice")
    bob.menu("#notify-me")
    expect(bob.page.locator("#unread-count")).to_have_text("1", timeout=WAIT_MS)
    expect(bob.page.locator("#unread-count")).to_be_visible()
    bob.page.click("#open-inbox")
    expect(bob.page.locator('#notifications [data-testid="notification"]')).to_have_count(
        1, timeout=WAIT_MS
    )
    expect(bob.page.locator('#inbox-items [data-testid="inbox-item"]')).to_have_count(
        1, timeout=WAIT_MS
    )
    _screenshot(bob, "flow-13-notification")
    expect(bob.page.locator("#unread-count")).to_have_text("0", timeout=WAIT_MS)
    expect(bob.page.locator("#unread-count")).to_be_hidden()
    bob.page.click("#open-inbox")  # close the panel

    # 12. The bot streams its reply, in place, then it is one message.
    alice.send("Bot, what does the client do with streamed chunks?")
    alice.menu("#ask-bot")
    growing = bob.page.locator('#messages [data-testid="stream"] [data-testid="stream-text"]')
    expect(growing).not_to_have_text("", timeout=WAIT_MS)
    _screenshot(bob, "flow-14-bot-streaming")
    final = bob.page.locator('#messages [data-testid="message"][data-streamed="true"]')
    expect(final).to_have_count(1, timeout=WAIT_MS * 2)
    expect(final.locator('[data-testid="message-text"]')).to_have_text(BOT_REPLY)
    expect(final).to_have_attribute("data-sender-kind", "bot")
    expect(bob.page.locator('#messages [data-testid="stream"]')).to_have_count(0)
    texts: list[str] = bob.page.evaluate("() => window.roomcastServer.streamTexts")
    # Assembled in order: every state a prefix of the next, many of them, the last the whole.
    assert len(texts) > 10, texts
    assert texts[-1] == BOT_REPLY
    assert all(later.startswith(earlier) for earlier, later in itertools.pairwise(texts)), texts
    history = bob.page.evaluate("async () => (await window.roomcastDemo.room.history()).messages")
    assert [m["text"] for m in history if m.get("streamed")] == [BOT_REPLY]
    bob.send("Neat, thanks bot.")
    expect(alice.messages().last).to_have_text("Neat, thanks bot.", timeout=WAIT_MS)
    _screenshot(alice, "flow-15-chat", readme="demo.png")

    # 13. Alice closes the room (a confirm step first); both pages say so and what next.
    alice.menu("#close-room")
    expect(alice.page.locator("#close-dialog")).to_be_visible()
    _screenshot(alice, "flow-16-close-confirm")
    alice.page.click("#confirm-close-room")
    for page in (alice, bob):
        expect(page.page.locator("#room-state")).to_contain_text(
            "This room was closed by", timeout=WAIT_MS
        )
        expect(page.status()).to_have_text("Room closed", timeout=WAIT_MS)
    _screenshot(bob, "flow-17-closed")

    # The record: every moderation act, in order, in room.closed at the reference receiver.
    if not local_runtime.receiver_url:
        pytest.skip("the local runtime started no reference receiver")
    receiver_base = str(local_runtime.receiver_url).rstrip("/").removesuffix("/webhooks")
    sync = _wait_for_sync(receiver_base, room_id)
    acts = [(a["act"], a["by"], a["target_user"]) for a in sync["moderation_history"]]
    assert acts == [
        ("muted", alice_id, bob_id),
        ("message_deleted", alice_id, bob_id),
        ("kicked", alice_id, bob_id),
        ("unmuted", alice_id, bob_id),
        ("banned", alice_id, bob_id),
        ("unbanned", alice_id, bob_id),
    ], sync["moderation_history"]
    assert "until" in sync["moderation_history"][0] and "until" not in sync["moderation_history"][4]
    tomb = [m for m in sync["chat_history"] if m.get("deleted")]
    assert len(tomb) == 1 and tomb[0]["text"] == "" and tomb[0]["deleted_by"] == alice_id
    ends = sorted(s["end_reason"] for s in sync["session_history"] if s["user_id"] == bob_id)
    assert ends == ["banned", "kicked", "room_closed"], sync["session_history"]


def test_an_operators_disconnect_and_a_runtime_that_is_gone_are_shown_with_what_to_do(
    browser: Browser, runtime_factory: Any
) -> None:
    # A runtime of its own: the test stops it.
    runtime = runtime_factory("--no-receiver")
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    try:
        alice = DemoPage(context.new_page(), runtime.http_url)
        alice_id = unique("alice")
        alice.open(alice_id, "Alice").create_room("Ops")
        alice.send("before the operator")

        # An operator disconnects Alice (POST /users/{id}/disconnect): told why, no reconnect loop.
        status, body = runtime.admin(
            "POST", f"/users/{alice_id}/disconnect", {"reason": "maintenance at noon"}
        )
        assert status == 200, body
        banner = alice.page.locator("#connection-banner")
        expect(banner).to_contain_text("An operator disconnected you", timeout=WAIT_MS)
        expect(banner).to_contain_text("maintenance at noon")
        expect(alice.status()).to_have_text("Disconnected by an operator", timeout=WAIT_MS)
        expect(alice.page.locator("#room-state")).to_contain_text(
            "An operator disconnected you from the server"
        )
        expect(alice.page.locator("#message-input")).to_be_disabled()
        _screenshot(alice, "state-disconnected-by-operator")
        alice.page.wait_for_timeout(1500)
        assert alice.client_state() == "closed", "no reconnect after an operator's disconnect"
        banner.locator('[data-testid="connection-banner-action"]').click()  # Connect again
        alice.wait_joined()
        expect(alice.messages()).to_have_text(["before the operator"], timeout=WAIT_MS)

        # The runtime goes away: the page keeps trying, and after a few attempts says what is
        # probably wrong and what to do.
        assert runtime.stop() == 0
        expect(alice.status()).to_have_attribute("data-state", "reconnecting", timeout=WAIT_MS)
        expect(banner).to_contain_text("Can't reach the roomcast runtime", timeout=WAIT_MS * 2)
        expect(banner).to_contain_text("make run")
        expect(banner.locator('[data-testid="connection-banner-action"]')).to_have_text("Retry now")
        _screenshot(alice, "state-runtime-gone")
        assert alice.errors == [], alice.errors
    finally:
        context.close()
