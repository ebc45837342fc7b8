"""Chat in real Chromium: two demo pages on the local runtime, presence, typing, messages.

The pages load client/demo/ from the runtime and talk to its WebSocket gateway through
@roomcast/client (client/dist/); nothing is mocked. `DemoPage` (shared with test_reconnect_e2e.py and
test_close_e2e.py) drives the page only through its element ids and data-testid
attributes, the way a user would, plus `window.roomcastDemo` where a test needs a hook.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlencode

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect

pytestmark = pytest.mark.e2e

# Waits, not speed assertions: generous bounds so a loaded 2-core machine still passes.
WAIT_MS = 20_000


def unique(prefix: str) -> str:
    return f"{prefix}-{secrets.token_hex(3)}"


class DemoPage:
    """One browser tab on the demo page."""

    def __init__(self, page: Page, http_url: str) -> None:
        self.page = page
        self.demo_url = http_url.rstrip("/") + "/client/demo/"
        self.errors: list[str] = []
        self.console: list[str] = []
        page.on("pageerror", lambda error: self.errors.append(str(error)))

    def open(self, user: str, name: str, room: str | None = None) -> DemoPage:
        params = {"user": user, "name": name}
        if room is not None:
            params["room"] = room  # with a room, the page joins by itself
        else:
            params["autojoin"] = "0"
        self.page.goto(f"{self.demo_url}?{urlencode(params)}")
        expect(self.page.locator("html")).to_have_attribute("data-ready", "true", timeout=WAIT_MS)
        return self

    def create_room(self, name: str) -> str:
        self.page.fill("#new-room-name", name)
        self.page.click("#create-room")
        self.wait_joined()
        return self.page.locator("#room-id-label").inner_text()

    def wait_joined(self) -> None:
        expect(self.page.locator("#room-panel")).to_be_visible(timeout=WAIT_MS)
        expect(self.page.locator("#status")).to_have_attribute(
            "data-state", "open", timeout=WAIT_MS
        )
        # Connected is not joined yet: wait for the room (window.roomcastDemo is set once it is).
        self.page.wait_for_function(
            "() => window.roomcastDemo?.room?.state === 'joined'", timeout=WAIT_MS
        )

    def menu(self, item: str) -> None:
        """Choose an item of the room's ⋯ menu (leave, close, drop, the server tools)."""
        self.page.click("#room-menu-button")
        self.page.click(item)

    def close_room(self) -> None:
        """Close the room as its admin: the menu item, then the confirm step."""
        self.menu("#close-room")
        expect(self.page.locator("#close-dialog")).to_be_visible(timeout=WAIT_MS)
        self.page.click("#confirm-close-room")

    def leave(self) -> None:
        self.menu("#leave-room")

    def send(self, text: str) -> None:
        """Send through the form and wait for the server's ack (the line turns `sent`)."""
        self.page.fill("#message-input", text)
        self.page.press("#message-input", "Enter")
        line = self.page.locator('#messages [data-testid="message"][data-mine="true"]').filter(
            has_text=text
        )
        expect(line).to_have_attribute("data-state", "sent", timeout=WAIT_MS)

    def messages(self) -> Any:
        return self.page.locator('#messages [data-testid="message"] [data-testid="message-text"]')

    def member(self, user_id: str) -> Any:
        return self.page.locator(f'#members [data-testid="member"][data-user-id="{user_id}"]')

    def member_name(self, user_id: str) -> Any:
        return self.member(user_id).locator(".rc-row-name")

    def member_action(self, user_id: str, action: str) -> None:
        """Open the ⋯ menu next to a person and choose an action (member-mute, member-kick, ...)."""
        self.member(user_id).locator('[data-testid="member-menu"]').click()
        self.member(user_id).locator(f'[data-testid="{action}"]').click()

    def status(self) -> Any:
        return self.page.locator("#status")

    def client_state(self) -> str:
        return str(self.page.evaluate("() => window.roomcastDemo.client.state"))

    def room_state(self) -> str:
        return str(self.page.evaluate("() => window.roomcastDemo.room.state"))


@pytest.fixture
def pages(browser: Browser, local_runtime: Any) -> Iterator[tuple[DemoPage, DemoPage]]:
    """Two independent tabs (separate browser contexts, like two people)."""
    http_url = local_runtime.http_url
    contexts: list[BrowserContext] = [browser.new_context(), browser.new_context()]
    try:
        first, second = (DemoPage(c.new_page(), http_url) for c in contexts)
        yield first, second
        assert first.errors == [], first.errors
        assert second.errors == [], second.errors
    finally:
        for context in contexts:
            context.close()


