"""Check a Standard Webhooks signature the way a receiver would, with a reason when it fails.

The HMAC itself is roomcast's own (roomcast.webhooks.signing.sign, the function the
sender signs with); the tests cross-check both against the `standardwebhooks` package.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import time
from collections.abc import Sequence
from dataclasses import dataclass

DEFAULT_TOLERANCE = 300  # seconds, as the Standard Webhooks libraries use


@dataclass(frozen=True)
class Verdict:
    ok: bool
    reason: str
    secret_index: int | None = None  # which of the given secrets matched (0-based)


def verify_signature(
    secrets: Sequence[str],
    webhook_id: str,
    timestamp: str,
    signature_header: str,
    body: bytes,
    now: float | None = None,
    tolerance: int = DEFAULT_TOLERANCE,
) -> Verdict:
    """Whether any v1 signature in the header was made by any of the secrets over
    `{id}.{timestamp}.{body}`, with the timestamp within `tolerance` seconds of now
    (tolerance 0 skips the time check, e.g. to verify a logged delivery later)."""
    from roomcast.webhooks.signing import secret_key, sign

    if not secrets:
        return Verdict(False, "no secret given")
    try:
        sent_at = int(timestamp.strip())
    except ValueError:
        return Verdict(False, "webhook-timestamp is not an integer (seconds since the epoch)")
    if tolerance > 0:
        skew = int((time.time() if now is None else now) - sent_at)
        if abs(skew) > tolerance:
            when = f"{skew} s old" if skew > 0 else f"{-skew} s in the future"
            return Verdict(False, f"webhook-timestamp is {when}; the tolerance is {tolerance} s")
    candidates: list[bytes] = []
    for entry in signature_header.split():
        version, _, value = entry.partition(",")
        if version != "v1" or not value:
            continue
        try:
            candidates.append(base64.b64decode(value, validate=True))
        except (binascii.Error, ValueError):
            continue
    if not candidates:
        return Verdict(False, "webhook-signature holds no well-formed v1 signature")
    for index, secret in enumerate(secrets):
        try:
            secret_key(secret)
        except ValueError:
            return Verdict(False, f"secret #{index + 1} is not a whsec_ base64 secret")
        expected = base64.b64decode(sign(secret, webhook_id, sent_at, body).partition(",")[2])
        for candidate in candidates:
            if hmac.compare_digest(expected, candidate):
                return Verdict(True, f"signature valid (secret #{index + 1})", index)
    return Verdict(
        False,
        f"no signature matches: {len(candidates)} v1 signature(s) checked against "
        f"{len(secrets)} secret(s); check the secret and that the body is byte-for-byte "
        "what was received",
    )
