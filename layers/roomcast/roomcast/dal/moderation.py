"""Membership and moderation items: rosters, bans, mutes, the moderation log, tombstones,
and the bounded reads of presence, online status and search (dal/keys.py has the keys).

Every act's own write and its MODLOG# item go in one transaction: the log never names an
act that did not happen, and no act happens unlogged (a crash between two writes cannot
split them). The join's and send's checks of these items live in dal/store.py, folded
into the transactions those operations already make.
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from roomcast.aws_errors import cancellation_codes
from roomcast.dal import keys
from roomcast.dal.dynamo import from_item, key, to_item, values
from roomcast.dal.store import _retry_conflicts
from roomcast.models.records import (
    Connection,
    MemberRecord,
    MessageRecord,
    ModlogRecord,
    Restriction,
    Room,
    RosterEntry,
)

RESTRICTION_SK = {"ban": keys.ban_sk, "mute": keys.mute_sk}
# A ban or mute with an end is deleted by DynamoDB's TTL a day after it ends (reads judge
# `until` themselves, so the lag only costs storage).
RESTRICTION_TTL_GRACE_SECONDS = 86_400


class ModerationStore:
    def __init__(self, table: str, client: Any) -> None:
        self.table = table
        self.client = client

    # ---------------------------------------------------------------- helpers

    def _modlog_put(self, entry: ModlogRecord) -> dict[str, Any]:
        item = entry.model_dump(exclude_none=True)
        item.update(pk=keys.room_pk(entry.room_id), sk=keys.modlog_sk(entry.entry_id))
        return {"Put": {"TableName": self.table, "Item": to_item(item), "ConditionExpression": "attribute_not_exists(pk)"}}

    def _commit(self, writes: list[dict[str, Any]]) -> bool:
        """One transaction; False when the act's own condition (the first item) failed."""
        try:
            _retry_conflicts(self.client.transact_write_items, TransactItems=writes)
        except ClientError as exc:
            codes = cancellation_codes(exc)
            if codes and codes[0] == "ConditionalCheckFailed":
                return False
            raise
        return True

    def _page(
        self, room_id: str, prefix: str, limit: int, after: str | None
    ) -> tuple[list[dict[str, Any]], str | None]:
        """One page of a room's items under `prefix`, after the sort-key suffix `after`."""
        params: dict[str, Any] = {
            "TableName": self.table,
            "KeyConditionExpression": "pk = :p AND begins_with(sk, :s)",
            "ExpressionAttributeValues": values(p=keys.room_pk(room_id), s=prefix),
            "Limit": limit,
            "ConsistentRead": True,
        }
        if after:
            params["ExclusiveStartKey"] = key(keys.room_pk(room_id), prefix + after)
        response = self.client.query(**params)
        items = [from_item(i) for i in response.get("Items", [])]
        more = bool(response.get("LastEvaluatedKey")) and bool(items)
        return items, (items[-1]["sk"][len(prefix):] if more else None)

    # ----------------------------------------------------------------- roster

    def get_roster(self, room_id: str, user_id: str) -> RosterEntry | None:
        item = self.client.get_item(
            TableName=self.table, Key=key(keys.room_pk(room_id), keys.roster_sk(user_id)), ConsistentRead=True
        ).get("Item")
        return RosterEntry(**from_item(item)) if item else None

    def room_and_roster(self, room_id: str, user_id: str) -> tuple[Room | None, RosterEntry | None]:
        """The room and a user's roster entry in one read (a moderator's WebSocket act)."""
        from roomcast.dal.store import room_from_item

        pk = keys.room_pk(room_id)
        response = self.client.transact_get_items(
            TransactItems=[
                {"Get": {"TableName": self.table, "Key": key(pk, keys.META)}},
                {"Get": {"TableName": self.table, "Key": key(pk, keys.roster_sk(user_id))}},
            ]
        )
        room_item, roster_item = (r.get("Item") for r in response["Responses"])
        room = room_from_item(from_item(room_item)) if room_item else None
        return room, (RosterEntry(**from_item(roster_item)) if roster_item else None)

    def put_roster(self, entry: RosterEntry, previous: RosterEntry | None, log: ModlogRecord) -> bool:
        """Add a user or change their role, asserting the entry is as read (else False)."""
        item = entry.model_dump()
        item.update(pk=keys.room_pk(entry.room_id), sk=keys.roster_sk(entry.user_id))
        put: dict[str, Any] = {"TableName": self.table, "Item": to_item(item)}
        if previous is None:
            put["ConditionExpression"] = "attribute_not_exists(pk)"
        else:
            put["ConditionExpression"] = "#role = :old"
            put["ExpressionAttributeNames"] = {"#role": "role"}
            put["ExpressionAttributeValues"] = values(old=previous.role)
        return self._commit([{"Put": put}, self._modlog_put(log)])

    def delete_roster(self, room_id: str, user_id: str, log: ModlogRecord) -> bool:
        delete = {
            "TableName": self.table,
            "Key": key(keys.room_pk(room_id), keys.roster_sk(user_id)),
            "ConditionExpression": "attribute_exists(pk)",
        }
        return self._commit([{"Delete": delete}, self._modlog_put(log)])

    def roster_page(self, room_id: str, limit: int, after: str | None) -> tuple[list[RosterEntry], str | None]:
        items, cursor = self._page(room_id, keys.ROSTER_PREFIX, limit, after)
        return [RosterEntry(**i) for i in items], cursor

    # ---------------------------------------------------------- bans, mutes

    def put_restriction(self, kind: str, restriction: Restriction, log: ModlogRecord) -> None:
        """Ban or mute (a new one replaces an earlier one: the latest act's expiry counts)."""
        item = restriction.model_dump(exclude_none=True)
        item.update(pk=keys.room_pk(restriction.room_id), sk=RESTRICTION_SK[kind](restriction.user_id))
        if restriction.until is not None:
            item["ttl"] = restriction.until // 1000 + RESTRICTION_TTL_GRACE_SECONDS
        self._commit([{"Put": {"TableName": self.table, "Item": to_item(item)}}, self._modlog_put(log)])

    def delete_restriction(self, kind: str, room_id: str, user_id: str, log: ModlogRecord) -> bool:
        """Unban / unmute; False when there was none (an expired one still counts as there)."""
        delete = {
            "TableName": self.table,
            "Key": key(keys.room_pk(room_id), RESTRICTION_SK[kind](user_id)),
            "ConditionExpression": "attribute_exists(pk)",
        }
        return self._commit([{"Delete": delete}, self._modlog_put(log)])

    def get_restriction(self, kind: str, room_id: str, user_id: str) -> Restriction | None:
        item = self.client.get_item(
            TableName=self.table, Key=key(keys.room_pk(room_id), RESTRICTION_SK[kind](user_id)), ConsistentRead=True
        ).get("Item")
        return Restriction(**from_item(item)) if item else None

    # -------------------------------------------------------------- messages

    def get_message(self, room_id: str, message_id: str) -> MessageRecord | None:
        item = self.client.get_item(
            TableName=self.table, Key=key(keys.room_pk(room_id), keys.message_sk(message_id)), ConsistentRead=True
        ).get("Item")
        return MessageRecord(**from_item(item)) if item else None

    def tombstone(self, room_id: str, message_id: str, by: str, at: int, log: ModlogRecord) -> bool:
        """The message's text and meta go, the rest stays (dal/keys.py); False if it was
        already deleted or never existed."""
        update = {
            "TableName": self.table,
            "Key": key(keys.room_pk(room_id), keys.message_sk(message_id)),
            "UpdateExpression": "SET #text = :empty, deleted = :yes, deleted_by = :by, deleted_at = :at REMOVE meta",
            "ConditionExpression": "attribute_exists(pk) AND attribute_not_exists(deleted)",
            "ExpressionAttributeNames": {"#text": "text"},
            "ExpressionAttributeValues": values(empty="", yes=True, by=by, at=at),
        }
        return self._commit([{"Update": update}, self._modlog_put(log)])

    def search_page(
        self, room_id: str, low: str, high: str, after: str | None, limit: int
    ) -> tuple[list[MessageRecord], bool]:
        """Messages with ids in [low, high] after `after`, oldest first: at most `limit`
        items read (the whole cost of the call); True when the range has more."""
        params: dict[str, Any] = {
            "TableName": self.table,
            "KeyConditionExpression": "pk = :p AND sk BETWEEN :lo AND :hi",
            "ExpressionAttributeValues": values(
                p=keys.room_pk(room_id), lo=keys.message_sk(low), hi=keys.message_sk(high)
            ),
            "Limit": limit,
        }
        if after:
            params["ExclusiveStartKey"] = key(keys.room_pk(room_id), keys.message_sk(after))
        response = self.client.query(**params)
        return [MessageRecord(**from_item(i)) for i in response.get("Items", [])], bool(response.get("LastEvaluatedKey"))

    # --------------------------------------------------- presence and online

    def presence_page(self, room_id: str, limit: int, after: str | None) -> tuple[list[dict[str, Any]], str | None]:
        """A page of the room's PRESENCE# counts: [{user_id, connections, ttl}], by user id."""
        items, cursor = self._page(room_id, keys.PRESENCE_PREFIX, limit, after)
        return [
            {"user_id": i["sk"][len(keys.PRESENCE_PREFIX):], "connections": int(i.get("connections", 0)),
             "ttl": int(i.get("ttl", 0))}
            for i in items
        ], cursor

    def connection_partition(self, connection_id: str, max_rooms: int) -> tuple[Connection | None, list[str]]:
        """A connection's META and up to max_rooms + 1 of its rooms (one more than asked
        says there are more) from ONE Query of its
        partition: META, then its (at most 3) RATE# buckets, then ROOM#; ROOMCOUNT sorts after."""
        response = self.client.query(
            TableName=self.table,
            KeyConditionExpression="pk = :p AND sk BETWEEN :a AND :b",
            ExpressionAttributeValues=values(p=keys.conn_pk(connection_id), a=keys.META, b=keys.prefix_end("ROOM#")),
            Limit=max_rooms + 5,
            ConsistentRead=True,
        )
        meta: Connection | None = None
        rooms: list[str] = []
        for raw in response.get("Items", []):
            item = from_item(raw)
            if item["sk"] == keys.META:
                meta = Connection(**item)
            elif item["sk"].startswith("ROOM#"):
                rooms.append(item["room_id"])
        return meta, rooms[: max_rooms + 1]

    def members_of_connections(self, room_id: str, connection_ids: list[str]) -> list[MemberRecord]:
        """The memberships in `room_id` of some connections (one user's): one BatchGetItem."""
        found: list[MemberRecord] = []
        pending = [key(keys.room_pk(room_id), keys.member_sk(c)) for c in dict.fromkeys(connection_ids)]
        while pending:
            batch, pending = pending[:100], pending[100:]
            for _attempt in range(5):
                result = self.client.batch_get_item(RequestItems={self.table: {"Keys": batch, "ConsistentRead": True}})
                found.extend(MemberRecord(**from_item(i)) for i in result.get("Responses", {}).get(self.table, []))
                batch = result.get("UnprocessedKeys", {}).get(self.table, {}).get("Keys", [])
                if not batch:
                    break
        return found
