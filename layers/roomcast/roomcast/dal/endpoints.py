"""Event endpoints and their concurrency leases (same table).

    pk ENDPOINTS       sk EP#<endpoint>   the endpoint (its config, state and secret id)
    pk EP#<endpoint>   sk SLOT#<n>        lease n of the endpoint's `concurrency` (0..n-1)

Every endpoint lives in one partition: the stream processor reads all of them with one
Query per batch of stream records (endpoints are few; MAX_ENDPOINTS bounds them).

A request to an endpoint is sent only while its sender holds one of the endpoint's
`concurrency` slot leases. A lease is a conditional write (free, or its lease expired), so
at most `concurrency` requests are in flight at once across every worker, and a worker
that crashes mid-request gives its slot back when the lease expires - no counter to leak.
"""

from __future__ import annotations

import random
from typing import Any

from botocore.exceptions import ClientError

from roomcast.aws_errors import is_conditional_failure
from roomcast.dal import keys
from roomcast.dal.dynamo import (
    dynamodb_client,
    from_item,
    key,
    query_pages,
    to_item,
    update_fields,
    values,
)
from roomcast.errors import Conflict, NotFound
from roomcast.models.events import EndpointRecord

# More endpoints than this are refused (conflict): each is matched against every event.
MAX_ENDPOINTS = 100


class EndpointStore:
    def __init__(self, table_name: str, client: Any | None = None) -> None:
        self.table = table_name
        self.client = client or dynamodb_client()

    def _key(self, endpoint_id: str) -> dict[str, Any]:
        return key(keys.ENDPOINTS_PK, keys.endpoint_sk(endpoint_id))

    def create(self, record: EndpointRecord) -> None:
        if len(self.list_all()) >= MAX_ENDPOINTS:
            raise Conflict(f"at most {MAX_ENDPOINTS} endpoints")
        item = {**record.model_dump(exclude_none=True), "pk": keys.ENDPOINTS_PK,
                "sk": keys.endpoint_sk(record.endpoint_id), "entity": "endpoint"}
        try:
            self.client.put_item(TableName=self.table, Item=to_item(item), ConditionExpression="attribute_not_exists(pk)")
        except ClientError as exc:
            if is_conditional_failure(exc):
                raise Conflict("the endpoint id is taken") from exc
            raise

    def get(self, endpoint_id: str) -> EndpointRecord | None:
        item = self.client.get_item(TableName=self.table, Key=self._key(endpoint_id), ConsistentRead=True).get("Item")
        return EndpointRecord(**from_item(item)) if item else None

    def require(self, endpoint_id: str) -> EndpointRecord:
        record = self.get(endpoint_id)
        if record is None:
            raise NotFound("no such endpoint")
        return record

    def list_all(self) -> list[EndpointRecord]:
        result: list[EndpointRecord] = []
        for page in query_pages(
            self.client,
            TableName=self.table,
            KeyConditionExpression="pk = :p AND begins_with(sk, :e)",
            ExpressionAttributeValues=values(p=keys.ENDPOINTS_PK, e="EP#"),
            ConsistentRead=True,
        ):
            result.extend(EndpointRecord(**item) for item in page)
        return result

    def update(self, endpoint_id: str, *, condition: str | None = None,
               condition_values: dict[str, Any] | None = None, **fields: Any) -> EndpointRecord | None:
        """SET fields (None removes); the new record, or None when `condition` fails."""
        item = update_fields(self.client, self.table, self._key(endpoint_id), fields, condition,
                             condition_values, return_new=True)
        return EndpointRecord(**item) if item else None

    def delete(self, endpoint_id: str) -> bool:
        try:
            self.client.delete_item(TableName=self.table, Key=self._key(endpoint_id),
                                    ConditionExpression="attribute_exists(pk)")
        except ClientError as exc:
            if is_conditional_failure(exc):
                return False
            raise
        return True

    # ------------------------------------------------------------ state changes of sends
    def disable(self, endpoint_id: str, reason: str, now: int) -> bool:
        """enabled -> false once (the first disabler's reason is kept)."""
        return self.update(endpoint_id, condition="#f0 = :on", condition_values={"on": True},
                           enabled=False, disabled_at=now, disabled_reason=reason) is not None

    def note_failure(self, endpoint_id: str, now: int) -> int:
        """Start the failing span if none is running; returns when it started."""
        started = self.update(endpoint_id, condition="attribute_not_exists(#f0)", failing_since=now)
        if started is not None:
            return now
        record = self.get(endpoint_id)
        return record.failing_since if record and record.failing_since else now

    def note_success(self, endpoint_id: str) -> None:
        self.update(endpoint_id, condition="attribute_exists(#f0)", failing_since=None)

    # ------------------------------------------------------------ concurrency leases
    def acquire_slot(self, endpoint_id: str, concurrency: int, holder: str, now: int, lease_ms: int) -> int | None:
        """One of the endpoint's `concurrency` leases, or None when all are held.

        Slots are tried from a random start, so concurrent senders spread over them."""
        start = random.randrange(max(1, concurrency))
        for offset in range(concurrency):
            slot = (start + offset) % concurrency
            try:
                self.client.put_item(
                    TableName=self.table,
                    Item=to_item({"pk": keys.endpoint_pk(endpoint_id), "sk": keys.slot_sk(slot), "holder": holder,
                                  "lease_until": now + lease_ms, "entity": "endpoint_slot",
                                  "ttl": (now + lease_ms) // 1000 + 86400}),
                    ConditionExpression="attribute_not_exists(pk) OR lease_until < :now",
                    ExpressionAttributeValues=values(now=now),
                )
            except ClientError as exc:
                if is_conditional_failure(exc):
                    continue
                raise
            return slot
        return None

    def release_slot(self, endpoint_id: str, slot: int, holder: str) -> None:
        try:
            self.client.delete_item(
                TableName=self.table,
                Key=key(keys.endpoint_pk(endpoint_id), keys.slot_sk(slot)),
                ConditionExpression="holder = :h",
                ExpressionAttributeValues=values(h=holder),
            )
        except ClientError as exc:
            if not is_conditional_failure(exc):
                raise
