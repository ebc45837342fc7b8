"""Range jobs on the fan-out queue, and the admin broadcast payloads (docs/scaling-and-cost.md)."""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal

from pydantic import Field, StringConstraints, field_validator, model_validator

from roomcast.dal.keys import CONNECTION_INDEX_SHARDS
from roomcast.models.common import (
    OutModel,
    RoomId,
    StorableShape,
    StrictModel,
    UserId,
    storable_problem,
)

SortKey = Annotated[str, StringConstraints(min_length=1, max_length=1024)]
MAX_BROADCAST_USERS = 1000
USERS_PER_JOB = 100


class FanoutJob(StrictModel):
    """One range of one fan-out. Small on purpose: the frame (up to 128 KB) is not carried,
    only where it is stored (the message, or the broadcast record), so ten jobs always
    fit one SendMessageBatch (1 MiB in all; docs/scaling-and-cost.md)."""

    kind: Literal["message", "broadcast"]
    # The message id or broadcast id: the frame's source and where job markers live.
    fanout_id: Annotated[str, StringConstraints(min_length=1, max_length=64)]
    job_id: Annotated[str, StringConstraints(min_length=1, max_length=128)]
    # Exactly one source: a room's members, a connection-index shard, or some users.
    room_id: RoomId | None = None
    shard: int | None = Field(default=None, ge=0, lt=CONNECTION_INDEX_SHARDS)
    user_ids: list[UserId] | None = Field(default=None, min_length=1, max_length=USERS_PER_JOB)
    # The range of the source's sort keys: after (exclusive; None = from the first) ...
    after: SortKey | None = None
    # ... through (inclusive; None = to the end of the key space, so later joiners fall in it).
    through: SortKey | None = None
    # Read the first range, then cut what lies beyond it into further jobs.
    plan: bool = False
    exclude: str | None = Field(default=None, max_length=128)

    @model_validator(mode="after")
    def _one_source(self) -> FanoutJob:
        if self.user_ids is not None:
            if self.shard is not None:
                raise ValueError("a users job has no shard")
        elif (self.room_id is None) == (self.shard is None):
            raise ValueError("a job reads exactly one of room_id, shard, user_ids")
        return self


class BroadcastRequest(StrictModel):
    """POST /broadcasts: a `notification` frame to every live connection, or to a room's
    members, or to some users' connections (both filters: those users in that room)."""

    type: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_.:-]{1,64}$")]
    data: Annotated[Any, StorableShape("any")] = None
    room_id: RoomId | None = None
    user_ids: list[UserId] | None = Field(default=None, min_length=1, max_length=MAX_BROADCAST_USERS)

    @field_validator("data")
    @classmethod
    def _data_is_json(cls, value: Any) -> Any:
        if problem := storable_problem(value, max_depth=32):
            raise ValueError(f"data {problem}")
        try:
            json.dumps(value, allow_nan=False)
        except ValueError as exc:
            raise ValueError("data must be JSON (no NaN or Infinity)") from exc
        return value


BroadcastState = Literal["running", "completed"]


class BroadcastCounts(OutModel):
    targeted: int = 0
    delivered: int = 0
    failed: int = 0
    gone: int = 0


class BroadcastView(OutModel):
    broadcast_id: str
    state: BroadcastState
    type: str
    room_id: str | None = None
    user_ids: list[str] | None = None
    created_at: str
    completed_at: str | None = None
    counts: BroadcastCounts
    # Range jobs finished / known so far (planning jobs add the ranges they cut).
    jobs_done: int
    jobs_total: int
    # First jobs SQS would not take (never run, never counted); absent when none.
    jobs_unqueued: int | None = None
