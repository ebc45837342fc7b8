"""Streamed messages being written: one `ROOM#<room>` / `STREAM#<message id>` item each.

The item holds the text made of the chunks received in order so far (`text`, chunks
0..next_seq-1), the chunks that arrived after a gap (`held`, seq -> text), and a
`version` every write must match. Two chunk requests at once therefore cannot lose a
chunk: the second write's condition fails, it reads the item again and applies its chunk
on top (logic/streams.py). The `MSG#` item is written only when the stream ends, in the
transaction that deletes this one (dal/store.put_message's `extra`), so history and a
table-stream consumer see exactly one message with the whole text.
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError
from pydantic import Field

from roomcast.aws_errors import error_code, is_conditional_failure
from roomcast.dal import keys
from roomcast.dal.dynamo import from_item, key, query_pages, to_item, values
from roomcast.errors import RoomClosed, RoomNotFound
from roomcast.models.records import Record, SenderKind


class StreamRecord(Record):
    room_id: str
    message_id: str
    user_id: str
    name: str
    sender_kind: SenderKind
    meta: dict[str, Any] | None = None
    text: str = ""
    next_seq: int = 0
    held: dict[str, str] = Field(default_factory=dict)
    chars: int = 0  # len(text) + the held chunks' lengths: the stream's size so far
    chunks: int = 0
    version: int = 0
    started_at: int  # epoch ms
    last_at: int  # epoch ms of the last accepted chunk (or the open): the idle timeout's start
    tat: int = 0  # the chunk rate's theoretical arrival time (GCRA, epoch ms)
    ttl: int  # epoch seconds: DynamoDB deletes a stream nothing ended (the timer's backstop)


class StreamStore:
    def __init__(self, table: str, client: Any) -> None:
        self.table = table
        self.client = client

    def _key(self, room_id: str, message_id: str) -> dict[str, Any]:
        return key(keys.room_pk(room_id), keys.stream_sk(message_id))

    def open(self, stream: StreamRecord) -> None:
        """The stream item and the room's open-stream count, only in an open room."""
        item = stream.model_dump(exclude_none=True)
        item.update(pk=keys.room_pk(stream.room_id), sk=keys.stream_sk(stream.message_id))
        try:
            self.client.transact_write_items(
                TransactItems=[
                    {
                        "Update": {
                            "TableName": self.table,
                            "Key": key(keys.room_pk(stream.room_id), keys.META),
                            "UpdateExpression": "ADD open_streams :one",
                            "ConditionExpression": "#state = :open",
                            "ExpressionAttributeNames": {"#state": "state"},
                            "ExpressionAttributeValues": values(one=1, open="open"),
                        }
                    },
                    {
                        "Put": {
                            "TableName": self.table,
                            "Item": to_item(item),
                            "ConditionExpression": "attribute_not_exists(pk)",
                        }
                    },
                ]
            )
        except ClientError as exc:
            if error_code(exc) != "TransactionCanceledException":
                raise
            room = self.client.get_item(
                TableName=self.table, Key=key(keys.room_pk(stream.room_id), keys.META), ConsistentRead=True
            ).get("Item")
            if room is None:
                raise RoomNotFound() from exc
            raise RoomClosed() from exc

    def get(self, room_id: str, message_id: str) -> StreamRecord | None:
        item = self.client.get_item(
            TableName=self.table, Key=self._key(room_id, message_id), ConsistentRead=True
        ).get("Item")
        return StreamRecord(**from_item(item)) if item else None

    def replace(self, stream: StreamRecord, expected_version: int) -> bool:
        """Write the stream's new state if nobody wrote since `expected_version` was read."""
        item = stream.model_dump(exclude_none=True)
        item.update(pk=keys.room_pk(stream.room_id), sk=keys.stream_sk(stream.message_id))
        try:
            self.client.put_item(
                TableName=self.table,
                Item=to_item(item),
                ConditionExpression="version = :v",
                ExpressionAttributeValues=values(v=expected_version),
            )
        except ClientError as exc:
            if is_conditional_failure(exc):
                return False
            raise
        return True

    def end_item(self, stream: StreamRecord) -> dict[str, Any]:
        """The transaction item that ends a stream: deleted, as last read (else Conflict)."""
        return {
            "Delete": {
                "TableName": self.table,
                "Key": self._key(stream.room_id, stream.message_id),
                "ConditionExpression": "version = :v",
                "ExpressionAttributeValues": values(v=stream.version),
            }
        }

    def discard(self, stream: StreamRecord) -> bool:
        """End a stream that has no text: no message, the room's count taken back."""
        try:
            self.client.transact_write_items(
                TransactItems=[
                    self.end_item(stream),
                    {
                        "Update": {
                            "TableName": self.table,
                            "Key": key(keys.room_pk(stream.room_id), keys.META),
                            "UpdateExpression": "ADD open_streams :minus",
                            "ConditionExpression": "attribute_exists(pk)",
                            "ExpressionAttributeValues": values(minus=-1),
                        }
                    },
                ]
            )
        except ClientError as exc:
            if error_code(exc) == "TransactionCanceledException":
                return False
            raise
        return True

    def open_streams(self, room_id: str) -> list[StreamRecord]:
        found: list[StreamRecord] = []
        for page in query_pages(
            self.client,
            TableName=self.table,
            KeyConditionExpression="pk = :p AND begins_with(sk, :s)",
            ExpressionAttributeValues=values(p=keys.room_pk(room_id), s="STREAM#"),
            ConsistentRead=True,
        ):
            found.extend(StreamRecord(**item) for item in page)
        return found
