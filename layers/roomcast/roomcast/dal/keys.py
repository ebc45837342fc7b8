"""The single table's key design, in one place (docs/operations.md lists the access patterns).

    pk              sk                         what                          gsi1pk / gsi1sk
    ROOM#<room>     META                       room meta + stats             ROOMS / <created id>
    ROOM#<room>     MEMBER#<connection>        membership by connection (expires_at, TTL)
    ROOM#<room>     PRESENCE#<user>            a user's connection count in the room (TTL)
    ROOM#<room>     MSG#<message id>           chat message (time-ordered)
    ROOM#<room>     CMSG#<user>#<client id>    idempotency marker for send
    ROOM#<room>     SESSION#<session id>       session (join, leave, duration)
    ROOM#<room>     CALL#<call id>             call record
    ROOM#<room>     DELIVERY#<delivery id>     webhook delivery (+ #ATTEMPT#<n>)
    CONN#<conn>     META                       connection meta (TTL)          USER#<user> / CONN#<conn>
    CONN#<conn>     ROOM#<room>                rooms a connection is in (TTL)
    CONN#<conn>     ROOMCOUNT                  how many rooms it is in (the cap; TTL)
    CONN#<conn>     RATE#<send|typing|signal>  the connection's token bucket (TTL)
    USER#<user>     RATE#<send|typing>         the user's bucket across connections (TTL)
    USER#<user>     CALL                       the user's call lock (one call at a time)
    CONNS#<shard>   CONN#<conn>                connection index, 16 shards (TTL)
    BROADCAST#<id>  META                       broadcast: frame, state, counts (TTL)
    FANOUT#<id>     JOB#<job id>               a finished range job (TTL)
    ENDPOINTS       EP#<endpoint>              an event endpoint (url, filters, secret id, state)
    EP#<endpoint>   EVT#<event id>             an event queued for the endpoint: its dedupe marker (TTL)
    EP#<endpoint>   EBATCH#<batch id>          a batch of events to deliver (+ #ATTEMPT#<n>)
    EP#<endpoint>   SLOT#<n>                   one of the endpoint's concurrency leases
"""

from __future__ import annotations

import zlib

META = "META"


def room_pk(room_id: str) -> str:
    return f"ROOM#{room_id}"


def member_sk(connection_id: str) -> str:
    return f"MEMBER#{connection_id}"


def presence_sk(user_id: str) -> str:
    return f"PRESENCE#{user_id}"


ROOM_COUNT = "ROOMCOUNT"


def message_sk(message_id: str) -> str:
    return f"MSG#{message_id}"


def client_msg_sk(user_id: str, client_msg_id: str) -> str:
    return f"CMSG#{user_id}#{client_msg_id}"


def session_sk(session_id: str) -> str:
    return f"SESSION#{session_id}"


def call_sk(call_id: str) -> str:
    return f"CALL#{call_id}"


def delivery_sk(delivery_id: str) -> str:
    return f"DELIVERY#{delivery_id}"


def conn_pk(connection_id: str) -> str:
    return f"CONN#{connection_id}"


def conn_room_sk(room_id: str) -> str:
    return f"ROOM#{room_id}"


def user_gsi_pk(user_id: str) -> str:
    return f"USER#{user_id}"


def user_pk(user_id: str) -> str:
    """A user's own partition (its rate buckets across connections); the same text as the
    index key user_gsi_pk, in the table's key space instead of the index's."""
    return f"USER#{user_id}"


# The sort key of a user's call lock (under user_pk): one call at a time (dal/calls.py).
CALL_LOCK = "CALL"


def rate_sk(kind: str) -> str:
    return f"RATE#{kind}"


# The connection index (docs/scaling-and-cost.md, "Broadcast to every connection"): 16
# shards keep a connect storm at API Gateway's default 500 new connections/s under
# DynamoDB's 1,000 writes/s per partition with 8x headroom, and give a broadcast 16
# parallel first jobs. Changing it strands index items in dropped shards until their TTL.
CONNECTION_INDEX_SHARDS = 16
MEMBER_PREFIX = "MEMBER#"
INDEX_PREFIX = "CONN#"


def index_shard(connection_id: str) -> int:
    """A stable shard (not Python's per-process salted hash()): connect and disconnect agree."""
    return zlib.crc32(connection_id.encode()) % CONNECTION_INDEX_SHARDS


def index_pk(shard: int) -> str:
    return f"CONNS#{shard}"


def index_sk(connection_id: str) -> str:
    return f"{INDEX_PREFIX}{connection_id}"


def broadcast_pk(broadcast_id: str) -> str:
    return f"BROADCAST#{broadcast_id}"


def fanout_pk(fanout_id: str) -> str:
    return f"FANOUT#{fanout_id}"


def fanout_job_sk(job_id: str) -> str:
    return f"JOB#{job_id}"


def prefix_end(prefix: str) -> str:
    """The smallest key above every key starting with `prefix` (its last character + 1)."""
    return prefix[:-1] + chr(ord(prefix[-1]) + 1)


ROOMS_GSI_PK = "ROOMS"
GSI_NAME = "gsi1"


# ---- events and endpoints (dal/endpoints.py, dal/event_deliveries.py)
ENDPOINTS_PK = "ENDPOINTS"


def endpoint_sk(endpoint_id: str) -> str:
    return f"EP#{endpoint_id}"


def endpoint_pk(endpoint_id: str) -> str:
    return f"EP#{endpoint_id}"


def event_marker_sk(event_id: str) -> str:
    return f"EVT#{event_id}"


BATCH_PREFIX = "EBATCH#"


def batch_sk(batch_id: str) -> str:
    return f"{BATCH_PREFIX}{batch_id}"


def slot_sk(slot: int) -> str:
    return f"SLOT#{slot:02d}"
