"""The demo as a newcomer explores it, in Chromium through the local runtime: the lobby, an
invite link that opens as a second user, older history page by page, a dropped connection
that reconnects and catches up, a failed send resent once, and nothing live after a close.

Screenshots of the lobby, a two-user room and the reconnect go to artifacts/screenshots/
(git-ignored; the paths are printed), so a person can look at what the tests saw.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest
from playwright.sync_api import Browser, Route, expect
from websockets.asyncio.client import connect

from tests.e2e.aio import run
from tests.e2e.test_chat_e2e import WAIT_MS, DemoPage, pages, unique

pytestmark = pytest.mark.e2e
__all__ = ["pages"]  # the fixture, re-used from test_chat_e2e

SCREENSHOTS = Path(__file__).resolve().parents[2] / "artifacts" / "screenshots"


def _screenshot(page: DemoPage, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.page.screenshot(path=str(path), full_page=True)
    print(f"screenshot: {path}")
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
    bob.page.click("#join-room")
    bob.wait_joined()
    bob_id = bob.page.locator("#user-id").input_value()
    assert bob_id != alice_id
    expect(bob.page.locator("#me-label")).to_have_text(f"Bob ({bob_id})")
    for page in (alice, bob):
        expect(page.page.locator("#member-count")).to_have_text("2", timeout=WAIT_MS)
    expect(alice.member(bob_id)).to_have_text("Bob")
    expect(bob.member(alice_id)).to_have_text("Alice")
    alice.send("hello Bob")
    expect(bob.messages()).to_have_text(["hello Bob"], timeout=WAIT_MS)
    _screenshot(bob, "demo-two-user-room")

    # A reload keeps the tab's identity: Bob again, not a third user, not Alice.
    bob.page.reload()
    bob.wait_joined()
    expect(bob.page.locator("#me-label")).to_have_text(f"Bob ({bob_id})")
    expect(alice.page.locator("#member-count")).to_have_text("2", timeout=WAIT_MS)

    # A newcomer on the bare demo page finds the room in the lobby and joins by a click.
    newcomer.page.goto(newcomer.demo_url)
    expect(newcomer.page.locator("html")).to_have_attribute("data-ready", "true", timeout=WAIT_MS)
    entry = newcomer.page.locator(f'#lobby-rooms [data-testid="lobby-room"][data-room-id="{room_id}"]')
    expect(entry).to_contain_text(room_name, timeout=WAIT_MS)
    expect(entry.locator('[data-testid="lobby-room-detail"]')).to_contain_text("2 people here")
    _screenshot(newcomer, "demo-lobby")
    newcomer.page.fill("#user-name", "Carol")
    entry.locator('[data-testid="lobby-join"]').click()
    newcomer.wait_joined()
    expect(newcomer.page.locator("#room-title")).to_have_text(room_name)
    for page in (alice, bob, newcomer):
        expect(page.page.locator("#member-count")).to_have_text("3", timeout=WAIT_MS)


def _seed(local_runtime: Any, room_id: str, texts: list[str]) -> None:
    """Send `texts` in order through real sockets, 20 per user (inside one connection's burst)."""

    async def scenario() -> None:
        for start in range(0, len(texts), 20):
            token = local_runtime.token(unique("seed"), "Seeder")
            async with connect(local_runtime.ws_url, subprotocols=["roomcast.v1", token]) as ws:  # type: ignore[list-item]
                await ws.send(json.dumps({"action": "join", "room_id": room_id, "request_id": "j"}))
                await _reply(ws, "j")
                for index, text in enumerate(texts[start : start + 20]):
                    request_id = f"s{index}"
                    await ws.send(json.dumps({"action": "send", "room_id": room_id, "text": text, "request_id": request_id}))
                    assert (await _reply(ws, request_id))["type"] == "ack"

    run(scenario())


async def _reply(ws: Any, request_id: str) -> dict[str, Any]:
    while True:
        frame = json.loads(await ws.recv())
        if frame.get("request_id") == request_id:
            assert frame["type"] != "error", frame
            return frame


def test_load_older_pages_through_history_to_the_start(pages: tuple[DemoPage, DemoPage], local_runtime: Any) -> None:
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


def test_drop_connection_reconnects_rejoins_and_catches_up_once(pages: tuple[DemoPage, DemoPage]) -> None:
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
    alice.page.click("#drop-connection")
    expect(alice.page.locator("#log-panel")).to_have_attribute("open", "", timeout=WAIT_MS)
    expect(alice.status()).to_have_attribute("data-state", "reconnecting", timeout=WAIT_MS)
    expect(bob.member(alice_id)).to_have_count(0, timeout=WAIT_MS)  # $disconnect ran
    missed = ["missed 1", "missed 2", "missed 3"]
    for text in missed:
        bob.send(text)
    # Written while away: queued, shown as sending, delivered once the socket is back.
    alice.page.fill("#message-input", "written while away")
    alice.page.press("#message-input", "Enter")
    away = alice.page.locator('#messages [data-testid="message"][data-mine="true"]').filter(has_text="written while away")
    expect(away).to_have_attribute("data-state", "pending")
    expect(away.locator('[data-testid="message-state"]')).to_have_text("sending…")

    alice.page.unroute("**/api/tokens", refuse)
    expect(alice.status()).to_have_attribute("data-state", "open", timeout=WAIT_MS)
    expect(alice.page.locator('[data-testid="reconnect-note"]')).to_contain_text("caught up 3 messages", timeout=WAIT_MS)
    expect(away).to_have_attribute("data-state", "sent", timeout=WAIT_MS)
    expect(away.locator('[data-testid="message-state"]')).to_have_text("✓ acknowledged")
    expect(alice.page.locator("#log")).to_contain_text("reconnected after")
    _screenshot(alice, "demo-reconnect")

    want = ["before the drop", *missed, "written while away"]
    expect(alice.messages()).to_have_text(want, timeout=WAIT_MS)
    expect(bob.messages()).to_have_text(want, timeout=WAIT_MS)
    expect(bob.member(alice_id)).to_be_visible(timeout=WAIT_MS)


def test_a_refused_send_shows_failed_and_a_resend_stores_it_once(browser: Browser, runtime_factory: Any) -> None:
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
        expect(alice.page.locator('#messages [data-testid="message"][data-state="pending"]')).to_have_count(0, timeout=WAIT_MS)
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
    room_id = alice.open(unique("alice"), "Alice").create_room("Short lived")
    alice.send("a line to moderate")
    # The room's admin gets a delete button on each message; the moderation panel shows.
    expect(alice.page.locator('[data-testid="delete-message"]')).to_have_count(1, timeout=WAIT_MS)
    expect(alice.page.locator("#moderation-panel")).to_be_visible()
    # Alone: nobody to call, so no call panel.
    expect(alice.page.locator("#call-panel")).to_be_hidden()
    bob.open(unique("bob"), "Bob", room=room_id).wait_joined()
    for page in (alice, bob):
        expect(page.page.locator("#call-panel")).to_be_visible(timeout=WAIT_MS)
        expect(page.page.locator('[data-testid="call-videos"]')).to_be_hidden()  # no video call

    alice.page.click("#close-room")
    for page in (alice, bob):
        expect(page.page.locator("#room-closed")).to_be_visible(timeout=WAIT_MS)
        for control in ("#message-input", "#send-button", "#copy-link", "#drop-connection", "#invite-link"):
            expect(page.page.locator(control)).to_be_disabled()
        expect(page.page.locator("#call-panel")).to_be_hidden()
        expect(page.page.locator("#members-title")).to_contain_text("Room closed")
        expect(page.page.locator('#members [data-testid="member"]')).to_have_count(0)
        expect(page.page.locator("#leave-room")).to_have_text("Back to the lobby")
    expect(alice.page.locator("#close-room")).to_be_hidden()
    # This wave's panels follow too: no moderation controls, no server-side actions.
    for page in (alice, bob):
        expect(page.page.locator("#moderation-panel")).to_be_hidden()
        expect(page.page.locator('[data-testid="delete-message"]')).to_have_count(0)
        for control in ("#server-message", "#ask-bot"):
            expect(page.page.locator(control)).to_be_disabled()

    # Back in the lobby, the closed room is not offered.
    bob.page.click("#leave-room")
    expect(bob.page.locator("#setup-panel")).to_be_visible(timeout=WAIT_MS)
    expect(bob.page.locator("#lobby-rooms")).not_to_contain_text("Short lived", timeout=WAIT_MS)
    assert urlparse(bob.page.url).query == ""
