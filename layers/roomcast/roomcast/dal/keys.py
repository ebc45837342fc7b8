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
    ROOM#<room>     STREAM#<message id>        a streamed message being written: its text
                                               so far, held chunks, seq, version (TTL)
    USER#<user>     INBOX#<notification id>    a stored notification (read flag; TTL)
    USER#<user>     INBOXCOUNT                 the user's unread count (changes in the
                                               transaction of each inbox write)
    ENDPOINTS       EP#<endpoint>              an event endpoint (url, filters, secret id, state)
    EP#<endpoint>   EVT#<event id>             an event queued for the endpoint: its dedupe marker (TTL)
    EP#<endpoint>   EBATCH#<batch id>          a batch of events to deliver (+ #ATTEMPT#<n>)
    EP#<endpoint>   SLOT#<n>                   one of the endpoint's concurrency leases

Membership and moderation (issue 14; docs/operations.md, "Membership and moderation"):

    pk              sk                         what
    ROOM#<room>     ROSTER#<user>              a listed user: user_id, role (member|moderator|admin),
                                               added_at, added_by. Who may join a room whose META
                                               has access = "members"; in any room, the role
                                               moderator/admin lets the user moderate it.
    ROOM#<room>     BAN#<user>                 a ban: user_id, by, at, until (epoch ms, optional),
                                               reason. A join of a banned user is refused while
                                               `until` is absent or later than now (TTL after it).
    ROOM#<room>     MUTE#<user>                a mute: the same attributes; sends and typing refused.
    ROOM#<room>     MODLOG#<time-ordered id>   one moderation act: act, by, target_user, at, until,
                                               message_id, reason. Written in the same transaction
                                               as the act's own write; act is one of kicked,
                                               banned, unbanned, muted, unmuted, message_deleted,
                                               member_added, member_removed, role_changed.
    ROOM#<room>     MSG#<message id>           a deleted message is updated in place to a tombstone:
                                               text "" , meta removed, deleted = true, deleted_by,
                                               deleted_at (epoch ms); every other attribute stays.
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


def roster_sk(user_id: str) -> str:
    return f"ROSTER#{user_id}"


def ban_sk(user_id: str) -> str:
    return f"BAN#{user_id}"


def mute_sk(user_id: str) -> str:
    return f"MUTE#{user_id}"


def modlog_sk(entry_id: str) -> str:
    return f"MODLOG#{entry_id}"


ROSTER_PREFIX = "ROSTER#"
MODLOG_PREFIX = "MODLOG#"
PRESENCE_PREFIX = "PRESENCE#"
MESSAGE_PREFIX = "MSG#"


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


def stream_sk(message_id: str) -> str:
    return f"STREAM#{message_id}"


def inbox_sk(notification_id: str) -> str:
    return f"INBOX#{notification_id}"


INBOX_PREFIX = "INBOX#"
# The user's unread counter (under user_pk); read with a join's room read.
INBOX_COUNT = "INBOXCOUNT"

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
