"""Event batches of an endpoint and their attempts (same table, the endpoint's partition).

    pk EP#<endpoint>   sk EVT#<event id>                 the event is queued for the endpoint (TTL)
    pk EP#<endpoint>   sk EBATCH#<batch id>              a batch (its signed body, status, progress)
    pk EP#<endpoint>   sk EBATCH#<batch id>#ATTEMPT#<n>  one attempt

Batch ids start with the time of their first event (13-digit epoch ms), so one Query
lists an endpoint's batches in time order and "since a time" is a key range.

Exactly once per endpoint: a batch is written in ONE transaction with a marker per
event it carries, each conditional on not existing. A stream record read again (a
retried or bisected stream batch) builds the same batch id (written already: its job is
sent again, and the delivery sees it delivered) or a batch whose events are partly
queued (those are left out and the rest go in a new batch): an event never reaches the
endpoint in two batches.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from roomcast.aws_errors import cancellation_codes, error_code, is_conditional_failure
from roomcast.dal import keys
from roomcast.dal.dynamo import dynamodb_client, from_item, key, to_item, update_fields, values
from roomcast.errors import InvalidCursor
from roomcast.models.events import BatchAttemptRecord, EventBatchRecord

_ATTEMPT = "#ATTEMPT#"
# A marker outlives the stream's 24 h retention with margin: a record read again within
# it always meets its marker.
MARKER_TTL_SECONDS = 3 * 86400
# TransactWriteItems takes 100 actions: the batch and its markers.
MAX_EVENTS_PER_TRANSACTION = 99


@dataclass(frozen=True)
class Enqueued:
    batch_id: str | None  # None: some of its events were queued already, in other batches
    new: bool
    queued_elsewhere: frozenset[str]  # event ids found queued already
    # The batches those were queued in: their jobs are sent again (a crash may have come
    # between their transaction and their job; a job for a delivered batch sends nothing).
    other_batches: frozenset[str] = frozenset()


class EventDeliveryStore:
    def __init__(self, table_name: str, client: Any | None = None) -> None:
        self.table = table_name
        self.client = client or dynamodb_client()

    def _key(self, endpoint_id: str, batch_id: str) -> dict[str, Any]:
        return key(keys.endpoint_pk(endpoint_id), keys.batch_sk(batch_id))

    def enqueue(self, record: EventBatchRecord, event_ids: list[str], now: int) -> Enqueued:
        """Write the batch and its events' markers at once; see the module docstring."""
        if len(event_ids) > MAX_EVENTS_PER_TRANSACTION:
            raise ValueError(f"a batch carries at most {MAX_EVENTS_PER_TRANSACTION} events")
        pk = keys.endpoint_pk(record.endpoint_id)
        ttl = now // 1000 + MARKER_TTL_SECONDS
        batch_item = {**record.model_dump(exclude_none=True), "pk": pk, "sk": keys.batch_sk(record.batch_id),
                      "entity": "event_batch"}
        actions: list[dict[str, Any]] = [
            {"Put": {"TableName": self.table, "Item": to_item(batch_item), "ConditionExpression": "attribute_not_exists(pk)"}}
        ]
        for event_id in event_ids:
            marker = {"pk": pk, "sk": keys.event_marker_sk(event_id), "batch_id": record.batch_id, "ttl": ttl,
                      "entity": "event_marker"}
            actions.append(
                {"Put": {"TableName": self.table, "Item": to_item(marker), "ConditionExpression": "attribute_not_exists(pk)",
                         # A marker already there names its batch in the cancellation reason.
                         "ReturnValuesOnConditionCheckFailure": "ALL_OLD"}}
            )
        try:
            self.client.transact_write_items(TransactItems=actions)
        except ClientError as exc:
            codes = cancellation_codes(exc)
            if error_code(exc) != "TransactionCanceledException" or not codes:
                raise
            failed = [i for i, code in enumerate(codes) if code == "ConditionalCheckFailed"]
            if not failed or any(code not in ("None", "ConditionalCheckFailed") for code in codes):
                raise  # a conflict or a throttle: the stream batch is retried
            if 0 in failed:
                return Enqueued(record.batch_id, new=False, queued_elsewhere=frozenset())
            reasons = exc.response.get("CancellationReasons") or []
            others = {
                str(from_item(reasons[i]["Item"]).get("batch_id"))
                for i in failed if i < len(reasons) and reasons[i].get("Item")
            }
            return Enqueued(None, new=False, queued_elsewhere=frozenset(event_ids[i - 1] for i in failed),
                            other_batches=frozenset(others))
        return Enqueued(record.batch_id, new=True, queued_elsewhere=frozenset())

    def get(self, endpoint_id: str, batch_id: str) -> EventBatchRecord | None:
        item = self.client.get_item(TableName=self.table, Key=self._key(endpoint_id, batch_id),
                                    ConsistentRead=True).get("Item")
        return EventBatchRecord(**from_item(item)) if item else None

    def update(self, endpoint_id: str, batch_id: str, *, condition: str | None = None,
               condition_values: dict[str, Any] | None = None, **fields: Any) -> bool:
        return update_fields(self.client, self.table, self._key(endpoint_id, batch_id), fields,
                             condition, condition_values) is not None

    def claim(self, endpoint_id: str, batch_id: str, now: int, lease_ms: int) -> EventBatchRecord | None:
        """The batch's send lease: None when it is finished or another worker holds it."""
        try:
            response = self.client.update_item(
                TableName=self.table,
                Key=self._key(endpoint_id, batch_id),
                UpdateExpression="SET lease_until = :until",
                ConditionExpression="attribute_exists(pk) AND #s IN (:pending, :retrying) AND "
                "(attribute_not_exists(lease_until) OR lease_until < :now)",
                ExpressionAttributeNames={"#s": "status"},
                ExpressionAttributeValues=values(until=now + lease_ms, now=now, pending="pending", retrying="retrying"),
                ReturnValues="ALL_NEW",
            )
        except ClientError as exc:
            if is_conditional_failure(exc):
                return None
            raise
        return EventBatchRecord(**from_item(response["Attributes"]))

    def put_attempt(self, attempt: BatchAttemptRecord) -> None:
        item = {**attempt.model_dump(exclude_none=True), "pk": keys.endpoint_pk(attempt.endpoint_id),
                "sk": f"{keys.batch_sk(attempt.batch_id)}{_ATTEMPT}{attempt.attempt:06d}", "entity": "event_attempt"}
        self.client.put_item(TableName=self.table, Item=to_item(item))

    def page(self, endpoint_id: str, status: str | None, limit: int, cursor: str | None,
             since_ms: int | None = None) -> tuple[list[tuple[EventBatchRecord, list[BatchAttemptRecord]]], str | None]:
        """Batches (oldest first) with their attempts, `limit` batches at most; the cursor
        is the last batch id returned. A status filter reads past the others (bounded by
        the pages it reads: at most 20 of 1 MB per call)."""
        start = keys.batch_sk(f"{since_ms:013d}") if since_ms is not None else keys.BATCH_PREFIX
        if cursor is not None:
            if not cursor or len(cursor) > 64 or "#" in cursor:
                raise InvalidCursor("invalid cursor")
            start = keys.batch_sk(cursor) + _ATTEMPT + "~"
        params: dict[str, Any] = {
            "TableName": self.table,
            "KeyConditionExpression": "pk = :p AND sk BETWEEN :a AND :b",
            "ExpressionAttributeValues": values(p=keys.endpoint_pk(endpoint_id), a=start,
                                                b=keys.prefix_end(keys.BATCH_PREFIX)),
            "ConsistentRead": True,
        }
        result: list[tuple[EventBatchRecord, list[BatchAttemptRecord]]] = []
        keep = False
        for _page in range(20):
            response = self.client.query(**params)
            for raw in response.get("Items", []):
                item = from_item(raw)
                if _ATTEMPT in item["sk"]:
                    if keep and result:
                        result[-1][1].append(BatchAttemptRecord(**item))
                    continue
                if len(result) >= limit:
                    return result, result[-1][0].batch_id
                batch = EventBatchRecord(**item)
                keep = status is None or batch.status == status
                if keep:
                    result.append((batch, []))
            last = response.get("LastEvaluatedKey")
            if not last:
                return result, None
            params["ExclusiveStartKey"] = last
        return result, (result[-1][0].batch_id if result else None)
