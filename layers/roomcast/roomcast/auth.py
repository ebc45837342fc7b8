"""Connect tokens (JWT, HS256) and the admin API key.

The signing secret and the admin key live in Secrets Manager and are read through
Powertools parameters, cached per execution environment. Tokens are never logged.
"""

from __future__ import annotations

import hmac
import re
import time
from typing import Any, Literal

import jwt
from pydantic import TypeAdapter, ValidationError

from roomcast.errors import Unauthorized
from roomcast.models.common import DisplayName, RoomId, UserId
from roomcast.models.records import Identity
from roomcast.settings import get_settings

ALGORITHM = "HS256"
ISSUER = "roomcast"
# A JWT is three base64url segments; subprotocol entries that are not are ignored.
_JWT_SHAPE = re.compile(r"^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$")
SUBPROTOCOL = "roomcast.v1"
# As many room ids as POST /tokens accepts (models/admin.py MintTokenRequest).
MAX_TOKEN_ROOMS = 100


def _secret(secret_id: str) -> str:
    from aws_lambda_powertools.utilities import parameters

    value = parameters.get_secret(secret_id, max_age=get_settings().secret_max_age)
    if not isinstance(value, str) or not value:
        raise RuntimeError(f"secret {secret_id} is empty")
    return value


def jwt_secret() -> str:
    return _secret(get_settings().jwt_secret_id)


def admin_api_key() -> str:
    return _secret(get_settings().admin_key_secret_id)


def mint_token(
    secret: str,
    user_id: str,
    name: str,
    ttl_seconds: int,
    rooms: list[str] | None = None,
    admin: bool = False,
    now: int | None = None,
) -> tuple[str, int]:
    issued = int(time.time()) if now is None else now
    claims: dict[str, Any] = {
        "sub": user_id,
        "name": name,
        "iat": issued,
        "exp": issued + ttl_seconds,
        "iss": ISSUER,
    }
    if rooms is not None:
        claims["rooms"] = rooms
    if admin:
        claims["admin"] = True
    return jwt.encode(claims, secret, algorithm=ALGORITHM), claims["exp"]


_USER_ID: TypeAdapter[str] = TypeAdapter(UserId)
_NAME: TypeAdapter[str] = TypeAdapter(DisplayName)
# A rooms claim is room ids or "*" (any room), as POST /tokens accepts them.
_ROOMS: TypeAdapter[list[str]] = TypeAdapter(list[RoomId | Literal["*"]])
LEEWAY_SECONDS = 5


def verify_token(secret: str, token: str, now: int | None = None) -> Identity:
    """The token's identity, or Unauthorized. Only HS256 is accepted: `alg: none` and
    algorithm-confusion tokens fail here. Beyond the signature, the claims must be what
    POST /tokens mints: a lifetime (exp - iat) of at most MAX_TOKEN_TTL_SECONDS, an iat
    that is not in the future, a `sub` by the user id rules, a `name` by the display name
    rules, and `rooms` as room ids or "*" (docs/protocol.md, "Connecting")."""
    try:
        claims = jwt.decode(
            token,
            secret,
            algorithms=[ALGORITHM],
            issuer=ISSUER,
            options={"require": ["exp", "sub", "iat"], "verify_iat": False},
            leeway=LEEWAY_SECONDS,
        )
    except jwt.PyJWTError as exc:
        raise Unauthorized("invalid token") from exc
    issued, expires = claims.get("iat"), claims.get("exp")
    current = int(time.time()) if now is None else now
    if not isinstance(issued, int) or not isinstance(expires, int) or isinstance(issued, bool):
        raise Unauthorized("invalid token")
    if issued > current + LEEWAY_SECONDS or expires - issued > get_settings().max_token_ttl_seconds:
        raise Unauthorized("invalid token")
    try:
        user_id = _USER_ID.validate_python(claims["sub"], strict=True)
        name = _NAME.validate_python(claims.get("name", user_id[:80]), strict=True)
        rooms = claims.get("rooms")
        if rooms is not None:
            rooms = _ROOMS.validate_python(rooms, strict=True)
            if len(rooms) > MAX_TOKEN_ROOMS:
                raise Unauthorized("invalid token")
        return Identity(user_id=user_id, name=name, admin=claims.get("admin") is True, rooms=rooms)
    except (ValidationError, ValueError) as exc:
        raise Unauthorized("invalid token") from exc


def token_from_request(query: dict[str, str] | None, headers: dict[str, str] | None) -> str | None:
    """The token from `?token=` or from a Sec-WebSocket-Protocol entry shaped like a JWT."""
    if query and query.get("token"):
        return query["token"]
    for offered in offered_subprotocols(headers):
        if _JWT_SHAPE.match(offered):
            return offered
    return None


def offered_subprotocols(headers: dict[str, str] | None) -> list[str]:
    for name, value in (headers or {}).items():
        if name.lower() == "sec-websocket-protocol" and value:
            return [p.strip() for p in value.split(",") if p.strip()]
    return []


def chosen_subprotocol(headers: dict[str, str] | None) -> str | None:
    """The subprotocol to echo on $connect: browsers drop a socket whose offer is not answered.

    roomcast.v1 is echoed when offered; the token entry is never echoed back.
    """
    offered = offered_subprotocols(headers)
    if not offered:
        return None
    if SUBPROTOCOL in offered:
        return SUBPROTOCOL
    non_tokens = [p for p in offered if not _JWT_SHAPE.match(p)]
    return non_tokens[0] if non_tokens else None


def api_key_matches(provided: str | None, expected: str) -> bool:
    if not provided:
        return False
    return hmac.compare_digest(provided.encode(), expected.encode())
