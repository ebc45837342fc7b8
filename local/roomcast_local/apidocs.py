"""Swagger UI for the admin API at /api/docs, from files on this machine.

The UI's assets come from the swagger-ui-bundle-v2 package (Swagger UI 5, which reads
OpenAPI 3.1; no CDN: the machine and CI may be offline); the document is docs/openapi.json (scripts/gen_openapi.py), served with the
local runtime's /api prefix as its server so "Try it out" reaches the local functions.
"""

from __future__ import annotations

import json
import mimetypes
from pathlib import Path

DOCS_PATH = "/api/docs"
# What the page needs from the bundle; nothing else in its folder is served.
ASSETS = frozenset(
    {"swagger-ui.css", "swagger-ui-bundle.js", "swagger-ui-standalone-preset.js", "favicon-32x32.png"}
)

PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>roomcast admin API</title>
<link rel="stylesheet" href="{base}/swagger-ui.css">
<link rel="icon" type="image/png" href="{base}/favicon-32x32.png">
</head>
<body>
<div id="swagger-ui"></div>
<script src="{base}/swagger-ui-bundle.js"></script>
<script src="{base}/swagger-ui-standalone-preset.js"></script>
<script>
window.ui = SwaggerUIBundle({{
  url: "{base}/openapi.json",
  dom_id: "#swagger-ui",
  presets: [SwaggerUIBundle.presets.apis, SwaggerUIStandalonePreset],
  layout: "StandaloneLayout",
  persistAuthorization: true,
}});
</script>
</body>
</html>
"""

Answer = tuple[int, list[tuple[str, str]], bytes]


def _bundle_dir() -> Path | None:
    try:
        import swagger_ui_bundle
    except ImportError:
        return None
    return Path(swagger_ui_bundle.swagger_ui_path)


def is_docs_path(path: str) -> bool:
    return path == DOCS_PATH or path.startswith(DOCS_PATH + "/")


def answer(path: str, openapi_file: Path, api_prefix: str) -> Answer:
    """The page, the document or one asset; 404 for anything else."""
    if path in (DOCS_PATH, DOCS_PATH + "/"):
        body = PAGE.format(base=DOCS_PATH).encode()
        return 200, [("Content-Type", "text/html; charset=utf-8"), ("Cache-Control", "no-cache")], body
    name = path[len(DOCS_PATH) + 1 :]
    if name == "openapi.json":
        if not openapi_file.is_file():
            return _not_found()
        doc = json.loads(openapi_file.read_text())
        doc["servers"] = [{"url": api_prefix, "description": "this local runtime"}]
        return 200, [("Content-Type", "application/json"), ("Cache-Control", "no-cache")], json.dumps(doc).encode()
    bundle = _bundle_dir()
    if name not in ASSETS or bundle is None or not (bundle / name).is_file():
        return _not_found()
    kind = mimetypes.guess_type(name)[0] or "application/octet-stream"
    if name.endswith(".js"):
        kind = "text/javascript; charset=utf-8"
    elif name.endswith(".css"):
        kind = "text/css; charset=utf-8"
    return 200, [("Content-Type", kind), ("Cache-Control", "max-age=3600")], (bundle / name).read_bytes()


def _not_found() -> Answer:
    return 404, [("Content-Type", "application/json")], b'{"message":"Not Found"}'
