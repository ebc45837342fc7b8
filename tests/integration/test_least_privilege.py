"""Least privilege (issue 9 item 7): each function's granted DynamoDB and SQS actions,
as the deployed roles hold them, against what its code calls.

Granted: template.yaml transformed by SAM's own translator (samtranslator, what `sam
deploy` runs), so the roles compared are the ones CloudFormation would create, with any
managed policy SAM attaches on its own (it attaches AWSLambdaSQSQueueExecutionRole,
sqs:* on every queue, to a generated role with an SQS event; our SQS functions have their
own roles for that reason).

Called: every AWS request each handler makes while a scenario drives all of them through
their paths (join to close, calls and their timer, webhooks delivered, retried and dead,
split fan-out and broadcasts, every admin route), recorded from botocore's
event and mapped to IAM actions the way IAM authorizes them (a TransactWriteItems needs the
per-item Put/Update/Delete/ConditionCheckItem; SendMessageBatch is sqs:SendMessage).

The comparison holds both ways: every call is granted (on the right resource), and every
grant is called, or listed in NOT_IN_SCENARIO with the reason it is needed anyway.
"""

from __future__ import annotations

import copy
import json
import os
from collections import defaultdict
from pathlib import Path
from typing import Any

import boto3
import botocore.handlers
import pytest

from tests.helpers import http_event, reply_body, token, ws_event
from tests.integration.events_support import EventsDriver, StreamReader, create_endpoint, run_stream
from tests.integration.webhook_support import (
    QueueDriver,
    Reply,
    ScriptedReceiver,
    admin,
    create_room,
    provisioned_stack,
)

ROOT = Path(__file__).resolve().parents[2]

# handler directory -> template logical id
FUNCTIONS = {
    "authorizer": "AuthorizerFunction",
    "adminauth": "AdminAuthorizerFunction",
    "connect": "ConnectFunction",
    "disconnect": "DisconnectFunction",
    "chat": "ChatFunction",
    "signal": "SignalFunction",
    "calltimer": "CallTimerFunction",
    "admin": "AdminFunction",
    "delivery": "DeliveryFunction",
    "fanout": "FanoutFunction",
    "events": "EventsFunction",
    "eventdelivery": "EventDeliveryFunction",
}
COMPARED_SERVICES = ("dynamodb", "sqs")

# What Lambda's SQS event source mapping calls with the function's role (not the code).
EVENT_SOURCE_ACTIONS = {"sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"}
# What Lambda's DynamoDB stream event source mapping calls with the role: it reads the
# stream and sends a given-up batch's record to the on-failure queue.
STREAM_SOURCE_ACTIONS = {"dynamodb:DescribeStream", "dynamodb:GetRecords", "dynamodb:GetShardIterator",
                         "dynamodb:ListStreams", "sqs:SendMessage"}

# Granted though the scenario does not reach them, each with why.
NOT_IN_SCENARIO: dict[str, dict[str, str]] = {
    "FanoutFunction": {
        "dynamodb:BatchGetItem": "a gone (410) member still in a call: ending the call finds the "
        "peer's connections (logic/presence.drop_connection -> the call's end)",
    },
}

# ----------------------------------------------------------------- recording

_recording: dict[str, set[str]] = defaultdict(set)
_current: list[str | None] = [None]  # a list, not a ContextVar: worker threads share it

_TRANSACT_ACTION = {"Put": "PutItem", "Update": "UpdateItem", "Delete": "DeleteItem", "ConditionCheck": "ConditionCheckItem"}
_SQS_BATCH_ACTION = {
    "SendMessageBatch": "SendMessage",
    "DeleteMessageBatch": "DeleteMessage",
    "ChangeMessageVisibilityBatch": "ChangeMessageVisibility",
}


def iam_actions(service: str, operation: str, params: dict[str, Any]) -> set[str]:
    """The IAM actions one API call needs."""
    if service == "dynamodb" and operation == "TransactWriteItems":
        return {f"dynamodb:{_TRANSACT_ACTION[kind]}" for item in params["TransactItems"] for kind in item}
    if service == "dynamodb" and operation == "TransactGetItems":
        return {"dynamodb:GetItem"}
    if service == "sqs":
        return {f"sqs:{_SQS_BATCH_ACTION.get(operation, operation)}"}
    return {f"{service}:{operation}"}


