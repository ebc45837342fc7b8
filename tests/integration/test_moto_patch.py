"""roomcast_local.moto_patch keeps moto's DynamoDB semantics (figures: bench/bench_moto_dynamodb.py).

A failed transaction undoes every action; two actions on one item and transactions that
claim the same item still conflict; returned items are detached from the table; Query
by partition answers what moto's full-table Query answered; nothing is tracked.
"""

from __future__ import annotations

import gc
import threading
import warnings
import weakref
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from roomcast_local import moto_patch
from tests.conftest import MOTO_PATCHED

TABLE = "things"


def _s(value: str) -> dict[str, str]:
    return {"S": value}


def _key(pk: str, sk: str) -> dict[str, Any]:
    return {"pk": _s(pk), "sk": _s(sk)}


@pytest.fixture
def ddb() -> Iterator[Any]:
    with mock_aws():
        client = boto3.client("dynamodb", region_name="us-east-1")
        client.create_table(
            TableName=TABLE,
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
            AttributeDefinitions=[
                {"AttributeName": a, "AttributeType": "S"} for a in ("pk", "sk", "gpk", "gsk")
            ],
            GlobalSecondaryIndexes=[
                {
                    "IndexName": "gsi",
                    "KeySchema": [{"AttributeName": "gpk", "KeyType": "HASH"}, {"AttributeName": "gsk", "KeyType": "RANGE"}],
                    "Projection": {"ProjectionType": "ALL"},
                }
            ],
            StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
            BillingMode="PAY_PER_REQUEST",
        )
        yield client


def _backend_table() -> Any:
    from moto.dynamodb.models import dynamodb_backends

    return dynamodb_backends["123456789012"]["us-east-1"].get_table(TABLE)


def _all(client: Any) -> list[dict[str, Any]]:
    return sorted(client.scan(TableName=TABLE)["Items"], key=lambda i: (i["pk"]["S"], i["sk"]["S"]))


def test_the_patch_is_applied_on_the_pinned_moto() -> None:
    assert moto_patch.moto_version() in moto_patch.VERIFIED_MOTO_VERSIONS
    assert MOTO_PATCHED and moto_patch.is_applied()


