"""The local runtime's /api/docs: the Swagger UI page, docs/openapi.json with the local
server, and nothing outside the bundle's few assets."""

from __future__ import annotations

import json

from roomcast_local import apidocs
from tests.conftest import ROOT

OPENAPI = ROOT / "docs" / "openapi.json"


def test_the_page_loads_the_document_from_its_own_path() -> None:
    status, headers, body = apidocs.answer("/api/docs", OPENAPI, "/api")
    assert status == 200 and ("Content-Type", "text/html; charset=utf-8") in headers
    assert b'url: "/api/docs/openapi.json"' in body


def test_the_document_is_the_committed_one_served_with_the_local_prefix() -> None:
    status, _, body = apidocs.answer("/api/docs/openapi.json", OPENAPI, "/api")
    served = json.loads(body)
    committed = json.loads(OPENAPI.read_text())
    assert status == 200 and served["servers"] == [{"url": "/api", "description": "this local runtime"}]
    assert served["paths"] == committed["paths"]
    assert {"/broadcasts", "/broadcasts/{broadcast_id}"} <= set(served["paths"])


def test_only_the_bundles_assets_are_served() -> None:
    for path in ("/api/docs/../../etc/passwd", "/api/docs/index.html", "/api/docs/package.json"):
        assert apidocs.answer(path, OPENAPI, "/api")[0] == 404
    assert apidocs.is_docs_path("/api/docs/swagger-ui.css") and not apidocs.is_docs_path("/api/docsx")
