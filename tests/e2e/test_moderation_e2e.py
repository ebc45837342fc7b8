"""Moderation in real Chromium on the local runtime: a moderator (the room's admin) mutes,
deletes a message, kicks and bans a user from the demo page's controls; the user's page
shows each frame and is refused (a muted send, a banned join after a reconnect). Then
the room is closed and the reference receiver shows the acts as moderation_history."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import expect

from tests.e2e.test_chat_e2e import WAIT_MS, DemoPage, pages, unique
from tests.e2e.test_close_e2e import _wait_for_sync

pytestmark = pytest.mark.e2e
__all__ = ["pages"]


def _moderate(page: DemoPage, control: str, target: str, duration: str = "") -> None:
    page.page.select_option("#mod-target", target)
    page.page.fill("#mod-duration", duration)
    page.page.click(control)
    expect(page.page.locator("#mod-result")).to_have_attribute("data-outcome", "ok", timeout=WAIT_MS)


def test_moderator_mutes_deletes_kicks_and_bans(pages: tuple[DemoPage, DemoPage], local_runtime: Any) -> None:
    alice, bob = pages
    alice_id, bob_id = unique("alice"), unique("bob")
    room_id = alice.open(alice_id, "Alice").create_room("Moderated")
    bob.open(bob_id, "Bob", room=room_id).wait_joined()
    expect(alice.member(bob_id)).to_be_visible(timeout=WAIT_MS)
    bob.send("hello there")
    bob.send("something rude")
    expect(alice.messages()).to_have_text(["hello there", "something rude"], timeout=WAIT_MS)

    # A user who is not a moderator is refused by the server.
    bob.page.select_option("#mod-target", alice_id)
    bob.page.click("#mod-mute")
    expect(bob.page.locator("#mod-result")).to_contain_text("not_moderator", timeout=WAIT_MS)

    # Mute: bob sees the frame, and his send is refused with `muted` (nothing stored).
    _moderate(alice, "#mod-mute", bob_id, "120")
    banner = bob.page.locator("#moderation-banner")
    expect(banner).to_contain_text(f"You are muted by {alice_id}", timeout=WAIT_MS)
    bob.page.fill("#message-input", "let me speak")
    bob.page.press("#message-input", "Enter")
    refused = bob.page.locator('#messages [data-testid="message"][data-mine="true"]').filter(has_text="let me speak")
    expect(refused).to_have_attribute("data-state", "failed", timeout=WAIT_MS)
    expect(refused).to_have_attribute("title", "muted: you are muted in this room")

    # Delete: a tombstone on both pages.
    rude = alice.page.locator('#messages [data-testid="message"]').filter(has_text="something rude")
    rude.locator('[data-testid="delete-message"]').click()
    for page in (alice, bob):
        expect(page.page.locator('#messages [data-deleted="true"]')).to_have_count(1, timeout=WAIT_MS)
    expect(bob.messages()).to_have_text(["hello there", f"(deleted by {alice_id})", "let me speak"])

    # Kick: bob sees it, is out of the room (no rejoin), and the room lists only alice.
    _moderate(alice, "#mod-kick", bob_id)
    expect(banner).to_contain_text(f"You were kicked out of this room by {alice_id}", timeout=WAIT_MS)
    expect(bob.page.locator("#message-input")).to_be_disabled()
    assert bob.page.evaluate("() => window.roomcastDemo.client.rooms") == []
    expect(alice.member(bob_id)).to_be_hidden(timeout=WAIT_MS)

    # A kick is not a ban: bob reloads (a new connection) and is back in, still muted.
    bob.open(bob_id, "Bob", room=room_id).wait_joined()
    expect(alice.member(bob_id)).to_be_visible(timeout=WAIT_MS)
    code = bob.page.evaluate(
        "(room) => window.roomcastDemo.client.send(room, 'again?').then(() => 'sent', (e) => e.code)", room_id
    )
    assert code == "muted"

    # Ban: bob's live connection is removed, and his reconnect's join is refused.
    _moderate(alice, "#mod-ban", bob_id)
    expect(banner).to_contain_text(f"You were banned from this room by {alice_id}", timeout=WAIT_MS)
    code = bob.page.evaluate(
        "(room) => window.roomcastDemo.client.join(room).then(() => 'joined', (e) => e.code)", room_id
    )
    assert code == "banned"
    bob.page.goto(f"{bob.demo_url}?user={bob_id}&name=Bob&room={room_id}")
    expect(bob.page.locator("#setup-error")).to_contain_text("banned", timeout=WAIT_MS)
    expect(bob.page.locator("#room-panel")).to_be_hidden()

    # The record: every act, in order, in room.closed's moderation_history at the receiver.
    alice.page.click("#close-room")
    expect(alice.page.locator("#room-closed")).to_be_visible(timeout=WAIT_MS)
    if not local_runtime.receiver_url:
        pytest.skip("the local runtime started no reference receiver")
    receiver_base = str(local_runtime.receiver_url).rstrip("/").removesuffix("/webhooks")
    sync = _wait_for_sync(receiver_base, room_id)
    acts = [(a["act"], a["by"], a["target_user"]) for a in sync["moderation_history"]]
    assert acts == [
        ("muted", alice_id, bob_id), ("message_deleted", alice_id, bob_id),
        ("kicked", alice_id, bob_id), ("banned", alice_id, bob_id),
    ], sync["moderation_history"]
    assert "until" in sync["moderation_history"][0] and "until" not in sync["moderation_history"][3]
    tomb = [m for m in sync["chat_history"] if m.get("deleted")]
    assert len(tomb) == 1 and tomb[0]["text"] == "" and tomb[0]["deleted_by"] == alice_id
    sessions = sorted(s["end_reason"] for s in sync["session_history"] if s["user_id"] == bob_id)
    assert sessions == ["banned", "kicked"], sync["session_history"]
