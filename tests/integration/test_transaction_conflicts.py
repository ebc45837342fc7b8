"""DynamoDB transaction conflicts in a busy room.

Every join and send touches the room's META item, so on real DynamoDB concurrent
transactions on one room are cancelled with `TransactionConflict` (and plain writes to
an item inside a running transaction fail with TransactionConflictException). botocore
does not retry either. moto never conflicts, so a wrapper injects them.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.helpers import http_event, posted_frames, reply_body, ws_event


def _cancelled(n_items: int) -> ClientError:
    reasons = [{"Code": "None"}] * n_items
    reasons[min(1, n_items - 1)] = {"Code": "TransactionConflict", "Message": "Transaction is ongoing for the item"}
    return ClientError(
        {
            "Error": {"Code": "TransactionCanceledException", "Message": "Transaction cancelled"},
            "CancellationReasons": reasons,
            "ResponseMetadata": {"HTTPStatusCode": 400},
        },
        "TransactWriteItems",
    )


def _update_conflict() -> ClientError:
    return ClientError(
        {"Error": {"Code": "TransactionConflictException", "Message": "conflict"}, "ResponseMetadata": {"HTTPStatusCode": 400}},
        "UpdateItem",
    )


class Conflicts:
    """Makes the next `n` calls of each wrapped operation lose a conflict (nothing written)."""

    def __init__(self, client: Any, monkeypatch: pytest.MonkeyPatch) -> None:
        self.client = client
        self.pending: Counter[str] = Counter()
        self.injected: Counter[str] = Counter()
        real_transact, real_update = client.transact_write_items, client.update_item

        def transact(**params: Any) -> Any:
            if self.pending["transact"] > 0:
                self.pending["transact"] -= 1
                self.injected["transact"] += 1
                raise _cancelled(len(params["TransactItems"]))
            return real_transact(**params)

        def update(**params: Any) -> Any:
            if self.pending["update"] > 0:
                self.pending["update"] -= 1
                self.injected["update"] += 1
                raise _update_conflict()
            return real_update(**params)

        monkeypatch.setattr(client, "transact_write_items", transact)
        monkeypatch.setattr(client, "update_item", update)


@pytest.fixture
def conflicts(stack, invoke, monkeypatch: pytest.MonkeyPatch) -> Conflicts:
    from roomcast.dal.store import get_store

    assert invoke("admin", http_event("http-create-room.json"))["statusCode"] == 201
    return Conflicts(get_store().client, monkeypatch)


def _stats() -> dict[str, int]:
    from roomcast.dal.store import get_store

    room = get_store().get_room("lobby")
    assert room is not None
    return room.stats.model_dump()


def test_join_and_send_survive_transient_conflicts(conflicts, invoke):
    # Joins and leaves write their counters inside their transaction: no plain updates.
    conflicts.pending.update(transact=2)
    alice = reply_body(invoke("chat", ws_event("ws-join.json")))
    assert alice["type"] == "joined", alice
    conflicts.pending.update(transact=2)
    bob = reply_body(invoke("chat", ws_event("ws-join.json", connection_id="conn-bob-1", user_id="bob", name="Bob")))
    assert bob["type"] == "joined", bob
    conflicts.pending.update(transact=3)  # one fewer than the attempts allowed
    ack = reply_body(invoke("chat", ws_event("ws-send.json")))
    assert ack["type"] == "ack" and ack["delivered"] == 1 and not ack["duplicate"], ack
    assert posted_frames("conn-bob-1")[-1]["message"]["id"] == ack["message"]["id"]
    conflicts.pending.update(transact=1)
    assert reply_body(invoke("chat", ws_event("ws-leave.json")))["type"] == "left"
    assert conflicts.injected == Counter(transact=8)
    assert _stats() == {"current_users": 1, "peak_users": 2, "total_joins": 2, "message_count": 1, "current_connections": 1, "peak_connections": 2}


def test_persistent_conflict_is_a_retryable_conflict_and_writes_nothing(conflicts, invoke):
    from roomcast.dal.store import CONFLICT_ATTEMPTS

    assert reply_body(invoke("chat", ws_event("ws-join.json")))["type"] == "joined"
    conflicts.pending.update(transact=CONFLICT_ATTEMPTS)
    reply = reply_body(invoke("chat", ws_event("ws-send.json")))
    assert reply["type"] == "error" and reply["request_id"] == "r-send-1"
    # A stable code the client can retry on, not internal_error; no detail leaks.
    assert reply["code"] == "conflict" and reply["message"] == "the room is busy; try again"
    assert _stats()["message_count"] == 0
    # The client's resend (same client_msg_id) goes through once the room calms down.
    ack = reply_body(invoke("chat", ws_event("ws-send.json")))
    assert ack["type"] == "ack" and ack["duplicate"] is False


def test_throttled_table_is_rate_limited_not_internal_error(conflicts, invoke, monkeypatch):
    assert reply_body(invoke("chat", ws_event("ws-join.json")))["type"] == "joined"

    def throttled(**params: Any) -> Any:
        raise ClientError(
            {
                "Error": {"Code": "ProvisionedThroughputExceededException", "Message": "slow down"},
                "ResponseMetadata": {"HTTPStatusCode": 400},
            },
            "TransactWriteItems",
        )

    monkeypatch.setattr(conflicts.client, "transact_write_items", throttled)
    reply = reply_body(invoke("chat", ws_event("ws-send.json")))
    assert reply["type"] == "error" and reply["code"] == "rate_limited"
    assert _stats()["message_count"] == 0
