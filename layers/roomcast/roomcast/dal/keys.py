"""The single table's key design, in one place (docs/operations.md lists the access patterns).

    pk              sk                         what                          gsi1pk / gsi1sk
    ROOM#<room>     META                       room meta + stats             ROOMS / <created id>
    ROOM#<room>     MEMBER#<connection>        membership by connection
    ROOM#<room>     MSG#<message id>           chat message (time-ordered)
    ROOM#<room>     CMSG#<user>#<client id>    idempotency marker for send
    ROOM#<room>     SESSION#<session id>       session (join, leave, duration)
    ROOM#<room>     CALL#<call id>             call record
    ROOM#<room>     DELIVERY#<delivery id>     webhook delivery (+ #ATTEMPT#<n>)
    CONN#<conn>     META                       connection meta (TTL)          USER#<user> / CONN#<conn>
    CONN#<conn>     ROOM#<room>                rooms a connection is in (TTL)
"""

from __future__ import annotations

META = "META"


def room_pk(room_id: str) -> str:
    return f"ROOM#{room_id}"


def member_sk(connection_id: str) -> str:
    return f"MEMBER#{connection_id}"


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


ROOMS_GSI_PK = "ROOMS"
GSI_NAME = "gsi1"