def _record(model: Any, params: dict[str, Any], **_: Any) -> None:
    function = _current[0]
    if function is None:
        return
    service = model.service_model.signing_name
    if service in COMPARED_SERVICES:
        _recording[function] |= iam_actions(service, model.name, params)


# Every client created from here on calls _record with the API parameters (moto registers
# its stubber through the same list).
botocore.handlers.BUILTIN_HANDLERS.append(("before-parameter-build", _record))


@pytest.fixture
def recorded_invoke(invoke: Any) -> Any:
    def _invoke(function: str, event: dict[str, Any]) -> Any:
        _current[0] = function
        try:
            return invoke(function, event)
        finally:
            _current[0] = None

    _recording.clear()
    yield _invoke
    _recording.clear()


# ----------------------------------------------------------------- granted


def deployed_roles() -> dict[str, dict[str, Any]]:
    """Per function: {"managed": [...], "statements": [...]}, from SAM's translation."""
    from samtranslator.parser.parser import Parser
    from samtranslator.translator.translator import Translator

    from roomcast_local.cfn import load_template

    template = copy.deepcopy(load_template(ROOT / "template.yaml"))
    for resource in template["Resources"].values():
        for uri in ("CodeUri", "ContentUri"):
            if uri in (resource.get("Properties") or {}):
                resource["Properties"][uri] = "s3://bucket/key"  # the translator wants S3 code
    translated = Translator(managed_policy_map={}, sam_parser=Parser()).translate(template, parameter_values={})
    resources = translated["Resources"]
    roles: dict[str, dict[str, Any]] = {}
    for logical_id in FUNCTIONS.values():
        role_ref = resources[logical_id]["Properties"]["Role"]
        role_id = role_ref["Fn::GetAtt"][0] if isinstance(role_ref, dict) and "Fn::GetAtt" in role_ref else None
        assert role_id, f"{logical_id}: role is not a template resource ({role_ref})"
        props = resources[role_id]["Properties"]
        statements = [s for policy in props.get("Policies") or [] for s in _as_list(policy["PolicyDocument"]["Statement"])]
        roles[logical_id] = {"managed": props.get("ManagedPolicyArns") or [], "statements": statements}
    return roles


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def granted_actions(statements: list[dict[str, Any]]) -> dict[str, list[Any]]:
    """action -> the resources it is granted on, for the compared services."""
    granted: dict[str, list[Any]] = defaultdict(list)
    for statement in statements:
        assert statement.get("Effect") == "Allow"
        for action in _as_list(statement["Action"]):
            if action.split(":")[0] in COMPARED_SERVICES:
                granted[action] += _as_list(statement["Resource"])
    return granted


def test_no_role_gets_a_managed_policy_beyond_basic_logging_and_no_wildcards():
    for logical_id, role in deployed_roles().items():
        # A plain ARN or a !Sub of one: either way its text ends with the policy's name.
        extra = [arn for arn in role["managed"] if "service-role/AWSLambdaBasicExecutionRole" not in json.dumps(arn)]
        assert extra == [], f"{logical_id}: {extra}"
        for action, resources in granted_actions(role["statements"]).items():
            assert "*" not in action, f"{logical_id}: {action}"
            assert "*" not in resources, f"{logical_id}: {action} on every resource"


