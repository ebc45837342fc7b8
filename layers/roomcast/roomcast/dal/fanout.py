"""Reads and writes of the fan-out split: ranges of a room's member keys or of a
connection-index shard, job markers, and broadcast records (docs/scaling-and-cost.md).

A range is (after, through]: `after` exclusive (None = the first key of the source),
`through` inclusive (None = the end of the source's key space). Read with one Query,
`sk BETWEEN after AND through`, so a range costs what its members cost, however large
the room.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from roomcast.aws_errors import cancellation_codes, is_conditional_failure
from roomcast.dal import keys
from roomcast.dal import store as store_module
from roomcast.dal.dynamo import from_item, key, query_pages, to_item, values

# A finished job's marker outlives any SQS redelivery of it (the queue keeps a job 1 day).
MARKER_TTL_SECONDS = 2 * 24 * 3600
# Broadcast records stay readable through GET /broadcasts/{id} for a week.
BROADCAST_TTL_SECONDS = 7 * 24 * 3600


@dataclass(frozen=True)
class Source:
    """Where a range's connections are listed: one partition and a sort-key prefix."""

    pk: str
    prefix: str

    @classmethod
    def room(cls, room_id: str) -> Source:
        return cls(keys.room_pk(room_id), keys.MEMBER_PREFIX)

    @classmethod
    def shard(cls, shard: int) -> Source:
        return cls(keys.index_pk(shard), keys.INDEX_PREFIX)


@dataclass(frozen=True)
class Target:
    connection_id: str
    user_id: str


@dataclass(frozen=True)
class KeyRange:
    after: str | None
    through: str | None
    count: int  # connections in it when it was cut