def test_two_pages_chat_with_presence_and_typing(pages: tuple[DemoPage, DemoPage]) -> None:
    alice, bob = pages
    alice_id, bob_id = unique("alice"), unique("bob")
    room_id = alice.open(alice_id, "Alice").create_room("Standup")
    bob.open(bob_id, "Bob", room=room_id).wait_joined()

    # Presence: each page lists both people (bob from the join snapshot, alice live).
    expect(alice.member(bob_id)).to_be_visible(timeout=WAIT_MS)
    expect(bob.member(alice_id)).to_be_visible(timeout=WAIT_MS)
    expect(alice.page.locator("#member-count")).to_have_text("2")
    expect(bob.page.locator("#member-count")).to_have_text("2")

    # Typing, both ways.
    alice.page.fill("#message-input", "hel")
    expect(bob.page.locator("#typing-indicator")).to_have_text("Alice is typing…", timeout=WAIT_MS)
    bob.page.fill("#message-input", "yo")
    expect(alice.page.locator("#typing-indicator")).to_have_text("Bob is typing…", timeout=WAIT_MS)

    # Messages, both ways; a message from the typist clears their indicator.
    alice.send("hello from alice")
    expect(bob.messages()).to_have_text(["hello from alice"], timeout=WAIT_MS)
    expect(bob.page.locator("#typing-indicator")).to_have_text("")
    bob.send("hi alice, bob here")
    expected = ["hello from alice", "hi alice, bob here"]
    expect(alice.messages()).to_have_text(expected, timeout=WAIT_MS)
    expect(bob.messages()).to_have_text(expected)
    expect(alice.page.locator("#typing-indicator")).to_have_text("")

    # Both pages show the same server ids in the same order.
    ids_a = alice.page.eval_on_selector_all(
        '#messages [data-testid="message"]', "els => els.map(e => e.dataset.messageId)"
    )
    ids_b = bob.page.eval_on_selector_all(
        '#messages [data-testid="message"]', "els => els.map(e => e.dataset.messageId)"
    )
    assert ids_a == ids_b and len(ids_a) == 2 and all(ids_a), (ids_a, ids_b)

    # Text is rendered as text, never as markup.
    alice.send("<img src=x onerror=alert(1)>")
    expect(bob.messages().last).to_have_text("<img src=x onerror=alert(1)>", timeout=WAIT_MS)
    assert bob.page.locator("#messages img").count() == 0

    # Leaving shows on the other page.
    bob.leave()
    expect(alice.member(bob_id)).to_have_count(0, timeout=WAIT_MS)
    expect(alice.page.locator("#member-count")).to_have_text("1")


def test_joining_later_shows_history_and_a_refusal_shows_its_code(
    pages: tuple[DemoPage, DemoPage],
) -> None:
    alice, bob = pages
    room_id = alice.open(unique("alice"), "Alice").create_room("History")
    for text in ("one", "two", "three"):
        alice.send(text)
    bob.open(unique("bob"), "Bob", room=room_id).wait_joined()
    expect(bob.messages()).to_have_text(["one", "two", "three"], timeout=WAIT_MS)

    # A room that does not exist: the page says why, with the server's stable code.
    third = DemoPage(bob.page.context.new_page(), bob.demo_url.rsplit("/client/demo/", 1)[0])
    third.open(unique("carol"), "Carol", room="no-such-room-" + secrets.token_hex(4))
    expect(third.page.locator("#setup-error")).to_contain_text("room_not_found", timeout=WAIT_MS)
    assert third.errors == []


def test_one_user_in_two_tabs_is_one_member_until_the_last_tab_goes(
    pages: tuple[DemoPage, DemoPage],
) -> None:
    alice, bob = pages
    bob_id = unique("bob")
    room_id = alice.open(unique("alice"), "Alice").create_room("Tabs")
    bob.open(bob_id, "Bob", room=room_id).wait_joined()
    second_tab = DemoPage(bob.page.context.new_page(), alice.demo_url.removesuffix("client/demo/"))
    second_tab.open(bob_id, "Bob", room=room_id).wait_joined()

    expect(alice.member(bob_id).locator(".rc-row-sub")).to_have_text("2 tabs", timeout=WAIT_MS)
    expect(alice.page.locator("#member-count")).to_have_text("2")
    # A message reaches both of bob's tabs.
    alice.send("to every tab")
    expect(bob.messages()).to_have_text(["to every tab"], timeout=WAIT_MS)
    expect(second_tab.messages()).to_have_text(["to every tab"], timeout=WAIT_MS)

    second_tab.page.close()  # the browser closes its socket: $disconnect
    expect(alice.member(bob_id).locator(".rc-row-sub")).to_have_text("online", timeout=WAIT_MS)
    bob.page.close()
    expect(alice.member(bob_id)).to_have_count(0, timeout=WAIT_MS)
    expect(alice.page.locator("#member-count")).to_have_text("1")
    assert second_tab.errors == []
