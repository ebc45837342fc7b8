"""moto's DynamoDB with and without roomcast_local.moto_patch, in one process each.

Prints, for the configuration chosen (patched by default; ROOMCAST_MOTO_PATCH=off for
moto as released):
- one TransactWriteItems on a table of --big items against one PutItem on it (ratio);
- memory kept (RSS growth after gc.collect()) by --txs transactions on a 1,000-item table;
- a soak of --soak transactions that each add an item (the table grows to --soak items):
  RSS at start and end, and the time per transaction of the last 1,000 against the first
  1,000 (must be <= 1.5, and RSS end / start <= 1.2). The soak's table has a
  NEW_AND_OLD_IMAGES stream, as the template's table does, read as the local runtime's
  poller reads it (GetRecords with each NextShardIterator, here every 100 transactions);
  --no-stream soaks a table without one.

    PYTHONPATH=local:layers/roomcast:. .venv/bin/python bench/bench_moto_dynamodb.py
    ROOMCAST_MOTO_PATCH=off ... bench_moto_dynamodb.py --big 20000 --txs 150 --soak 0
"""

from __future__ import annotations

import argparse
import gc
import os
import sys
import time
from typing import Any

import boto3

from bench._common import FAKE_AWS_ENV

MAX_RSS_MB = 8000  # bounded: stop the run before the machine suffers


def rss_mb() -> float:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def _guard() -> None:
    if rss_mb() > MAX_RSS_MB:
        raise SystemExit(f"RSS above {MAX_RSS_MB} MB: stopped")


def _table(client: Any, name: str, stream: bool = False) -> None:
    client.create_table(
        TableName=name,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}, {"AttributeName": "sk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
        **({"StreamSpecification": {"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"}} if stream else {}),
    )


class _StreamReader:
    """The table's stream read as roomcast_local.streams reads it: one iterator, then each
    NextShardIterator in turn (records read are counted, not kept)."""

    def __init__(self, client: Any, name: str) -> None:
        self.streams = boto3.client("dynamodbstreams", region_name="us-east-1")
        arn = client.describe_table(TableName=name)["Table"]["LatestStreamArn"]
        shard = self.streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]["ShardId"]
        self.iterator = self.streams.get_shard_iterator(
            StreamArn=arn, ShardId=shard, ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
        self.read = 0

    def drain(self) -> None:
        while True:
            page = self.streams.get_records(ShardIterator=self.iterator, Limit=1000)
            self.iterator = page["NextShardIterator"]
            self.read += len(page["Records"])
            if not page["Records"]:
                return


def _fill(client: Any, name: str, count: int) -> None:
    for start in range(0, count, 25):
        batch = [
            {"PutRequest": {"Item": {"pk": {"S": f"ROOM#{i % 50}"}, "sk": {"S": f"M#{i:08d}"}, "text": {"S": "x" * 100}}}}
            for i in range(start, min(count, start + 25))
        ]
        client.batch_write_item(RequestItems={name: batch})


def _transaction(client: Any, name: str, n: int) -> None:
    """What a roomcast send does: put a message, count it on the room's META item."""
    client.transact_write_items(
        TransactItems=[
            {"Put": {"TableName": name, "Item": {"pk": {"S": "ROOM#soak"}, "sk": {"S": f"MSG#{n:08d}"}, "text": {"S": "y" * 100}},
                     "ConditionExpression": "attribute_not_exists(pk)"}},
            {"Update": {"TableName": name, "Key": {"pk": {"S": "ROOM#soak"}, "sk": {"S": "META"}},
                        "UpdateExpression": "ADD message_count :one", "ExpressionAttributeValues": {":one": {"N": "1"}}}},
        ]
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--big", type=int, default=20_000, help="items in the table of the single transaction")
    parser.add_argument("--txs", type=int, default=150, help="transactions on a 1,000-item table (memory)")
    parser.add_argument("--soak", type=int, default=10_000, help="transactions of the soak (0: none)")
    parser.add_argument("--no-stream", dest="stream", action="store_false",
                        help="soak a table without a stream (default: with one, read as the runtime reads it)")
    args = parser.parse_args(argv)
    if not (0 <= args.big <= 50_000 and 0 <= args.txs <= 10_000 and (args.soak == 0 or 2_000 <= args.soak <= 50_000)):
        parser.error("need big <= 50000, txs <= 10000, soak 0 or 2000..50000")
    os.environ.update(FAKE_AWS_ENV)
    for name in [n for n in os.environ if n.startswith("AWS_ENDPOINT_URL")]:
        del os.environ[name]
    from moto import mock_aws

    from roomcast_local import moto_patch

    patched = moto_patch.apply()
    print(f"moto {moto_patch.moto_version()}, roomcast_local.moto_patch applied: {patched}")
    ok = True
    with mock_aws():
        client = boto3.client("dynamodb", region_name="us-east-1")
        if args.big:
            _table(client, "big")
            _fill(client, "big", args.big)
            started = time.perf_counter()
            client.put_item(TableName="big", Item={"pk": {"S": "ROOM#p"}, "sk": {"S": "ONE"}})
            put_s = time.perf_counter() - started
            started = time.perf_counter()
            _transaction(client, "big", 0)
            tx_s = time.perf_counter() - started
            print(f"  1 transaction on {args.big:,} items    {tx_s * 1000:.1f} ms  (PutItem {put_s * 1000:.1f} ms, "
                  f"ratio {tx_s / put_s:.1f})")
        if args.txs:
            _table(client, "mem")
            _fill(client, "mem", 1000)
            gc.collect()
            before = rss_mb()
            for n in range(args.txs):
                _transaction(client, "mem", n)
                _guard()
            gc.collect()
            print(f"  {args.txs} transactions on 1,000 items  kept {rss_mb() - before:.1f} MB after gc.collect()")
        if args.soak:
            _table(client, "warm", args.stream)
            warm_reader = _StreamReader(client, "warm") if args.stream else None
            for n in range(200):  # boto3's and moto's lazily built parts, before measuring
                _transaction(client, "warm", n)
            if warm_reader:
                warm_reader.drain()
            _table(client, "soak", args.stream)
            reader = _StreamReader(client, "soak") if args.stream else None
            times: list[float] = []
            gc.collect()
            start_rss = rss_mb()
            for n in range(args.soak):
                started = time.perf_counter()
                _transaction(client, "soak", n)
                times.append(time.perf_counter() - started)
                if reader and n % 100 == 99:
                    reader.drain()  # not timed: the poller's work, not the transaction's
                if n % 500 == 0:
                    _guard()
            gc.collect()
            end_rss = rss_mb()
            first = sum(times[:1000]) / 1000
            last = sum(times[-1000:]) / 1000
            growth = end_rss / start_rss
            stream = f"; its stream read as it grew: {reader.read:,} records" if reader else "; no stream"
            print(f"  soak of {args.soak:,} transactions (table grows to {args.soak:,} items{stream})")
            print(f"    RSS at start / at end        {start_rss:.1f} MB / {end_rss:.1f} MB  (ratio {growth:.3f}, must be <= 1.2)")
            print(f"    ms per transaction first / last 1,000  {first * 1000:.2f} / {last * 1000:.2f}  "
                  f"(ratio {last / first:.2f}, must be <= 1.5)")
            ok = growth <= 1.2 and last / first <= 1.5
            if reader:
                # A record per write, two per transaction (moto adds one: an UpdateItem that
                # creates its item, the first META update here, records two INSERTs).
                ok &= reader.read >= 2 * args.soak
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
