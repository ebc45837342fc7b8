"""Token buckets kept in the table, as GCRA (docs/operations.md, "Limits per connection").

A bucket's state is one number, the theoretical arrival time (tat). A frame is allowed when
tat <= now + (burst - 1) * interval, and then tat = max(tat, now) + interval. max() is not
an update expression, so a take is at most two conditional writes: the idle case (tat <
now) and the busy case. Neither reads first, so concurrent frames (several Lambdas, one
connection or one user) cannot both spend the same token. A refusal returns the item as
it was (ReturnValuesOnConditionCheckFailure), which says when the next token is due.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from roomcast.aws_errors import is_conditional_failure
from roomcast.dal import keys
from roomcast.dal.dynamo import from_item, key, values


@dataclass(frozen=True)
class Bucket:
    """One bucket's key and shape: `burst` frames at once, then one per `interval_ms`."""

    pk: str
    sk: str
    burst: int
    interval_ms: int

    @classmethod
    def per_connection(cls, connection_id: str, kind: str, burst: int, per_second: float) -> Bucket:
        return cls(keys.conn_pk(connection_id), keys.rate_sk(kind), burst, _interval(per_second))

    @classmethod
    def per_user(cls, user_id: str, kind: str, burst: int, per_second: float) -> Bucket:
        return cls(keys.user_pk(user_id), keys.rate_sk(kind), burst, _interval(per_second))


def _interval(per_second: float) -> int:
    return max(1, round(1000 / per_second))


def take(client: Any, table: str, bucket: Bucket, now_ms: int, ttl: int) -> int | None:
    """Spend one token: None when allowed, else the milliseconds until one is due."""
    item_key = key(bucket.pk, bucket.sk)
    try:
        client.update_item(
            TableName=table,
            Key=item_key,
            UpdateExpression="SET tat = :next, #ttl = :ttl",
            ConditionExpression="attribute_not_exists(tat) OR tat < :now",
            ExpressionAttributeNames={"#ttl": "ttl"},
            ExpressionAttributeValues=values(next=now_ms + bucket.interval_ms, now=now_ms, ttl=ttl),
        )
        return None
    except ClientError as exc:
        if not is_conditional_failure(exc):
            raise
    allowance = (bucket.burst - 1) * bucket.interval_ms
    try:
        client.update_item(
            TableName=table,
            Key=item_key,
            UpdateExpression="SET tat = tat + :i, #ttl = :ttl",
            ConditionExpression="tat <= :limit",
            ExpressionAttributeNames={"#ttl": "ttl"},
            ExpressionAttributeValues=values(i=bucket.interval_ms, limit=now_ms + allowance, ttl=ttl),
            ReturnValuesOnConditionCheckFailure="ALL_OLD",
        )
        return None
    except ClientError as exc:
        if not is_conditional_failure(exc):
            raise
        old = exc.response.get("Item")
        tat = int(from_item(old).get("tat", now_ms)) if old else now_ms + allowance + bucket.interval_ms
        return max(1, tat - allowance - now_ms)
