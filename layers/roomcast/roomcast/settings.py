"""Settings, read once per execution environment from the function's environment variables.

`Settings` holds every tunable with its documented default; each function's model
(below) makes the variables that function cannot work without required. A handler
calls `configure(<its model>)` at import, so a missing or malformed variable fails the
cold start with a message naming the variable, instead of failing the first request
obscurely (docs/architecture.md, "Settings"). Values are never echoed: some are secret ids.
"""

from __future__ import annotations

import os
from functools import lru_cache

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator


class SettingsError(RuntimeError):
    """A function's environment is missing or has a malformed variable."""


class Settings(BaseModel):
    # Resources: empty unless given; the function models below require the ones they use.
    table_name: str = Field(default="", alias="TABLE_NAME")
    jwt_secret_id: str = Field(default="", alias="JWT_SECRET_ID")
    admin_key_secret_id: str = Field(default="", alias="ADMIN_KEY_SECRET_ID")
    jobs_queue_url: str = Field(default="", alias="JOBS_QUEUE_URL")
    # Seconds a secret stays cached in the execution environment (Powertools parameters).
    secret_max_age: int = Field(default=300, alias="SECRET_MAX_AGE", ge=0)
    # Fan-out worker pool; botocore's max_pool_connections is sized to match.
    fanout_workers: int = Field(default=32, alias="FANOUT_WORKERS", ge=1, le=256)
    fanout_retries: int = Field(default=2, alias="FANOUT_RETRIES", ge=0, le=5)
    # Above this many member connections a room's fan-out splits into range jobs of this
    # size on the fan-out queue (docs/scaling-and-cost.md derives 800 for 512 MB).
    fanout_split_threshold: int = Field(default=800, alias="FANOUT_SPLIT_THRESHOLD", ge=1, le=100_000)
    fanout_queue_url: str = Field(default="", alias="FANOUT_QUEUE_URL")
    history_page_size: int = Field(default=50, alias="HISTORY_PAGE_SIZE", ge=1, le=100)
    max_message_chars: int = Field(default=8000, alias="MAX_MESSAGE_CHARS", ge=1, le=30000)
    # API Gateway ends a connection after 2 hours; TTL removes what $disconnect missed.
    connection_ttl_seconds: int = Field(default=3 * 3600, alias="CONNECTION_TTL_SECONDS", ge=60)
    default_token_ttl_seconds: int = Field(default=3600, alias="TOKEN_TTL_SECONDS", ge=60)
    # WebRTC signaling (logic/signaling.py). An invite nobody answers becomes `missed`
    # after this long (a delayed SQS message; SQS caps DelaySeconds at 900).
    call_ring_timeout_seconds: int = Field(default=30, alias="CALL_RING_TIMEOUT_SECONDS", ge=1, le=900)
    call_timer_queue_url: str = Field(default="", alias="CALL_TIMER_QUEUE_URL")
    # Per-connection token bucket for signal frames: generous enough for ICE candidate bursts.
    signal_rate_burst: int = Field(default=50, alias="SIGNAL_RATE_BURST", ge=1, le=10000)
    signal_rate_per_second: float = Field(default=20.0, alias="SIGNAL_RATE_PER_SECOND", gt=0, le=10000)
    max_sdp_bytes: int = Field(default=16 * 1024, alias="MAX_SDP_BYTES", ge=256, le=30 * 1024)
    max_candidate_bytes: int = Field(default=2048, alias="MAX_CANDIDATE_BYTES", ge=128, le=16 * 1024)
    stage: str = Field(default="prod", alias="STAGE")
    # ---- bounds per connection (docs/operations.md, "Limits per connection")
    # Longest connect token POST /tokens mints and the authorizer accepts (exp - iat).
    max_token_ttl_seconds: int = Field(default=24 * 3600, alias="MAX_TOKEN_TTL_SECONDS", ge=60, le=7 * 24 * 3600)
    # Rooms one connection may be in at once (`too_many_rooms` beyond); $disconnect leaves
    # them all within its timeout at this cap.
    max_rooms_per_connection: int = Field(default=100, alias="MAX_ROOMS_PER_CONNECTION", ge=1, le=1000)
    # DynamoDB deletes an expired membership this long after reads stopped counting it, so
    # the lazy repair (which also fixes the room's counters) runs first.
    member_ttl_grace_seconds: int = Field(default=24 * 3600, alias="MEMBER_TTL_GRACE_SECONDS", ge=0)
    # Token buckets on send and typing, per connection and per user across connections.
    send_rate_burst: int = Field(default=20, alias="SEND_RATE_BURST", ge=1, le=10000)
    send_rate_per_second: float = Field(default=5.0, alias="SEND_RATE_PER_SECOND", gt=0, le=10000)
    typing_rate_burst: int = Field(default=10, alias="TYPING_RATE_BURST", ge=1, le=10000)
    typing_rate_per_second: float = Field(default=2.0, alias="TYPING_RATE_PER_SECOND", gt=0, le=10000)
    user_send_rate_burst: int = Field(default=40, alias="USER_SEND_RATE_BURST", ge=1, le=10000)
    user_send_rate_per_second: float = Field(default=10.0, alias="USER_SEND_RATE_PER_SECOND", gt=0, le=10000)
    user_typing_rate_burst: int = Field(default=20, alias="USER_TYPING_RATE_BURST", ge=1, le=10000)
    user_typing_rate_per_second: float = Field(default=4.0, alias="USER_TYPING_RATE_PER_SECOND", gt=0, le=10000)
    # ---- server-side messaging (issue 13; docs/admin-api.md, "Messaging")
    # A streamed message: its chunks, its whole size (the final message must fit a
    # 128 KB frame and a 400 KB item at 4 UTF-8 bytes a character), its chunk rate (a
    # token bucket kept on the stream item itself: no extra write), how far ahead of a
    # gap a chunk may be held, and how long it may stay idle before it ends by itself.
    stream_max_chunk_chars: int = Field(default=4000, alias="STREAM_MAX_CHUNK_CHARS", ge=1, le=30000)
    stream_max_chars: int = Field(default=16000, alias="STREAM_MAX_CHARS", ge=1, le=30000)
    stream_chunk_rate_per_second: float = Field(default=20.0, alias="STREAM_CHUNK_RATE_PER_SECOND", gt=0, le=1000)
    stream_chunk_rate_burst: int = Field(default=40, alias="STREAM_CHUNK_RATE_BURST", ge=1, le=10000)
    stream_max_held_chunks: int = Field(default=64, alias="STREAM_MAX_HELD_CHUNKS", ge=1, le=1000)
    stream_idle_timeout_seconds: int = Field(default=60, alias="STREAM_IDLE_TIMEOUT_SECONDS", ge=1, le=3600)
    # Stored notifications stay in the user's inbox this long unless the request says.
    inbox_ttl_seconds: int = Field(default=30 * 24 * 3600, alias="INBOX_TTL_SECONDS", ge=60)
    # ---- webhooks (docs/webhooks.md)
    default_webhook_url: str = Field(default="", alias="DEFAULT_WEBHOOK_URL")
    default_webhook_secret_id: str = Field(default="", alias="DEFAULT_WEBHOOK_SECRET_ID")
    # Per-room secrets are created under this Secrets Manager name prefix (IAM is scoped to it).
    webhook_secret_prefix: str = Field(default="roomcast/webhook/", alias="WEBHOOK_SECRET_PREFIX")
    # Retry waits in seconds after each failed attempt; the jobs queue's maxReceiveCount
    # must equal the plan's receives (checked at the delivery function's cold start).
    webhook_schedule: str = Field(
        default="60,300,1800,7200,21600,43200,86400,172800", alias="WEBHOOK_SCHEDULE"
    )
    webhook_jitter: float = Field(default=0.1, alias="WEBHOOK_JITTER", ge=0, le=0.5)
    # Only tests and the local runtime turn this on; the template never sets it.
    webhook_allow_loopback: bool = Field(default=False, alias="WEBHOOK_ALLOW_LOOPBACK")
    webhook_max_part_bytes: int = Field(
        default=512 * 1024, alias="WEBHOOK_MAX_PART_BYTES", ge=1024, le=6 * 1024 * 1024
    )
    webhook_page_size: int = Field(default=500, alias="WEBHOOK_PAGE_SIZE", ge=1, le=10000)
    webhook_connect_timeout: float = Field(default=3.0, alias="WEBHOOK_CONNECT_TIMEOUT", gt=0)
    webhook_read_timeout: float = Field(default=15.0, alias="WEBHOOK_READ_TIMEOUT", gt=0)
    # Wall-clock limit of one attempt: connect, headers and the capped body together.
    webhook_attempt_timeout: float = Field(default=20.0, alias="WEBHOOK_ATTEMPT_TIMEOUT", gt=0, le=600)
    # Bytes of the receiver's answer kept in the attempt record (the rest is never read).
    webhook_response_bytes: int = Field(default=1024, alias="WEBHOOK_RESPONSE_BYTES", ge=0, le=65536)
    webhook_workers: int = Field(default=10, alias="WEBHOOK_WORKERS", ge=1, le=64)
    # ---- events and endpoints (docs/webhooks.md, "Events and endpoints")
    events_queue_url: str = Field(default="", alias="EVENTS_QUEUE_URL")
    # Seed 002's msgNotifyEventCountPerPush: events per request at most (a batch and its
    # dedupe markers are one 100-action transaction). The interval (msgNotifyEventPushInterval)
    # is the stream mapping's MaximumBatchingWindowInSeconds (template EventBatchIntervalSeconds).
    event_batch_max_events: int = Field(default=50, alias="EVENT_BATCH_MAX_EVENTS", ge=1, le=99)
    # Bytes of event JSON per request at most (a batch is one item: under DynamoDB's 400 KB).
    event_batch_max_bytes: int = Field(default=256 * 1024, alias="EVENT_BATCH_MAX_BYTES", ge=1024, le=320 * 1024)
    # message.offline lists at most this many offline members.
    event_offline_max_users: int = Field(default=1000, alias="EVENT_OFFLINE_MAX_USERS", ge=1, le=5000)
    # An endpoint failing for this long (no 2xx since its first failure) is disabled.
    event_disable_after_seconds: int = Field(default=5 * 86400, alias="EVENT_ENDPOINT_DISABLE_AFTER_SECONDS", ge=1)
    # An endpoint at its concurrency cap: a batch looks again after about this long.
    event_busy_wait_seconds: int = Field(default=2, alias="EVENT_BUSY_WAIT_SECONDS", ge=0, le=900)

    # The management API of the WebSocket API, for functions that fan out without a
    # WebSocket request context (admin, call timer); gateway.management_endpoint reads it.
    websocket_management_url: str = Field(default="", alias="WEBSOCKET_MANAGEMENT_URL")

    # Plain pydantic models validated against os.environ (load below), not pydantic-settings:
    # every field is a scalar read from one variable, which pydantic's lax mode parses the
    # same way, and importing pydantic-settings (it loads every source it ships: dotenv,
    # argparse, cloud secrets...) cost ~49 ms of CPU on every cold start (bench/README.md).
    # defer_build: a model's validator is built on its first use, so a cold start pays for
    # the one model its handler configures, not for every function's (bench_cold_start.py).
    model_config = ConfigDict(populate_by_name=True, extra="ignore", defer_build=True)


