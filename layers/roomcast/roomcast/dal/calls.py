"""CallStore: call records, per-user call locks, the signal rate limit and the ring timer.

Keys (alongside dal/keys.py's design; same single table):

    pk              sk              what
    ROOM#<room>     CALL#<call id>  call record (status machine; see logic/signaling.py)
    USER#<user>     CALL            the user's active call (lock: call id + room, TTL)
    CONN#<conn>     RATE#signal     signal rate limit state for one connection (GCRA, TTL)

Every status change is one conditional UpdateItem on the record (`#status = :from`),
so two racing signals (an accept and the ring timer, a hangup from each side) produce
exactly one transition. The per-user lock makes "busy" a conditional write too; a lock
is only a hint — it is checked against the call record it names and released when
that call is over, so a crash between the two writes can never block a user for long.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from botocore.exceptions import ClientError

from roomcast.aws_errors import cancellation_codes, is_conditional_failure
from roomcast.dal import keys
from roomcast.dal.dynamo import dynamodb_client, from_item, key, to_item, values
from roomcast.errors import Conflict
from roomcast.models.signaling import CallState

LOCK_SK = keys.CALL_LOCK


class LockTaken(Exception):
    """An invite could not take a user's call lock: `user_ids` already hold one."""

    def __init__(self, user_ids: list[str]) -> None:
        super().__init__(", ".join(user_ids))
        self.user_ids = user_ids


