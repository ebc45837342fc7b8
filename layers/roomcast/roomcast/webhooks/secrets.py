"""Webhook secrets in Secrets Manager: one per room endpoint, plus the stack's default.

A stored value is one secret or a JSON list of the active ones (rotation: add the new
one, let receivers switch, drop the old). Values are read through Powertools parameters
(cached per execution environment) and never logged.
"""

from __future__ import annotations

import contextlib
import json
from typing import Any

import boto3

from roomcast.settings import get_settings
from roomcast.webhooks.signing import parse_secret_value


def _client() -> Any:
    # Not cached: only room creation writes secrets, and reads go through Powertools.
    return boto3.client("secretsmanager")


def room_secret_name(room_id: str) -> str:
    return f"{get_settings().webhook_secret_prefix}{room_id}"


def store_room_secret(room_id: str, secret: str) -> str:
    """Create (or overwrite) the room's secret; returns its id (the name)."""
    name = room_secret_name(room_id)
    client = _client()
    value = json.dumps([secret])
    try:
        client.create_secret(
            Name=name, SecretString=value, Description=f"roomcast webhook secret of room {room_id}"
        )
    except client.exceptions.ResourceExistsException:
        client.put_secret_value(SecretId=name, SecretString=value)
    return name


def load_secrets(secret_id: str) -> list[str]:
    from aws_lambda_powertools.utilities import parameters

    value = parameters.get_secret(secret_id, max_age=get_settings().secret_max_age)
    if not isinstance(value, str):
        raise ValueError("webhook secret is not a string")
    return parse_secret_value(value)


# ---- event endpoints (logic/endpoints.py): the same store, one secret per endpoint
def endpoint_secret_name(endpoint_id: str) -> str:
    return f"{get_settings().webhook_secret_prefix}endpoint/{endpoint_id}"


def store_endpoint_secrets(endpoint_id: str, active: list[str]) -> str:
    """Create or overwrite the endpoint's active secrets (newest first); returns the id."""
    name = endpoint_secret_name(endpoint_id)
    client = _client()
    value = json.dumps(active)
    try:
        client.create_secret(Name=name, SecretString=value,
                             Description=f"roomcast signing secret of event endpoint {endpoint_id}")
    except client.exceptions.ResourceExistsException:
        client.put_secret_value(SecretId=name, SecretString=value)
    return name


def read_secrets_now(secret_id: str) -> list[str]:
    """Uncached: a rotation must start from the secrets as they are now."""
    value = _client().get_secret_value(SecretId=secret_id)["SecretString"]
    return parse_secret_value(value)


def delete_secret(secret_id: str) -> None:
    client = _client()
    with contextlib.suppress(client.exceptions.ResourceNotFoundException):
        client.delete_secret(SecretId=secret_id, ForceDeleteWithoutRecovery=True)
