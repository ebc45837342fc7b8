"""RoomStore: every read and write roomcast makes to its single table.

Rules kept here (docs/architecture.md, "Data model"): broadcasts read members with a Query, never a Scan;
stats change with ADD or conditional updates, never read-modify-write; a message is
acknowledged only after its transaction commits; a close is a conditional state change.
"""

from __future__ import annotations

import base64
import json
import random
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import cache
from typing import Any

from botocore.exceptions import ClientError

from roomcast import clock
from roomcast.aws_errors import cancellation_codes as _cancellation_codes
from roomcast.aws_errors import cancellation_item, error_code
from roomcast.aws_errors import is_conditional_failure as _is_conditional_failure
from roomcast.dal import keys
from roomcast.dal.dynamo import dynamodb_client, from_item, key, query_pages, to_item, values
from roomcast.errors import (
    Banned,
    Conflict,
    InvalidCursor,
    MembersOnly,
    Muted,
    NotMember,
    RateLimited,
    RoomClosed,
    RoomNotFound,
    TooManyRooms,
)
from roomcast.ids import iso
from roomcast.models.records import (
    CallRecord,
    Connection,
    MemberRecord,
    MessageRecord,
    ModlogRecord,
    Room,
    RoomStats,
    SessionRecord,
)
from roomcast.settings import get_settings

STAT_FIELDS = (
    "current_users",
    "peak_users",
    "total_joins",
    "message_count",
    "current_connections",
    "peak_connections",
)
# Optimistic rounds of a join/leave whose counter branch a concurrent change invalidated.
MEMBERSHIP_ATTEMPTS = 8


CONFLICT_ATTEMPTS = 4
# Memberships a close ends per transaction: 4 items each plus a presence delete per user,
# within DynamoDB's 100 items per transaction.
CLOSE_BATCH = 20


@dataclass(frozen=True)
class Left:
    """A leave that happened, with the user's call lock as read in its transaction (or None)."""

    call_lock: dict[str, Any] | None


def _is_conflict(error: ClientError) -> bool:
    """Another transaction held an item (a busy room's META): nothing was written."""
    code = error_code(error)
    return code == "TransactionConflictException" or "TransactionConflict" in _cancellation_codes(error)


def _retry_conflicts(call: Callable[..., Any], **params: Any) -> Any:
    """Run a write, again after a short jittered pause if it lost a transaction conflict.

    Every send and join touches its room's META item, so in a busy room concurrent
    transactions conflict; botocore does not retry that (TransactionCanceledException),
    and a cancelled transaction wrote nothing, so trying again is safe.
    """
    for attempt in range(CONFLICT_ATTEMPTS):
        try:
            return call(**params)
        except ClientError as exc:
            if _is_throttled(exc):
                # botocore already retried the throttle; the client gets a code it can retry on.
                raise RateLimited("the table is busy; try again") from exc
            if not _is_conflict(exc):
                raise
            if attempt == CONFLICT_ATTEMPTS - 1:
                raise Conflict("the room is busy; try again") from exc
        time.sleep(random.uniform(0.005, 0.025) * 2**attempt)
    raise AssertionError("unreachable")


_THROTTLE_CODES = frozenset(
    {"ProvisionedThroughputExceededException", "ThrottlingException", "RequestLimitExceeded"}
)


def _is_throttled(error: ClientError) -> bool:
    code = error_code(error)
    return code in _THROTTLE_CODES or "ThrottlingError" in _cancellation_codes(error)


def room_from_item(item: dict[str, Any]) -> Room:
    stats = RoomStats(**{f: int(item.get(f, 0)) for f in STAT_FIELDS})
    return Room(**{k: v for k, v in item.items() if k not in STAT_FIELDS}, stats=stats)


def unread_of(inbox_counter: dict[str, Any] | None) -> int | None:
    """A user's unread count from its INBOXCOUNT item (never below 0: see dal/inbox.py)."""
    return None if inbox_counter is None else max(0, int(inbox_counter.get("unread", 0)))


def now_s() -> int:
    """The clock that decides expiry (tests move it to play a TTL through)."""
    return int(time.time())


def is_expired(member: MemberRecord) -> bool:
    return member.expires_at is not None and member.expires_at < now_s()


