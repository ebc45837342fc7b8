"""A real WebRTC call between two Chromium pages, signaled by roomcast over the local runtime.

Two demo pages (separate browser contexts, like two people) join one room. Alice calls
Bob from the call overlay (client/demo/calls-ui.js on the client's CallManager), Bob accepts; the
offer, answer and ICE candidates travel through the `signal` route of the local
runtime's WebSocket gateway and the signal function. Chromium's fake camera and
microphone supply the media; no STUN/TURN is needed on loopback (iceServers: []).
The pages must reach RTCPeerConnection.connectionState "connected", exchange a
data-channel message, and hang up; then the admin view's call record must show the
call was accepted (started_at) and then ended, with a duration.

The session's `browser` fixture has no fake-media flags, so this file launches its own
Chromium through the same Playwright instance (browser.browser_type) with them added.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import Browser, expect

from tests.e2e.conftest import CHROMIUM, CHROMIUM_ARGS
from tests.e2e.test_chat_e2e import DemoPage

pytestmark = pytest.mark.e2e

# Waits, not speed assertions: generous bounds for a loaded 2-core machine.
WAIT_MS = 30_000
FAKE_MEDIA_ARGS = ["--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream"]


def unique(prefix: str) -> str:
    return f"{prefix}-{secrets.token_hex(3)}"


@pytest.fixture(scope="module")
def media_browser(browser: Browser) -> Iterator[Browser]:
    chromium = browser.browser_type.launch(
        executable_path=str(CHROMIUM), args=[*CHROMIUM_ARGS, *FAKE_MEDIA_ARGS], headless=True
    )
    try:
        yield chromium
    finally:
        chromium.close()


@pytest.fixture
def call_pages(media_browser: Browser, local_runtime: Any) -> Iterator[tuple[DemoPage, DemoPage]]:
    contexts = [media_browser.new_context(permissions=["microphone", "camera"]) for _ in range(2)]
    try:
        first, second = (DemoPage(c.new_page(), local_runtime.http_url) for c in contexts)
        yield first, second
        assert first.errors == [], first.errors
        assert second.errors == [], second.errors
    finally:
        for context in contexts:
            context.close()


def wait_call_state(page: DemoPage, state: str) -> None:
    expect(page.page.locator("#call-state")).to_have_attribute("data-state", state, timeout=WAIT_MS)


def peer_connection_state(page: DemoPage) -> str:
    return str(
        page.page.evaluate(
            "() => { const c = window.roomcastCalls?.active; return c?.pc ? c.pc.connectionState : 'none'; }"
        )
    )


def test_two_pages_place_a_real_webrtc_call(
    call_pages: tuple[DemoPage, DemoPage], local_runtime: Any
) -> None:
    alice, bob = call_pages
    alice_id, bob_id = unique("alice"), unique("bob")
    room_id = local_runtime.create_room("Call room")["room_id"]
    alice.open(alice_id, "Alice", room=room_id).wait_joined()
    bob.open(bob_id, "Bob", room=room_id).wait_joined()

    # The phone next to Bob in Alice's people list, once presence has him; then video.
    alice.page.locator(f'#members [data-user-id="{bob_id}"] [data-testid="call-member"]').click(
        timeout=WAIT_MS
    )
    expect(alice.page.locator("#call-overlay")).to_contain_text("Call Bob")
    alice.page.click('[data-testid="call-video"]')
    wait_call_state(alice, "invited")
    expect(alice.page.locator("#call-state")).to_have_text("Calling Bob…")

    expect(bob.page.locator("#call-incoming")).to_be_visible(timeout=WAIT_MS)
    expect(bob.page.locator('[data-testid="call-incoming-text"]')).to_contain_text(
        "Alice is calling (video)"
    )
    wait_call_state(bob, "ringing")
    expect(bob.page.locator("#call-start")).to_be_disabled()
    bob.page.click("#call-accept")

    # Offer, answer and trickled candidates went through roomcast: ICE connects.
    wait_call_state(alice, "connected")
    wait_call_state(bob, "connected")
    assert peer_connection_state(alice) == "connected"
    assert peer_connection_state(bob) == "connected"

    # Media flows both ways (the fake camera and microphone): remote tracks are live.
    for page in (alice, bob):
        page.page.wait_for_function(
            """() => {
                const s = document.getElementById('call-remote-video').srcObject;
                return s && s.getVideoTracks().length === 1 && s.getAudioTracks().length === 1
                    && s.getTracks().every(t => t.readyState === 'live');
            }""",
            timeout=WAIT_MS,
        )

    # The "roomcast" data channel carries a message each way.
    for page in (alice, bob):
        page.page.evaluate(
            """() => {
                window.__received = [];
                window.roomcastCalls.addEventListener('datachannel-message', e => window.__received.push(e.detail.data));
            }"""
        )
        page.page.wait_for_function(
            "() => window.roomcastCalls.active?.channel?.readyState === 'open'", timeout=WAIT_MS
        )
    alice.page.evaluate(
        "() => window.roomcastCalls.send(window.roomcastCalls.active.callId, 'hello bob, over webrtc')"
    )
    bob.page.wait_for_function("() => window.__received.length === 1", timeout=WAIT_MS)
    assert bob.page.evaluate("() => window.__received") == ["hello bob, over webrtc"]
    bob.page.evaluate(
        "() => window.roomcastCalls.send(window.roomcastCalls.active.callId, 'hi alice')"
    )
    alice.page.wait_for_function("() => window.__received.length === 1", timeout=WAIT_MS)
    assert alice.page.evaluate("() => window.__received") == ["hi alice"]
    call_id = alice.page.evaluate("() => window.roomcastCalls.active.callId")
    assert call_id == bob.page.evaluate("() => window.roomcastCalls.active.callId")

    # Alice hangs up; Bob's page hears it through roomcast.
    alice.page.click("#call-hangup")
    wait_call_state(alice, "ended")
    wait_call_state(bob, "ended")
    expect(bob.page.locator("#call-state")).to_contain_text("The call with Alice ended (hangup)")
    assert bob.page.evaluate("() => window.roomcastCalls.active") is None

    # The call record: accepted (started_at), then ended by Alice, with a duration.
    status, room = local_runtime.admin("GET", f"/rooms/{room_id}")
    assert status == 200, room
    [call] = [c for c in room["calls"] if c["call_id"] == call_id]
    assert call["caller"] == alice_id and call["callee"] == bob_id and call["media"] == "video"
    assert call["status"] == "ended" and call["ended_by"] == alice_id and call["reason"] == "hangup"
    assert call["invited_at"] <= call["started_at"] <= call["ended_at"]
    assert call["duration_ms"] > 0
    assert call["duration_seconds"] == call["duration_ms"] / 1000


def test_rejected_call_in_the_browser(
    call_pages: tuple[DemoPage, DemoPage], local_runtime: Any
) -> None:
    alice, bob = call_pages
    alice_id, bob_id = unique("alice"), unique("bob")
    room_id = local_runtime.create_room("Reject room")["room_id"]
    alice.open(alice_id, "Alice", room=room_id).wait_joined()
    bob.open(bob_id, "Bob", room=room_id).wait_joined()
    expect(alice.page.locator("#call-start")).to_be_visible(timeout=WAIT_MS)  # a room of two
    alice.page.click("#call-start")
    alice.page.click('[data-testid="call-audio"]')
    expect(bob.page.locator("#call-incoming")).to_be_visible(timeout=WAIT_MS)
    bob.page.click("#call-reject")
    wait_call_state(alice, "ended")
    expect(alice.page.locator("#call-state")).to_contain_text("rejected")
    status, room = local_runtime.admin("GET", f"/rooms/{room_id}")
    assert status == 200
    assert [c["status"] for c in room["calls"]] == ["rejected"]