# ---------------------------------------------------------------- one model per function
# A required field (no default) must be present; min_length=1 also refuses an empty value.
# DEFAULT_WEBHOOK_URL must be present but may be empty (no stack-wide endpoint).


class AuthorizerSettings(Settings):
    jwt_secret_id: str = Field(alias="JWT_SECRET_ID", min_length=1)


class AdminAuthorizerSettings(Settings):
    admin_key_secret_id: str = Field(alias="ADMIN_KEY_SECRET_ID", min_length=1)


class ConnectSettings(Settings):
    table_name: str = Field(alias="TABLE_NAME", min_length=1)


class DisconnectSettings(Settings):
    table_name: str = Field(alias="TABLE_NAME", min_length=1)


class ChatSettings(Settings):
    table_name: str = Field(alias="TABLE_NAME", min_length=1)
    # The `close` action sends the room's delivery job.
    jobs_queue_url: str = Field(alias="JOBS_QUEUE_URL", min_length=1)
    default_webhook_url: str = Field(alias="DEFAULT_WEBHOOK_URL")
    # A message to a room above the split threshold queues its range jobs here.
    fanout_queue_url: str = Field(alias="FANOUT_QUEUE_URL", min_length=1)


class SignalSettings(Settings):
    table_name: str = Field(alias="TABLE_NAME", min_length=1)
    call_timer_queue_url: str = Field(alias="CALL_TIMER_QUEUE_URL", min_length=1)


