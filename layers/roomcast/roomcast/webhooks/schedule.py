"""The retry schedule, expressed as SQS visibility timeouts.

Retries are the queue's: after a failed attempt the message's visibility is set to the
next step and SQS redelivers it; the redrive policy's maxReceiveCount ends the schedule.
SQS caps a visibility timeout at 12 hours, so a longer step is held in 12-hour slots:
the message comes back, nothing is sent, and its visibility is set again for the rest.
Each hold costs one receive, so maxReceiveCount = len(receive_plan(schedule)) - which
equals len(schedule) + 1 when no step exceeds 12 hours (see docs/webhooks.md).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Literal

MAX_VISIBILITY = 43200  # SQS: 12 hours


@dataclass(frozen=True)
class Slot:
    """What one receive of a job does, and how long the message stays invisible after it."""

    kind: Literal["attempt", "hold"]
    wait: int  # seconds of visibility set when this receive does not finish the job
    attempt: int  # the attempt number this receive makes (attempt) or waits for (hold)


def parse_schedule(value: str) -> list[int]:
    steps = [int(part) for part in value.replace(" ", "").split(",") if part]
    if any(step < 0 for step in steps):
        raise ValueError("schedule steps are seconds >= 0")
    return steps


def receive_plan(schedule: list[int]) -> list[Slot]:
    """One Slot per receive: attempt 1, then per step its 12-hour holds and the next attempt."""
    plan = [Slot("attempt", 0, 1)]
    for index, step in enumerate(schedule):
        chunks = [MAX_VISIBILITY] * (step // MAX_VISIBILITY)
        if step % MAX_VISIBILITY or not chunks:
            chunks.append(step % MAX_VISIBILITY)
        # The previous slot waits the first chunk; each further chunk is a hold.
        plan[-1] = Slot(plan[-1].kind, chunks[0], plan[-1].attempt)
        for chunk in chunks[1:]:
            plan.append(Slot("hold", chunk, index + 2))
        plan.append(Slot("attempt", 0, index + 2))
    return plan


def max_receive_count(schedule: list[int]) -> int:
    return len(receive_plan(schedule))


def slot_for(receive_count: int, schedule: list[int]) -> Slot:
    """The slot of the Nth receive (ApproximateReceiveCount); past the plan: a last attempt."""
    plan = receive_plan(schedule)
    index = max(1, receive_count) - 1
    if index < len(plan):
        return plan[index]
    return Slot("attempt", 0, plan[-1].attempt)


def is_last(receive_count: int, schedule: list[int]) -> bool:
    return receive_count >= len(receive_plan(schedule))


def jittered(seconds: float, jitter: float, rng: random.Random | None = None) -> int:
    """seconds +/- jitter (a fraction), so failed jobs of one outage do not return in lockstep."""
    if seconds <= 0:
        return 0
    factor = 1 + (rng or random).uniform(-jitter, jitter)
    return max(1, min(MAX_VISIBILITY, round(seconds * factor)))


def parse_retry_after(value: str | None, now: float) -> int | None:
    """Retry-After as seconds from now: delta-seconds or an HTTP date; None when unusable."""
    if not value:
        return None
    text = value.strip()
    if text.isdigit():
        return min(MAX_VISIBILITY, int(text))
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None or when.tzinfo is None:
        return None
    return max(0, min(MAX_VISIBILITY, round(when.timestamp() - now)))
