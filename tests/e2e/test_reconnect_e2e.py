"""A page whose socket is cut reconnects, rejoins, and receives what it missed through history.

To make "while it was down" certain rather than a race, the test keeps the cut page from
reconnecting: its reconnects mint a fresh token first (POST /api/tokens, as the demo
does), and the test fails those requests until the other page has sent everything.
"""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import Route, expect

from tests.e2e.test_chat_e2e import WAIT_MS, DemoPage, pages, unique

pytestmark = pytest.mark.e2e
__all__ = ["pages"]  # the fixture, re-used from test_chat_e2e


def _refuse(route: Route) -> None:
    route.abort("connectionrefused")


def test_cut_socket_reconnects_and_catches_up_through_history(
    pages: tuple[DemoPage, DemoPage],
) -> None:
    alice, bob = pages
    alice_id, bob_id = unique("alice"), unique("bob")
    room_id = alice.open(alice_id, "Alice").create_room("Flaky wifi")
    bob.open(bob_id, "Bob", room=room_id).wait_joined()
    alice.send("before the cut")
    expect(bob.messages()).to_have_text(["before the cut"], timeout=WAIT_MS)

    alice.page.route("**/api/tokens", _refuse)
    # Cut the socket from the page (the client did not ask for it: it must recover).
    alice.page.evaluate("() => window.roomcastDemo.client.socket.close(4001, 'test: cut')")
    expect(alice.status()).to_have_attribute("data-state", "reconnecting", timeout=WAIT_MS)
    # The gateway ran $disconnect: alice has left the room as far as everyone else knows.
    expect(bob.member(alice_id)).to_have_count(0, timeout=WAIT_MS)

    missed = [f"missed {i}" for i in range(1, 6)]
    for text in missed:
        bob.send(text)  # acknowledged: stored while alice was away
    expect(alice.messages()).to_have_text(["before the cut"])

    alice.page.unroute("**/api/tokens", _refuse)
    expect(alice.status()).to_have_attribute("data-state", "open", timeout=WAIT_MS)
    expect(alice.messages()).to_have_text(["before the cut", *missed], timeout=WAIT_MS)
    # They came through the catch-up (history), not live fan-out.
    caught_up = alice.page.eval_on_selector_all(
        '#messages [data-testid="message"][data-catch-up="true"] [data-testid="message-text"]',
        "els => els.map(e => e.textContent)",
    )
    assert caught_up == missed

    # Rejoined: presence is back on both sides, and chat works both ways again.
    expect(bob.member(alice_id)).to_be_visible(timeout=WAIT_MS)
    expect(alice.member(bob_id)).to_be_visible(timeout=WAIT_MS)
    alice.send("back again")
    expect(bob.messages().last).to_have_text("back again", timeout=WAIT_MS)
    bob.send("welcome back")
    expect(alice.messages().last).to_have_text("welcome back", timeout=WAIT_MS)
    texts = alice.messages().all_text_contents()
    assert len(texts) == len(set(texts)), f"duplicates after the reconnect: {texts}"
    state: Any = alice.page.evaluate(
        "() => ({room: window.roomcastDemo.room.id, joined: window.roomcastDemo.room.state, state: window.roomcastDemo.client.state})"
    )
    assert state == {"room": room_id, "joined": "joined", "state": "open"}


def test_server_side_delete_connection_reconnects_and_catches_up(
    pages: tuple[DemoPage, DemoPage], local_runtime: Any
) -> None:
    """The backend ends the socket (the @connections DELETE, API Gateway's DeleteConnection)."""
    alice, bob = pages
    alice_id, bob_id = unique("alice"), unique("bob")
    room_id = alice.open(alice_id, "Alice").create_room("Kicked")
    bob.open(bob_id, "Bob", room=room_id).wait_joined()
    expect(alice.member(bob_id)).to_be_visible(timeout=WAIT_MS)
    (connection,) = [c for c in local_runtime.connections() if c["principalId"] == alice_id]
    url = f"{local_runtime.management_url}/@connections/{connection['connectionId']}"

    alice.page.route("**/api/tokens", _refuse)
    status, _ = local_runtime.request("DELETE", url)
    assert status == 204
    expect(alice.status()).to_have_attribute("data-state", "reconnecting", timeout=WAIT_MS)
    assert local_runtime.request("GET", url)[0] == 410  # gone for good
    expect(bob.member(alice_id)).to_have_count(0, timeout=WAIT_MS)
    bob.send("while you were out")

    alice.page.unroute("**/api/tokens", _refuse)
    expect(alice.status()).to_have_attribute("data-state", "open", timeout=WAIT_MS)
    expect(alice.messages()).to_have_text(["while you were out"], timeout=WAIT_MS)
    expect(bob.member(alice_id)).to_be_visible(timeout=WAIT_MS)
    (again,) = [c for c in local_runtime.connections() if c["principalId"] == alice_id]
    assert again["connectionId"] != connection["connectionId"]
