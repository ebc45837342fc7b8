"""Time-ordered ids: sort by creation as plain strings (the history cursor relies on it)."""

from __future__ import annotations

import re

from roomcast.ids import ID_PATTERN, id_time_ms, is_id, iso, new_id, now_ms


def test_shape_and_time_prefix():
    identifier = new_id(1_795_320_000_123)
    assert ID_PATTERN.match(identifier) and len(identifier) == 25
    assert identifier.startswith(f"{1_795_320_000_123:013x}")
    assert id_time_ms(identifier) == 1_795_320_000_123


def test_later_milliseconds_sort_later():
    stamps = [0, 1, 999, 1_000, 1_795_320_000_000, 1_795_320_000_001, 2**52 - 1]
    ids = [new_id(ms) for ms in stamps]
    assert ids == sorted(ids)
    assert [id_time_ms(i) for i in ids] == stamps


def test_ids_made_in_one_process_are_strictly_increasing():
    # Messages sent within one millisecond must still page in send order.
    ids = [new_id() for _ in range(5_000)]
    assert ids == sorted(ids)
    assert len(set(ids)) == len(ids)


def test_same_millisecond_explicit_ids_keep_call_order():
    ms = now_ms()
    ids = [new_id(ms) for _ in range(500)]
    assert ids == sorted(ids) and len(set(ids)) == 500
    assert all(id_time_ms(i) == ms for i in ids)


def test_is_id():
    assert is_id(new_id())
    for bad in ["", "x" * 25, new_id()[:-1], new_id() + "0", new_id().upper(), "MSG#" + new_id()[4:], " " + new_id()[1:]]:
        assert not is_id(bad), bad


def test_iso_is_rfc3339_utc_with_millis():
    assert iso(0) == "1970-01-01T00:00:00.000Z"
    assert iso(1_795_320_000_123) == "2026-11-22T04:00:00.123Z"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", iso(now_ms()))
