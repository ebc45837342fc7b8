"""Handlers for the local runtime's fixture template: each reports what it received."""

from __future__ import annotations

import json
import os
import time
from typing import Any

import boto3

_invocations = 0  # module state: survives between invocations of one warm worker


def _table() -> Any:
    return boto3.resource("dynamodb").Table(os.environ["TABLE_NAME"])


def http_handler(event: dict[str, Any], context: Any) -> Any:
    global _invocations
    _invocations += 1
    path = event["rawPath"]
    if path == "/boom":
        raise RuntimeError("boom")
    if path == "/plain":
        return {"plain": True}
    if path == "/state":
        return {
            "invocations": _invocations,
            "pid": os.getpid(),
            "greeting": os.environ.get("GREETING"),
            "endpoint": os.environ.get("AWS_ENDPOINT_URL"),
            "management": os.environ.get("AWS_ENDPOINT_URL_APIGATEWAYMANAGEMENTAPI"),
            "function_name": context.function_name,
            "memory": context.memory_limit_in_mb,
            "arn": context.invoked_function_arn,
            "remaining_ms": context.get_remaining_time_in_millis(),
            "request_id": context.aws_request_id,
            "queue_arn": os.environ.get("QUEUE_ARN"),
            "leaked": os.environ.get("ROOMCAST_FIXTURE_PARENT_ONLY"),
        }
    return {
        "statusCode": 201,
        "headers": {"content-type": "application/json", "x-fixture": "yes"},
        "cookies": ["session=abc; Path=/"],
        "body": json.dumps(event),
    }


def slow_handler(event: dict[str, Any], context: Any) -> Any:
    time.sleep(3)
    return {"slept": True}


def sqs_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    failures = []
    for record in event["Records"]:
        if record["body"].startswith("fail"):
            failures.append({"itemIdentifier": record["messageId"]})
            continue
        _table().put_item(
            Item={
                "pk": "sqs#" + record["body"],
                "record": json.dumps(record),
                "batch_size": len(event["Records"]),
            }
        )
    return {"batchItemFailures": failures}


def auth_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    query = event.get("queryStringParameters") or {}
    if query.get("unauth"):
        raise Exception("Unauthorized")  # API Gateway's convention for a 401
    effect = "Deny" if query.get("deny") else "Allow"
    return {
        "principalId": query.get("user", "anon"),
        "policyDocument": {
            "Version": "2012-10-17",
            "Statement": [{"Action": "execute-api:Invoke", "Effect": effect, "Resource": event["methodArn"]}],
        },
        "context": {"plan": "gold", "level": 3},
    }


def ws_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    request = event["requestContext"]
    route = request["routeKey"]
    if route == "$connect":
        query = event.get("queryStringParameters") or {}
        if query.get("refuse"):
            return {"statusCode": 403}
        offered = (event.get("headers") or {}).get("Sec-WebSocket-Protocol", "")
        if "echo.v1" in offered:
            return {"statusCode": 200, "headers": {"Sec-WebSocket-Protocol": "echo.v1"}}
        return {"statusCode": 200}
    if route == "$disconnect":
        _table().put_item(
            Item={"pk": "disconnect#" + request["connectionId"], "code": int(request.get("disconnectStatusCode") or 0)}
        )
        return {"statusCode": 200}
    body = json.loads(event["body"]) if not event.get("isBase64Encoded") else {"binary": event["body"]}
    if body.get("crash"):
        raise RuntimeError("crash requested")
    if route == "oneway":
        _table().put_item(Item={"pk": "oneway#" + request["connectionId"], "body": event["body"]})
    if isinstance(body.get("pad"), int):  # a reply of exactly that many bytes
        return {"statusCode": 200, "body": "x" * body["pad"]}
    return {
        "statusCode": 200,
        "body": json.dumps(
            {
                "route": route,
                "eventType": request["eventType"],
                "connectionId": request["connectionId"],
                "authorizer": request.get("authorizer"),
                "stage": request["stage"],
                "body": body,
                "isBase64Encoded": event.get("isBase64Encoded"),
            }
        ),
    }