def test_an_unverified_moto_is_refused_loudly(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ROOMCAST_MOTO_PATCH", raising=False)
    monkeypatch.setattr(moto_patch, "_applied", False)
    monkeypatch.setattr(moto_patch, "moto_version", lambda: "9.9.9")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert moto_patch.apply() is False
    assert any("moto 9.9.9 is not one of the verified versions" in str(w.message) for w in caught)


def test_a_failed_condition_rolls_back_every_action(ddb: Any) -> None:
    ddb.put_item(TableName=TABLE, Item={**_key("R", "META"), "count": {"N": "5"}, "name": _s("room")})
    ddb.put_item(TableName=TABLE, Item={**_key("R", "OLD"), "text": _s("keep me")})
    before = _all(ddb)
    records_before = len(_backend_table().stream_shard.items)
    with pytest.raises(ClientError) as failed:
        ddb.transact_write_items(
            TransactItems=[
                {"Put": {"TableName": TABLE, "Item": {**_key("R", "NEW"), "text": _s("new")}}},
                {"Update": {"TableName": TABLE, "Key": _key("R", "META"), "UpdateExpression": "ADD #c :one SET #n = :n",
                            "ExpressionAttributeNames": {"#c": "count", "#n": "name"},
                            "ExpressionAttributeValues": {":one": {"N": "1"}, ":n": _s("renamed")}}},
                {"Delete": {"TableName": TABLE, "Key": _key("R", "OLD")}},
                {"ConditionCheck": {"TableName": TABLE, "Key": _key("R", "MISSING"),
                                    "ConditionExpression": "attribute_exists(pk)"}},
            ]
        )
    reasons = [r["Code"] for r in failed.value.response["CancellationReasons"]]
    assert reasons == ["None", "None", "None", "ConditionalCheckFailed"]
    assert _all(ddb) == before  # the put removed, the in-place update and the delete undone
    # The cancelled writes left no stream records (moto as released swaps in a table copy).
    assert len(_backend_table().stream_shard.items) == records_before


def test_all_old_on_a_failed_condition_returns_the_stored_item(ddb: Any) -> None:
    ddb.put_item(TableName=TABLE, Item={**_key("R", "A"), "v": _s("1")})
    with pytest.raises(ClientError) as failed:
        ddb.transact_write_items(
            TransactItems=[
                {"Put": {"TableName": TABLE, "Item": {**_key("R", "A"), "v": _s("2")},
                         "ConditionExpression": "attribute_not_exists(pk)",
                         "ReturnValuesOnConditionCheckFailure": "ALL_OLD"}},
            ]
        )
    assert failed.value.response["CancellationReasons"][0]["Item"]["v"] == _s("1")


def test_two_actions_on_one_item_conflict_and_nothing_is_written(ddb: Any) -> None:
    with pytest.raises(ClientError) as failed:
        ddb.transact_write_items(
            TransactItems=[
                {"Put": {"TableName": TABLE, "Item": {**_key("R", "X"), "v": _s("1")}}},
                {"Put": {"TableName": TABLE, "Item": {**_key("R", "Y"), "v": _s("1")}}},
                {"Update": {"TableName": TABLE, "Key": _key("R", "X"), "UpdateExpression": "SET v = :v",
                            "ExpressionAttributeValues": {":v": _s("2")}}},
            ]
        )
    assert failed.value.response["Error"]["Code"] == "ValidationException"
    assert _all(ddb) == []  # X and Y, written before the duplicate was seen, are undone


def test_transactions_claiming_one_item_conflict(ddb: Any) -> None:
    def claim(who: str) -> None:
        ddb.transact_write_items(
            TransactItems=[
                {"Put": {"TableName": TABLE, "Item": {**_key("R", "CLAIM"), "by": _s(who)},
                         "ConditionExpression": "attribute_not_exists(pk)"}},
                {"Put": {"TableName": TABLE, "Item": {**_key("R", f"BY#{who}")}}},
            ]
        )

    claim("a")
    with pytest.raises(ClientError) as lost:
        claim("b")
    assert lost.value.response["Error"]["Code"] == "TransactionCanceledException"
    assert [i["sk"]["S"] for i in _all(ddb)] == ["BY#a", "CLAIM"]


def test_concurrent_claims_through_the_runtime_moto_server_have_one_winner() -> None:
    from roomcast_local.runtime import _serialized_moto_server

    server = _serialized_moto_server("127.0.0.1", 0)
    server.start()
    try:
        host, port = server.get_host_and_port()
        client = boto3.client("dynamodb", region_name="us-east-1", endpoint_url=f"http://{host}:{port}")
        client.create_table(
            TableName=TABLE,
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}, {"AttributeName": "sk", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        outcomes: list[str] = []
        barrier = threading.Barrier(8)

        def claim(n: int) -> None:
            barrier.wait(timeout=10)
            try:
                client.transact_write_items(
                    TransactItems=[
                        {"Put": {"TableName": TABLE, "Item": {**_key("R", "CLAIM"), "by": {"N": str(n)}},
                                 "ConditionExpression": "attribute_not_exists(pk)"}},
                        {"Update": {"TableName": TABLE, "Key": _key("R", "META"), "UpdateExpression": "ADD wins :one",
                                    "ExpressionAttributeValues": {":one": {"N": "1"}}}},
                    ]
                )
                outcomes.append("won")
            except ClientError as exc:
                outcomes.append(exc.response["Error"]["Code"])

        threads = [threading.Thread(target=claim, args=(n,)) for n in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)
        assert sorted(outcomes) == ["TransactionCanceledException"] * 7 + ["won"]
        meta = client.get_item(TableName=TABLE, Key=_key("R", "META"))["Item"]
        assert meta["wins"] == {"N": "1"}  # the seven losers' updates were undone
    finally:
        server.stop()


def test_returned_items_are_detached_from_the_table(ddb: Any) -> None:
    ddb.put_item(TableName=TABLE, Item={**_key("R", "A"), "v": _s("stored"), "gpk": _s("G"), "gsk": _s("1")})
    table = _backend_table()
    rows, _, _ = table.query(_s_type("R"), None, [], None, None, True, None)
    via_index, _, _ = table.query(None, None, [], None, None, True, None, index_name="gsi",
                                  hash_key_conditions=[("gpk", _s_type("G"))])
    for item in (*rows, *via_index):
        item.attrs["v"].value = "changed by a reader"
    stored = table.get_item(_s_type("R"), _s_type("A"))
    assert stored.attrs["v"].value == "stored"
    assert ddb.get_item(TableName=TABLE, Key=_key("R", "A"))["Item"]["v"] == _s("stored")


def _s_type(value: str) -> Any:
    from moto.dynamodb.models.dynamo_type import DynamoType

    return DynamoType(_s(value))


def test_query_by_partition_answers_what_a_full_table_query_answered(ddb: Any) -> None:
    for room in ("A", "B", "C"):
        for n in range(30):
            ddb.put_item(TableName=TABLE, Item={**_key(f"ROOM#{room}", f"M#{n:03d}"), "gpk": _s(f"U#{n % 4}"),
                                                "gsk": _s(f"{n % 3}"), "room": _s(room)})
    everything = _all(ddb)

    def pages(**params: Any) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        while True:
            response = ddb.query(TableName=TABLE, **params)
            found += response["Items"]
            if "LastEvaluatedKey" not in response:
                return found
            params["ExclusiveStartKey"] = response["LastEvaluatedKey"]

    room_b = [i for i in everything if i["pk"] == _s("ROOM#B")]
    forward = pages(KeyConditionExpression="pk = :p", ExpressionAttributeValues={":p": _s("ROOM#B")}, Limit=7)
    assert forward == room_b
    backward = pages(KeyConditionExpression="pk = :p AND sk BETWEEN :a AND :b", ScanIndexForward=False, Limit=4,
                     ExpressionAttributeValues={":p": _s("ROOM#B"), ":a": _s("M#005"), ":b": _s("M#020")})
    assert backward == [i for i in reversed(room_b) if "M#005" <= i["sk"]["S"] <= "M#020"]
    assert pages(KeyConditionExpression="pk = :p", ExpressionAttributeValues={":p": _s("ROOM#none")}) == []
    # On the index: every room's items of user U#1, ordered by gsk then the table's keys.
    user = pages(IndexName="gsi", KeyConditionExpression="gpk = :u", ExpressionAttributeValues={":u": _s("U#1")}, Limit=5)
    expected = sorted((i for i in everything if i["gpk"] == _s("U#1")),
                      key=lambda i: (i["gsk"]["S"], i["pk"]["S"], i["sk"]["S"]))
    assert user == expected
    # Scan keeps moto's own order (the patch scopes only Query).
    assert ddb.scan(TableName=TABLE)["Items"] == everything


def test_items_stream_records_iterators_and_sqs_messages_are_not_tracked(ddb: Any) -> None:
    from moto.dynamodb.models.dynamo_type import Item
    from moto.dynamodb.models.table import StreamRecord
    from moto.dynamodbstreams.models import ShardIterator
    from moto.sqs.models import Message

    for n in range(20):
        ddb.put_item(TableName=TABLE, Item={**_key("R", f"{n}"), "c": {"N": "0"}})
        ddb.update_item(TableName=TABLE, Key=_key("R", f"{n}"), UpdateExpression="ADD c :one",
                        ExpressionAttributeValues={":one": {"N": "1"}})
        ddb.transact_write_items(TransactItems=[
            {"Update": {"TableName": TABLE, "Key": _key("R", f"{n}"), "UpdateExpression": "ADD c :one",
                        "ExpressionAttributeValues": {":one": {"N": "1"}}}}])
    ddb.query(TableName=TABLE, KeyConditionExpression="pk = :p", ExpressionAttributeValues={":p": _s("R")})
    sqs = boto3.client("sqs", region_name="us-east-1")
    url = sqs.create_queue(QueueName="q")["QueueUrl"]
    for n in range(5):
        sqs.send_message(QueueUrl=url, MessageBody=str(n))
    assert len(_stream_records(ddb)) == 60  # a record per write, read through one iterator
    for model in (Item, Message, StreamRecord, ShardIterator):
        assert model.instances_tracked == [], model  # type: ignore[attr-defined]
    assert len(ddb.scan(TableName=TABLE)["Items"]) == 20


def test_no_moto_model_list_grows_with_the_calls_the_runtime_makes(ddb: Any) -> None:
    # Across every model moto tracks, not only the four untracked ones: a model a future moto
    # (or a call the runtime starts making) adds to the per-request path shows up here.
    from moto.core.model_instances import model_data

    streams = boto3.client("dynamodbstreams", region_name="us-east-1")
    arn = ddb.describe_table(TableName=TABLE)["Table"]["LatestStreamArn"]
    shard_id = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]["ShardId"]
    reader = [streams.get_shard_iterator(StreamArn=arn, ShardId=shard_id, ShardIteratorType="TRIM_HORIZON")["ShardIterator"]]
    sqs = boto3.client("sqs", region_name="us-east-1")
    url = sqs.create_queue(QueueName="calls")["QueueUrl"]

    def calls(n: int) -> None:
        ddb.put_item(TableName=TABLE, Item={**_key("R", f"M{n}"), "text": _s("x")})
        ddb.update_item(TableName=TABLE, Key=_key("R", "META"), UpdateExpression="ADD c :one",
                        ExpressionAttributeValues={":one": {"N": "1"}})
        ddb.transact_write_items(TransactItems=[
            {"Put": {"TableName": TABLE, "Item": _key("R", f"T{n}")}},
            {"Update": {"TableName": TABLE, "Key": _key("R", "META"), "UpdateExpression": "ADD c :one",
                        "ExpressionAttributeValues": {":one": {"N": "1"}}}}])
        ddb.get_item(TableName=TABLE, Key=_key("R", "META"))
        ddb.query(TableName=TABLE, KeyConditionExpression="pk = :p", ExpressionAttributeValues={":p": _s("R")})
        ddb.delete_item(TableName=TABLE, Key=_key("R", f"M{n}"))
        page = streams.get_records(ShardIterator=reader[0])
        reader[0] = page["NextShardIterator"]
        sqs.send_message(QueueUrl=url, MessageBody=str(n))
        for message in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", []):
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])

    def tracked() -> dict[str, int]:
        return {f"{service}.{name}": len(model.instances_tracked)  # type: ignore[attr-defined]
                for service, models in model_data.items() for name, model in models.items()}

    calls(0)  # one-off parts (a queue's, a shard's) are built on first use
    before = tracked()
    for n in range(1, 21):
        calls(n)
    grown = {name: (before.get(name, 0), count) for name, count in tracked().items() if count > before.get(name, 0)}
    assert grown == {}


