"""The DynamoDB client and item (de)serialisation.

The low-level client is used rather than the resource API: it is cheaper to create
at cold start and gives direct access to transaction cancellation reasons.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from decimal import Decimal
from functools import cache
from typing import Any

import boto3
from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.config import Config

_serializer = TypeSerializer()
_deserializer = TypeDeserializer()


@cache
def dynamodb_client() -> Any:
    return boto3.client(
        "dynamodb",
        config=Config(
            retries={"max_attempts": 4, "mode": "standard"},
            connect_timeout=2,
            read_timeout=5,
            max_pool_connections=32,
        ),
    )


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, set):
        return sorted(_plain(v) for v in value)
    return value


def _dynamo_value(value: Any) -> Any:
    if isinstance(value, float):
        return Decimal(str(value))
    if isinstance(value, dict):
        return {k: _dynamo_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_dynamo_value(v) for v in value]
    return value


def to_item(values: Mapping[str, Any]) -> dict[str, Any]:
    """A plain dict as a DynamoDB item; None values are left out (absent, not NULL)."""
    return {k: _serializer.serialize(_dynamo_value(v)) for k, v in values.items() if v is not None}


def to_value(value: Any) -> dict[str, Any]:
    return dict(_serializer.serialize(_dynamo_value(value)))


def from_item(item: Mapping[str, Any]) -> dict[str, Any]:
    return {k: _plain(_deserializer.deserialize(v)) for k, v in item.items()}


def values(**kwargs: Any) -> dict[str, Any]:
    """ExpressionAttributeValues from keyword arguments: values(n=1) -> {":n": {"N": "1"}}."""
    return {f":{k}": to_value(v) for k, v in kwargs.items()}


def key(pk: str, sk: str) -> dict[str, Any]:
    return {"pk": {"S": pk}, "sk": {"S": sk}}


def query_pages(client: Any, **params: Any) -> Iterator[list[dict[str, Any]]]:
    """Yield each page of a Query as plain dicts (memory bounded by one page)."""
    while True:
        response = client.query(**params)
        yield [from_item(i) for i in response.get("Items", [])]
        last = response.get("LastEvaluatedKey")
        if not last:
            return
        params["ExclusiveStartKey"] = last


def update_fields(
    client: Any,
    table: str,
    item_key: dict[str, Any],
    fields: Mapping[str, Any],
    condition: str | None = None,
    condition_values: Mapping[str, Any] | None = None,
    return_new: bool = False,
) -> dict[str, Any] | None:
    """SET `fields` (a None value REMOVEs the attribute) on an existing item.

    `condition` is ANDed with attribute_exists(pk); its placeholders are `condition_values`
    ({"now": 5} is `:now`) and the fields' names are #f0, #f1... in order. Returns the new
    item (return_new) or {} on success, None when the condition does not hold.
    """
    from botocore.exceptions import ClientError

    from roomcast.aws_errors import is_conditional_failure

    names: dict[str, str] = {}
    sets: list[str] = []
    removes: list[str] = []
    vals: dict[str, Any] = dict(condition_values or {})
    for index, (name, value) in enumerate(fields.items()):
        names[f"#f{index}"] = name
        if value is None:
            removes.append(f"#f{index}")
        else:
            sets.append(f"#f{index} = :v{index}")
            vals[f"v{index}"] = value
    expression = ("SET " + ", ".join(sets) if sets else "") + (" REMOVE " + ", ".join(removes) if removes else "")
    params: dict[str, Any] = {
        "TableName": table,
        "Key": item_key,
        "UpdateExpression": expression.strip(),
        "ConditionExpression": "attribute_exists(pk)" + (f" AND ({condition})" if condition else ""),
    }
    if names:
        params["ExpressionAttributeNames"] = names
    if vals:
        params["ExpressionAttributeValues"] = values(**vals)
    if return_new:
        params["ReturnValues"] = "ALL_NEW"
    try:
        response = client.update_item(**params)
    except ClientError as exc:
        if is_conditional_failure(exc):
            return None
        raise
    return from_item(response["Attributes"]) if return_new else {}
