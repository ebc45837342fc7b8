"""Generate docs/openapi.json (OpenAPI 3) from the admin function's resolver.

The routes, parameters, bodies and answers come from functions/admin/app.py and the
roomcast.admin_routes routers it includes (Powertools builds the document from the same declarations it validates requests
with), so the contract cannot drift from the code: tests/unit/test_openapi.py fails
when the committed file is stale and validates it with openapi-spec-validator.
docs/admin-api.md is the prose reference; the local runtime serves this file with
Swagger UI at /api/docs.

    .venv/bin/python scripts/gen_openapi.py            # rewrite docs/openapi.json
    .venv/bin/python scripts/gen_openapi.py --check    # exit 1 if it is stale
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
OUTPUT = ROOT / "docs" / "openapi.json"
ADMIN_APP = ROOT / "functions" / "admin" / "app.py"
TITLE = "roomcast admin API"
VERSION = "1.0.0"
DESCRIPTION = (
    "Rooms, webhook deliveries, broadcasts and connect tokens for a roomcast stack. Every route but "
    "/health needs the X-Api-Key header (the value of the AdminApiKeySecret the stack "
    "outputs). Every refusal the function makes is a JSON body {type: \"error\", code, message} "
    "with a stable code (docs/admin-api.md lists them); API Gateway's own - 401 without a key, 403 "
    "for a wrong one, 404 for a path no route serves - are {message}. A method a path does not "
    "serve answers 405 with an Allow header."
)

# The admin function validates its settings at import (roomcast.settings.AdminSettings);
# generating the document touches no resource, so placeholders stand in for the stack's.
PLACEHOLDER_ENV = {
    "TABLE_NAME": "roomcast",
    "JWT_SECRET_ID": "roomcast/jwt",
    "ADMIN_KEY_SECRET_ID": "roomcast/admin-key",
    "JOBS_QUEUE_URL": "https://sqs.us-east-1.amazonaws.com/000000000000/jobs",
    "EVENTS_QUEUE_URL": "https://sqs.us-east-1.amazonaws.com/000000000000/events",
    "FANOUT_QUEUE_URL": "https://sqs.us-east-1.amazonaws.com/000000000000/fanout",
    "CALL_TIMER_QUEUE_URL": "https://sqs.us-east-1.amazonaws.com/000000000000/calltimer",
    "WEBSOCKET_MANAGEMENT_URL": "https://example.execute-api.us-east-1.amazonaws.com/prod",
    "DEFAULT_WEBHOOK_URL": "",
    "WEBHOOK_SECRET_PREFIX": "roomcast/webhook/",
    "AWS_DEFAULT_REGION": "us-east-1",
    "POWERTOOLS_METRICS_NAMESPACE": "roomcast",
}


def load_admin_app() -> Any:
    """functions/admin/app.py as Lambda imports it, the environment left as it was."""
    from roomcast.settings import reset_settings

    saved = {name: os.environ.get(name) for name in PLACEHOLDER_ENV}
    try:
        for name, value in PLACEHOLDER_ENV.items():
            os.environ.setdefault(name, value)
        spec = importlib.util.spec_from_file_location("roomcast_admin_app", ADMIN_APP)
        assert spec and spec.loader
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module.app
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        reset_settings()


def document() -> dict[str, Any]:
    from aws_lambda_powertools.event_handler.openapi.models import APIKey, APIKeyIn

    app = load_admin_app()
    text = app.get_openapi_json_schema(
        title=TITLE,
        version=VERSION,
        description=DESCRIPTION,
        security_schemes={"ApiKey": APIKey(name="X-Api-Key", in_=APIKeyIn.header)},
        security=[{"ApiKey": []}],
    )
    doc: dict[str, Any] = json.loads(text)
    # /health is the one open route.
    doc["paths"]["/health"]["get"]["security"] = []
    # Powertools documents its own 422 for refused parameters; this API answers them with
    # 400 bad_request in the roomcast error body (functions/admin/app.py, _invalid_request).
    error_body = {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}}
    for operations in doc["paths"].values():
        for operation in operations.values():
            operation["responses"].pop("422", None)
            if "204" in operation["responses"]:
                operation["responses"]["204"].pop("content", None)  # no body, no media type
            if "requestBody" in operation:
                # Every body is read by roomcast/admin_routes/edges.py before its route.
                operation["responses"].setdefault(
                    "413", {"description": "payload_too_large: the body is over 1 MB", "content": error_body}
                )
                operation["responses"]["415"] = {
                    "description": "unsupported_media_type: the body is not application/json (UTF-8)",
                    "content": error_body,
                }
    schemas = doc["components"]["schemas"]
    for unused in ("HTTPValidationError", "ValidationError", "ResponseValidationError"):
        if f'"#/components/schemas/{unused}"' not in json.dumps(doc["paths"]):
            schemas.pop(unused, None)
    return doc


def render(doc: dict[str, Any]) -> str:
    return json.dumps(doc, indent=2, sort_keys=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if docs/openapi.json is stale")
    args = parser.parse_args(argv)
    text = render(document())
    if args.check:
        if not OUTPUT.exists() or OUTPUT.read_text() != text:
            print(f"{OUTPUT.relative_to(ROOT)} is stale: run scripts/gen_openapi.py", file=sys.stderr)
            return 1
        print(f"{OUTPUT.relative_to(ROOT)} is current")
        return 0
    OUTPUT.write_text(text)
    print(f"wrote {OUTPUT.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