def _counter_change(stats: RoomStats, join: bool, users_change: bool) -> dict[str, Any]:
    """The META update of one join or leave, with conditions asserting the branch taken.

    current_connections always moves by one; current_users only for a user's first
    connection (join) or last one (leave). On a join a counter at its peak raises the
    peak with it: `SET peak = current + 1` reads the pre-update value, so the new peak
    is exact without a read-modify-write; the condition (`current >= peak` or
    `current < peak`) is what the branch was chosen on, so a concurrent change cancels
    the transaction instead of losing a peak. A leave asserts `current > 0`: counters
    never go negative.
    """
    sets: list[str] = []
    conditions: list[str] = []
    counted = [("current_connections", "peak_connections", stats.current_connections, stats.peak_connections)]
    if users_change:
        counted.append(("current_users", "peak_users", stats.current_users, stats.peak_users))
    for current, peak, current_value, peak_value in counted:
        if join:
            sets.append(f"{current} = {current} + :one")
            if current_value >= peak_value:
                sets.append(f"{peak} = {current} + :one")
                conditions.append(f"{current} >= {peak}")
            else:
                conditions.append(f"{current} < {peak}")
        elif current_value > 0:
            sets.append(f"{current} = {current} - :one")
            conditions.append(f"{current} > :zero")
        else:
            # Already at zero (a count lost to drift, say a membership written outside a
            # join): the leave still goes through and the counter stays at zero.
            sets.append(f"{current} = :zero")
            conditions.append(f"{current} <= :zero")
    if join:
        sets.append("total_joins = total_joins + :one")
    else:
        # A leave of a user still connected through another connection leaves users alone.
        conditions.append("attribute_exists(pk)")
    return {
        "UpdateExpression": "SET " + ", ".join(sets),
        "ConditionExpression": " AND ".join(conditions),
        # DynamoDB refuses a value no expression uses.
        "ExpressionAttributeValues": values(
            **{name: value for name, value in (("one", 1), ("zero", 0)) if any(f":{name}" in t for t in sets + conditions)}
        ),
    }


def _presence_change(user_connections: int, join: bool, ttl: int) -> dict[str, Any]:
    """A user's connection count in a room, on join: 1 for a first connection, +1 else."""
    if user_connections <= 0:
        return {
            "UpdateExpression": "SET connections = :one, #ttl = :ttl",
            "ConditionExpression": "attribute_not_exists(connections) OR connections <= :zero",
            "ExpressionAttributeNames": {"#ttl": "ttl"},
            "ExpressionAttributeValues": values(one=1, zero=0, ttl=ttl),
        }
    return {
        "UpdateExpression": "SET connections = connections + :one, #ttl = :ttl",
        "ConditionExpression": "connections >= :one",
        "ExpressionAttributeNames": {"#ttl": "ttl"},
        "ExpressionAttributeValues": values(one=1, ttl=ttl),
    }


def _presence_leave(table: str, item_key: dict[str, Any], user_connections: int) -> dict[str, Any]:
    """On leave: the user's last connection deletes the count, another one lowers it."""
    if user_connections <= 0:
        # No count to lower (drift): assert it is still absent, so a concurrent join is seen.
        return {
            "Delete": {
                "TableName": table,
                "Key": item_key,
                "ConditionExpression": "attribute_not_exists(connections) OR connections <= :zero",
                "ExpressionAttributeValues": values(zero=0),
            }
        }
    if user_connections == 1:
        return {
            "Delete": {
                "TableName": table,
                "Key": item_key,
                "ConditionExpression": "connections = :one",
                "ExpressionAttributeValues": values(one=1),
            }
        }
    return {
        "Update": {
            "TableName": table,
            "Key": item_key,
            "UpdateExpression": "SET connections = connections - :one",
            "ConditionExpression": "connections > :one",
            "ExpressionAttributeValues": values(one=1),
        }
    }


def _not_restricted(table: str, item_key: dict[str, Any], now_ms: int) -> dict[str, Any]:
    """A ConditionCheck that no ban/mute (dal/keys.py) is in force: none, or one whose
    `until` has passed. A refusal returns the item, whose `until` goes into the error."""
    return {
        "ConditionCheck": {
            "TableName": table,
            "Key": item_key,
            "ConditionExpression": "attribute_not_exists(pk) OR (attribute_exists(#until) AND #until <= :now)",
            "ExpressionAttributeNames": {"#until": "until"},
            "ExpressionAttributeValues": values(now=now_ms),
            "ReturnValuesOnConditionCheckFailure": "ALL_OLD",
        }
    }


def _until_of(error: ClientError, index: int) -> str | None:
    item = cancellation_item(error, index)
    until = from_item(item).get("until") if item else None
    return iso(int(until)) if until is not None else None


def encode_cursor(last_key: dict[str, Any]) -> str:
    plain = {k: next(iter(v.values())) for k, v in last_key.items()}
    return base64.urlsafe_b64encode(json.dumps(plain, separators=(",", ":")).encode()).decode()


def decode_cursor(cursor: str, expected_keys: set[str]) -> dict[str, Any]:
    try:
        plain = json.loads(base64.urlsafe_b64decode(cursor.encode()))
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidCursor() from exc
    if not isinstance(plain, dict) or set(plain) != expected_keys:
        raise InvalidCursor()
    if not all(isinstance(v, str) and len(v) <= 256 for v in plain.values()):
        raise InvalidCursor()
    return {k: {"S": v} for k, v in plain.items()}


