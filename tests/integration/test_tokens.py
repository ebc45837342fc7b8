"""Connect tokens that must be refused: forged, expired, `alg: none`, other algorithms,
wrong issuer, missing claims, tampered payloads. Both at roomcast.auth.verify_token and
at the $connect authorizer. And the token never appears in the handlers' logs."""

from __future__ import annotations

import base64
import copy
import hashlib
import hmac
import io
import json
import time
from collections.abc import Iterator
from typing import Any

import jwt
import pytest

from tests.conftest import JWT_SECRET, load_event
from tests.helpers import token, ws_event


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _segment(obj: dict[str, Any]) -> str:
    return _b64(json.dumps(obj, separators=(",", ":")).encode())


def _claims(**overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    claims = {"sub": "mallory", "name": "Mallory", "iat": now, "exp": now + 600, "iss": "roomcast"}
    for name, value in overrides.items():
        if value is None:
            claims.pop(name, None)
        else:
            claims[name] = value
    return claims


def _hs(secret: str, claims: dict[str, Any], alg: str = "HS256", digest: Any = hashlib.sha256) -> str:
    """A JWT signed by hand, so a broken library default cannot hide a forged token."""
    signing_input = f"{_segment({'alg': alg, 'typ': 'JWT'})}.{_segment(claims)}"
    signature = hmac.new(secret.encode(), signing_input.encode(), digest).digest()
    return f"{signing_input}.{_b64(signature)}"


def _tampered() -> str:
    header, _, signature = token("alice").split(".")
    return f"{header}.{_segment(_claims(sub='alice', admin=True))}.{signature}"


def _alg_none(claims: dict[str, Any], alg: str = "none", signature: str = "") -> str:
    return f"{_segment({'alg': alg, 'typ': 'JWT'})}.{_segment(claims)}.{signature}"


BAD_TOKENS: dict[str, Any] = {
    "forged": lambda: _hs("not-the-secret-0123456789abcdef0123456789", _claims()),
    "expired": lambda: _hs(JWT_SECRET, _claims(iat=int(time.time()) - 7200, exp=int(time.time()) - 3600)),
    "alg_none": lambda: _alg_none(_claims()),
    "alg_None_capital": lambda: _alg_none(_claims(), alg="None"),
    "alg_none_with_signature": lambda: _alg_none(_claims(), signature=_b64(b"x" * 32)),
    "hs512_same_secret": lambda: _hs(JWT_SECRET, _claims(), alg="HS512", digest=hashlib.sha512),
    "hs384_same_secret": lambda: _hs(JWT_SECRET, _claims(), alg="HS384", digest=hashlib.sha384),
    "hs512_via_pyjwt": lambda: jwt.encode(_claims(), JWT_SECRET, algorithm="HS512"),
    "rs256_header_hmac_body": lambda: _hs(JWT_SECRET, _claims(), alg="RS256"),
    "wrong_issuer": lambda: _hs(JWT_SECRET, _claims(iss="someone-else")),
    "missing_issuer": lambda: _hs(JWT_SECRET, _claims(iss=None)),
    "missing_exp": lambda: _hs(JWT_SECRET, _claims(exp=None)),
    "missing_sub": lambda: _hs(JWT_SECRET, _claims(sub=None)),
    "missing_iat": lambda: _hs(JWT_SECRET, _claims(iat=None)),
    "tampered_payload": _tampered,
    "truncated_signature": lambda: token("alice")[:-6],
    "rooms_not_a_list": lambda: _hs(JWT_SECRET, _claims(rooms="lobby")),
    "rooms_with_numbers": lambda: _hs(JWT_SECRET, _claims(rooms=[1, 2])),
    "exp_as_string": lambda: _hs(JWT_SECRET, _claims(exp="tomorrow")),
    "not_a_jwt": lambda: "hello.world.x",
    "garbage_header": lambda: "e30." + _segment(_claims()) + ".abc",
}


@pytest.mark.parametrize("kind", sorted(BAD_TOKENS))
def test_verify_token_refuses(kind: str) -> None:
    from roomcast.auth import verify_token
    from roomcast.errors import Unauthorized

    with pytest.raises(Unauthorized) as refused:
        verify_token(JWT_SECRET, BAD_TOKENS[kind]())
    assert refused.value.code == "unauthorized"


def test_verify_token_accepts_a_good_token_signed_by_hand() -> None:
    from roomcast.auth import verify_token

    identity = verify_token(JWT_SECRET, _hs(JWT_SECRET, _claims(rooms=["lobby"], admin=True)))
    assert (identity.user_id, identity.name, identity.rooms, identity.admin) == ("mallory", "Mallory", ["lobby"], True)


def test_admin_claim_must_be_true_exactly() -> None:
    from roomcast.auth import verify_token

    assert verify_token(JWT_SECRET, _hs(JWT_SECRET, _claims(admin="yes"))).admin is False


def _authorizer_event(query_token: str | None = None, protocol: str | None = None) -> dict[str, Any]:
    event = copy.deepcopy(load_event("ws-authorizer.json"))
    event["headers"].pop("Sec-WebSocket-Protocol", None)
    event["queryStringParameters"] = {"token": query_token} if query_token else {}
    if protocol is not None:
        event["headers"]["Sec-WebSocket-Protocol"] = protocol
    return event


@pytest.mark.parametrize("kind", sorted(BAD_TOKENS))
def test_authorizer_denies(stack, invoke, kind: str) -> None:
    bad = BAD_TOKENS[kind]()
    for event in (_authorizer_event(query_token=bad), _authorizer_event(protocol=f"roomcast.v1, {bad}")):
        # Exactly "Unauthorized": API Gateway's way for a REQUEST authorizer to answer 401.
        with pytest.raises(Exception, match=r"^Unauthorized$"):
            invoke("authorizer", event)


@pytest.fixture
def log_output(monkeypatch: pytest.MonkeyPatch) -> Iterator[io.StringIO]:
    """Everything the shared Powertools logger writes, at DEBUG, into one buffer."""
    from roomcast.observability import logger

    buffer = io.StringIO()
    monkeypatch.setattr(logger.registered_handler, "stream", buffer)
    level = logger.log_level
    logger.setLevel("DEBUG")
    yield buffer
    logger.setLevel(level)


def test_tokens_never_reach_the_logs(stack, invoke, log_output, capsys, caplog) -> None:
    # The handlers' own logger at DEBUG (botocore's wire DEBUG logs are not the handlers' output).
    caplog.set_level("DEBUG", logger="roomcast")
    good = token("alice", "Alice", rooms=["lobby"])
    bad = BAD_TOKENS["forged"]()
    expired = BAD_TOKENS["expired"]()
    invoke("authorizer", _authorizer_event(query_token=good))
    invoke("authorizer", _authorizer_event(protocol=f"roomcast.v1, {good}"))
    for refused in (
        _authorizer_event(query_token=bad),
        _authorizer_event(protocol=f"roomcast.v1, {expired}"),
        _authorizer_event(),
    ):
        with pytest.raises(Exception, match=r"^Unauthorized$"):
            invoke("authorizer", refused)
    connect = ws_event("ws-connect.json")
    connect["headers"]["Sec-WebSocket-Protocol"] = f"roomcast.v1, {good}"
    connect["queryStringParameters"] = {"token": good}
    assert invoke("connect", connect)["statusCode"] == 200
    no_identity = copy.deepcopy(connect)
    del no_identity["requestContext"]["authorizer"]
    assert invoke("connect", no_identity)["statusCode"] == 401

    written = log_output.getvalue()
    assert "connect allowed" in written and "connect refused" in written  # the logs were captured
    captured = capsys.readouterr()
    everything = written + captured.out + captured.err + caplog.text
    for secret_thing in (good, bad, expired, JWT_SECRET):
        assert secret_thing not in everything
        # Nor any one segment of a token (a signature alone is a secret-derived value).
        for segment in secret_thing.split(".")[1:]:
            assert len(segment) < 16 or segment not in everything
