"""Retry schedule as SQS visibility: the receive plan, jitter bounds, Retry-After."""

from __future__ import annotations

import random
from email.utils import formatdate

import pytest

from roomcast.webhooks import schedule
from roomcast.webhooks.schedule import MAX_VISIBILITY, Slot

PRODUCTION = schedule.parse_schedule("60,300,1800,7200,21600,43200,86400,172800")


def test_short_schedule_is_one_receive_per_attempt():
    plan = schedule.receive_plan([10, 20])
    assert plan == [Slot("attempt", 10, 1), Slot("attempt", 20, 2), Slot("attempt", 0, 3)]
    assert schedule.max_receive_count([10, 20]) == 3  # steps + 1


def test_steps_over_twelve_hours_are_held_in_slots():
    plan = schedule.receive_plan(PRODUCTION)
    assert all(slot.wait <= MAX_VISIBILITY for slot in plan)
    assert [s.kind for s in plan].count("attempt") == len(PRODUCTION) + 1
    assert [s.kind for s in plan].count("hold") == 1 + 3  # 86400 -> 2 slots, 172800 -> 4
    assert schedule.max_receive_count(PRODUCTION) == 13  # the template's default
    # The waits between consecutive attempts add up to each step exactly.
    waits, current = [], 0
    for index, slot in enumerate(plan[:-1]):
        current += slot.wait
        if plan[index + 1].kind == "attempt":
            waits.append(current)
            current = 0
    assert waits == PRODUCTION


def test_template_default_matches_the_plan():
    from pathlib import Path

    from roomcast_local.cfn import load_template

    params = load_template(Path(__file__).resolve().parents[2] / "template.yaml")["Parameters"]
    steps = schedule.parse_schedule(params["WebhookSchedule"]["Default"])
    assert int(params["WebhookMaxReceiveCount"]["Default"]) == schedule.max_receive_count(steps)


def test_slot_for_receive_counts():
    assert schedule.slot_for(1, [10, 20]) == Slot("attempt", 10, 1)
    assert schedule.slot_for(3, [10, 20]).attempt == 3
    assert schedule.slot_for(9, [10, 20]) == Slot("attempt", 0, 3)  # past the plan: last attempt
    assert schedule.is_last(3, [10, 20]) and not schedule.is_last(2, [10, 20])
    assert schedule.slot_for(8, PRODUCTION).kind == "hold"


def test_jitter_stays_within_bounds_and_varies():
    rng = random.Random(7)
    values = [schedule.jittered(1000, 0.1, rng) for _ in range(500)]
    assert min(values) >= 900 and max(values) <= 1100
    assert len(set(values)) > 50
    assert schedule.jittered(43200, 0.5, rng) <= MAX_VISIBILITY
    assert schedule.jittered(0, 0.1, rng) == 0
    assert schedule.jittered(10, 0, rng) == 10


@pytest.mark.parametrize("value, expected", [("120", 120), (" 5 ", 5), ("999999", MAX_VISIBILITY), ("", None), (None, None), ("soon", None), ("-3", None)])
def test_retry_after_seconds(value, expected):
    assert schedule.parse_retry_after(value, now=1_000_000.0) == expected


def test_retry_after_http_date():
    now = 1_795_320_000.0
    assert schedule.parse_retry_after(formatdate(now + 300, usegmt=True), now) == 300
    assert schedule.parse_retry_after(formatdate(now - 300, usegmt=True), now) == 0


def test_parse_schedule():
    assert schedule.parse_schedule("1, 2,3") == [1, 2, 3]
    with pytest.raises(ValueError):
        schedule.parse_schedule("1,-2")
