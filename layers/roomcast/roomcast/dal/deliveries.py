"""Delivery and attempt records (same table, the room's partition).

    pk ROOM#<room>   sk DELIVERY#<delivery id>                      the delivery
    pk ROOM#<room>   sk DELIVERY#<delivery id>#ATTEMPT#<n, 6 digits> one attempt

Attempt numbers are zero-padded so one Query returns a delivery followed by its
attempts in order. Progress (parts delivered, run, lease) changes with conditional
updates, so a duplicate SQS delivery of the same job cannot send a part twice.

A sending worker holds the delivery's lease, so it numbers its attempts itself (from the
`attempts` its claim returned) and writes each attempt with its effect on the delivery in
one transaction (`record_attempt`); when that transaction's conditions fail (a replay
started meanwhile, another writer moved the count), the attempt is written the long way:
the count taken with `ADD`, the record, then each conditional update on its own, as
before (docs/operations.md, "DynamoDB requests per operation").
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from roomcast.aws_errors import cancellation_codes, error_code
from roomcast.aws_errors import is_conditional_failure as _conditional_failed
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
from roomcast.dal.store import room_from_item
from roomcast.errors import NotFound
from roomcast.models.records import Room
from roomcast.models.webhooks import AttemptRecord, DeliveryRecord

_ATTEMPT = "#ATTEMPT#"


def attempt_sk(delivery_id: str, attempt: int) -> str:
    return f"{keys.delivery_sk(delivery_id)}{_ATTEMPT}{attempt:06d}"


# A transaction cancelled for these reasons only wrote nothing and may be written the long way;
# any other (throttling, validation) is raised.
_FALLBACK_REASONS = frozenset({"None", "ConditionalCheckFailed", "TransactionConflict"})


def _cancelled(error: ClientError) -> bool:
    return error_code(error) == "TransactionCanceledException" and set(cancellation_codes(error)) <= _FALLBACK_REASONS


def _sets(fields: dict[str, Any]) -> tuple[dict[str, str], list[str], dict[str, Any]]:
    """`SET #fN = :vN` clauses with their names and values, one per field."""
    names: dict[str, str] = {}
    sets: list[str] = []
    vals: dict[str, Any] = {}
    for index, (name, value) in enumerate(fields.items()):
        names[f"#f{index}"] = name
        sets.append(f"#f{index} = :v{index}")
        vals[f"v{index}"] = value
    return names, sets, vals


def _fields(record: DeliveryRecord, **overrides: Any) -> dict[str, Any]:
    return {**record.model_dump(exclude_none=True), **overrides}


class DeliveryStore:
    def __init__(self, table_name: str, client: Any | None = None) -> None:
        self.table = table_name
        self.client = client or dynamodb_client()

    def _key(self, room_id: str, delivery_id: str) -> dict[str, Any]:
        return key(keys.room_pk(room_id), keys.delivery_sk(delivery_id))

    def create(self, record: DeliveryRecord) -> bool:
        """Write a new delivery; False when it already exists."""
        item = _fields(record, pk=keys.room_pk(record.room_id), sk=keys.delivery_sk(record.delivery_id), entity="delivery")
        try:
            self.client.put_item(
                TableName=self.table, Item=to_item(item), ConditionExpression="attribute_not_exists(pk)"
            )
        except ClientError as exc:
            if _conditional_failed(exc):
                return False
            raise
        return True

    def get(self, room_id: str, delivery_id: str) -> DeliveryRecord | None:
        item = self.client.get_item(
            TableName=self.table, Key=self._key(room_id, delivery_id), ConsistentRead=True
        ).get("Item")
        return DeliveryRecord(**from_item(item)) if item else None

    def get_with_room(self, room_id: str, delivery_id: str) -> tuple[DeliveryRecord | None, Room | None]:
        """The delivery and its room's META in one consistent read (one TransactGetItems)."""
        pk = keys.room_pk(room_id)
        response = self.client.transact_get_items(
            TransactItems=[
                {"Get": {"TableName": self.table, "Key": self._key(room_id, delivery_id)}},
                {"Get": {"TableName": self.table, "Key": key(pk, keys.META)}},
            ]
        )
        delivery, room = (r.get("Item") for r in response["Responses"])
        return (
            DeliveryRecord(**from_item(delivery)) if delivery else None,
            room_from_item(from_item(room)) if room else None,
        )

    def require(self, room_id: str, delivery_id: str) -> DeliveryRecord:
        record = self.get(room_id, delivery_id)
        if record is None:
            raise NotFound("no such delivery")
        return record

    def update(
        self,
        room_id: str,
        delivery_id: str,
        condition: str | None = None,
        condition_values: dict[str, Any] | None = None,
        **fields: Any,
    ) -> bool:
        """SET the given fields (None removes one); False when `condition` does not hold.

        `condition_values` names the condition's own placeholders: {"stale": 5} is `:stale`.
        """
        return update_fields(
            self.client, self.table, self._key(room_id, delivery_id), fields, condition, condition_values
        ) is not None

    def _update(self, params: dict[str, Any], vals: dict[str, Any]) -> bool:
        if vals:
            params["ExpressionAttributeValues"] = values(**vals)
        try:
            self.client.update_item(**params)
        except ClientError as exc:
            if _conditional_failed(exc):
                return False
            raise
        return True

    def mark_enqueued(self, room_id: str, delivery_id: str, at: int) -> bool:
        """Claim the right to enqueue (once per delivery): False when it was already enqueued."""
        return self.update(room_id, delivery_id, condition="attribute_not_exists(enqueued_at)", enqueued_at=at)

    def claim(self, room_id: str, delivery_id: str, run: int, now: int, lease_ms: int) -> DeliveryRecord | None:
        """Take the lease for sending this run; None when another worker holds it or the run is stale."""
        params: dict[str, Any] = {
            "TableName": self.table,
            "Key": self._key(room_id, delivery_id),
            "UpdateExpression": "SET lease_until = :until",
            "ConditionExpression": "attribute_exists(pk) AND #run = :run AND "
            "(attribute_not_exists(lease_until) OR lease_until < :now)",
            "ExpressionAttributeNames": {"#run": "run"},
            "ReturnValues": "ALL_NEW",
        }
        params["ExpressionAttributeValues"] = values(until=now + lease_ms, run=run, now=now)
        try:
            response = self.client.update_item(**params)
        except ClientError as exc:
            if _conditional_failed(exc):
                return None
            raise
        return DeliveryRecord(**from_item(response["Attributes"]))

    def release(self, room_id: str, delivery_id: str, run: int, **fields: Any) -> bool:
        """Drop the lease and SET `fields`, if the run is still current."""
        names, sets, vals = _sets(fields)
        names.update({"#run": "run", "#lease": "lease_until"})
        vals["run"] = run
        expression = ("SET " + ", ".join(sets) + " " if sets else "") + "REMOVE #lease"
        params = {
            "TableName": self.table,
            "Key": self._key(room_id, delivery_id),
            "UpdateExpression": expression,
            "ConditionExpression": "attribute_exists(pk) AND #run = :run",
            "ExpressionAttributeNames": names,
        }
        return self._update(params, vals)

    def record_attempt(
        self, attempt: AttemptRecord, progress: int | None = None, release: dict[str, Any] | None = None
    ) -> bool:
        """One transaction: the attempt record (numbered by the lease holder), the delivery's
        `attempts` moved to its number, and - when given - progress to part `progress` and the
        lease dropped with `release`'s fields SET. False, with nothing written, when the
        run is no longer current, the count is not the one before this attempt, or progress
        is not forward: the caller then writes it the long way (`record_attempt_apart`)."""
        names, sets, vals = _sets(release or {})
        names["#run"] = "run"
        sets.append("attempts = :n")
        vals.update(n=attempt.attempt, run=attempt.run)
        counted = "attempts = :before" if attempt.attempt > 1 else "(attribute_not_exists(attempts) OR attempts = :before)"
        vals["before"] = attempt.attempt - 1
        condition = f"attribute_exists(pk) AND #run = :run AND {counted}"
        if progress is not None:
            sets.append("parts_delivered = :p")
            vals["p"] = progress
            condition += " AND parts_delivered < :p"
        expression = "SET " + ", ".join(sets)
        if release is not None:
            names["#lease"] = "lease_until"
            expression += " REMOVE #lease"
        try:
            self.client.transact_write_items(
                TransactItems=[
                    {"Put": {"TableName": self.table, "Item": to_item(self._attempt_item(attempt)),
                             "ConditionExpression": "attribute_not_exists(sk)"}},
                    {"Update": {"TableName": self.table, "Key": self._key(attempt.room_id, attempt.delivery_id),
                                "UpdateExpression": expression, "ConditionExpression": condition,
                                "ExpressionAttributeNames": names, "ExpressionAttributeValues": values(**vals)}},
                ]
            )
        except ClientError as exc:
            if _cancelled(exc):
                return False
            raise
        return True

    def record_attempt_apart(
        self, attempt: AttemptRecord, progress: int | None = None, release: dict[str, Any] | None = None
    ) -> int:
        """The attempt written as separate requests (a fresh number from `ADD attempts`, the
        record, then progress and release each under its own condition); returns the number used."""
        number = self.next_attempt_number(attempt.room_id, attempt.delivery_id)
        self.put_attempt(attempt.model_copy(update={"attempt": number}))
        if progress is not None:
            self.part_delivered(attempt.room_id, attempt.delivery_id, attempt.run, progress)
        if release is not None:
            self.release(attempt.room_id, attempt.delivery_id, attempt.run, **release)
        return number

    def part_delivered(self, room_id: str, delivery_id: str, run: int, part: int) -> bool:
        """Advance progress to `part` (only forward, only within the run)."""
        params = {
            "TableName": self.table,
            "Key": self._key(room_id, delivery_id),
            "UpdateExpression": "SET parts_delivered = :p",
            "ConditionExpression": "attribute_exists(pk) AND #run = :run AND parts_delivered < :p",
            "ExpressionAttributeNames": {"#run": "run"},
        }
        return self._update(params, {"p": part, "run": run})

    def next_attempt_number(self, room_id: str, delivery_id: str) -> int:
        response = self.client.update_item(
            TableName=self.table,
            Key=self._key(room_id, delivery_id),
            UpdateExpression="ADD attempts :one",
            ExpressionAttributeValues=values(one=1),
            ReturnValues="UPDATED_NEW",
        )
        return int(response["Attributes"]["attempts"]["N"])

    def start_run(self, room_id: str, delivery_id: str, now: int) -> int:
        """A replay: a new run that re-sends every part (same webhook-ids); returns its number."""
        try:
            response = self.client.update_item(
                TableName=self.table,
                Key=self._key(room_id, delivery_id),
                UpdateExpression="ADD #run :one SET #status = :pending, parts_delivered = :zero, "
                "replayed_at = :now REMOVE lease_until, delivered_at",
                ConditionExpression="attribute_exists(pk)",
                ExpressionAttributeNames={"#run": "run", "#status": "status"},
                ExpressionAttributeValues=values(one=1, pending="pending", zero=0, now=now),
                ReturnValues="UPDATED_NEW",
            )
        except ClientError as exc:
            if _conditional_failed(exc):
                raise NotFound("no such delivery") from exc
            raise
        return int(response["Attributes"]["run"]["N"])

    @staticmethod
    def _attempt_item(attempt: AttemptRecord) -> dict[str, Any]:
        item = attempt.model_dump(exclude_none=True)
        item.update(
            pk=keys.room_pk(attempt.room_id),
            sk=attempt_sk(attempt.delivery_id, attempt.attempt),
            entity="delivery_attempt",
        )
        return item

    def put_attempt(self, attempt: AttemptRecord) -> None:
        self.client.put_item(TableName=self.table, Item=to_item(self._attempt_item(attempt)))

    def for_room(self, room_id: str) -> list[tuple[DeliveryRecord, list[AttemptRecord]]]:
        """Every delivery of a room with its attempts: one Query on the room's partition."""
        result: list[tuple[DeliveryRecord, list[AttemptRecord]]] = []
        for page in query_pages(
            self.client,
            TableName=self.table,
            KeyConditionExpression="pk = :p AND begins_with(sk, :d)",
            ExpressionAttributeValues=values(p=keys.room_pk(room_id), d="DELIVERY#"),
            ConsistentRead=True,
        ):
            for item in page:
                if _ATTEMPT in item["sk"]:
                    if result:
                        result[-1][1].append(AttemptRecord(**item))
                else:
                    result.append((DeliveryRecord(**item), []))
        return result
