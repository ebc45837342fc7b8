"""$connect authorizer: verify the connect token; pass the identity on as context.

The token arrives as `?token=` or as a Sec-WebSocket-Protocol entry. It is never logged.
A missing or invalid token raises `Exception("Unauthorized")`: that exact message is how
a Lambda REQUEST authorizer makes API Gateway answer 401; a returned Deny policy answers
403 (docs/protocol.md, "Connecting").
"""

from __future__ import annotations

from typing import Any

from roomcast import auth
from roomcast.errors import Unauthorized
from roomcast.observability import logger
from roomcast.settings import AuthorizerSettings, configure
from roomcast.ws import authorizer_context

configure(AuthorizerSettings)

# API Gateway matches this message exactly to answer the handshake with 401.
UNAUTHORIZED = "Unauthorized"


def _policy(effect: str, resource: str, principal: str, context: dict[str, Any] | None = None) -> dict[str, Any]:
    policy: dict[str, Any] = {
        "principalId": principal,
        "policyDocument": {
            "Version": "2012-10-17",
            "Statement": [{"Action": "execute-api:Invoke", "Effect": effect, "Resource": resource}],
        },
    }
    if context:
        policy["context"] = context
    return policy


@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    resource = event.get("methodArn", "*")
    token = auth.token_from_request(event.get("queryStringParameters"), event.get("headers"))
    if not token:
        logger.info("connect refused", extra={"reason": "no token"})
        raise Exception(UNAUTHORIZED)
    try:
        identity = auth.verify_token(auth.jwt_secret(), token)
    except Unauthorized:
        logger.info("connect refused", extra={"reason": "invalid token"})
        raise Exception(UNAUTHORIZED) from None
    logger.info("connect allowed", extra={"user_id": identity.user_id})
    return _policy("Allow", resource, identity.user_id, authorizer_context(identity))
