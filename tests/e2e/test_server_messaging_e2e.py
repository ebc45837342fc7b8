"""Server-side messaging in real Chromium through the local runtime (issue 13): the demo
page's buttons call the admin API; the page receives a server message, a notification
(kept in the inbox) and a bot's streamed reply, whose chunks the bot sends out of order
and once twice, assembled in order by client/roomcast.js."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import Browser, expect

from tests.e2e.test_chat_e2e import WAIT_MS, DemoPage, unique

pytestmark = pytest.mark.e2e

# client/demo/server-messaging.js's canned reply.
REPLY = (
    "Hello! I am a bot. This reply is streamed: each chunk is sent with a sequence number, "
    "some of them out of order, and the client puts them back in order as they arrive."
)


@pytest.fixture
def page(browser: Browser, local_runtime: Any) -> Iterator[DemoPage]:
    context = browser.new_context()
    try:
        demo = DemoPage(context.new_page(), local_runtime.http_url)
        yield demo
        assert demo.errors == [], demo.errors
    finally:
        context.close()


def test_a_page_gets_a_server_message_a_notification_and_a_streamed_reply(page: DemoPage) -> None:
    page.open(unique("alice"), "Alice").create_room("Bots")
    server = page.page.locator("#server-panel")
    expect(server.locator("#server-message")).to_be_enabled(timeout=WAIT_MS)

    # A server message: stored and fanned out like a send, flagged system.
    page.page.click("#server-message")
    notice = page.page.locator('#messages [data-testid="message"][data-sender-kind="system"]')
    expect(notice).to_have_count(1, timeout=WAIT_MS)
    expect(notice.locator('[data-testid="message-text"]')).to_contain_text("Server notice")

    # A notification to this user, kept in the inbox: the unread count goes to 1, and
    # opening the inbox marks it read.
    page.page.click("#notify-me")
    expect(page.page.locator('#notifications [data-testid="notification"]')).to_have_count(1, timeout=WAIT_MS)
    expect(page.page.locator("#unread-count")).to_have_text("1", timeout=WAIT_MS)
    page.page.click("#open-inbox")
    expect(page.page.locator('#inbox-items [data-testid="inbox-item"]')).to_have_count(1, timeout=WAIT_MS)
    expect(page.page.locator("#unread-count")).to_have_text("0", timeout=WAIT_MS)

    # The bot streams its reply; the page shows it growing, then the one final message.
    page.page.click("#ask-bot")
    final = page.page.locator('#messages [data-testid="message"][data-streamed="true"]')
    expect(final).to_have_count(1, timeout=WAIT_MS * 2)
    expect(final.locator('[data-testid="message-text"]')).to_have_text(REPLY)
    expect(final).to_have_attribute("data-sender-kind", "bot")
    expect(page.page.locator('#messages [data-testid="stream"]')).to_have_count(0)
    texts: list[str] = page.page.evaluate("() => window.roomcastServer.streamTexts")
    # Assembled in order: every state a prefix of the next, many of them, the last the whole.
    assert len(texts) > 10, texts
    assert texts[-1] == REPLY
    assert all(later.startswith(earlier) for earlier, later in itertools.pairwise(texts)), texts
    # Reloaded history holds the whole text once, not its chunks.
    history = page.page.evaluate(
        "async () => (await window.roomcastDemo.client.history(window.roomcastDemo.roomId)).messages"
    )
    assert [m["text"] for m in history if m.get("streamed")] == [REPLY]
