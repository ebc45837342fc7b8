"""The per-connection signal rate limit (GCRA token bucket) against moto, with a fixed clock.

Concurrency is not tested here: the guarantee rests on DynamoDB serialising conditional
writes to one item, and moto's in-process backend does not lock items across threads
(a threaded version of these tests overspends by one token under moto, not under DynamoDB).
"""

from __future__ import annotations

from roomcast.dal.calls import CallStore
from roomcast.settings import get_settings

T0 = 1_795_320_000_000
INTERVAL = 50  # 20 frames/s
BURST = 50


def take(calls: CallStore, now: int, connection: str = "c1") -> bool:
    return calls.take_signal_token(connection, now, INTERVAL, BURST, ttl=now // 1000 + 60)


def test_burst_then_refill(stack):
    calls = CallStore(get_settings().table_name)
    assert all(take(calls, T0) for _ in range(BURST))
    assert not take(calls, T0)
    assert not take(calls, T0 + INTERVAL - 1)
    assert take(calls, T0 + INTERVAL)  # one token back after one interval
    assert not take(calls, T0 + INTERVAL)
    # Idle for a long time: the bucket is full again, and never fuller than the burst.
    later = T0 + 3_600_000
    assert all(take(calls, later) for _ in range(BURST))
    assert not take(calls, later)


def test_steady_rate_is_allowed_forever(stack):
    calls = CallStore(get_settings().table_name)
    assert all(take(calls, T0 + i * INTERVAL) for i in range(300))


def test_buckets_are_per_connection(stack):
    calls = CallStore(get_settings().table_name)
    assert all(take(calls, T0, "c1") for _ in range(BURST))
    assert not take(calls, T0, "c1")
    assert take(calls, T0, "c2")