def test_records_read_past_are_freed_not_only_unlisted(ddb: Any) -> None:
    # moto's tracking list used to keep every StreamRecord (two item images each) alive after
    # the shard dropped it: the local runtime grew ~25 KB per chat message that way.
    for n in range(10):
        ddb.put_item(TableName=TABLE, Item={**_key("R", f"M{n}"), "text": _s("x" * 1000)})
    records = [weakref.ref(r) for r in _shard(ddb).items]
    assert len(records) == 10
    assert len(_stream_records(ddb)) == 10  # read past, by the only reader
    gc.collect()
    assert [r for r in records if r() is not None] == []


def _stream_records(client: Any) -> list[dict[str, Any]]:
    """What a consumer reads through the DynamoDB Streams API (the events function's view)."""
    streams = boto3.client("dynamodbstreams", region_name="us-east-1")
    arn = client.describe_table(TableName=TABLE)["Table"]["LatestStreamArn"]
    shard = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]["ShardId"]
    iterator = streams.get_shard_iterator(StreamArn=arn, ShardId=shard, ShardIteratorType="TRIM_HORIZON")
    return streams.get_records(ShardIterator=iterator["ShardIterator"])["Records"]


def test_transactions_emit_stream_records_only_when_they_commit(ddb: Any) -> None:
    ddb.put_item(TableName=TABLE, Item={**_key("R", "META"), "count": {"N": "1"}})
    ddb.transact_write_items(TransactItems=[
        {"Put": {"TableName": TABLE, "Item": {**_key("R", "A"), "text": _s("a")}}},
        {"Update": {"TableName": TABLE, "Key": _key("R", "META"), "UpdateExpression": "ADD #c :one",
                    "ExpressionAttributeNames": {"#c": "count"}, "ExpressionAttributeValues": {":one": {"N": "1"}}}},
    ])
    with pytest.raises(ClientError):
        ddb.transact_write_items(TransactItems=[
            {"Put": {"TableName": TABLE, "Item": {**_key("R", "B"), "text": _s("b")}}},
            {"ConditionCheck": {"TableName": TABLE, "Key": _key("R", "MISSING"),
                                "ConditionExpression": "attribute_exists(pk)"}},
        ])
    records = _stream_records(ddb)
    seen = [(r["eventName"], r["dynamodb"]["Keys"]["sk"]["S"]) for r in records]
    assert seen == [("INSERT", "META"), ("INSERT", "A"), ("MODIFY", "META")]
    modify = records[2]["dynamodb"]
    assert modify["OldImage"]["count"] == {"N": "1"} and modify["NewImage"]["count"] == {"N": "2"}


