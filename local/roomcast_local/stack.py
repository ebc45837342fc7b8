"""Create the template's stateful resources (tables, queues, secrets) in an AWS endpoint
(the embedded moto server, or moto's in-process mock in tests) and resolve every
function's environment against them.
"""

from __future__ import annotations

import json
import secrets as pysecrets
import string
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from roomcast_local.cfn import Resolver, parameter_defaults

ACCOUNT_ID = "123456789012"
PLACEHOLDER_TYPES = {
    # Resources that exist only in the cloud: their Ref is a stable local name, enough for
    # the !Sub strings that mention them (the local runtime routes the real traffic).
    "AWS::ApiGatewayV2::Api": "api",
    "AWS::Serverless::HttpApi": "httpapi",
    "AWS::Serverless::LayerVersion": "layer",
    "AWS::ApiGatewayV2::Authorizer": "authorizer",
    "AWS::ApiGatewayV2::Integration": "integration",
    "AWS::ApiGatewayV2::Route": "route",
    "AWS::ApiGatewayV2::Stage": "stage",
}


@dataclass
class Stack:
    template: dict[str, Any]
    region: str
    stack_name: str
    resolver: Resolver
    tables: dict[str, str] = field(default_factory=dict)  # logical id -> table name
    queues: dict[str, str] = field(default_factory=dict)  # logical id -> queue URL
    secrets: dict[str, str] = field(default_factory=dict)  # logical id -> secret ARN
    functions: dict[str, str] = field(default_factory=dict)  # logical id -> function name

    def function_environment(self, logical_id: str) -> dict[str, str]:
        """Globals.Function.Environment merged with the function's own, all resolved."""
        resources = self.template["Resources"]
        globals_env = (
            ((self.template.get("Globals") or {}).get("Function") or {}).get("Environment") or {}
        ).get("Variables") or {}
        own_env = ((resources[logical_id]["Properties"].get("Environment") or {}).get("Variables")) or {}
        merged = {**globals_env, **own_env}
        return {k: str(self.resolver.resolve(v)) for k, v in merged.items()}


def _generate_secret(spec: Mapping[str, Any]) -> str:
    length = int(spec.get("PasswordLength", 32))
    alphabet = string.ascii_letters + string.digits
    if not spec.get("ExcludePunctuation"):
        alphabet += "!#$%&*+-.:=?@^_~"
    return "".join(pysecrets.choice(alphabet) for _ in range(length))


def provision(
    template: dict[str, Any],
    session: Any,
    region: str = "us-east-1",
    stack_name: str = "roomcast-local",
    parameters: Mapping[str, Any] | None = None,
    secret_values: Mapping[str, str] | None = None,
) -> Stack:
    """Create tables, queues and secrets; return a Stack whose resolver knows them all.

    Resources are created in dependency order by retrying those whose references are not
    resolvable yet (a source queue's redrive policy names its DLQ's Arn, for example).
    """
    params = {**parameter_defaults(template), **(parameters or {})}
    refs: dict[str, Any] = {
        **params,
        "AWS::Region": region,
        "AWS::AccountId": ACCOUNT_ID,
        "AWS::Partition": "aws",
        "AWS::StackName": stack_name,
        "AWS::URLSuffix": "amazonaws.com",
        "AWS::NoValue": None,
    }
    attrs: dict[str, Any] = {}
    resolver = Resolver(refs, attrs)
    stack = Stack(template=template, region=region, stack_name=stack_name, resolver=resolver)
    resources = template.get("Resources") or {}

    for name, res in resources.items():
        kind = res.get("Type", "")
        if kind == "AWS::Serverless::Function":
            fn_name = f"{stack_name}-{name}"
            stack.functions[name] = fn_name
            refs[name] = fn_name
            attrs[f"{name}.Arn"] = f"arn:aws:lambda:{region}:{ACCOUNT_ID}:function:{fn_name}"
        elif kind in PLACEHOLDER_TYPES:
            refs[name] = f"{PLACEHOLDER_TYPES[kind]}-{name.lower()}"
            if kind == "AWS::Serverless::LayerVersion":
                refs[name] = f"arn:aws:lambda:{region}:{ACCOUNT_ID}:layer:{name}:1"

    pending = {
        name: res
        for name, res in resources.items()
        if res.get("Type") in ("AWS::DynamoDB::Table", "AWS::SQS::Queue", "AWS::SecretsManager::Secret")
    }
    dynamodb = session.client("dynamodb", region_name=region)
    sqs = session.client("sqs", region_name=region)
    secretsmanager = session.client("secretsmanager", region_name=region)
    while pending:
        progressed = False
        last_error: KeyError | None = None
        for name in list(pending):
            res = pending[name]
            try:
                props = resolver.resolve(res.get("Properties") or {})
            except KeyError as exc:
                last_error = exc
                continue
            kind = res["Type"]
            if kind == "AWS::DynamoDB::Table":
                table = _create_table(dynamodb, name, props, stack_name)
                stack.tables[name] = table
                refs[name] = table
                attrs[f"{name}.Arn"] = f"arn:aws:dynamodb:{region}:{ACCOUNT_ID}:table/{table}"
                stream_arn = dynamodb.describe_table(TableName=table)["Table"].get("LatestStreamArn")
                if stream_arn:
                    attrs[f"{name}.StreamArn"] = stream_arn
            elif kind == "AWS::SQS::Queue":
                url, arn, queue_name = _create_queue(sqs, name, props, stack_name)
                stack.queues[name] = url
                refs[name] = url
                attrs.update({f"{name}.Arn": arn, f"{name}.QueueName": queue_name, f"{name}.QueueUrl": url})
            else:
                value = (secret_values or {}).get(name)
                arn = _create_secret(secretsmanager, name, props, stack_name, value)
                stack.secrets[name] = arn
                refs[name] = arn
                attrs[f"{name}.Id"] = arn
            del pending[name]
            progressed = True
        if not progressed:
            raise RuntimeError(f"cannot provision {sorted(pending)}: {last_error}")
    return stack


