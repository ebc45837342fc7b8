"""The retry schedule, expressed as receives of one SQS message (docs/webhooks.md, Retries).

Retries are the queue's: after a failed attempt the message's visibility is set and SQS
hands it back when that time is up; the redrive policy's maxReceiveCount ends the plan.
SQS allows a message at most 12 hours of visibility counted from its *receive*, so a
receive never asks for more than MAX_PLANNED_WAIT (12 hours less RECEIVE_MARGIN, room
for the time the receive has already been in flight), and a longer step is spread over
several receives: the message comes back, nothing is sent (a hold), and it is hidden
again for its share of what is left.

How many receives a step takes depends on the step alone (jitter is bounded by
MAX_JITTER), so the plan - and the queue's maxReceiveCount, len(receive_plan(schedule)) -
is a function of the schedule.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Literal

MAX_VISIBILITY = 43200  # SQS: 12 hours of visibility, counted from the receive
# A Lambda runs at most 900 s, and the poller's receive comes a little before the
# invocation: a receive's planned wait leaves this much of the 12 hours unused.
RECEIVE_MARGIN = 1200
MAX_PLANNED_WAIT = MAX_VISIBILITY - RECEIVE_MARGIN
# Asked on top of the time already in flight, kept free when a wait is cut to fit.
VISIBILITY_SAFETY = 60
# The largest jitter the settings allow (WEBHOOK_JITTER le=0.5): a step's receives are
# counted for its longest jittered length, so jitter never changes the plan.
MAX_JITTER = 0.5
# A Retry-After is honoured up to this long (the jobs queue keeps a message 7 days).
MAX_RETRY_AFTER = 4 * 86400


@dataclass(frozen=True)
class Slot:
    """What one receive of a job does."""

    kind: Literal["attempt", "hold"]
    attempt: int  # the attempt this receive makes (attempt) or waits for (hold)
    step: int | None  # seconds the schedule waits before the next attempt; None: the last
    share: int  # receives (this one included) that share what is left of that wait


def parse_schedule(value: str) -> list[int]:
    steps = [int(part) for part in value.replace(" ", "").split(",") if part]
    if any(step < 0 for step in steps):
        raise ValueError("schedule steps are seconds >= 0")
    return steps


def receives_for(step: int) -> int:
    """Receives that a wait of `step` seconds (jittered up to MAX_JITTER) is spread over."""
    return max(1, math.ceil(step * (1 + MAX_JITTER) / MAX_PLANNED_WAIT))


def receive_plan(schedule: list[int]) -> list[Slot]:
    """One Slot per receive: attempt 1, its step's holds, attempt 2, ..., the last attempt."""
    plan: list[Slot] = []
    for index, step in enumerate(schedule):
        receives = receives_for(step)
        plan.append(Slot("attempt", index + 1, step, receives))
        plan.extend(Slot("hold", index + 2, step, receives - j) for j in range(1, receives))
    plan.append(Slot("attempt", len(schedule) + 1, None, 1))
    return plan


def max_receive_count(schedule: list[int]) -> int:
    return len(receive_plan(schedule))


def slot_for(receive_count: int, schedule: list[int]) -> Slot | None:
    """The slot of the Nth receive (ApproximateReceiveCount); None past the plan."""
    plan = receive_plan(schedule)
    index = max(1, receive_count) - 1
    return plan[index] if index < len(plan) else None


def jittered(seconds: float, jitter: float, rng: random.Random | None = None) -> float:
    """seconds +/- jitter (a fraction), so failed jobs of one outage do not return in lockstep."""
    if seconds <= 0:
        return 0.0
    jitter = min(jitter, MAX_JITTER)
    return seconds * (1 + (rng or random).uniform(-jitter, jitter))


def share_of(remaining: float, share: int) -> int:
    """This receive's visibility: an equal share of what is left, never over the plan's cap."""
    if remaining <= 0:
        return 0
    return min(MAX_PLANNED_WAIT, math.ceil(remaining / max(1, share)))


def accepted_visibility(wanted: int, in_flight: float) -> int:
    """`wanted`, cut so that it fits in the 12 hours SQS counts from the receive."""
    room = MAX_VISIBILITY - math.ceil(max(0.0, in_flight)) - VISIBILITY_SAFETY
    return max(0, min(wanted, room))


def parse_retry_after(value: str | None, now: float) -> int | None:
    """Retry-After as seconds from now: delta-seconds or an HTTP date; None when unusable."""
    if not value:
        return None
    text = value.strip()
    if text.isdigit():
        return min(MAX_RETRY_AFTER, int(text))
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None or when.tzinfo is None:
        return None
    return max(0, min(MAX_RETRY_AFTER, math.ceil(when.timestamp() - now)))


@dataclass(frozen=True)
class TimelineRow:
    attempt: int
    at: float  # seconds after the close (nominal: no jitter, no time spent sending)
    wait: int | None  # the step after this attempt; None for the last
    receives: int  # receives the wait is spread over (1 = no hold)


def timeline(schedule: list[int]) -> list[TimelineRow]:
    rows: list[TimelineRow] = []
    at = 0.0
    for index, step in enumerate(schedule):
        rows.append(TimelineRow(index + 1, at, step, receives_for(step)))
        at += step
    rows.append(TimelineRow(len(schedule) + 1, at, None, 1))
    return rows


def human(seconds: float) -> str:
    """1 d 20 h 36 min style; seconds shown only under a minute's resolution."""
    total = round(seconds)
    if total == 0:
        return "0 s"
    days, rest = divmod(total, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    parts = [f"{days} d" if days else "", f"{hours} h" if hours else "",
             f"{minutes} min" if minutes else "", f"{secs} s" if secs else ""]
    return " ".join(p for p in parts if p)


def timeline_table(schedule: list[int], jitter: float) -> str:
    """The Markdown table docs/webhooks.md shows (`make cli ARGS=schedule` prints it).

    "after the close" is the nominal time; the jitter column is the range the jitter can
    move it to (each step +/- jitter; the time spent sending adds to both).
    """
    percent = f"{jitter * 100:g} %"
    lines = [
        f"| attempt | after the close | with jitter (±{percent}) | wait before the next | receives of that wait |",
        "|---:|---|---|---:|---:|",
    ]
    low = high = 0.0
    for row in timeline(schedule):
        wait = human(row.wait) if row.wait is not None else "— then the DLQ"
        receives = str(row.receives) if row.wait is not None else "—"
        spread = "—" if row.at == 0 else f"{human(low)} to {human(high)}"
        lines.append(f"| {row.attempt} | {human(row.at)} | {spread} | {wait} | {receives} |")
        if row.wait is not None:
            low += row.wait * (1 - jitter)
            high += row.wait * (1 + jitter)
    plan = receive_plan(schedule)
    lines.append("")
    lines.append(
        f"{len(schedule) + 1} attempts over {human(sum(schedule))}; {len(plan)} receives per job "
        f"(maxReceiveCount {len(plan)}), {len(plan) - len(schedule) - 1} of them holds."
    )
    return "\n".join(lines)
