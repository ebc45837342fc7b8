"""A user's inbox: stored notifications (`USER#<user>` / `INBOX#<id>`, with a TTL) and the
unread count (`USER#<user>` / `INBOXCOUNT`), which changes in the transaction of every
write it counts: a stored notification adds one, marking one read takes one away (only
if it was unread, so a repeated mark changes nothing).

Known drift: an unread item that DynamoDB's TTL deletes is not taken out of the count
(TTL deletes without a hook here). Reads clamp the count at 0; a user who marks
everything read gets back to 0 (docs/protocol.md, "inbox").
"""

from __future__ import annotations

import time
from typing import Any

from botocore.exceptions import ClientError

from roomcast.aws_errors import error_code
from roomcast.dal import keys
from roomcast.dal.dynamo import from_item, key, to_item, values
from roomcast.dal.store import unread_of


class InboxStore:
    def __init__(self, table: str, client: Any) -> None:
        self.table = table
        self.client = client

    def _counter(self, user_id: str, change: int) -> dict[str, Any]:
        return {
            "Update": {
                "TableName": self.table,
                "Key": key(keys.user_pk(user_id), keys.INBOX_COUNT),
                "UpdateExpression": "ADD unread :n",
                "ExpressionAttributeValues": values(n=change),
            }
        }

    def store(self, user_id: str, item: dict[str, Any], ttl: int) -> None:
        record = {**item, "read": False, "ttl": ttl}
        record.update(pk=keys.user_pk(user_id), sk=keys.inbox_sk(item["id"]))
        self.client.transact_write_items(
            TransactItems=[
                {
                    "Put": {
                        "TableName": self.table,
                        "Item": to_item(record),
                        "ConditionExpression": "attribute_not_exists(pk)",
                    }
                },
                self._counter(user_id, 1),
            ]
        )

    def _mark(self, user_id: str, ids: list[str]) -> dict[str, Any]:
        marks = [
            {
                "Update": {
                    "TableName": self.table,
                    "Key": key(keys.user_pk(user_id), keys.inbox_sk(i)),
                    "UpdateExpression": "SET #read = :t",
                    "ConditionExpression": "attribute_exists(pk) AND #read = :f",
                    "ExpressionAttributeNames": {"#read": "read"},
                    "ExpressionAttributeValues": values(t=True, f=False),
                }
            }
            for i in ids
        ]
        return {"TransactItems": [*marks, self._counter(user_id, -len(ids))]}

    def mark_read(self, user_id: str, ids: list[str]) -> int:
        """Mark these read; how many were unread. All in one transaction when every one is
        unread; otherwise (one already read or gone) one transaction each."""
        ids = list(dict.fromkeys(ids))
        if not ids:
            return 0
        try:
            self.client.transact_write_items(**self._mark(user_id, ids))
            return len(ids)
        except ClientError as exc:
            if error_code(exc) != "TransactionCanceledException":
                raise
            if len(ids) == 1:
                return 0
        marked = 0
        for one in ids:
            try:
                self.client.transact_write_items(**self._mark(user_id, [one]))
                marked += 1
            except ClientError as exc:
                if error_code(exc) != "TransactionCanceledException":
                    raise
        return marked

    def page(self, user_id: str, before: str | None, limit: int) -> tuple[list[dict[str, Any]], str | None]:
        """Newest first; items past their TTL (not yet deleted by DynamoDB) are left out."""
        params: dict[str, Any] = {
            "TableName": self.table,
            "KeyConditionExpression": "pk = :p AND begins_with(sk, :s)",
            "ExpressionAttributeValues": values(p=keys.user_pk(user_id), s=keys.INBOX_PREFIX),
            "ScanIndexForward": False,
            "Limit": limit,
            "ConsistentRead": True,
        }
        if before:
            params["ExclusiveStartKey"] = key(keys.user_pk(user_id), keys.inbox_sk(before))
        response = self.client.query(**params)
        now = int(time.time())
        items = [from_item(i) for i in response.get("Items", [])]
        cursor = items[-1]["id"] if items and response.get("LastEvaluatedKey") else None
        return [i for i in items if int(i.get("ttl", now + 1)) > now], cursor

    def unread(self, user_id: str) -> int:
        item = self.client.get_item(
            TableName=self.table, Key=key(keys.user_pk(user_id), keys.INBOX_COUNT), ConsistentRead=True
        ).get("Item")
        return unread_of(from_item(item) if item else None) or 0