def _shard(client: Any) -> Any:
    """moto's stream shard of the test table (the list the correction bounds)."""
    from moto.backends import get_backend

    return get_backend("dynamodb")["123456789012"]["us-east-1"].tables[TABLE].stream_shard


def _streams_backend() -> Any:
    from moto.backends import get_backend

    return get_backend("dynamodbstreams")["123456789012"]["us-east-1"]


def test_records_every_reader_read_past_are_dropped_and_numbers_stay_in_order(ddb: Any) -> None:
    streams = boto3.client("dynamodbstreams", region_name="us-east-1")
    arn = ddb.describe_table(TableName=TABLE)["Table"]["LatestStreamArn"]
    shard_id = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]["ShardId"]
    first = streams.get_shard_iterator(StreamArn=arn, ShardId=shard_id, ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
    second = streams.get_shard_iterator(StreamArn=arn, ShardId=shard_id, ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
    for n in range(30):
        ddb.put_item(TableName=TABLE, Item={**_key("R", f"M{n:02d}"), "text": _s("x" * 500)})
    # A failed transaction's records are dropped by sequence number, not by list position.
    with pytest.raises(ClientError):
        ddb.transact_write_items(TransactItems=[
            {"Put": {"TableName": TABLE, "Item": {**_key("R", "NO"), "text": _s("no")}}},
            {"ConditionCheck": {"TableName": TABLE, "Key": _key("R", "MISSING"),
                                "ConditionExpression": "attribute_exists(pk)"}},
        ])
    # Reader 1 reads all 30: reader 2 has read nothing yet, so everything is kept.
    page = streams.get_records(ShardIterator=first, Limit=1000)
    assert [r["dynamodb"]["Keys"]["sk"]["S"] for r in page["Records"]] == [f"M{n:02d}" for n in range(30)]
    assert len(_shard(ddb).items) == 30
    # Reader 2 reads 10: the 10 both have read past are dropped, the rest are kept for reader 2.
    part = streams.get_records(ShardIterator=second, Limit=10)
    assert len(part["Records"]) == 10 and len(_shard(ddb).items) == 20
    rest = streams.get_records(ShardIterator=part["NextShardIterator"], Limit=1000)
    assert [r["dynamodb"]["Keys"]["sk"]["S"] for r in rest["Records"]] == [f"M{n:02d}" for n in range(10, 30)]
    assert len(_shard(ddb).items) == 0
    # New writes after the drops: sequence numbers go on growing, and both readers see them once.
    ddb.put_item(TableName=TABLE, Item={**_key("R", "LATER"), "text": _s("later")})
    one = streams.get_records(ShardIterator=page["NextShardIterator"], Limit=1000)["Records"]
    two = streams.get_records(ShardIterator=rest["NextShardIterator"], Limit=1000)["Records"]
    numbers = [int(r["dynamodb"]["SequenceNumber"]) for r in page["Records"] + one]
    assert numbers == sorted(numbers) and len(set(numbers)) == 31
    assert [r["dynamodb"]["Keys"]["sk"]["S"] for r in one] == [r["dynamodb"]["Keys"]["sk"]["S"] for r in two] == ["LATER"]


def test_shard_iterators_expire_and_an_expired_reader_holds_nothing_back(ddb: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from roomcast_local import moto_patch

    streams = boto3.client("dynamodbstreams", region_name="us-east-1")
    arn = ddb.describe_table(TableName=TABLE)["Table"]["LatestStreamArn"]
    shard_id = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]["ShardId"]
    idle = streams.get_shard_iterator(StreamArn=arn, ShardId=shard_id, ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
    iterator = streams.get_shard_iterator(StreamArn=arn, ShardId=shard_id, ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
    assert idle
    for n in range(5):
        ddb.put_item(TableName=TABLE, Item={**_key("R", f"E{n}")})
    for _ in range(50):  # one reader polling: each call hands out a new iterator
        iterator = streams.get_records(ShardIterator=iterator, Limit=1000)["NextShardIterator"]
    assert len(_shard(ddb).items) == 5  # the idle reader has read nothing: kept for it
    # 15 minutes on: the idle reader's iterator and the used ones are forgotten.
    clock = [moto_patch.time.monotonic() + moto_patch.SHARD_ITERATOR_LIFETIME_S + 1]
    monkeypatch.setattr(moto_patch.time, "monotonic", lambda: clock[0])
    iterator = streams.get_records(ShardIterator=iterator, Limit=1000)["NextShardIterator"]
    assert len(_shard(ddb).items) == 0
    assert len(_streams_backend().shard_iterators) == 1  # the one just handed out
