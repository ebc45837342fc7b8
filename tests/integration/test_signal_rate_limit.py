"""The table's token buckets (dal/rate.py, GCRA) against moto with a fixed clock: burst,
refill, steady rate, separate buckets, and the retry hint of a refusal.

Concurrency is not tested here: the guarantee rests on DynamoDB serialising conditional
writes to one item, and moto's in-process backend does not lock items across threads
(a threaded version of these tests overspends by one token under moto, not under DynamoDB).
"""

from __future__ import annotations

from roomcast.dal import rate
from roomcast.dal.dynamo import dynamodb_client
from roomcast.dal.rate import Bucket
from roomcast.settings import get_settings

T0 = 1_795_320_000_000
PER_SECOND = 20.0  # one token each 50 ms
INTERVAL = 50
BURST = 50


def take(now: int, connection: str = "c1", kind: str = "signal") -> int | None:
    bucket = Bucket.per_connection(connection, kind, BURST, PER_SECOND)
    return rate.take(dynamodb_client(), get_settings().table_name, bucket, now, ttl=now // 1000 + 60)


def test_burst_then_refill_with_the_wait_until_the_next_token(stack):
    assert all(take(T0) is None for _ in range(BURST))
    assert take(T0) == INTERVAL  # refused: the next token is one interval away
    assert take(T0 + INTERVAL - 1) == 1
    assert take(T0 + INTERVAL) is None  # one token back after one interval
    assert take(T0 + INTERVAL) == INTERVAL
    # Idle for a long time: the bucket is full again, and never fuller than the burst.
    later = T0 + 3_600_000
    assert all(take(later) is None for _ in range(BURST))
    assert take(later) is not None


def test_steady_rate_is_allowed_forever(stack):
    assert all(take(T0 + i * INTERVAL) is None for i in range(300))


def test_buckets_are_per_connection_and_per_kind(stack):
    assert all(take(T0, "c1") is None for _ in range(BURST))
    assert take(T0, "c1") is not None
    assert take(T0, "c2") is None
    assert take(T0, "c1", "typing") is None


def test_a_users_bucket_spans_its_connections(stack):
    table, client = get_settings().table_name, dynamodb_client()
    user = Bucket.per_user("alice", "send", 3, 1.0)
    assert [rate.take(client, table, user, T0, ttl=1) for _ in range(4)][-1] == 1000
