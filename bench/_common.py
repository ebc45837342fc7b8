"""What the benchmarks share: the template's stack in moto, a read-counting DynamoDB
client, and plain-text tables.

Benchmarks print ratios measured within one run, so a noisy machine shifts both sides
of a ratio together instead of lying about an absolute figure.
"""

from __future__ import annotations

import os
import statistics
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = ROOT / "template.yaml"

# Never reach a real AWS account from a benchmark (same dummy identity as the tests).
FAKE_AWS_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
}
SECRET_VALUES = {
    "JwtSecret": "bench-jwt-secret-0123456789abcdef0123456789abcdef",
    "AdminApiKeySecret": "bench-admin-key-0123456789",
}


def function_environments() -> dict[str, dict[str, str]]:
    """Every template function's resolved environment, keyed by its CodeUri folder name.

    Provisioned in moto, so table names and secret ARNs look as they do after a deploy.
    """
    import boto3
    from moto import mock_aws

    from roomcast_local import moto_patch
    from roomcast_local.cfn import load_template
    from roomcast_local.stack import provision

    # The DynamoDB the local runtime and the tests use (ROOMCAST_MOTO_PATCH=off: moto as released).
    moto_patch.apply()
    with _patched_environ(FAKE_AWS_ENV), mock_aws():
        stack = provision(load_template(TEMPLATE), boto3.Session(), secret_values=SECRET_VALUES)
        result: dict[str, dict[str, str]] = {}
        for logical_id in stack.functions:
            props = stack.template["Resources"][logical_id]["Properties"]
            folder = Path(str(props.get("CodeUri", logical_id))).name
            result[folder] = stack.function_environment(logical_id)
        return result


@contextmanager
def moto_stack() -> Iterator[Any]:
    """template.yaml provisioned in moto's in-process mock (with local/roomcast_local/moto_patch.py),
    every function's env applied.

    The environment and roomcast's per-container caches are restored afterwards, so a
    benchmark can run inside a test process without leaking into other tests.
    """
    import boto3
    from moto import mock_aws

    from roomcast_local import moto_patch
    from roomcast_local.cfn import load_template
    from roomcast_local.stack import provision

    # The DynamoDB the local runtime and the tests use (ROOMCAST_MOTO_PATCH=off: moto as released).
    moto_patch.apply()
    with _patched_environ(FAKE_AWS_ENV), mock_aws():
        stack = provision(load_template(TEMPLATE), boto3.Session(), secret_values=SECRET_VALUES)
        env: dict[str, str] = {}
        for logical_id in stack.functions:
            env.update(stack.function_environment(logical_id))
        with _patched_environ(env):
            _reset_roomcast_caches()
            try:
                yield stack
            finally:
                _reset_roomcast_caches()


@contextmanager
def _patched_environ(values: dict[str, str]) -> Iterator[None]:
    saved = dict(os.environ)
    # An endpoint override would send moto-bound calls elsewhere.
    for name in [n for n in os.environ if n.startswith("AWS_ENDPOINT_URL")]:
        del os.environ[name]
    os.environ.update(values)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


def _reset_roomcast_caches() -> None:
    from roomcast import gateway, settings
    from roomcast.dal import dynamo, store

    settings.reset_settings()
    dynamo.dynamodb_client.cache_clear()
    store.get_store.cache_clear()
    gateway._client.cache_clear()


class CountingDynamoDB:
    """A DynamoDB client that counts the items each read operation read.

    Query and Scan add their ScannedCount (items evaluated, which is what read capacity is
    charged for, before any FilterExpression); GetItem adds 1 when an item came back;
    BatchGetItem adds the items returned. Everything else passes through uncounted.
    """

    def __init__(self, client: Any) -> None:
        self._client = client
        self.items_read = 0
        self.calls: dict[str, int] = {}

    def reset(self) -> None:
        self.items_read = 0
        self.calls = {}

    def _count(self, operation: str, items: int) -> None:
        self.items_read += items
        self.calls[operation] = self.calls.get(operation, 0) + 1

    def query(self, **params: Any) -> dict[str, Any]:
        response = self._client.query(**params)
        self._count("query", int(response.get("ScannedCount", response.get("Count", 0))))
        return response

    def scan(self, **params: Any) -> dict[str, Any]:
        response = self._client.scan(**params)
        self._count("scan", int(response.get("ScannedCount", response.get("Count", 0))))
        return response

    def get_item(self, **params: Any) -> dict[str, Any]:
        response = self._client.get_item(**params)
        self._count("get_item", 1 if response.get("Item") else 0)
        return response

    def batch_get_item(self, **params: Any) -> dict[str, Any]:
        response = self._client.batch_get_item(**params)
        self._count("batch_get_item", sum(len(v) for v in response.get("Responses", {}).values()))
        return response

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)


def batch_put(client: Any, table: str, items: Sequence[dict[str, Any]]) -> None:
    """Write already-serialised items 25 at a time (seeding, not a code path under test)."""
    for start in range(0, len(items), 25):
        request = {table: [{"PutRequest": {"Item": i}} for i in items[start : start + 25]]}
        while request:
            response = client.batch_write_item(RequestItems=request)
            request = response.get("UnprocessedItems") or {}


def median(values: Sequence[float]) -> float:
    return statistics.median(values)


def print_table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
    """A right-aligned plain-text table (README figures are pasted from this output)."""
    cells = [[str(h) for h in headers], *[[_fmt(c) for c in row] for row in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    for index, row in enumerate(cells):
        print("  ".join(c.rjust(w) for c, w in zip(row, widths, strict=True)))
        if index == 0:
            print("  ".join("-" * w for w in widths))


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:,.2f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)