def test_sqs_grants_name_only_the_functions_own_queues():
    """SQS actions are on the queues the function uses, by its template's own references."""
    expected = {
        "ChatFunction": {"JobsQueue", "FanoutQueue"},
        "SignalFunction": {"CallTimerQueue"},
        "CallTimerFunction": {"CallTimerQueue"},
        "DeliveryFunction": {"JobsQueue", "JobsDLQ"},
        "FanoutFunction": {"FanoutQueue"},
        "AdminFunction": {"JobsQueue", "FanoutQueue", "CallTimerQueue", "EventsQueue"},
        "EventsFunction": {"EventsQueue", "EventsStreamFailures"},
        "EventDeliveryFunction": {"EventsQueue"},
    }
    for logical_id, role in deployed_roles().items():
        queues: set[str] = set()
        for action, resources in granted_actions(role["statements"]).items():
            if action.startswith("sqs:"):
                for resource in resources:
                    assert isinstance(resource, dict) and "Fn::GetAtt" in resource, (logical_id, resource)
                    queues.add(resource["Fn::GetAtt"][0])
        assert queues == expected.get(logical_id, set()), logical_id


# ----------------------------------------------------------------- the scenario


def _run_scenario(invoke: Any, stack: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from roomcast import gateway
    from roomcast.ids import now_ms
    from roomcast.logic import signaling
    from roomcast.settings import reset_settings
    from tests.integration.test_fanout_split import CountingManagementApi

    # Small fan-out ranges, so a send and a broadcast go through range jobs (and the
    # broadcast's shard plans cut child jobs); one member is gone (410) to run the clean-up.
    monkeypatch.setenv("FANOUT_SPLIT_THRESHOLD", "2")
    reset_settings()
    management = CountingManagementApi()
    factory = lambda endpoint_url, pool: management  # noqa: E731
    factory.cache_clear = lambda: None  # type: ignore[attr-defined]
    monkeypatch.setattr(gateway, "_client", factory)

    authorizer_event = json.loads((ROOT / "events" / "ws-authorizer.json").read_text())
    authorizer_event["queryStringParameters"] = {"token": token("alice", "Alice")}
    assert invoke("authorizer", authorizer_event)["principalId"] == "alice"
    admin_auth = http_event("http-health.json")
    assert invoke("adminauth", admin_auth)["isAuthorized"] is True

    assert admin(invoke, "GET", "/health")[0] == 200
    stream = StreamReader(stack)
    with ScriptedReceiver([Reply(status=500)], default=Reply()) as receiver, \
            ScriptedReceiver([Reply(status=500)], default=Reply()) as events_receiver:
        endpoint = create_endpoint(admin, invoke, events_receiver.url)
        create_room(invoke, "lobby", receiver.url)
        assert admin(invoke, "GET", "/rooms")[0] == 200
        assert admin(invoke, "GET", "/rooms/lobby")[0] == 200
        assert admin(invoke, "POST", "/tokens", {"user_id": "bob", "name": "Bob", "rooms": ["*"]})[0] == 201

        people = [("conn-alice-1", "alice", "Alice"), ("conn-bob-1", "bob", "Bob"), ("conn-carol-1", "carol", "Carol")]
        for conn, user, name in people:
            assert invoke("connect", ws_event("ws-connect.json", conn, user, name))["statusCode"] == 200
            joined = reply_body(invoke("chat", ws_event("ws-join.json", conn, user, name, body={"action": "join", "room_id": "lobby"})))
            assert joined["type"] == "joined", joined
        alice, bob, carol = people
        dave = ("conn-dave-1", "dave", "Dave")
        invoke("connect", ws_event("ws-connect.json", *dave))
        invoke("chat", ws_event("ws-join.json", *dave, body={"action": "join", "room_id": "lobby"}))
        management.gone.add(dave[0])
        for index in range(40):  # enough connections that some index shard holds more than a range
            invoke("connect", ws_event("ws-connect.json", f"conn-extra-{index}", f"extra{index}", "X"))

        def chat(who: tuple[str, str, str], body: dict[str, Any]) -> dict[str, Any]:
            return reply_body(invoke("chat", ws_event("ws-default.json", *who, body=body)))

        assert chat(alice, {"action": "send", "room_id": "lobby", "text": "hi", "client_msg_id": "m1"})["type"] == "ack"
        assert chat(alice, {"action": "send", "room_id": "lobby", "text": "hi", "client_msg_id": "m1"})["type"] == "ack"
        assert chat(bob, {"action": "history", "room_id": "lobby"})["type"] == "history"
        chat(bob, {"action": "typing", "room_id": "lobby"})
        assert chat(bob, {"action": "ping"})["type"] == "pong"

        def signal(who: tuple[str, str, str], type_: str, **fields: Any) -> dict[str, Any]:
            body = {"action": "signal", "room_id": "lobby", "type": type_, "request_id": f"r-{type_}", **fields}
            return reply_body(invoke("signal", ws_event("ws-signal-invite.json", *who, body=body)))

        invited = signal(alice, "call-invite", to="bob", media="audio")
        call_id = invited["call_id"]
        signal(bob, "call-accept", call_id=call_id)
        signal(alice, "sdp-offer", call_id=call_id, sdp={"type": "offer", "sdp": "v=0"})
        signal(alice, "call-hangup", call_id=call_id)
        ringing = signal(alice, "call-invite", to="carol", media="audio")
        timer = json.loads((ROOT / "events" / "sqs-call-timer.json").read_text())
        timer["Records"][0]["body"] = json.dumps({"room_id": "lobby", "call_id": ringing["call_id"]})
        assert invoke("calltimer", timer) == {"batchItemFailures": []}  # early: requeued for the rest
        base = now_ms()
        monkeypatch.setattr(signaling, "now_ms", lambda: base + 120_000)
        assert invoke("calltimer", timer) == {"batchItemFailures": []}  # rang out: missed
        monkeypatch.setattr(signaling, "now_ms", now_ms)
        signal(carol, "call-invite", to="alice", media="audio")  # still ringing when carol leaves

        fanout = FanoutDriver(invoke, stack)
        fanout.drain()
        status, created = admin(invoke, "POST", "/broadcasts", {"type": "notice", "data": {"n": 1}})
        assert status == 202, created
        fanout.drain()
        assert admin(invoke, "GET", f"/broadcasts/{created['broadcast_id']}")[0] == 200

        # Server-side messaging (issue 13): a server message, a batch, a stored notification
        # and the inbox, a stream written and ended, and one ended by its idle timer.
        bot = {"user_id": "bot", "name": "Bot", "kind": "bot"}
        assert admin(invoke, "POST", "/rooms/lobby/messages", {"sender": bot, "text": "hi", "client_msg_id": "s1"})[0] == 201
        assert admin(invoke, "POST", "/messages/batch", {"sender": bot, "text": "all", "room_ids": ["lobby"]})[0] == 200
        assert admin(invoke, "POST", "/users/alice/notifications", {"type": "t", "store": True})[0] == 201
        inbox = chat(alice, {"action": "inbox", "request_id": "in"})
        assert chat(alice, {"action": "inbox", "mark_read": [inbox["items"][0]["id"]]})["marked"] == 1
        stream_id = admin(invoke, "POST", "/rooms/lobby/streams", {"sender": bot})[1]["stream_id"]
        assert admin(invoke, "POST", f"/rooms/lobby/streams/{stream_id}/chunks", {"seq": 0, "text": "a"})[0] == 200
        assert chat(bob, {"action": "join", "room_id": "lobby"})["streams"]  # a join mid-stream
        assert admin(invoke, "POST", f"/rooms/lobby/streams/{stream_id}/end")[0] == 200
        idle = admin(invoke, "POST", "/rooms/lobby/streams", {"sender": bot})[1]["stream_id"]
        admin(invoke, "POST", f"/rooms/lobby/streams/{idle}/chunks", {"seq": 0, "text": "b"})
        from roomcast import clock

        clock.install(lambda: now_ms() / 1000 + 3600)
        try:
            timer["Records"][0]["body"] = json.dumps({"kind": "stream", "room_id": "lobby", "stream_id": idle})
            assert invoke("calltimer", timer) == {"batchItemFailures": []}
        finally:
            clock.install(None)
        fanout.drain()
        # Membership and moderation (issue 14): every route and the moderators' actions.
        erin = ("conn-erin-1", "erin", "Erin")
        invoke("connect", ws_event("ws-connect.json", *erin))
        invoke("chat", ws_event("ws-join.json", *erin, body={"action": "join", "room_id": "lobby"}))
        assert admin(invoke, "PUT", "/rooms/lobby/members/carol", {"role": "moderator"})[0] == 200
        assert admin(invoke, "GET", "/rooms/lobby/members")[0] == 200
        assert admin(invoke, "GET", "/rooms/lobby/presence")[0] == 200
        assert admin(invoke, "POST", "/users/online", {"user_ids": ["alice", "bob", "nobody"]})[0] == 200
        assert admin(invoke, "GET", "/rooms/lobby/messages")[0] == 200
        assert chat(carol, {"action": "mute", "room_id": "lobby", "user_id": "bob"})["type"] == "moderated"
        assert chat(bob, {"action": "send", "room_id": "lobby", "text": "x"})["code"] == "muted"
        assert chat(carol, {"action": "unmute", "room_id": "lobby", "user_id": "bob"})["type"] == "moderated"
        assert admin(invoke, "POST", "/rooms/lobby/mutes", {"user_id": "bob"})[0] == 201
        assert admin(invoke, "DELETE", "/rooms/lobby/mutes/bob")[0] == 200
        message_id = chat(alice, {"action": "send", "room_id": "lobby", "text": "oops"})["message"]["id"]
        assert chat(carol, {"action": "delete_message", "room_id": "lobby", "message_id": message_id})["type"] == "moderated"
        assert chat(carol, {"action": "ban", "room_id": "lobby", "user_id": "frank"})["type"] == "moderated"
        assert chat(carol, {"action": "unban", "room_id": "lobby", "user_id": "frank"})["type"] == "moderated"
        assert admin(invoke, "POST", "/rooms/lobby/bans", {"user_id": "frank"})[0] == 201
        assert admin(invoke, "DELETE", "/rooms/lobby/bans/frank")[0] == 200
        assert chat(carol, {"action": "kick", "room_id": "lobby", "user_id": "erin"})["type"] == "moderated"
        invoke("chat", ws_event("ws-join.json", *erin, body={"action": "join", "room_id": "lobby"}))
        assert admin(invoke, "POST", "/rooms/lobby/kicks", {"user_id": "erin"})[0] == 201
        assert admin(invoke, "DELETE", f"/rooms/lobby/messages/{message_id}")[0] == 404  # already a tombstone
        assert admin(invoke, "DELETE", "/rooms/lobby/members/carol")[0] == 200
        assert admin(invoke, "POST", "/users/erin/disconnect", {})[0] == 200

        assert reply_body(invoke("chat", ws_event("ws-leave.json", *carol, body={"action": "leave", "room_id": "lobby"})))["type"] == "left"
        signal(alice, "call-invite", to="bob", media="video")  # still ringing when bob goes
        assert invoke("disconnect", ws_event("ws-disconnect.json", *bob))["statusCode"] == 200
        assert admin(invoke, "DELETE", "/rooms/lobby")[0] in (200, 202)

        # The webhook: first attempt refused (500: visibility set for the retry), then sent.
        jobs = QueueDriver(stack, invoke)
        messages, failed = jobs.poll_once()
        assert messages and failed == [messages[0]["MessageId"]]
        jobs.fast_forward(failed[0])
        assert jobs.poll_once()[1] == []
        status, deliveries = admin(invoke, "GET", "/rooms/lobby/deliveries")
        assert status == 200 and deliveries["deliveries"], deliveries
        delivery_id = deliveries["deliveries"][0]["delivery_id"]
        assert admin(invoke, "POST", f"/rooms/lobby/deliveries/{delivery_id}/replay")[0] == 202
        assert jobs.poll_once()[1] == []

        # Events: the stream so far through the events function; the first batch refused
        # once (visibility set), then everything delivered; every endpoint route.
        assert run_stream(invoke, stream.new())["jobs"] > 0
        events = EventsDriver(stack, invoke)
        events.drain()
        assert len(events_receiver.requests) > 1
        eid = endpoint["endpoint_id"]
        assert admin(invoke, "GET", "/endpoints")[0] == 200
        assert admin(invoke, "GET", f"/endpoints/{eid}")[0] == 200
        assert admin(invoke, "PATCH", f"/endpoints/{eid}", {"concurrency": 2})[0] == 200
        assert admin(invoke, "POST", f"/endpoints/{eid}/rotate-secret", {"grace_seconds": 60})[0] == 200
        assert admin(invoke, "POST", f"/endpoints/{eid}/test")[0] == 202
        events.drain()
        assert admin(invoke, "GET", f"/endpoints/{eid}/deliveries")[0] == 200
        assert admin(invoke, "POST", f"/endpoints/{eid}/recover", {"since": "2020-01-01T00:00:00Z"})[0] == 202
        assert admin(invoke, "DELETE", f"/endpoints/{eid}")[0] == 204

    # A room whose receiver is gone: its job's last attempt moves it to the DLQ itself.
    with ScriptedReceiver(default=Reply(status=500)) as dead:
        create_room(invoke, "doomed", dead.url)
        assert chat_close(invoke, "doomed")
        jobs = QueueDriver(stack, invoke)
        for _ in range(40):
            messages, failed = jobs.poll_once()
            if not messages:
                break
            for message_id in failed:
                jobs.fast_forward(message_id)
        assert jobs.depth(jobs.dlq_url) == 1


def chat_close(invoke: Any, room_id: str) -> bool:
    """An admin closing the room from its socket (the chat function's `close`)."""
    who = ("conn-dora-1", "alice", "Alice")
    invoke("connect", ws_event("ws-connect.json", *who))
    invoke("chat", ws_event("ws-join.json", *who, body={"action": "join", "room_id": room_id}))
    closed = reply_body(invoke("chat", ws_event("ws-default.json", *who, body={"action": "close", "room_id": room_id})))
    return closed is not None and closed.get("type") == "room.closed"


class FanoutDriver:
    """Lambda's SQS event source for the fan-out queue, one record per invocation."""

    def __init__(self, invoke: Any, stack: Any) -> None:
        self.invoke = invoke
        self.sqs = boto3.client("sqs")
        self.url = os.environ["FANOUT_QUEUE_URL"]

    def drain(self) -> None:
        while messages := self.sqs.receive_message(QueueUrl=self.url, MaxNumberOfMessages=10).get("Messages", []):
            for m in messages:
                record = {"messageId": m["MessageId"], "receiptHandle": m["ReceiptHandle"], "body": m["Body"],
                          "attributes": {}, "messageAttributes": {}, "md5OfBody": m["MD5OfBody"],
                          "eventSource": "aws:sqs", "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:fanout",
                          "awsRegion": "us-east-1"}
                assert self.invoke("fanout", {"Records": [record]}) == {"batchItemFailures": []}
                self.sqs.delete_message(QueueUrl=self.url, ReceiptHandle=m["ReceiptHandle"])


def test_each_function_is_granted_exactly_what_its_code_calls(monkeypatch, recorded_invoke):
    with provisioned_stack(monkeypatch, schedule="1,1", max_receive=None) as stack:
        _run_scenario(recorded_invoke, stack, monkeypatch)
    called = {function: set(actions) for function, actions in _recording.items()}
    roles = deployed_roles()
    sqs_triggered = {"CallTimerFunction", "DeliveryFunction", "FanoutFunction", "EventDeliveryFunction"}
    report = []
    for function, logical_id in FUNCTIONS.items():
        granted = set(granted_actions(roles[logical_id]["statements"]))
        needed = called.get(function, set()) | (EVENT_SOURCE_ACTIONS if logical_id in sqs_triggered else set())
        needed |= STREAM_SOURCE_ACTIONS if logical_id == "EventsFunction" else set()
        missing = needed - granted
        unused = granted - needed - set(NOT_IN_SCENARIO.get(logical_id, {}))
        if missing or unused:
            report.append(
                f"{logical_id}: called but not granted {sorted(missing)}; granted but not called "
                f"{sorted(unused)}; called {sorted(needed)}"
            )
    assert not report, "\n".join(report)
    # The scenario reached every function that uses DynamoDB or SQS.
    assert {f for f in FUNCTIONS if called.get(f)} >= set(FUNCTIONS) - {"authorizer", "adminauth"}
