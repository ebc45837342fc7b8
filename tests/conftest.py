"""Shared fixtures: the template's resources in moto, and handlers loaded as Lambda loads them."""

from __future__ import annotations

import importlib.util
import json
import os
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import boto3
import pytest

from roomcast_local import moto_patch

ROOT = Path(__file__).resolve().parent.parent
EVENTS = ROOT / "events"
JWT_SECRET = "test-jwt-secret-0123456789abcdef0123456789abcdef"
ADMIN_KEY = "test-admin-key-0123456789"

# Never reach a real AWS account from a test.
os.environ.update(
    AWS_ACCESS_KEY_ID="testing",
    AWS_SECRET_ACCESS_KEY="testing",
    AWS_SESSION_TOKEN="testing",
    AWS_DEFAULT_REGION="us-east-1",
    AWS_REGION="us-east-1",
    POWERTOOLS_TRACE_DISABLED="true",
    POWERTOOLS_METRICS_NAMESPACE="roomcast",
    POWERTOOLS_SERVICE_NAME="roomcast",
    POWERTOOLS_DEV="false",
)
for _var in [v for v in os.environ if v.startswith("AWS_ENDPOINT_URL")]:
    del os.environ[_var]

# The same DynamoDB as the local runtime's (local/roomcast_local/moto_patch.py).
MOTO_PATCHED = moto_patch.apply()


def reset_caches() -> None:
    """Forget every per-execution-environment cache, as a fresh Lambda container would."""
    from roomcast.wiring import reset_caches as reset_execution_environment

    reset_execution_environment()


def serialize_moto_requests(monkeypatch: pytest.MonkeyPatch) -> None:
    """One request at a time through moto's in-process backend. DynamoDB applies each
    request atomically; moto's backend does not, and the code under test issues requests
    from worker threads (fan-out, close, delivery)."""
    from moto.core.botocore_stubber import BotocoreStubber

    moto_lock = threading.RLock()
    unlocked = BotocoreStubber.process_request

    def one_request_at_a_time(self: BotocoreStubber, request: Any) -> Any:
        with moto_lock:
            return unlocked(self, request)

    monkeypatch.setattr(BotocoreStubber, "process_request", one_request_at_a_time)


@pytest.fixture
def stack(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """The template's table, queues and secrets in moto; every function's env applied."""
    from moto import mock_aws

    from roomcast_local.cfn import load_template
    from roomcast_local.stack import provision

    serialize_moto_requests(monkeypatch)
    with mock_aws():
        provisioned = provision(
            load_template(ROOT / "template.yaml"),
            boto3.Session(),
            secret_values={"JwtSecret": JWT_SECRET, "AdminApiKeySecret": ADMIN_KEY},
        )
        env: dict[str, str] = {}
        for logical_id in provisioned.functions:
            env.update(provisioned.function_environment(logical_id))
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        reset_caches()
        yield provisioned
        reset_caches()


_loaded: dict[str, ModuleType] = {}


def load_handler(name: str) -> ModuleType:
    """functions/<name>/app.py as its own module (every function's file is called app.py)."""
    if name not in _loaded:
        spec = importlib.util.spec_from_file_location(
            f"fn_{name}", ROOT / "functions" / name / "app.py"
        )
        assert spec and spec.loader
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        _loaded[name] = module
    return _loaded[name]


class LambdaContext:
    function_name = "roomcast-test"
    memory_limit_in_mb = 512
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:roomcast-test"
    aws_request_id = "00000000-0000-0000-0000-000000000000"

    def get_remaining_time_in_millis(self) -> int:
        return 30_000


@pytest.fixture
def lambda_context() -> LambdaContext:
    return LambdaContext()


def load_event(name: str) -> dict[str, Any]:
    return json.loads((EVENTS / name).read_text())


@pytest.fixture
def invoke(lambda_context: LambdaContext) -> Callable[..., Any]:
    def _invoke(function: str, event: dict[str, Any]) -> Any:
        return load_handler(function).lambda_handler(event, lambda_context)

    return _invoke
