"""RoomStore: every read and write roomcast makes to its single table.

Rules kept here (DESIGN §3): broadcasts read members with a Query, never a Scan;
stats change with ADD or conditional updates, never read-modify-write; a message is
acknowledged only after its transaction commits; a close is a conditional state change.
"""

from __future__ import annotations

import base64
import json
import random
import time
from collections.abc import Callable, Iterator
from functools import cache
from typing import Any

from botocore.exceptions import ClientError

from roomcast.dal import keys
from roomcast.dal.dynamo import dynamodb_client, from_item, key, query_pages, to_item, values
from roomcast.errors import (
    Conflict,
    InvalidCursor,
    NotMember,
    RateLimited,
    RoomClosed,
    RoomNotFound,
)
from roomcast.models.records import (
    CallRecord,
    Connection,
    MemberRecord,
    MessageRecord,
    Room,
    RoomStats,
    SessionRecord,
)
from roomcast.settings import get_settings

STAT_FIELDS = ("current_users", "peak_users", "total_joins", "message_count")


def _cancellation_codes(error: ClientError) -> list[str]:
    reasons = error.response.get("CancellationReasons") or []
    return [r.get("Code", "None") for r in reasons]


def _is_conditional_failure(error: ClientError) -> bool:
    return error.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException"


CONFLICT_ATTEMPTS = 4


def _is_conflict(error: ClientError) -> bool:
    """Another transaction held an item (a busy room's META): nothing was written."""
    code = error.response.get("Error", {}).get("Code")
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
    code = error.response.get("Error", {}).get("Code")
    return code in _THROTTLE_CODES or "ThrottlingError" in _cancellation_codes(error)