class CallStore:
    def __init__(self, table_name: str, client: Any | None = None) -> None:
        self.table = table_name
        self.client = client or dynamodb_client()

    # ---------------------------------------------------------------- records

    def _record_item(self, call: CallState) -> dict[str, Any]:
        item = call.model_dump(exclude_none=True)
        item.update(pk=keys.room_pk(call.room_id), sk=keys.call_sk(call.call_id), entity="call")
        return item

    def put_failed(self, call: CallState) -> None:
        """Record an invite that could not ring (user-offline, busy); takes no locks."""
        try:
            self.client.put_item(
                TableName=self.table,
                Item=to_item(self._record_item(call)),
                ConditionExpression="attribute_not_exists(pk)",
            )
        except ClientError as exc:
            if is_conditional_failure(exc):
                raise Conflict("this call id is already used") from exc
            raise

    def put_invite(self, call: CallState, lock_ttl: int, now_s: int) -> None:
        """Write an invited call and both users' locks in one transaction.

        Raises LockTaken naming the users whose lock is held (by a live lock: expired
        ones count as free), or Conflict when the call id is already used.
        """
        lock_items = [
            {
                "pk": keys.user_pk(user_id),
                "sk": LOCK_SK,
                "call_id": call.call_id,
                "room_id": call.room_id,
                "ttl": lock_ttl,
            }
            for user_id in (call.caller, call.callee)
        ]
        lock_condition = {
            "ConditionExpression": "attribute_not_exists(pk) OR #ttl < :now",
            "ExpressionAttributeNames": {"#ttl": "ttl"},
            "ExpressionAttributeValues": values(now=now_s),
        }
        try:
            self.client.transact_write_items(
                TransactItems=[
                    {
                        "Put": {
                            "TableName": self.table,
                            "Item": to_item(self._record_item(call)),
                            "ConditionExpression": "attribute_not_exists(pk)",
                        }
                    },
                    *(
                        {"Put": {"TableName": self.table, "Item": to_item(item), **lock_condition}}
                        for item in lock_items
                    ),
                ]
            )
        except ClientError as exc:
            codes = cancellation_codes(exc)
            if not codes:
                raise
            if codes[0] == "ConditionalCheckFailed":
                raise Conflict("this call id is already used") from exc
            held = [
                user_id
                for user_id, code in zip((call.caller, call.callee), codes[1:], strict=False)
                if code == "ConditionalCheckFailed"
            ]
            if held:
                raise LockTaken(held) from exc
            raise

    def get_call(self, room_id: str, call_id: str) -> CallState | None:
        response = self.client.get_item(
            TableName=self.table,
            Key=key(keys.room_pk(room_id), keys.call_sk(call_id)),
            ConsistentRead=True,
        )
        item = response.get("Item")
        return CallState(**from_item(item)) if item else None

    def transition(
        self,
        call: CallState,
        from_statuses: Iterable[str],
        to_status: str,
        **fields: Any,
    ) -> CallState | None:
        """Move a call from one of `from_statuses` to `to_status`, setting `fields`.

        One conditional UpdateItem: returns the updated record, or None when the call
        was no longer in any of `from_statuses` (someone else's transition won).
        """
        names = {"#status": "status"}
        sets = ["#status = :to"]
        vals: dict[str, Any] = {"to": to_status}
        allowed = []
        for index, status in enumerate(from_statuses):
            vals[f"from{index}"] = status
            allowed.append(f"#status = :from{index}")
        for index, (name, value) in enumerate(fields.items()):
            if value is None:
                continue
            names[f"#f{index}"] = name
            sets.append(f"#f{index} = :v{index}")
            vals[f"v{index}"] = value
        try:
            response = self.client.update_item(
                TableName=self.table,
                Key=key(keys.room_pk(call.room_id), keys.call_sk(call.call_id)),
                UpdateExpression="SET " + ", ".join(sets),
                ConditionExpression="attribute_exists(pk) AND (" + " OR ".join(allowed) + ")",
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=values(**vals),
                ReturnValues="ALL_NEW",
            )
        except ClientError as exc:
            if is_conditional_failure(exc):
                return None
            raise
        return CallState(**from_item(response["Attributes"]))

    def recent_calls(self, room_id: str, limit: int) -> list[CallState]:
        """The room's latest `limit` calls, oldest first (one Query, newest-first page)."""
        response = self.client.query(
            TableName=self.table,
            KeyConditionExpression="pk = :p AND begins_with(sk, :c)",
            ExpressionAttributeValues=values(p=keys.room_pk(room_id), c="CALL#"),
            ScanIndexForward=False,
            Limit=limit,
        )
        calls = [CallState(**from_item(i)) for i in response.get("Items", [])]
        calls.reverse()
        return calls

    # ------------------------------------------------------------------ locks

    def get_lock(self, user_id: str) -> dict[str, Any] | None:
        response = self.client.get_item(
            TableName=self.table, Key=key(keys.user_pk(user_id), LOCK_SK), ConsistentRead=True
        )
        item = response.get("Item")
        return from_item(item) if item else None

    def get_locks(self, user_ids: list[str]) -> dict[str, dict[str, Any]]:
        """The call locks the users hold, 100 per BatchGetItem (a room's close reads its
        members' locks at once instead of one GetItem each)."""
        found: dict[str, dict[str, Any]] = {}
        unique = list(dict.fromkeys(user_ids))
        for start in range(0, len(unique), 100):
            pending: list[dict[str, Any]] = [key(keys.user_pk(u), LOCK_SK) for u in unique[start : start + 100]]
            for _attempt in range(5):
                if not pending:
                    break
                result = self.client.batch_get_item(
                    RequestItems={self.table: {"Keys": pending, "ConsistentRead": True}}
                )
                for item in result.get("Responses", {}).get(self.table, []):
                    plain = from_item(item)
                    found[str(plain["pk"]).removeprefix("USER#")] = plain
                pending = result.get("UnprocessedKeys", {}).get(self.table, {}).get("Keys", [])
        return found

    def release_lock(self, user_id: str, call_id: str) -> None:
        """Drop a user's lock if (and only if) it still names this call."""
        try:
            self.client.delete_item(
                TableName=self.table,
                Key=key(keys.user_pk(user_id), LOCK_SK),
                ConditionExpression="call_id = :c",
                ExpressionAttributeValues=values(c=call_id),
            )
        except ClientError as exc:
            if not is_conditional_failure(exc):
                raise

    # --------------------------------------------------- connections of a user

    def member_connections(self, room_id: str, user_id: str) -> dict[str, str]:
        """The user's connections that are members of this room: {connection id: name}.

        The user GSI names the user's connections (a handful), then one BatchGetItem
        reads their memberships in this room: the cost follows the user's tab count,
        not the room's size, which matters for ICE bursts in big rooms.
        """
        response = self.client.query(
            TableName=self.table,
            IndexName=keys.GSI_NAME,
            KeyConditionExpression="gsi1pk = :u",
            ExpressionAttributeValues=values(u=keys.user_gsi_pk(user_id)),
            ProjectionExpression="connection_id",
        )
        connection_ids = [from_item(i)["connection_id"] for i in response.get("Items", [])]
        found: dict[str, str] = {}
        pending: list[dict[str, Any]] = [
            key(keys.room_pk(room_id), keys.member_sk(cid)) for cid in connection_ids[:100]
        ]
        for _ in range(5):
            if not pending:
                break
            result = self.client.batch_get_item(
                RequestItems={
                    self.table: {
                        "Keys": pending,
                        "ConsistentRead": True,
                        "ProjectionExpression": "connection_id, user_id, #n",
                        "ExpressionAttributeNames": {"#n": "name"},
                    }
                }
            )
            for item in result.get("Responses", {}).get(self.table, []):
                plain = from_item(item)
                if plain.get("user_id") == user_id:
                    found[plain["connection_id"]] = str(plain.get("name") or user_id)
            pending = result.get("UnprocessedKeys", {}).get(self.table, {}).get("Keys", [])
        return {cid: found[cid] for cid in connection_ids if cid in found}

