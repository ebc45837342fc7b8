"""The local runtime's DynamoDB stream event source (local/roomcast_local/streams.py), read
from the template and run against moto: batch size, batching window, bisect on error,
retry limit and the on-failure destination, with a recording function in place of a worker."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from roomcast_local import template as tpl
from roomcast_local.cfn import load_template
from roomcast_local.streams import StreamPoller
from tests.conftest import ROOT

TABLE = "streamed"


@pytest.fixture
def table() -> Iterator[tuple[Any, str]]:
    with mock_aws():
        client = boto3.client("dynamodb", region_name="us-east-1")
        client.create_table(
            TableName=TABLE,
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
            AttributeDefinitions=[{"AttributeName": a, "AttributeType": "S"} for a in ("pk", "sk")],
            StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
            BillingMode="PAY_PER_REQUEST",
        )
        yield client, client.describe_table(TableName=TABLE)["Table"]["LatestStreamArn"]


def _put(client: Any, n: int) -> None:
    for i in range(n):
        client.put_item(TableName=TABLE, Item={"pk": {"S": "P"}, "sk": {"S": f"{i:04d}"}})


def _poller(source: tpl.StreamSource, arn: str, invoke: Any, window: float = 0.0,
            failure_url: str | None = None) -> StreamPoller:
    return StreamPoller(source, stream_arn=arn, batching_window_s=window,
                        streams_client=boto3.client("dynamodbstreams", region_name="us-east-1"),
                        sqs_client=boto3.client("sqs", region_name="us-east-1"), on_failure_url=failure_url,
                        invoke=invoke, region="us-east-1", log=lambda line: None)


def _wait(predicate: Any, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_the_template_declares_the_stream_mapping() -> None:
    (source,) = tpl.stream_sources(load_template(ROOT / "template.yaml"))
    assert source.function == "EventsFunction" and source.starting_position == "TRIM_HORIZON"
    assert source.bisect_on_error and source.max_retry_attempts == 10 and source.batch_size == 500
    assert source.on_failure_ref == {"Fn::GetAtt": ["EventsStreamFailures", "Arn"]}
    assert source.batching_window_s == {"Ref": "EventBatchIntervalSeconds"}


def test_records_arrive_in_order_in_batches_of_at_most_batch_size(table) -> None:
    client, arn = table
    batches: list[list[dict[str, Any]]] = []
    lock = threading.Lock()

    def invoke(function: str, event: dict[str, Any]) -> None:
        with lock:
            batches.append(event["Records"])

    _put(client, 25)
    poller = _poller(tpl.StreamSource("F", "S", None, "TRIM_HORIZON", batch_size=10), arn, invoke, window=0.3)
    poller.start()
    try:
        _wait(lambda: sum(len(b) for b in batches) == 25)
    finally:
        poller.stop()
    assert [len(b) for b in batches] == [10, 10, 5]
    keys = [r["dynamodb"]["Keys"]["sk"]["S"] for b in batches for r in b]
    assert keys == [f"{i:04d}" for i in range(25)]
    first = batches[0][0]
    assert first["eventSource"] == "aws:dynamodb" and first["eventSourceARN"] == arn
    assert isinstance(first["dynamodb"]["ApproximateCreationDateTime"], float)
    json.dumps(batches)  # what a worker process is sent: plain JSON


def test_the_window_gathers_records_written_apart(table) -> None:
    client, arn = table
    batches: list[int] = []
    poller = _poller(tpl.StreamSource("F", "S", None, "LATEST", batch_size=100), arn,
                     lambda f, e: batches.append(len(e["Records"])), window=1.5)
    poller.start()
    try:
        time.sleep(0.3)  # LATEST: the iterator exists before the writes
        for i in range(3):
            client.put_item(TableName=TABLE, Item={"pk": {"S": "W"}, "sk": {"S": str(i)}})
            time.sleep(0.2)
        _wait(lambda: sum(batches) == 3)
    finally:
        poller.stop()
    assert batches == [3]


def test_a_failing_record_is_bisected_alone_retried_and_sent_to_the_failure_queue(table) -> None:
    client, arn = table
    sqs = boto3.client("sqs", region_name="us-east-1")
    failure_url = sqs.create_queue(QueueName="stream-failures")["QueueUrl"]
    taken: list[str] = []
    calls: list[int] = []

    def invoke(function: str, event: dict[str, Any]) -> None:
        calls.append(len(event["Records"]))
        keys = [r["dynamodb"]["Keys"]["sk"]["S"] for r in event["Records"]]
        if "0005" in keys:
            raise RuntimeError("poison")
        taken.extend(keys)

    _put(client, 8)
    source = tpl.StreamSource("F", "S", None, "TRIM_HORIZON", batch_size=8, bisect_on_error=True,
                              max_retry_attempts=2)
    poller = _poller(source, arn, invoke, failure_url=failure_url)
    poller.start()
    try:
        _wait(lambda: poller.given_up == 1)
    finally:
        poller.stop()
    assert taken == [f"{i:04d}" for i in range(8) if i != 5]
    # 8 fails -> 4 (ok), 4 (fails) -> 2 (fails) -> 1 (ok), 1 (fails, then its 2 retries), then 2 (ok).
    assert calls == [8, 4, 4, 2, 1, 1, 1, 1, 2]
    (message,) = sqs.receive_message(QueueUrl=failure_url)["Messages"]
    info = json.loads(message["Body"])["DDBStreamBatchInfo"]
    assert info["batchSize"] == 1 and info["streamArn"] == arn