def _room_from_item(item: dict[str, Any]) -> Room:
    stats = RoomStats(**{f: int(item.get(f, 0)) for f in STAT_FIELDS})
    return Room(**{k: v for k, v in item.items() if k not in STAT_FIELDS}, stats=stats)


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
        return _room_from_item(from_item(item)) if item else None

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
                room = _room_from_item(from_item(item))
                found[room.room_id] = room
            pending = result.get("UnprocessedKeys", {}).get(self.table, {}).get("Keys", [])
        return found

    def add_join_stats(self, room_id: str) -> int:
        """Count a join atomically; returns current_users right after this join."""
        try:
            response = _retry_conflicts(self.client.update_item,
                TableName=self.table,
                Key=key(keys.room_pk(room_id), keys.META),
                UpdateExpression="ADD current_users :one, total_joins :one",
                ConditionExpression="attribute_exists(pk)",
                ExpressionAttributeValues=values(one=1),
                ReturnValues="UPDATED_NEW",
            )
        except ClientError as exc:
            if _is_conditional_failure(exc):
                raise RoomNotFound() from exc
            raise
        return int(response["Attributes"]["current_users"]["N"])

    def raise_peak(self, room_id: str, candidate: int) -> None:
        """peak_users = max(peak_users, candidate), as one conditional write."""
        try:
            _retry_conflicts(self.client.update_item,
                TableName=self.table,
                Key=key(keys.room_pk(room_id), keys.META),
                UpdateExpression="SET peak_users = :c",
                ConditionExpression="attribute_exists(pk) AND peak_users < :c",
                ExpressionAttributeValues=values(c=candidate),
            )
        except ClientError as exc:
            if not _is_conditional_failure(exc):
                raise

    def add_leave_stats(self, room_id: str) -> None:
        _retry_conflicts(self.client.update_item,
            TableName=self.table,
            Key=key(keys.room_pk(room_id), keys.META),
            UpdateExpression="ADD current_users :minus",
            ConditionExpression="attribute_exists(pk)",
            ExpressionAttributeValues=values(minus=-1),
        )

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

    def add_member(self, member: MemberRecord, session: SessionRecord, expires_at: int) -> bool:
        """Write membership + session + the connection's room link in one transaction.

        Returns False when this connection is already a member (a repeated join is not
        a second join). Raises RoomNotFound / RoomClosed when the room cannot be joined.
        """
        room_key = key(keys.room_pk(member.room_id), keys.META)
        member_item = member.model_dump()
        member_item.update(pk=keys.room_pk(member.room_id), sk=keys.member_sk(member.connection_id))
        session_item = session.model_dump(exclude_none=True)
        session_item.update(pk=keys.room_pk(member.room_id), sk=keys.session_sk(session.session_id))
        link_item = {
            "pk": keys.conn_pk(member.connection_id),
            "sk": keys.conn_room_sk(member.room_id),
            "room_id": member.room_id,
            "ttl": expires_at,
        }
        try:
            _retry_conflicts(self.client.transact_write_items,
                TransactItems=[
                    {
                        "ConditionCheck": {
                            "TableName": self.table,
                            "Key": room_key,
                            "ConditionExpression": "#state = :open",
                            "ExpressionAttributeNames": {"#state": "state"},
                            "ExpressionAttributeValues": values(open="open"),
                        }
                    },
                    {
                        "Put": {
                            "TableName": self.table,
                            "Item": to_item(member_item),
                            "ConditionExpression": "attribute_not_exists(pk)",
                        }
                    },
                    {"Put": {"TableName": self.table, "Item": to_item(session_item)}},
                    {"Put": {"TableName": self.table, "Item": to_item(link_item)}},
                ]
            )
        except ClientError as exc:
            codes = _cancellation_codes(exc)
            if codes and codes[0] == "ConditionalCheckFailed":
                if self.get_room(member.room_id) is None:
                    raise RoomNotFound() from exc
                raise RoomClosed() from exc
            if len(codes) > 1 and codes[1] == "ConditionalCheckFailed":
                return False
            raise
        return True

    def get_member(self, room_id: str, connection_id: str) -> MemberRecord | None:
        response = self.client.get_item(
            TableName=self.table,
            Key=key(keys.room_pk(room_id), keys.member_sk(connection_id)),
            ConsistentRead=True,
        )
        item = response.get("Item")
        return MemberRecord(**from_item(item)) if item else None

    def require_member(self, room_id: str, connection_id: str) -> MemberRecord:
        member = self.get_member(room_id, connection_id)
        if member is None:
            raise NotMember()
        return member

    def remove_member(self, member: MemberRecord, left_at: int, reason: str) -> bool:
        """End a membership and its session together; False if it was already gone."""
        pk = keys.room_pk(member.room_id)
        try:
            _retry_conflicts(self.client.transact_write_items,
                TransactItems=[
                    {
                        "Delete": {
                            "TableName": self.table,
                            "Key": key(pk, keys.member_sk(member.connection_id)),
                            "ConditionExpression": "attribute_exists(pk)",
                        }
                    },
                    {
                        "Update": {
                            "TableName": self.table,
                            "Key": key(pk, keys.session_sk(member.session_id)),
                            "UpdateExpression": "SET left_at = :l, duration_ms = :d, end_reason = :r",
                            "ExpressionAttributeValues": values(
                                l=left_at, d=max(0, left_at - member.joined_at), r=reason
                            ),
                        }
                    },
                    {
                        "Delete": {
                            "TableName": self.table,
                            "Key": key(
                                keys.conn_pk(member.connection_id), keys.conn_room_sk(member.room_id)
                            ),
                        }
                    },
                ]
            )
        except ClientError as exc:
            codes = _cancellation_codes(exc)
            if codes and codes[0] == "ConditionalCheckFailed":
                return False
            raise
        return True

    def members(self, room_id: str) -> list[MemberRecord]:
        """The room's members: one Query on the room's partition (never a Scan)."""
        result: list[MemberRecord] = []
        for page in query_pages(
            self.client,
            TableName=self.table,
            KeyConditionExpression="pk = :p AND begins_with(sk, :m)",
            ExpressionAttributeValues=values(p=keys.room_pk(room_id), m="MEMBER#"),
            ConsistentRead=True,
        ):
            result.extend(MemberRecord(**item) for item in page)
        return result

    # --------------------------------------------------------------- messages

    def put_message(
        self, message: MessageRecord, sender_connection_id: str
    ) -> tuple[MessageRecord, bool]:
        """Persist a message; returns (stored message, duplicate).

        One transaction checks membership and the room's state, counts the message and
        writes it (plus its client_msg_id marker), so an acknowledged message is durable
        and a resend with the same client_msg_id returns the original.
        """
        pk = keys.room_pk(message.room_id)
        item = message.model_dump(exclude_none=True)
        item.update(pk=pk, sk=keys.message_sk(message.message_id))
        transact: list[dict[str, Any]] = [
            {
                "ConditionCheck": {
                    "TableName": self.table,
                    "Key": key(pk, keys.member_sk(sender_connection_id)),
                    "ConditionExpression": "attribute_exists(pk)",
                }
            },
            {
                "Update": {
                    "TableName": self.table,
                    "Key": key(pk, keys.META),
                    "UpdateExpression": "ADD message_count :one",
                    "ConditionExpression": "#state = :open",
                    "ExpressionAttributeNames": {"#state": "state"},
                    "ExpressionAttributeValues": values(one=1, open="open"),
                }
            },
            {"Put": {"TableName": self.table, "Item": to_item(item)}},
        ]
        marker_key = None
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
        try:
            _retry_conflicts(self.client.transact_write_items, TransactItems=transact)
        except ClientError as exc:
            codes = _cancellation_codes(exc)
            if not codes:
                raise
            if codes[0] == "ConditionalCheckFailed" or codes[1] == "ConditionalCheckFailed":
                # A close ends every membership, so a send after it fails the membership
                # check too: the room's state says which refusal it is.
                room = self.get_room(message.room_id)
                if room is None:
                    raise RoomNotFound() from exc
                if room.state != "open":
                    raise RoomClosed() from exc
                raise NotMember() from exc
            if marker_key and len(codes) > 3 and codes[3] == "ConditionalCheckFailed":
                original = self._message_for_marker(message.room_id, marker_key)
                if original is not None:
                    return original, True
            raise
        return message, False

    def _message_for_marker(self, room_id: str, marker_key: dict[str, Any]) -> MessageRecord | None:
        marker = self.client.get_item(TableName=self.table, Key=marker_key, ConsistentRead=True).get("Item")
        if not marker:
            return None
        message_id = marker["message_id"]["S"]
        item = self.client.get_item(
            TableName=self.table,
            Key=key(keys.room_pk(room_id), keys.message_sk(message_id)),
            ConsistentRead=True,
        ).get("Item")
        return MessageRecord(**from_item(item)) if item else None

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