class CallTimerSettings(Settings):
    table_name: str = Field(alias="TABLE_NAME", min_length=1)
    call_timer_queue_url: str = Field(alias="CALL_TIMER_QUEUE_URL", min_length=1)
    websocket_management_url: str = Field(alias="WEBSOCKET_MANAGEMENT_URL", min_length=1)


class AdminSettings(Settings):
    table_name: str = Field(alias="TABLE_NAME", min_length=1)
    jwt_secret_id: str = Field(alias="JWT_SECRET_ID", min_length=1)
    admin_key_secret_id: str = Field(alias="ADMIN_KEY_SECRET_ID", min_length=1)
    jobs_queue_url: str = Field(alias="JOBS_QUEUE_URL", min_length=1)
    # POST /broadcasts queues its first range jobs here.
    fanout_queue_url: str = Field(alias="FANOUT_QUEUE_URL", min_length=1)
    websocket_management_url: str = Field(alias="WEBSOCKET_MANAGEMENT_URL", min_length=1)
    default_webhook_url: str = Field(alias="DEFAULT_WEBHOOK_URL")
    webhook_secret_prefix: str = Field(alias="WEBHOOK_SECRET_PREFIX", min_length=1)
    # A stream's idle timer (the call timer's queue and function also end idle streams).
    call_timer_queue_url: str = Field(alias="CALL_TIMER_QUEUE_URL", min_length=1)
    # POST /endpoints/{id}/test and /recover queue batch jobs here.
    events_queue_url: str = Field(alias="EVENTS_QUEUE_URL", min_length=1)


