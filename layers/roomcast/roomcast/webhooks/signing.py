"""Standard Webhooks signing (https://www.standardwebhooks.com/).

The signed content is ``f"{webhook_id}.{timestamp}.{body}"``; the signature header holds
one ``v1,<base64 HMAC-SHA256>`` per active secret, space-separated, so a receiver keeps
verifying while a secret is being rotated. Secrets are ``whsec_`` + base64; a value
without the prefix (such as the template's generated 32 alphanumerics) is accepted.
The secret is never sent or logged.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import secrets as pysecrets
from collections.abc import Iterable, Mapping

from roomcast import __version__ as _package_version
from roomcast.models.common import MIN_SECRET_BYTES  # the one minimum (admin models check it too)

PREFIX = "whsec_"
USER_AGENT = f"roomcast-webhooks/{_package_version}"
SECRET_BYTES = 32
# Standard Webhooks: a secret holds between 24 and 64 bytes of key.


def generate_secret() -> str:
    return PREFIX + base64.b64encode(pysecrets.token_bytes(SECRET_BYTES)).decode()


def secret_key(secret: str) -> bytes:
    """The HMAC key behind a ``whsec_`` secret; ValueError when it is not base64."""
    raw = secret.strip()
    if raw.startswith(PREFIX):
        raw = raw[len(PREFIX) :]
    try:
        key = base64.b64decode(raw, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ValueError("a webhook secret must be base64 (optionally prefixed whsec_)") from exc
    if len(key) < MIN_SECRET_BYTES:
        raise ValueError(
            f"a webhook secret must decode to at least {MIN_SECRET_BYTES} bytes (it decodes to {len(key)})"
        )
    return key


def parse_secret_value(value: str) -> list[str]:
    """A stored secret value: one secret, or a JSON list of the active ones (rotation)."""
    text = value.strip()
    if text.startswith("["):
        items = json.loads(text)
        if not isinstance(items, list) or not all(isinstance(i, str) for i in items):
            raise ValueError("a rotation value must be a JSON list of strings")
        secrets = [i for i in items if i]
    else:
        secrets = [text]
    if not secrets:
        raise ValueError("no active webhook secret")
    for secret in secrets:
        secret_key(secret)
    return secrets


def sign(secret: str, webhook_id: str, timestamp: int, body: bytes) -> str:
    signed = f"{webhook_id}.{timestamp}.".encode() + body
    digest = hmac.new(secret_key(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def signature_header(secrets: Iterable[str], webhook_id: str, timestamp: int, body: bytes) -> str:
    return " ".join(sign(s, webhook_id, timestamp, body) for s in secrets)


def webhook_headers(
    secrets: Iterable[str], webhook_id: str, timestamp: int, body: bytes
) -> dict[str, str]:
    return {
        "webhook-id": webhook_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signature_header(secrets, webhook_id, timestamp, body),
        "content-type": "application/json",
        "user-agent": USER_AGENT,
    }


def verify(
    secret: str, body: bytes, headers: Mapping[str, str], now: int, tolerance: int = 300
) -> bool:
    """Our own check (the CLI's `verify`); receivers should use a Standard Webhooks library."""
    lower = {k.lower(): v for k, v in headers.items()}
    try:
        webhook_id = lower["webhook-id"]
        timestamp = int(lower["webhook-timestamp"])
    except (KeyError, ValueError):
        return False
    if abs(now - timestamp) > tolerance:
        return False
    expected = sign(secret, webhook_id, timestamp, body)
    return any(
        hmac.compare_digest(expected, candidate)
        for candidate in lower.get("webhook-signature", "").split()
    )
