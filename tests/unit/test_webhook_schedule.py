"""Retry schedule as SQS receives: the receive plan, jitter bounds, Retry-After, the timeline."""

from __future__ import annotations

import math
import random
from email.utils import formatdate

import pytest

from roomcast.webhooks import schedule
from roomcast.webhooks.schedule import MAX_PLANNED_WAIT, MAX_VISIBILITY, Slot

PRODUCTION = schedule.parse_schedule("60,300,1800,7200,21600,43200,86400,172800")


def test_short_schedule_is_one_receive_per_attempt():
    plan = schedule.receive_plan([10, 20])
    assert plan == [Slot("attempt", 1, 10, 1), Slot("attempt", 2, 20, 1), Slot("attempt", 3, None, 1)]
    assert schedule.max_receive_count([10, 20]) == 3  # steps + 1
    assert schedule.max_receive_count([3, 6]) == 3


def test_long_steps_are_spread_over_receives_that_sqs_accepts():
    plan = schedule.receive_plan(PRODUCTION)
    assert [s.kind for s in plan].count("attempt") == len(PRODUCTION) + 1
    # 21600 -> 1 receive, 43200 -> 2, 86400 -> 4, 172800 -> 7 (each sized for +50 % jitter)
    assert [schedule.receives_for(step) for step in PRODUCTION] == [1, 1, 1, 1, 1, 2, 4, 7]
    assert schedule.max_receive_count(PRODUCTION) == 19
    # Whatever the jitter (the settings allow up to 50 %), each receive's share of a step
    # stays under the planned cap, which leaves the in-flight margin of the 12 hours free.
    for step in PRODUCTION:
        longest = step * (1 + schedule.MAX_JITTER)
        assert schedule.share_of(longest, schedule.receives_for(step)) <= MAX_PLANNED_WAIT < MAX_VISIBILITY
    # Shares of a step add up to the step (the first receive waits ceil(step / n), the
    # holds their share of what is left).
    for step in PRODUCTION:
        left, receives = float(step), schedule.receives_for(step)
        for share in range(receives, 0, -1):
            left -= schedule.share_of(left, share)
        assert -receives <= left <= 0


def test_template_default_matches_the_plan():
    from pathlib import Path

    from roomcast_local.cfn import load_template

    params = load_template(Path(__file__).resolve().parents[2] / "template.yaml")["Parameters"]
    steps = schedule.parse_schedule(params["WebhookSchedule"]["Default"])
    assert int(params["WebhookMaxReceiveCount"]["Default"]) == schedule.max_receive_count(steps)
    from roomcast.settings import Settings

    assert Settings().webhook_schedule == params["WebhookSchedule"]["Default"]


def test_slot_for_receive_counts():
    assert schedule.slot_for(1, [10, 20]) == Slot("attempt", 1, 10, 1)
    assert schedule.slot_for(3, [10, 20]) == Slot("attempt", 3, None, 1)
    assert schedule.slot_for(4, [10, 20]) is None  # past the plan: no extra attempt
    assert schedule.slot_for(7, PRODUCTION) == Slot("hold", 7, 43200, 1)
    assert schedule.slot_for(8, PRODUCTION) == Slot("attempt", 7, 86400, 4)


def test_accepted_visibility_leaves_what_the_receive_has_used():
    assert schedule.accepted_visibility(42000, in_flight=0) == 42000
    assert schedule.accepted_visibility(43200, in_flight=0) == 43200 - schedule.VISIBILITY_SAFETY
    assert schedule.accepted_visibility(43200, in_flight=3600.2) == 43200 - 3601 - schedule.VISIBILITY_SAFETY
    assert schedule.accepted_visibility(500, in_flight=50000) == 0


def test_jitter_stays_within_bounds_and_varies():
    rng = random.Random(7)
    values = [schedule.jittered(1000, 0.1, rng) for _ in range(500)]
    assert min(values) >= 900 and max(values) <= 1100
    assert len({round(v) for v in values}) > 50
    assert schedule.jittered(0, 0.1, rng) == 0
    assert schedule.jittered(10, 0, rng) == 10


@pytest.mark.parametrize(
    "value, expected",
    [("120", 120), (" 5 ", 5), ("999999", schedule.MAX_RETRY_AFTER), ("", None), (None, None), ("soon", None), ("-3", None)],
)
def test_retry_after_seconds(value, expected):
    assert schedule.parse_retry_after(value, now=1_000_000.0) == expected


def test_retry_after_http_date_beyond_twelve_hours():
    now = 1_795_320_000.0
    assert schedule.parse_retry_after(formatdate(now + 300, usegmt=True), now) == 300
    assert schedule.parse_retry_after(formatdate(now + 30 * 3600, usegmt=True), now) == 30 * 3600
    assert schedule.parse_retry_after(formatdate(now - 300, usegmt=True), now) == 0


def test_parse_schedule():
    assert schedule.parse_schedule("1, 2,3") == [1, 2, 3]
    with pytest.raises(ValueError):
        schedule.parse_schedule("1,-2")


def test_production_timeline_spans_three_days_and_the_doc_shows_it():
    rows = schedule.timeline(PRODUCTION)
    assert rows[-1].at >= 3 * 86400
    assert [r.at for r in rows] == [0, 60, 360, 2160, 9360, 30960, 74160, 160560, 333360]
    from pathlib import Path

    doc = (Path(__file__).resolve().parents[2] / "docs" / "webhooks.md").read_text()
    assert schedule.timeline_table(PRODUCTION, 0.1) in doc


def test_human_durations():
    assert schedule.human(0) == "0 s"
    assert schedule.human(333360) == "3 d 20 h 36 min"
    assert schedule.human(math.floor(86400 * 1.1)) == "1 d 2 h 24 min"