class RoomStore:
    def __init__(self, table_name: str, client: Any | None = None) -> None:
        self.table = table_name
        self.client = client or dynamodb_client()

    # ------------------------------------------------------------------ rooms

    def create_room(self, room: Room) -> None:
        item = room.model_dump(exclude={"stats"}, exclude_none=True)
        item.update(room.stats.model_dump())
        item.update(
            pk=keys.room_pk(room.room_id),
            sk=keys.META,
            gsi1pk=keys.ROOMS_GSI_PK,
            gsi1sk=f"{room.created_at:013x}#{room.room_id}",
            entity="room",
        )
        try:
            self.client.put_item(
                TableName=self.table,
                Item=to_item(item),
                ConditionExpression="attribute_not_exists(pk)",
            )
        except ClientError as exc:
            if _is_conditional_failure(exc):
                raise Conflict("a room with this id already exists") from exc
            raise

    def delete_new_room(self, room: Room) -> None:
        """Undo create_room for a room nobody has used: only if it is still the same,
        untouched room (same creation time, still open, never joined)."""
        try:
            self.client.delete_item(
                TableName=self.table,
                Key=key(keys.room_pk(room.room_id), keys.META),
                ConditionExpression="created_at = :c AND #state = :open AND total_joins = :zero",
                ExpressionAttributeNames={"#state": "state"},
                ExpressionAttributeValues=values(c=room.created_at, open="open", zero=0),
            )
        except ClientError as exc:
            if not _is_conditional_failure(exc):
                raise

    def get_room(self, room_id: str, consistent: bool = True) -> Room | None:
        response = self.client.get_item(
            TableName=self.table, Key=key(keys.room_pk(room_id), keys.META), ConsistentRead=consistent
        )
        item = response.get("Item")
        return room_from_item(from_item(item)) if item else None

    def require_room(self, room_id: str) -> Room:
        room = self.get_room(room_id)
        if room is None:
            raise RoomNotFound()
        return room

    def list_rooms(self, limit: int, cursor: str | None) -> tuple[list[Room], str | None]:
        params: dict[str, Any] = {
            "TableName": self.table,
            "IndexName": keys.GSI_NAME,
            "KeyConditionExpression": "gsi1pk = :p",
            "ExpressionAttributeValues": values(p=keys.ROOMS_GSI_PK),
            "ScanIndexForward": False,
            "Limit": limit,
        }
        if cursor:
            start = decode_cursor(cursor, {"pk", "sk", "gsi1pk", "gsi1sk"})
            # Only a key of this index's partition: DynamoDB rejects (500) any other start key.
            if start["gsi1pk"]["S"] != keys.ROOMS_GSI_PK or start["sk"]["S"] != keys.META:
                raise InvalidCursor()
            params["ExclusiveStartKey"] = start
        response = self.client.query(**params)
        room_ids = [from_item(i)["room_id"] for i in response.get("Items", [])]
        by_id = self._rooms_by_id(room_ids)
        rooms = [by_id[r] for r in room_ids if r in by_id]
        last = response.get("LastEvaluatedKey")
        return rooms, (encode_cursor(last) if last else None)

    def _rooms_by_id(self, room_ids: list[str]) -> dict[str, Room]:
        """Room META items for up to 100 ids in one BatchGetItem (+ retries of unprocessed keys).

        The index projects only ids (see template.yaml), so a listing reads the rooms
        themselves, consistently, from the table.
        """
        found: dict[str, Room] = {}
        pending: list[dict[str, Any]] = [key(keys.room_pk(r), keys.META) for r in room_ids]
        for attempt in range(6):
            if not pending:
                break
            if attempt:
                time.sleep(min(0.05 * 2**attempt, 1.0))
            result = self.client.batch_get_item(
                RequestItems={self.table: {"Keys": pending, "ConsistentRead": True}}
            )
            for item in result.get("Responses", {}).get(self.table, []):
                room = room_from_item(from_item(item))
                found[room.room_id] = room
            pending = result.get("UnprocessedKeys", {}).get(self.table, {}).get("Keys", [])
        return found

    def transition_room(
        self, room_id: str, from_state: str, to_state: str, **fields: Any
    ) -> bool:
        """Conditionally move a room between states; False if it was not in from_state."""
        names = {"#state": "state"}
        sets = ["#state = :to"]
        vals: dict[str, Any] = {"to": to_state, "from": from_state}
        for index, (name, value) in enumerate(fields.items()):
            names[f"#f{index}"] = name
            sets.append(f"#f{index} = :v{index}")
            vals[f"v{index}"] = value
        try:
            _retry_conflicts(self.client.update_item,
                TableName=self.table,
                Key=key(keys.room_pk(room_id), keys.META),
                UpdateExpression="SET " + ", ".join(sets),
                ConditionExpression="#state = :from",
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=values(**vals),
            )
        except ClientError as exc:
            if _is_conditional_failure(exc):
                return False
            raise
        return True

    # ------------------------------------------------------------ connections

    def put_connection(self, conn: Connection) -> None:
        item = conn.model_dump(exclude_none=True)
        item.update(
            pk=keys.conn_pk(conn.connection_id),
            sk=keys.META,
            gsi1pk=keys.user_gsi_pk(conn.user_id),
            gsi1sk=f"CONN#{conn.connection_id}",
            ttl=conn.expires_at,
            entity="connection",
        )
        # With its connection-index entry, in one transaction: a broadcast never misses a
        # registered connection, and a crash cannot leave one of the two behind.
        index_item = {
            "pk": keys.index_pk(keys.index_shard(conn.connection_id)),
            "sk": keys.index_sk(conn.connection_id),
            "connection_id": conn.connection_id,
            "user_id": conn.user_id,
            "ttl": conn.expires_at,
        }
        self.client.transact_write_items(
            TransactItems=[
                {"Put": {"TableName": self.table, "Item": to_item(item)}},
                {"Put": {"TableName": self.table, "Item": to_item(index_item)}},
            ]
        )

    def get_connection(self, connection_id: str) -> Connection | None:
        response = self.client.get_item(
            TableName=self.table, Key=key(keys.conn_pk(connection_id), keys.META), ConsistentRead=True
        )
        item = response.get("Item")
        return Connection(**from_item(item)) if item else None

    def delete_connection(self, connection_id: str) -> None:
        index_key = key(keys.index_pk(keys.index_shard(connection_id)), keys.index_sk(connection_id))
        self.client.transact_write_items(
            TransactItems=[
                {"Delete": {"TableName": self.table, "Key": key(keys.conn_pk(connection_id), keys.META)}},
                {"Delete": {"TableName": self.table, "Key": index_key}},
            ]
        )

    def connection_rooms(self, connection_id: str) -> list[str]:
        rooms: list[str] = []
        for page in query_pages(
            self.client,
            TableName=self.table,
            KeyConditionExpression="pk = :p AND begins_with(sk, :r)",
            ExpressionAttributeValues=values(p=keys.conn_pk(connection_id), r="ROOM#"),
            ConsistentRead=True,
        ):
            rooms.extend(item["room_id"] for item in page)
        return rooms

    def user_connections(self, user_id: str) -> list[str]:
        """Every live connection of a user (GSI; eventually consistent by nature)."""
        result: list[str] = []
        for page in query_pages(
            self.client,
            TableName=self.table,
            IndexName=keys.GSI_NAME,
            KeyConditionExpression="gsi1pk = :u",
            ExpressionAttributeValues=values(u=keys.user_gsi_pk(user_id)),
        ):
            result.extend(item["connection_id"] for item in page)
        return result

    # ---------------------------------------------------------------- members

    def add_member(
        self, member: MemberRecord, session: SessionRecord, expires_at: int, max_rooms: int
    ) -> tuple[Room, bool, int | None]:
        """Join: membership, session, the connection's room link and room count, the user's
        presence count and the room's counters, all in one transaction.

        Returns the room as read for the join (the caller needs no read of its own),
        False when this connection is already a member (a repeated join is not a second
        join), and the user's unread inbox count read with it (None: no inbox yet). Raises RoomNotFound / RoomClosed when the room cannot be joined and
        TooManyRooms when the connection is at `max_rooms`.

        The counters need no read-modify-write: which branch applies (a first connection
        of this user or another one; a new peak or not) is read first and then asserted
        by the transaction's conditions, so a concurrent change cancels the transaction
        (nothing written) and the join is tried again on fresh values. A crash at any
        point leaves either everything or nothing written (docs/operations.md, "Stats").
        """
        pk = keys.room_pk(member.room_id)
        member_item = member.model_dump(exclude_none=True)
        member_item.update(
            pk=pk, sk=keys.member_sk(member.connection_id), expires_at=expires_at, ttl=self._member_ttl(expires_at)
        )
        session_item = session.model_dump(exclude_none=True)
        session_item.update(pk=pk, sk=keys.session_sk(session.session_id))
        link_item = {
            "pk": keys.conn_pk(member.connection_id),
            "sk": keys.conn_room_sk(member.room_id),
            "room_id": member.room_id,
            "ttl": self._member_ttl(expires_at),
        }
        for _attempt in range(MEMBERSHIP_ATTEMPTS):
            room, user_connections, inbox = self._membership_state(member.room_id, member.user_id)
            if room is None:
                raise RoomNotFound()
            if room.state != "open":
                raise RoomClosed()
            first_of_user = user_connections <= 0
            meta = _counter_change(room.stats, join=True, users_change=first_of_user)
            meta["ConditionExpression"] = "#state = :open AND " + meta["ConditionExpression"]
            meta["ExpressionAttributeNames"] = {"#state": "state"}
            meta["ExpressionAttributeValues"].update(values(open="open"))
            transact = [
                {"Update": {"TableName": self.table, "Key": key(pk, keys.META), **meta}},
                {
                    "Put": {
                        "TableName": self.table,
                        "Item": to_item(member_item),
                        "ConditionExpression": "attribute_not_exists(pk)",
                    }
                },
                {"Put": {"TableName": self.table, "Item": to_item(session_item)}},
                {"Put": {"TableName": self.table, "Item": to_item(link_item)}},
                {
                    "Update": {
                        "TableName": self.table,
                        "Key": key(pk, keys.presence_sk(member.user_id)),
                        **_presence_change(user_connections, join=True, ttl=self._member_ttl(expires_at)),
                    }
                },
                {
                    "Update": {
                        "TableName": self.table,
                        "Key": key(keys.conn_pk(member.connection_id), keys.ROOM_COUNT),
                        "UpdateExpression": "ADD room_count :one SET #ttl = :ttl",
                        "ConditionExpression": "attribute_not_exists(room_count) OR room_count < :cap",
                        "ExpressionAttributeNames": {"#ttl": "ttl"},
                        "ExpressionAttributeValues": values(
                            one=1, cap=max_rooms, ttl=self._member_ttl(expires_at)
                        ),
                    }
                },
                # Issue 14's checks ride in the same transaction (no request of their own):
                # index 6 no ban in force (every room), index 7 listed (members-only rooms).
                _not_restricted(self.table, key(pk, keys.ban_sk(member.user_id)), clock.now_ms()),
            ]
            if room.access == "members" and member.user_id not in room.admin_user_ids:
                transact.append({"ConditionCheck": {"TableName": self.table, "Key": key(pk, keys.roster_sk(member.user_id)),
                                                    "ConditionExpression": "attribute_exists(pk)"}})
            try:
                _retry_conflicts(self.client.transact_write_items, TransactItems=transact)
            except ClientError as exc:
                codes = _cancellation_codes(exc)
                if not codes:
                    raise
                if codes[6] == "ConditionalCheckFailed":
                    raise Banned(until=_until_of(exc, 6)) from exc
                if len(codes) > 7 and codes[7] == "ConditionalCheckFailed":
                    raise MembersOnly() from exc
                if codes[1] == "ConditionalCheckFailed":
                    return room, False, unread_of(inbox)
                if codes[5] == "ConditionalCheckFailed":
                    raise TooManyRooms() from exc
                if "ConditionalCheckFailed" in (codes[0], codes[4]):
                    continue  # closed meanwhile, or the counters moved: judge again
                raise
            return room, True, unread_of(inbox)
        raise Conflict("the room is busy; try again")

    def end_memberships_on_close(
        self, room_id: str, members: list[MemberRecord], left_at: int, reason: str
    ) -> list[MemberRecord]:
        """End a closing room's memberships CLOSE_BATCH to a transaction; the ones ended.

        What a leave writes but the room's counters (a close zeroes those once, after:
        zero_current_counts) and the presence counts (deleted for every user of the batch:
        nobody stays). A batch whose condition fails (a member left meanwhile, a room count
        already gone) writes nothing and is left to the caller's one-by-one leave.
        """
        pk = keys.room_pk(room_id)
        ended: list[MemberRecord] = []
        for start in range(0, len(members), CLOSE_BATCH):
            batch = members[start : start + CLOSE_BATCH]
            transact: list[dict[str, Any]] = []
            for member in batch:
                transact += self._leave_writes(member, left_at, reason)
            for user_id in dict.fromkeys(m.user_id for m in batch):
                transact.append({"Delete": {"TableName": self.table, "Key": key(pk, keys.presence_sk(user_id))}})
            try:
                _retry_conflicts(self.client.transact_write_items, TransactItems=transact)
            except ClientError as exc:
                if not _cancellation_codes(exc):
                    raise
                continue  # nothing written: these go one by one
            ended += batch
        return ended

    def zero_current_counts(self, room_id: str) -> None:
        """A closed room has nobody in it: its current counters go to 0 (peaks stay)."""
        self.client.update_item(
            TableName=self.table,
            Key=key(keys.room_pk(room_id), keys.META),
            UpdateExpression="SET current_users = :zero, current_connections = :zero",
            ConditionExpression="attribute_exists(pk) AND #state <> :open",
            ExpressionAttributeNames={"#state": "state"},
            ExpressionAttributeValues=values(zero=0, open="open"),
        )

    def _member_ttl(self, expires_at: int) -> int:
        # DynamoDB's own deletion comes a margin after reads stop counting the item, so
        # the repair that fixes the room's counters (logic/presence.py) gets there first.
        return expires_at + get_settings().member_ttl_grace_seconds

    def _membership_state(
        self, room_id: str, user_id: str, with_call_lock: bool = False
    ) -> tuple[Room | None, int, dict[str, Any] | None]:
        """The room, how many connections the user has in it and one of the user's own
        items, as one consistent read: for a leave its call lock, for a join its inbox
        counter (the unread count the `joined` frame carries, at no extra request)."""
        pk = keys.room_pk(room_id)
        user_item = keys.CALL_LOCK if with_call_lock else keys.INBOX_COUNT
        gets = [
            {"Get": {"TableName": self.table, "Key": key(pk, keys.META)}},
            {"Get": {"TableName": self.table, "Key": key(pk, keys.presence_sk(user_id))}},
            {"Get": {"TableName": self.table, "Key": key(keys.user_pk(user_id), user_item)}},
        ]
        response = self.client.transact_get_items(TransactItems=gets)
        items = [r.get("Item") for r in response["Responses"]]
        room = room_from_item(from_item(items[0])) if items[0] else None
        connections = int(from_item(items[1]).get("connections", 0)) if items[1] else 0
        own = from_item(items[2]) if items[2] else None
        return room, connections, own

    def get_member(self, room_id: str, connection_id: str, include_expired: bool = False) -> MemberRecord | None:
        response = self.client.get_item(
            TableName=self.table,
            Key=key(keys.room_pk(room_id), keys.member_sk(connection_id)),
            ConsistentRead=True,
        )
        item = response.get("Item")
        if not item:
            return None
        member = MemberRecord(**from_item(item))
        return member if include_expired or not is_expired(member) else None

    def require_unmuted_member(self, room_id: str, connection_id: str, user_id: str) -> MemberRecord:
        """require_member for `typing`, which a mute (or a ban) refuses too: the membership,
        the mute and the ban in one TransactGetItems (one request, as the GetItem it replaces)."""
        pk = keys.room_pk(room_id)
        response = self.client.transact_get_items(
            TransactItems=[
                {"Get": {"TableName": self.table, "Key": key(pk, sk)}}
                for sk in (keys.member_sk(connection_id), keys.ban_sk(user_id), keys.mute_sk(user_id))
            ]
        )
        member_item, *restrictions = (r.get("Item") for r in response["Responses"])
        member = MemberRecord(**from_item(member_item)) if member_item else None
        if member is None or is_expired(member):
            raise NotMember()
        for refusal, item in zip((Banned, Muted), restrictions, strict=True):
            until = from_item(item).get("until") if item else None
            if item and (until is None or int(until) > clock.now_ms()):
                raise refusal(until=iso(int(until)) if until is not None else None)
        return member

    def require_member(self, room_id: str, connection_id: str) -> MemberRecord:
        member = self.get_member(room_id, connection_id)
        if member is None:
            raise NotMember()
        return member

    def _leave_writes(self, member: MemberRecord, left_at: int, reason: str) -> list[dict[str, Any]]:
        """What every leave writes but the counters: the membership deleted (it must still
        exist), its session ended, the connection's link deleted and its room count lowered
        (it must exist: a missing one is a leave the caller handles)."""
        pk = keys.room_pk(member.room_id)
        return [
            {"Delete": {"TableName": self.table, "Key": key(pk, keys.member_sk(member.connection_id)),
                        "ConditionExpression": "attribute_exists(pk)"}},
            {"Update": {"TableName": self.table, "Key": key(pk, keys.session_sk(member.session_id)),
                        "UpdateExpression": "SET left_at = :l, duration_ms = :d, end_reason = :r",
                        "ExpressionAttributeValues": values(l=left_at, d=max(0, left_at - member.joined_at), r=reason)}},
            {"Delete": {"TableName": self.table,
                        "Key": key(keys.conn_pk(member.connection_id), keys.conn_room_sk(member.room_id))}},
            {"Update": {"TableName": self.table, "Key": key(keys.conn_pk(member.connection_id), keys.ROOM_COUNT),
                        "UpdateExpression": "ADD room_count :minus",
                        "ConditionExpression": "attribute_exists(room_count)",
                        "ExpressionAttributeValues": values(minus=-1)}},
        ]

    def remove_member(
        self, member: MemberRecord, left_at: int, reason: str, extra: tuple[dict[str, Any], ...] = ()
    ) -> Left | None:
        """Leave: the join's writes undone and its counters taken back, in one transaction;
        None if the membership was already gone (a second leave changes nothing). The
        user's call lock is read with the counters, for the leave's call check. `extra`
        writes commit with the leave (a kick's MODLOG# item)."""
        pk = keys.room_pk(member.room_id)
        for _attempt in range(MEMBERSHIP_ATTEMPTS):
            room, user_connections, lock = self._membership_state(member.room_id, member.user_id, with_call_lock=True)
            if room is None:
                return None
            last_of_user = user_connections <= 1
            meta = _counter_change(room.stats, join=False, users_change=last_of_user)
            member_delete, session_end, link_delete, room_count_down = self._leave_writes(member, left_at, reason)
            # Indexes matter: the cancellation codes are read by position below.
            transact = [
                member_delete,
                session_end,
                link_delete,
                {"Update": {"TableName": self.table, "Key": key(pk, keys.META), **meta}},
                _presence_leave(self.table, key(pk, keys.presence_sk(member.user_id)), user_connections),
                room_count_down,
                *extra,
            ]
            try:
                _retry_conflicts(self.client.transact_write_items, TransactItems=transact)
            except ClientError as exc:
                codes = _cancellation_codes(exc)
                if not codes:
                    raise
                if codes[0] == "ConditionalCheckFailed":
                    return None
                if codes[5] == "ConditionalCheckFailed":
                    # The room count is gone (only TTL removes it, after the connection's
                    # life): leave without it rather than never.
                    transact.remove(room_count_down)
                    try:
                        _retry_conflicts(self.client.transact_write_items, TransactItems=transact)
                        return Left(lock)
                    except ClientError as again:
                        codes = _cancellation_codes(again)
                        if codes and codes[0] == "ConditionalCheckFailed":
                            return None
                        if not codes or "ConditionalCheckFailed" not in (codes[3], codes[4]):
                            raise
                        continue
                if "ConditionalCheckFailed" in (codes[3], codes[4]):
                    continue  # another connection of this user moved the counters
                raise
            return Left(lock)
        raise Conflict("the room is busy; try again")

    def room_members(self, room_id: str) -> tuple[list[MemberRecord], list[MemberRecord]]:
        """The room's members, live and expired: one Query on its partition (never a Scan).

        An expired membership outlived its connection ($disconnect never ran); DynamoDB's
        TTL deletes it only eventually, so reads tell the two apart themselves.
        """
        live: list[MemberRecord] = []
        expired: list[MemberRecord] = []
        for page in query_pages(
            self.client,
            TableName=self.table,
            KeyConditionExpression="pk = :p AND begins_with(sk, :m)",
            ExpressionAttributeValues=values(p=keys.room_pk(room_id), m="MEMBER#"),
            ConsistentRead=True,
        ):
            for item in page:
                member = MemberRecord(**item)
                (expired if is_expired(member) else live).append(member)
        return live, expired

    def members(self, room_id: str) -> list[MemberRecord]:
        """The room's live members (expired ones are left out; see room_members)."""
        return self.room_members(room_id)[0]

    def delete_room_count(self, connection_id: str) -> None:
        self.client.delete_item(
            TableName=self.table, Key=key(keys.conn_pk(connection_id), keys.ROOM_COUNT)
        )

    # --------------------------------------------------------------- messages

    def put_message(
        self,
        message: MessageRecord,
        sender_connection_id: str | None,
        extra: list[dict[str, Any]] | None = None,
        open_streams_change: int = 0,
    ) -> tuple[MessageRecord, bool]:
        """Persist a message; returns (stored message, duplicate).

        One transaction checks membership (a client's send: `sender_connection_id`; a
        server-side message has none) and the room's state, counts the message and writes
        it (plus its client_msg_id marker), so an acknowledged message is durable and a
        resend with the same client_msg_id returns the original. `extra` items (a stream's
        end) commit with it; if one of their conditions fails nothing is written and
        Conflict is raised. `open_streams_change` moves the room's open-stream count.
        """
        pk = keys.room_pk(message.room_id)
        item = message.model_dump(exclude_none=True)
        item.update(pk=pk, sk=keys.message_sk(message.message_id))
        transact: list[dict[str, Any]] = []
        if sender_connection_id is not None:
            transact.append(
                {
                    "ConditionCheck": {
                        "TableName": self.table,
                        "Key": key(pk, keys.member_sk(sender_connection_id)),
                        "ConditionExpression": "attribute_exists(pk)",
                    }
                }
            )
        # Positions of the items whose failed conditions mean something, read below.
        checked = len(transact) + 1
        adds = "ADD message_count :one" + (", open_streams :streams" if open_streams_change else "")
        counts = values(one=1, open="open", **({"streams": open_streams_change} if open_streams_change else {}))
        transact += [
            {
                "Update": {
                    "TableName": self.table,
                    "Key": key(pk, keys.META),
                    "UpdateExpression": adds,
                    "ConditionExpression": "#state = :open",
                    "ExpressionAttributeNames": {"#state": "state"},
                    "ExpressionAttributeValues": counts,
                }
            },
            {"Put": {"TableName": self.table, "Item": to_item(item)}},
        ]
        # A client's send: no mute in force and no ban, checked by the same transaction. The
        # ban is checked here too: a ban whose removal of the user's connections did not run
        # (a crash after the ban's own write) still stops their sends. A server-side message
        # (no sender connection) speaks for the server, which moderation does not restrict.
        mute_at = ban_at = None
        if sender_connection_id is not None:
            now = clock.now_ms()
            mute_at, ban_at = len(transact), len(transact) + 1
            transact.append(_not_restricted(self.table, key(pk, keys.mute_sk(message.user_id)), now))
            transact.append(_not_restricted(self.table, key(pk, keys.ban_sk(message.user_id)), now))
        marker_key = None
        marker_at = len(transact)
        if message.client_msg_id:
            marker_key = key(pk, keys.client_msg_sk(message.user_id, message.client_msg_id))
            transact.append(
                {
                    "Put": {
                        "TableName": self.table,
                        "Item": {
                            **marker_key,
                            **to_item({"message_id": message.message_id}),
                        },
                        "ConditionExpression": "attribute_not_exists(pk)",
                    }
                }
            )
        extra_at = len(transact)
        transact += extra or []
        try:
            _retry_conflicts(self.client.transact_write_items, TransactItems=transact)
        except ClientError as exc:
            codes = _cancellation_codes(exc)
            if not codes:
                raise
            if "ConditionalCheckFailed" in codes[:checked]:
                # A close ends every membership, so a send after it fails the membership
                # check too: the room's state says which refusal it is.
                room = self.get_room(message.room_id)
                if room is None:
                    raise RoomNotFound() from exc
                if room.state != "open":
                    raise RoomClosed() from exc
                raise NotMember() from exc
            if ban_at is not None and codes[ban_at] == "ConditionalCheckFailed":
                raise Banned(until=_until_of(exc, ban_at)) from exc
            if mute_at is not None and codes[mute_at] == "ConditionalCheckFailed":
                raise Muted(until=_until_of(exc, mute_at)) from exc
            if marker_key and len(codes) > marker_at and codes[marker_at] == "ConditionalCheckFailed":
                original = self._message_for_marker(message.room_id, marker_key)
                if original is not None:
                    return original, True
            if "ConditionalCheckFailed" in codes[extra_at:]:
                raise Conflict("changed meanwhile; try again") from exc
            raise
        return message, False

    def get_message(self, room_id: str, message_id: str) -> MessageRecord | None:
        item = self.client.get_item(
            TableName=self.table,
            Key=key(keys.room_pk(room_id), keys.message_sk(message_id)),
            ConsistentRead=True,
        ).get("Item")
        return MessageRecord(**from_item(item)) if item else None

    def _message_for_marker(self, room_id: str, marker_key: dict[str, Any]) -> MessageRecord | None:
        marker = self.client.get_item(TableName=self.table, Key=marker_key, ConsistentRead=True).get("Item")
        if not marker:
            return None
        return self.get_message(room_id, marker["message_id"]["S"])

    def history(
        self, room_id: str, before: str | None, limit: int
    ) -> tuple[list[MessageRecord], str | None]:
        """Newest-first page of messages older than `before`; returns (page oldest-first, cursor)."""
        params: dict[str, Any] = {
            "TableName": self.table,
            "KeyConditionExpression": "pk = :p AND begins_with(sk, :m)",
            "ExpressionAttributeValues": values(p=keys.room_pk(room_id), m="MSG#"),
            "ScanIndexForward": False,
            "Limit": limit,
        }
        if before:
            params["ExclusiveStartKey"] = key(keys.room_pk(room_id), keys.message_sk(before))
        response = self.client.query(**params)
        page = [MessageRecord(**from_item(i)) for i in response.get("Items", [])]
        next_cursor = page[-1].message_id if response.get("LastEvaluatedKey") and page else None
        page.reverse()
        return page, next_cursor

    def iter_messages(self, room_id: str, page_size: int = 500) -> Iterator[list[MessageRecord]]:
        """Every message of a room, oldest first, one page at a time."""
        for page in self._room_pages(room_id, "MSG#", page_size):
            yield [MessageRecord(**i) for i in page]

    # --------------------------------------------------------------- sessions

    def iter_sessions(self, room_id: str, page_size: int = 500) -> Iterator[list[SessionRecord]]:
        for page in self._room_pages(room_id, "SESSION#", page_size):
            yield [SessionRecord(**i) for i in page]

    # ------------------------------------------------------------------ calls

    def iter_calls(self, room_id: str, page_size: int = 500) -> Iterator[list[CallRecord]]:
        """Every call record of a room, oldest first (call ids are time-ordered)."""
        for page in self._room_pages(room_id, "CALL#", page_size):
            yield [CallRecord(**i) for i in page]

    # ------------------------------------------------------------- moderation

    def iter_modlog(self, room_id: str, page_size: int = 500) -> Iterator[list[ModlogRecord]]:
        """Every moderation act of a room, oldest first (MODLOG# ids are time-ordered)."""
        for page in self._room_pages(room_id, keys.MODLOG_PREFIX, page_size):
            yield [ModlogRecord(**i) for i in page]

    def _room_pages(self, room_id: str, prefix: str, page_size: int) -> Iterator[list[dict[str, Any]]]:
        """One kind of a room's items (by sort-key prefix), oldest first, a page at a time."""
        return query_pages(
            self.client,
            TableName=self.table,
            KeyConditionExpression="pk = :p AND begins_with(sk, :s)",
            ExpressionAttributeValues=values(p=keys.room_pk(room_id), s=prefix),
            Limit=page_size,
            # Read right after a close ends sessions and calls: the payload must see that.
            ConsistentRead=True,
        )


@cache
def get_store() -> RoomStore:
    return RoomStore(get_settings().table_name)
