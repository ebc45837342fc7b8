"""An admin closes the room from the demo page; the reference receiver stores a verified sync.

The whole path is real: the page's `close` frame -> the chat function -> room.closed to
every member and their sockets closed -> one SQS job -> the local SQS poller -> the
delivery function -> a signed POST to the reference receiver (examples/receiver), which
verifies the Standard Webhooks signature before storing anything (an unverified body is
refused with 401 and never stored). So a stored sync for the room means a verified one.
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest
import yaml
from playwright.sync_api import expect

from tests.e2e.test_chat_e2e import WAIT_MS, DemoPage, pages, unique

pytestmark = pytest.mark.e2e
__all__ = ["pages"]  # the fixture, re-used from test_chat_e2e

ROOT = Path(__file__).resolve().parents[2]
# Bound on the wait for the webhook (queue poll + delivery); not a speed assertion.
SYNC_WAIT_S = 60.0


class _Loader(yaml.SafeLoader):
    """Reads template.yaml with its CloudFormation tags as plain values."""


_Loader.add_multi_constructor("!", lambda loader, suffix, node: None)


def _missing_pieces(local_runtime: Any) -> list[str]:
    missing = []
    template = yaml.load((ROOT / "template.yaml").read_text(), Loader=_Loader)  # noqa: S506 - SafeLoader subclass
    if "DefaultWebhookUrl" not in (template.get("Parameters") or {}):
        missing.append(
            "template.yaml has no DefaultWebhookUrl parameter (webhook sender not landed)"
        )
    if not local_runtime.receiver_url:
        missing.append("the local runtime started no reference receiver (examples.receiver)")
    return missing


def _get_json(url: str) -> tuple[int, Any]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310 - loopback http
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, None


def _wait_for_sync(receiver_base: str, room_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + SYNC_WAIT_S
    last: tuple[int, Any] = (0, None)
    while time.monotonic() < deadline:
        last = _get_json(f"{receiver_base}/rooms/{room_id}")
        if last[0] == 200 and last[1]["sync"]["complete"]:
            return last[1]
        time.sleep(0.25)
    pytest.fail(f"no complete sync for {room_id} at the receiver within {SYNC_WAIT_S}s: {last}")


def _wait_for_delivery(local_runtime: Any, room_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + SYNC_WAIT_S
    body: Any = None
    while time.monotonic() < deadline:
        status, body = local_runtime.admin("GET", f"/rooms/{room_id}/deliveries")
        assert status == 200, body
        assert len(body["deliveries"]) == 1, body
        if body["deliveries"][0]["status"] != "pending":
            return dict(body["deliveries"][0])
        time.sleep(0.25)
    pytest.fail(f"the delivery of {room_id} is still pending after {SYNC_WAIT_S}s: {body}")


def test_admin_closes_room_and_receiver_stores_verified_sync(
    pages: tuple[DemoPage, DemoPage], local_runtime: Any
) -> None:
    missing = _missing_pieces(local_runtime)
    if missing:
        pytest.skip("; ".join(missing))
    alice, bob = pages
    alice_id, bob_id = unique("alice"), unique("bob")
    room_id = alice.open(alice_id, "Alice").create_room("Retro")
    bob.open(bob_id, "Bob", room=room_id).wait_joined()

    # Only the room's admins get the menu item (alice created the room, so she is one).
    expect(alice.page.locator("#close-room")).to_have_attribute("data-testid", "close-room")
    alice.page.wait_for_function(
        "() => !document.getElementById('close-room').hidden", timeout=WAIT_MS
    )
    assert bob.page.evaluate("() => document.getElementById('close-room').hidden") is True

    alice.send("first")
    bob.send("second")
    alice.send("third")
    expect(bob.messages()).to_have_text(["first", "second", "third"], timeout=WAIT_MS)

    alice.close_room()
    for page in (alice, bob):
        expect(page.page.locator("#room-state")).to_be_visible(timeout=WAIT_MS)
        expect(page.page.locator("#room-state")).to_contain_text(
            "closed by you" if page is alice else "closed by Alice"
        )
        expect(page.page.locator("#message-input")).to_be_disabled()
    # The server closed bob's socket after room.closed: the client treats that as the end
    # (its only room is gone), so it does not reconnect.
    expect(bob.status()).to_have_attribute("data-state", "closed", timeout=WAIT_MS)
    assert bob.client_state() == "closed"
    assert alice.room_state() == "closed" and bob.room_state() == "closed"

    receiver_base = str(local_runtime.receiver_url).rstrip("/").removesuffix("/webhooks")
    sync = _wait_for_sync(receiver_base, room_id)
    assert sync["room_id"] == room_id
    assert sync["name"] == "Retro"
    assert sync["closed_by"] == alice_id
    assert alice_id in sync["admin_user_ids"]
    assert [m["text"] for m in sync["chat_history"]] == ["first", "second", "third"]
    assert [m["user_id"] for m in sync["chat_history"]] == [alice_id, bob_id, alice_id]
    sessions = {s["user_id"]: s for s in sync["session_history"]}
    assert set(sessions) == {alice_id, bob_id}, sync["session_history"]
    for session in sessions.values():
        assert session["left_at"], session
        assert session["end_reason"] == "room_closed", session
    assert sync["stats"]["total_joins"] >= 2
    assert sync["stats"]["message_count"] == 3

    # The sender's side agrees (it records the outcome just after the receiver answers):
    # one delivery, delivered with a 2xx.
    delivery = _wait_for_delivery(local_runtime, room_id)
    assert delivery["status"] == "delivered", delivery
    assert delivery["parts_delivered"] == delivery["parts_total"] >= 1, delivery
    final = [a for a in delivery["attempts"] if a["outcome"] == "delivered"]
    assert len(final) == delivery["parts_total"], delivery
    assert all(200 <= a["status_code"] < 300 for a in final), delivery

    # And the receiver stores only what verifies: the same room's payload, unsigned, is
    # refused and changes nothing.
    forged = json.dumps(
        {
            "type": "room.closed",
            "timestamp": "2026-01-01T00:00:00Z",
            "data": {**sync, "room_id": room_id + "-forged"},
        }
    ).encode()
    request = urllib.request.Request(  # noqa: S310 - loopback http
        f"{receiver_base}/webhooks",
        data=forged,
        method="POST",
        headers={
            "content-type": "application/json",
            "webhook-id": "msg_forged",
            "webhook-timestamp": str(int(time.time())),
            "webhook-signature": "v1,AAAA",
        },
    )
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=10)  # noqa: S310 - loopback http
    assert refused.value.code == 401
    assert _get_json(f"{receiver_base}/rooms/{room_id}-forged")[0] == 404


def test_non_admin_close_is_refused(pages: tuple[DemoPage, DemoPage]) -> None:
    alice, bob = pages
    room_id = alice.open(unique("alice"), "Alice").create_room("Mine")
    bob.open(unique("bob"), "Bob", room=room_id).wait_joined()
    code = bob.page.evaluate(
        """async (roomId) => {
            try { await window.roomcastDemo.room.close(); return "closed"; }
            catch (error) { return error.code; }
        }""",
        room_id,
    )
    assert code == "not_room_admin"
    # Nothing happened to the room.
    alice.send("still open")
    expect(bob.messages()).to_have_text(["still open"], timeout=WAIT_MS)