class FanoutSettings(Settings):
    table_name: str = Field(alias="TABLE_NAME", min_length=1)
    # A planning job (a broadcast's room or shard) queues the ranges it cuts.
    fanout_queue_url: str = Field(alias="FANOUT_QUEUE_URL", min_length=1)
    websocket_management_url: str = Field(alias="WEBSOCKET_MANAGEMENT_URL", min_length=1)


class DeliverySettings(Settings):
    table_name: str = Field(alias="TABLE_NAME", min_length=1)
    default_webhook_url: str = Field(alias="DEFAULT_WEBHOOK_URL")
    default_webhook_secret_id: str = Field(alias="DEFAULT_WEBHOOK_SECRET_ID", min_length=1)
    webhook_schedule: str = Field(alias="WEBHOOK_SCHEDULE", min_length=1)

    @field_validator("webhook_schedule")
    @classmethod
    def _schedule_parses(cls, value: str) -> str:
        from roomcast.webhooks.schedule import parse_schedule

        parse_schedule(value)  # ValueError -> a validation error naming WEBHOOK_SCHEDULE
        return value


class EventsSettings(Settings):
    table_name: str = Field(alias="TABLE_NAME", min_length=1)
    events_queue_url: str = Field(alias="EVENTS_QUEUE_URL", min_length=1)


class EventDeliverySettings(DeliverySettings):
    default_webhook_url: str = Field(default="", alias="DEFAULT_WEBHOOK_URL")
    default_webhook_secret_id: str = Field(default="", alias="DEFAULT_WEBHOOK_SECRET_ID")


# ---------------------------------------------------------------- the process's settings

_model: type[Settings] = Settings


def describe(exc: ValidationError) -> str:
    """Which variables are wrong and why, without their values."""
    problems = []
    for error in exc.errors(include_url=False, include_input=False, include_context=False):
        name = ".".join(str(p) for p in error["loc"]) or "environment"
        problems.append(f"{name} is missing" if error["type"] == "missing" else f"{name}: {error['msg']}")
    return "; ".join(problems)


def load(model: type[Settings]) -> Settings:
    """The model validated against the environment, by variable name (case-sensitive)."""
    try:
        return model.model_validate(dict(os.environ))
    except ValidationError as exc:
        raise SettingsError(f"{model.__name__}: cannot start: {describe(exc)}") from None


def configure(model: type[Settings]) -> Settings:
    """Make `model` this process's settings and validate it now (a handler's cold start)."""
    global _model
    settings = load(model)
    _model = model
    get_settings.cache_clear()
    return settings


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return load(_model)


def reset_settings() -> None:
    """Forget the cached settings and which function configured them (tests change the
    environment between cases, and load several functions into one process)."""
    global _model
    _model = Settings
    get_settings.cache_clear()
