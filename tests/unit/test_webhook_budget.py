"""The schedule and the jobs queue's receive budget must agree (checked at cold start)."""

from __future__ import annotations

import json

import pytest

from roomcast.logic.delivery import ScheduleMismatch, check_receive_budget
from roomcast.settings import Settings

DLQ = "arn:aws:sqs:us-east-1:123456789012:jobs-dlq"


def _policy(count: int) -> str:
    return json.dumps({"deadLetterTargetArn": DLQ, "maxReceiveCount": count})


def test_an_agreeing_budget_passes():
    budget = check_receive_budget(Settings(WEBHOOK_SCHEDULE="3,6"), _policy(3), "q")
    assert budget.max_receive_count == 3 and budget.dead_letter_arn == DLQ
    assert check_receive_budget(Settings(), _policy(19), "q").max_receive_count == 19


@pytest.mark.parametrize("count", [2, 4, 13])
def test_a_disagreeing_budget_names_both_values(count):
    with pytest.raises(ScheduleMismatch) as refused:
        check_receive_budget(Settings(WEBHOOK_SCHEDULE="3,6"), _policy(count), "https://sqs/jobs")
    message = str(refused.value)
    assert "WEBHOOK_SCHEDULE=3,6 plans 3 receives" in message
    assert f"maxReceiveCount {count}" in message and "https://sqs/jobs" in message


def test_a_queue_without_a_redrive_policy_is_refused():
    with pytest.raises(ScheduleMismatch, match="has no redrive policy"):
        check_receive_budget(Settings(WEBHOOK_SCHEDULE="3,6"), None, "https://sqs/jobs")
