"""`roomcast_cli redrive` against moto: the move-task path, the fallback loop, and the
detection between them (moto has no StartMessageMoveTask, so the move-task path runs
through a client that adds it on top of moto's queues)."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from roomcast_cli.cli import main
from roomcast_cli.progress import Progress
from roomcast_cli.redrive import RedriveError, redrive


@pytest.fixture
def sqs() -> Iterator[Any]:
    from moto import mock_aws

    with mock_aws():
        yield boto3.client("sqs", region_name="us-east-1")


def make_queues(sqs: Any, name: str = "jobs", max_receive: int = 3) -> tuple[str, str]:
    dlq = sqs.create_queue(QueueName=f"{name}-dlq")["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    source = sqs.create_queue(
        QueueName=name,
        Attributes={
            "RedrivePolicy": json.dumps(
                {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": max_receive}
            )
        },
    )["QueueUrl"]
    return source, dlq


def put_jobs(sqs: Any, queue: str, count: int) -> list[str]:
    bodies = [json.dumps({"room_id": f"room-{i}", "delivery_id": f"dlv-{i}"}) for i in range(count)]
    for i, body in enumerate(bodies):
        sqs.send_message(
            QueueUrl=queue,
            MessageBody=body,
            MessageAttributes={
                "kind": {"DataType": "String", "StringValue": "room.closed"},
                "seq": {"DataType": "Number", "StringValue": str(i)},
                "blob": {"DataType": "Binary", "BinaryValue": bytes([i, 0, 255])},
            },
        )
    return bodies


def drain(sqs: Any, queue: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    while True:
        batch = sqs.receive_message(
            QueueUrl=queue,
            MaxNumberOfMessages=10,
            MessageAttributeNames=["All"],
            VisibilityTimeout=60,
        ).get("Messages", [])
        if not batch:
            return found
        found.extend(batch)


def depth(sqs: Any, queue: str) -> int:
    attributes = sqs.get_queue_attributes(
        QueueUrl=queue,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"]) + int(
        attributes["ApproximateNumberOfMessagesNotVisible"]
    )


def assert_moved(sqs: Any, source: str, dlq: str, bodies: list[str]) -> None:
    back = drain(sqs, source)
    assert sorted(m["Body"] for m in back) == sorted(bodies)
    for message in back:
        seq = int(message["MessageAttributes"]["seq"]["StringValue"])
        assert message["MessageAttributes"]["kind"]["StringValue"] == "room.closed"
        assert message["MessageAttributes"]["blob"]["BinaryValue"] == bytes([seq, 0, 255])
        assert json.loads(message["Body"])["delivery_id"] == f"dlv-{seq}"
    assert depth(sqs, dlq) == 0


def test_moto_lacks_the_move_task_so_auto_falls_back_to_the_loop(sqs: Any) -> None:
    source, dlq = make_queues(sqs)
    bodies = put_jobs(sqs, dlq, 23)
    err = io.StringIO()
    result = redrive(sqs, dlq, progress=Progress("redrive", stream=err, every=10), wait_seconds=0)
    assert result.method == "loop"
    assert result.fallback_reason and "not implemented" in result.fallback_reason
    assert (result.moved, result.failed) == (23, 0)
    assert_moved(sqs, source, dlq, bodies)
    lines = err.getvalue().splitlines()
    assert "receive/send/delete" in lines[0]
    assert lines[-1] == "redrive: 23 moved"


def test_the_source_queue_is_found_from_the_redrive_policy_or_refused(sqs: Any) -> None:
    source, dlq = make_queues(sqs)
    other_source, other_dlq = make_queues(sqs, "other")
    put_jobs(sqs, dlq, 2)
    # A queue that sends its dead letters elsewhere is not a valid destination.
    with pytest.raises(RedriveError, match="not to this DLQ"):
        redrive(sqs, dlq, source_url=other_source, wait_seconds=0)
    assert depth(sqs, dlq) == 2
    # A DLQ that no queue names cannot be resolved without --source-url.
    orphan = sqs.create_queue(QueueName="orphan-dlq")["QueueUrl"]
    with pytest.raises(RedriveError, match="--source-url"):
        redrive(sqs, orphan, wait_seconds=0)
    assert redrive(sqs, dlq, wait_seconds=0).moved == 2
    assert depth(sqs, source) == 2
    assert depth(sqs, other_dlq) == 0


def test_max_bounds_the_loop(sqs: Any) -> None:
    source, dlq = make_queues(sqs)
    put_jobs(sqs, dlq, 7)
    result = redrive(sqs, dlq, source_url=source, max_messages=3, wait_seconds=0)
    assert (result.method, result.moved) == ("loop", 3)
    assert depth(sqs, source) == 3
    assert depth(sqs, dlq) == 4


class MoveTaskSqs:
    """moto's SQS client plus StartMessageMoveTask / ListMessageMoveTasks, done the way
    SQS does them: the whole DLQ moves to the destination, progress is reported as
    RUNNING and then COMPLETED."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner
        self.started: list[dict[str, str]] = []
        self._polls = 0
        self._moved = 0

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def _url(self, arn: str) -> str:
        return self._inner.get_queue_url(QueueName=arn.rsplit(":", 1)[1])["QueueUrl"]

    def start_message_move_task(self, SourceArn: str, DestinationArn: str) -> dict[str, str]:
        self.started.append({"SourceArn": SourceArn, "DestinationArn": DestinationArn})
        return {"TaskHandle": "task-1"}

    def list_message_move_tasks(self, SourceArn: str, MaxResults: int) -> dict[str, Any]:
        self._polls += 1
        if self._polls == 1:
            return {
                "Results": [
                    {
                        "Status": "RUNNING",
                        "TaskHandle": "task-1",
                        "ApproximateNumberOfMessagesMoved": 0,
                        "ApproximateNumberOfMessagesToMove": 4,
                    }
                ]
            }
        source, destination = (
            self._url(self.started[-1]["SourceArn"]),
            self._url(self.started[-1]["DestinationArn"]),
        )
        for message in drain(self._inner, source):
            attributes = {
                k: {f: v for f, v in a.items() if f in ("DataType", "StringValue", "BinaryValue")}
                for k, a in message.get("MessageAttributes", {}).items()
            }
            self._inner.send_message(
                QueueUrl=destination, MessageBody=message["Body"], MessageAttributes=attributes
            )
            self._inner.delete_message(QueueUrl=source, ReceiptHandle=message["ReceiptHandle"])
            self._moved += 1
        return {
            "Results": [
                {
                    "Status": "COMPLETED",
                    "ApproximateNumberOfMessagesMoved": self._moved,
                    "ApproximateNumberOfMessagesToMove": 4,
                }
            ]
        }