def _create_table(client: Any, logical_id: str, props: dict[str, Any], stack_name: str) -> str:
    name = props.get("TableName") or f"{stack_name}-{logical_id}"
    request: dict[str, Any] = {
        "TableName": name,
        "AttributeDefinitions": props["AttributeDefinitions"],
        "KeySchema": props["KeySchema"],
        "BillingMode": props.get("BillingMode", "PAY_PER_REQUEST"),
    }
    if props.get("GlobalSecondaryIndexes"):
        request["GlobalSecondaryIndexes"] = [
            {k: v for k, v in gsi.items() if k in ("IndexName", "KeySchema", "Projection")}
            for gsi in props["GlobalSecondaryIndexes"]
        ]
    if request["BillingMode"] == "PROVISIONED":
        request["ProvisionedThroughput"] = props["ProvisionedThroughput"]
    stream = props.get("StreamSpecification")
    if stream and stream.get("StreamViewType"):
        request["StreamSpecification"] = {"StreamEnabled": True, "StreamViewType": stream["StreamViewType"]}
    try:
        client.create_table(**request)
    except client.exceptions.ResourceInUseException:
        return name
    ttl = props.get("TimeToLiveSpecification")
    if ttl and ttl.get("Enabled"):
        client.update_time_to_live(
            TableName=name,
            TimeToLiveSpecification={"AttributeName": ttl["AttributeName"], "Enabled": True},
        )
    return name


def _create_queue(client: Any, logical_id: str, props: dict[str, Any], stack_name: str) -> tuple[str, str, str]:
    fifo = bool(props.get("FifoQueue"))
    name = props.get("QueueName") or f"{stack_name}-{logical_id}" + (".fifo" if fifo else "")
    attributes: dict[str, str] = {}
    for prop, attribute in (
        ("VisibilityTimeout", "VisibilityTimeout"),
        ("MessageRetentionPeriod", "MessageRetentionPeriod"),
        ("DelaySeconds", "DelaySeconds"),
        ("ReceiveMessageWaitTimeSeconds", "ReceiveMessageWaitTimeSeconds"),
        ("MaximumMessageSize", "MaximumMessageSize"),
    ):
        if prop in props:
            attributes[attribute] = str(props[prop])
    if fifo:
        attributes["FifoQueue"] = "true"
    if "RedrivePolicy" in props:
        attributes["RedrivePolicy"] = json.dumps(props["RedrivePolicy"])
    if "RedriveAllowPolicy" in props:
        attributes["RedriveAllowPolicy"] = json.dumps(props["RedriveAllowPolicy"])
    url = client.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
    arn = client.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    return url, arn, name


def _create_secret(
    client: Any, logical_id: str, props: dict[str, Any], stack_name: str, value: str | None
) -> str:
    name = props.get("Name") or f"{stack_name}/{logical_id}"
    if value is None:
        value = props.get("SecretString") or _generate_secret(props.get("GenerateSecretString") or {})
    try:
        return client.create_secret(Name=name, SecretString=value)["ARN"]
    except client.exceptions.ResourceExistsException:
        if value is not None:
            client.put_secret_value(SecretId=name, SecretString=value)
        return client.describe_secret(SecretId=name)["ARN"]
