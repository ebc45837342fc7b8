"""Signing matches the Standard Webhooks reference library, for every active secret."""

from __future__ import annotations

import base64
import time

import pytest
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

from roomcast.webhooks import signing

BODY = b'{"type":"room.closed","data":{"room_id":"r1"}}'


def test_signature_equals_the_reference_library():
    secret = signing.generate_secret()
    now = int(time.time())
    ours = signing.sign(secret, "dlv.1", now, BODY)
    theirs = Webhook(secret).sign("dlv.1", _dt(now), BODY.decode())
    assert ours == theirs


def test_headers_verify_with_standardwebhooks_and_carry_no_secret():
    secret = signing.generate_secret()
    headers = signing.webhook_headers([secret], "dlv.1", int(time.time()), BODY)
    assert Webhook(secret).verify(BODY, headers)["data"]["room_id"] == "r1"
    assert secret.removeprefix("whsec_") not in " ".join(headers.values())
    assert headers["user-agent"].startswith("roomcast-webhooks/")
    with pytest.raises(WebhookVerificationError):
        Webhook(signing.generate_secret()).verify(BODY, headers)


def test_rotation_signs_once_per_active_secret():
    old, new = signing.generate_secret(), signing.generate_secret()
    headers = signing.webhook_headers([old, new], "dlv.2", int(time.time()), BODY)
    assert len(headers["webhook-signature"].split(" ")) == 2
    for secret in (old, new):  # a receiver holding either one verifies
        Webhook(secret).verify(BODY, headers)


def test_template_generated_value_works_with_or_without_prefix():
    raw = "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"  # GenerateSecretString: 32 alphanumerics
    now = int(time.time())
    assert signing.sign(raw, "a.1", now, BODY) == signing.sign("whsec_" + raw, "a.1", now, BODY)
    Webhook("whsec_" + raw).verify(BODY, signing.webhook_headers([raw], "a.1", now, BODY))


def test_tampering_and_stale_timestamps_fail_our_verify_too():
    secret = signing.generate_secret()
    now = int(time.time())
    headers = signing.webhook_headers([secret], "x.1", now, BODY)
    assert signing.verify(secret, BODY, headers, now)
    assert not signing.verify(secret, BODY + b" ", headers, now)
    assert not signing.verify(secret, BODY, headers, now + 301)


@pytest.mark.parametrize(
    "value, expected",
    [
        ('["whsec_' + base64.b64encode(b"k" * 24).decode() + '"]', 1),
        ('["whsec_' + base64.b64encode(b"k" * 24).decode() + '", "whsec_' + base64.b64encode(b"j" * 24).decode() + '"]', 2),
        ("whsec_" + base64.b64encode(b"k" * 24).decode(), 1),
    ],
)
def test_stored_values_single_or_rotation_list(value, expected):
    assert len(signing.parse_secret_value(value)) == expected


@pytest.mark.parametrize("bad", ["", "[]", "whsec_not base64!", "whsec_" + base64.b64encode(b"short").decode(), '[1, 2]'])
def test_bad_stored_values_are_refused(bad):
    with pytest.raises(ValueError):
        signing.parse_secret_value(bad)


def _dt(ts: int):
    from datetime import UTC, datetime

    return datetime.fromtimestamp(ts, tz=UTC)