def test_the_move_task_is_used_where_the_service_has_it(sqs: Any) -> None:
    source, dlq = make_queues(sqs)
    bodies = put_jobs(sqs, dlq, 4)
    client = MoveTaskSqs(sqs)
    err = io.StringIO()
    sleeps: list[float] = []
    result = redrive(
        client,
        dlq,
        progress=Progress("redrive", stream=err),
        poll_interval=0.5,
        sleep=sleeps.append,
    )
    assert (result.method, result.status, result.moved, result.task_handle) == (
        "move-task",
        "COMPLETED",
        4,
        "task-1",
    )
    arns = {
        q: sqs.get_queue_attributes(QueueUrl=q, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        for q in (source, dlq)
    }
    assert client.started == [{"SourceArn": arns[dlq], "DestinationArn": arns[source]}]
    assert sleeps == [0.5]
    assert err.getvalue().splitlines()[-1] == "redrive: 4/4 (completed)"
    assert_moved(sqs, source, dlq, bodies)


def test_a_move_task_still_running_at_the_timeout_is_left_running(sqs: Any) -> None:
    _source, dlq = make_queues(sqs)
    put_jobs(sqs, dlq, 1)
    client = MoveTaskSqs(sqs)
    result = redrive(client, dlq, wait_timeout=0, sleep=lambda _: None)
    assert (result.status, result.task_handle) == ("RUNNING", "task-1")
    assert depth(sqs, dlq) == 1


class RaisingSqs:
    """moto's SQS client whose StartMessageMoveTask fails with a given error."""

    def __init__(self, inner: Any, error: BaseException) -> None:
        self._inner = inner
        self._error = error

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    def start_message_move_task(self, **_: Any) -> Any:
        raise self._error


def aws_error(code: str, status: int) -> ClientError:
    return ClientError(
        {
            "Error": {"Code": code, "Message": "refused"},
            "ResponseMetadata": {
                "HTTPStatusCode": status,
                "HTTPHeaders": {"content-type": "text/xml"},
            },
        },
        "StartMessageMoveTask",
    )


def test_an_unsupported_operation_error_falls_back_to_the_loop(sqs: Any) -> None:
    source, dlq = make_queues(sqs)
    bodies = put_jobs(sqs, dlq, 5)
    result = redrive(RaisingSqs(sqs, aws_error("UnsupportedOperation", 400)), dlq, wait_seconds=0)
    assert result.method == "loop" and result.moved == 5
    assert result.fallback_reason and result.fallback_reason.startswith("UnsupportedOperation")
    assert_moved(sqs, source, dlq, bodies)


def test_a_real_failure_is_not_papered_over_by_the_loop(sqs: Any) -> None:
    source, dlq = make_queues(sqs)
    put_jobs(sqs, dlq, 3)
    with pytest.raises(ClientError, match="AccessDenied"):
        redrive(RaisingSqs(sqs, aws_error("AccessDenied", 403)), dlq, wait_seconds=0)
    assert depth(sqs, dlq) == 3
    assert depth(sqs, source) == 0


def test_method_move_task_does_not_fall_back(sqs: Any) -> None:
    _, dlq = make_queues(sqs)
    put_jobs(sqs, dlq, 1)
    with pytest.raises(NotImplementedError):
        redrive(sqs, dlq, method="move-task", wait_seconds=0)
    assert depth(sqs, dlq) == 1


def test_a_failed_send_leaves_the_message_in_the_dlq(sqs: Any) -> None:
    source, dlq = make_queues(sqs)
    put_jobs(sqs, dlq, 3)

    class HalfSends:
        def __init__(self, inner: Any) -> None:
            self._inner = inner

        def __getattr__(self, name: str) -> Any:
            return getattr(self._inner, name)

        def send_message_batch(
            self, QueueUrl: str, Entries: list[dict[str, Any]]
        ) -> dict[str, Any]:
            answer = self._inner.send_message_batch(QueueUrl=QueueUrl, Entries=Entries[:1])
            failed = [
                {"Id": e["Id"], "SenderFault": False, "Code": "InternalError"} for e in Entries[1:]
            ]
            return {"Successful": answer["Successful"], "Failed": failed}

    result = redrive(HalfSends(sqs), dlq, method="loop", wait_seconds=0)
    assert (result.moved, result.failed) == (1, 2)
    assert depth(sqs, source) == 1
    assert depth(sqs, dlq) == 2  # not deleted: they come back after the visibility timeout


def test_the_command_line_redrives_and_prints_a_summary(sqs: Any) -> None:
    source, dlq = make_queues(sqs)
    bodies = put_jobs(sqs, dlq, 12)
    out, err = io.StringIO(), io.StringIO()
    code = main(
        ["redrive", "--dlq-url", dlq, "--wait-seconds", "0", "--every", "5"], out=out, err=err
    )
    assert code == 0, err.getvalue()
    assert json.loads(out.getvalue()) == {
        "method": "loop",
        "moved": 12,
        "failed": 0,
        "status": "COMPLETED",
    }
    assert "redrive: 10" in err.getvalue().splitlines()
    assert_moved(sqs, source, dlq, bodies)
    # Nothing left: a second run moves nothing and still succeeds.
    out = io.StringIO()
    assert (
        main(
            ["redrive", "--dlq-url", dlq, "--source-url", source, "--wait-seconds", "0"],
            out=out,
            err=io.StringIO(),
        )
        == 0
    )
    assert json.loads(out.getvalue())["moved"] == 0


def test_the_command_line_reports_an_unknown_dlq(sqs: Any) -> None:
    err = io.StringIO()
    code = main(
        ["redrive", "--dlq-url", "https://sqs.us-east-1.amazonaws.com/123456789012/missing"],
        out=io.StringIO(),
        err=err,
    )
    assert code == 1
    assert "redrive:" in err.getvalue()


def test_moto_server_over_http_is_detected_as_lacking_the_move_task() -> None:
    """The local runtime's case: an emulator answering the unknown action with an HTML 500."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        client = boto3.client(
            "sqs",
            region_name="us-east-1",
            endpoint_url=f"http://{host}:{port}",
            config=Config(retries={"max_attempts": 1, "mode": "standard"}),
        )
        source, dlq = make_queues(client, "served")
        bodies = put_jobs(client, dlq, 3)
        result = redrive(client, dlq, wait_seconds=0)
        assert result.method == "loop"
        assert result.fallback_reason and "HTTP 500" in result.fallback_reason
        assert_moved(client, source, dlq, bodies)
    finally:
        server.stop()
