"""Admin HTTP API authorizer: the X-Api-Key header against the key in Secrets Manager.

A Lambda authorizer of the HTTP API (payload 2.0, simple responses), so a request without
the right key is answered by API Gateway and never reaches the admin function or uses its
concurrency (docs/admin-api.md). API Gateway itself answers 401 when the header is
missing (it is the identity source) and caches each key's answer for the TTL the template
sets; this function answers 403 for a wrong key. The key is compared in constant time and
never logged.
"""

from __future__ import annotations

from typing import Any

from roomcast import auth
from roomcast.observability import logger
from roomcast.settings import AdminAuthorizerSettings, configure

configure(AdminAuthorizerSettings)


@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    provided = (event.get("headers") or {}).get("x-api-key")
    authorized = auth.api_key_matches(provided, auth.admin_api_key())
    if not authorized:
        logger.info("admin request refused", extra={"route": event.get("routeKey")})
    return {"isAuthorized": authorized}