class FanoutStore:
    def __init__(self, table: str, client: Any) -> None:
        self.table = table
        self.client = client

    def _range_query(self, source: Source, after: str | None, through: str | None, **extra: Any) -> dict[str, Any]:
        return {
            "TableName": self.table,
            "KeyConditionExpression": "pk = :p AND sk BETWEEN :lo AND :hi",
            "ExpressionAttributeValues": values(
                p=source.pk, lo=after or source.prefix, hi=through or keys.prefix_end(source.prefix)
            ),
            "ConsistentRead": True,
            **extra,
        }

    def read_range(
        self, source: Source, after: str | None, through: str | None, limit: int | None = None
    ) -> tuple[list[Target], str | None, bool]:
        """Connections in (after, through], at most `limit`: (targets, last key read, more beyond)."""
        found: list[tuple[str, Target]] = []
        params = self._range_query(
            source, after, through, ProjectionExpression="sk, connection_id, user_id, expires_at"
        )
        now = store_module.now_s()  # the store's expiry clock (tests move it)
        while True:
            if limit is not None:
                # +1: the BETWEEN includes `after` itself, which is skipped below.
                params["Limit"] = limit - len(found) + 1
            response = self.client.query(**params)
            for item in response.get("Items", []):
                plain = from_item(item)
                # An expired membership outlived its connection (its $disconnect never ran):
                # reads ignore it until a repair or DynamoDB's TTL removes it.
                if plain["sk"] != after and plain.get("expires_at", now) >= now:
                    found.append((plain["sk"], Target(plain["connection_id"], plain.get("user_id", ""))))
            more = "LastEvaluatedKey" in response
            if limit is not None and len(found) > limit:
                found, more = found[:limit], True
            if not more or (limit is not None and len(found) >= limit):
                return [t for _, t in found], (found[-1][0] if found else after), more
            params["ExclusiveStartKey"] = response["LastEvaluatedKey"]

    def cut_ranges(
        self, source: Source, after: str | None, size: int, uncounted: str | None = None
    ) -> list[KeyRange]:
        """Cut the keys beyond `after` into ranges of `size`; the last is open-ended.

        Reads keys only (ProjectionExpression sk; capacity is still charged on the items'
        size), keeping one boundary per range in memory. The key `uncounted` (the
        sender's own) is not counted: it is never posted to.
        """
        boundaries: list[str] = []
        total = 0
        for page in query_pages(self.client, **self._range_query(source, after, None, ProjectionExpression="sk")):
            for item in page:
                if item["sk"] == after or item["sk"] == uncounted:
                    continue
                total += 1
                if total % size == 0:
                    boundaries.append(item["sk"])
        ranges: list[KeyRange] = []
        start = after
        remaining = total
        while remaining > 0:
            count = min(size, remaining)
            remaining -= count
            through = boundaries[len(ranges)] if remaining > 0 else None
            ranges.append(KeyRange(after=start, through=through, count=count))
            start = through
        return ranges

    # ------------------------------------------------------------ job markers

    def job_done(self, fanout_id: str, job_id: str) -> bool:
        response = self.client.get_item(
            TableName=self.table,
            Key=key(keys.fanout_pk(fanout_id), keys.fanout_job_sk(job_id)),
            ConsistentRead=True,
        )
        return "Item" in response

    def finish_job(
        self,
        fanout_id: str,
        job_id: str,
        now_s: int,
        broadcast_counts: dict[str, int] | None = None,
    ) -> bool:
        """Mark a job done; for a broadcast, add its counts in the same transaction.

        False when the job was already marked (SQS delivered it twice): nothing is counted twice.
        """
        marker = {
            "Put": {
                "TableName": self.table,
                "Item": to_item(
                    {
                        "pk": keys.fanout_pk(fanout_id),
                        "sk": keys.fanout_job_sk(job_id),
                        "ttl": now_s + MARKER_TTL_SECONDS,
                    }
                ),
                "ConditionExpression": "attribute_not_exists(pk)",
            }
        }
        items: list[dict[str, Any]] = [marker]
        if broadcast_counts is not None:
            names = {f"#c{i}": name for i, name in enumerate(broadcast_counts)}
            adds = ", ".join(f"#c{i} :v{i}" for i in range(len(broadcast_counts)))
            items.append(
                {
                    "Update": {
                        "TableName": self.table,
                        "Key": key(keys.broadcast_pk(fanout_id), keys.META),
                        "UpdateExpression": f"ADD {adds}",
                        "ConditionExpression": "attribute_exists(pk)",
                        "ExpressionAttributeNames": names,
                        "ExpressionAttributeValues": values(
                            **{f"v{i}": v for i, v in enumerate(broadcast_counts.values())}
                        ),
                    }
                }
            )
        try:
            self.client.transact_write_items(TransactItems=items)
        except ClientError as exc:
            codes = cancellation_codes(exc)
            if codes and codes[0] == "ConditionalCheckFailed":
                return False
            raise
        return True

    # ------------------------------------------------------------ broadcasts

    def put_broadcast(self, record: dict[str, Any], frame: dict[str, Any], now_s: int) -> None:
        item = {
            **record,
            "pk": keys.broadcast_pk(record["broadcast_id"]),
            "sk": keys.META,
            # Stored as JSON text: the frame goes out byte for byte as given, whatever its numbers.
            "frame": json.dumps(frame, separators=(",", ":"), ensure_ascii=False),
            "ttl": now_s + BROADCAST_TTL_SECONDS,
            "entity": "broadcast",
        }
        self.client.put_item(
            TableName=self.table, Item=to_item(item), ConditionExpression="attribute_not_exists(pk)"
        )

    def get_broadcast(self, broadcast_id: str) -> dict[str, Any] | None:
        response = self.client.get_item(
            TableName=self.table, Key=key(keys.broadcast_pk(broadcast_id), keys.META), ConsistentRead=True
        )
        item = response.get("Item")
        return from_item(item) if item else None

    def drop_unqueued_jobs(self, broadcast_id: str, count: int) -> None:
        self.client.update_item(
            TableName=self.table,
            Key=key(keys.broadcast_pk(broadcast_id), keys.META),
            UpdateExpression="ADD jobs_total :minus, jobs_unqueued :n",
            ExpressionAttributeValues=values(minus=-count, n=count),
        )

    def complete_broadcast(self, broadcast_id: str, now_ms: int) -> bool:
        """running -> completed once every known job is done (one conditional write; any
        job may try it, the first to see the last job done wins)."""
        try:
            self.client.update_item(
                TableName=self.table,
                Key=key(keys.broadcast_pk(broadcast_id), keys.META),
                UpdateExpression="SET #state = :completed, completed_at = :now",
                ConditionExpression="#state = :running AND jobs_done >= jobs_total",
                ExpressionAttributeNames={"#state": "state"},
                ExpressionAttributeValues=values(completed="completed", running="running", now=now_ms),
            )
        except ClientError as exc:
            if is_conditional_failure(exc):
                return False
            raise
        return True

    def message_item(self, room_id: str, message_id: str) -> dict[str, Any] | None:
        response = self.client.get_item(
            TableName=self.table,
            Key=key(keys.room_pk(room_id), keys.message_sk(message_id)),
            ConsistentRead=True,
        )
        item = response.get("Item")
        return from_item(item) if item else None

    def room_connection(self, room_id: str, connection_id: str) -> Target | None:
        response = self.client.get_item(
            TableName=self.table,
            Key=key(keys.room_pk(room_id), keys.member_sk(connection_id)),
            ConsistentRead=True,
            ProjectionExpression="connection_id, user_id",
        )
        item = response.get("Item")
        return Target(item["connection_id"]["S"], item["user_id"]["S"]) if item else None


def iter_chunks(items: list[Any], size: int) -> Iterator[list[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
