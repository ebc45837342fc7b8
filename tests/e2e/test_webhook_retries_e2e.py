"""The local runtime with a 2-step seconds schedule and a receiver that always fails:
exactly 3 attempts, then the DLQ, and the admin API's delivery record agrees. The
runtime keeps the jobs queue's maxReceiveCount in step with `--env WEBHOOK_SCHEDULE`."""

from __future__ import annotations

import json
import time
from typing import Any

import boto3

from tests.integration.webhook_support import Reply, ScriptedReceiver

SCHEDULE = "1,2"
WAIT_S = 30


def _sqs(runtime: Any) -> Any:
    return boto3.client(
        "sqs", endpoint_url=runtime.moto_url, region_name="us-east-1",
        aws_access_key_id="testing", aws_secret_access_key="testing",  # moto
    )


def _jobs_queues(sqs: Any) -> tuple[str, str, dict[str, Any]]:
    for url in sqs.list_queues()["QueueUrls"]:
        attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
        if url.endswith("-jobs") and "RedrivePolicy" in attributes:
            policy = json.loads(attributes["RedrivePolicy"])
            dlq_name = policy["deadLetterTargetArn"].rsplit(":", 1)[-1]
            return url, sqs.get_queue_url(QueueName=dlq_name)["QueueUrl"], policy
    raise AssertionError("no jobs queue with a redrive policy")


def _depth(sqs: Any, url: str) -> int:
    attributes = sqs.get_queue_attributes(
        QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    )["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"]) + int(attributes["ApproximateNumberOfMessagesNotVisible"])


def test_two_step_schedule_makes_three_attempts_then_the_dlq(runtime_factory) -> None:
    runtime = runtime_factory("--env", f"WEBHOOK_SCHEDULE={SCHEDULE}", "--env", "WEBHOOK_JITTER=0")
    sqs = _sqs(runtime)
    jobs_url, dlq_url, policy = _jobs_queues(sqs)
    assert policy["maxReceiveCount"] == 3  # in step with the schedule, not the template's 19
    with ScriptedReceiver(default=Reply(503, b"always down")) as receiver:
        runtime.create_room("Doomed", room_id="doomed-e2e", callback_url=receiver.url)
        status, closed = runtime.admin("DELETE", "/rooms/doomed-e2e")
        assert status == 202, closed
        deadline = time.monotonic() + WAIT_S
        delivery: dict[str, Any] = {}
        while time.monotonic() < deadline:
            status, listing = runtime.admin("GET", "/rooms/doomed-e2e/deliveries")
            assert status == 200, listing
            delivery = listing["deliveries"][0]
            if delivery["status"] == "dead_lettered":
                break
            time.sleep(0.2)
        assert delivery.get("status") == "dead_lettered", (delivery, runtime.log_text()[-3000:])
        time.sleep(4)  # longer than the whole schedule: nothing more may come
        assert len(receiver.requests) == 3
        gaps = [b.at - a.at for a, b in zip(receiver.requests, receiver.requests[1:], strict=False)]
    assert 1 <= gaps[0] < 2.5 and 2 <= gaps[1] < 3.5, gaps
    assert _depth(sqs, jobs_url) == 0 and _depth(sqs, dlq_url) == 1
    status, listing = runtime.admin("GET", "/rooms/doomed-e2e/deliveries")
    (delivery,) = listing["deliveries"]
    assert delivery["status"] == "dead_lettered" and delivery["attempt_count"] == 3
    assert [a["outcome"] for a in delivery["attempts"]] == ["retry", "retry", "failed"]
    assert [a.get("next_retry_in_seconds") for a in delivery["attempts"]] == [1, 2, None]
    assert all(a["status_code"] == 503 for a in delivery["attempts"])
