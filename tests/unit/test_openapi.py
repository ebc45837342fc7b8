"""docs/openapi.json: generated from the admin resolver, current, valid, complete."""

from __future__ import annotations

import json

from openapi_spec_validator import validate

from roomcast_local.cfn import load_template
from scripts import gen_openapi
from tests.conftest import ROOT

DOC = ROOT / "docs" / "openapi.json"


def test_the_committed_document_is_what_the_resolver_generates() -> None:
    # Fails when a route, parameter or model changed without `scripts/gen_openapi.py`.
    assert gen_openapi.main(["--check"]) == 0


def test_the_document_is_valid_openapi() -> None:
    validate(json.loads(DOC.read_text()))


def test_a_stale_document_is_caught(tmp_path, monkeypatch) -> None:
    stale = tmp_path / "openapi.json"
    doc = json.loads(DOC.read_text())
    doc["paths"].pop("/tokens")
    stale.write_text(json.dumps(doc))
    monkeypatch.setattr(gen_openapi, "OUTPUT", stale)
    monkeypatch.setattr(gen_openapi, "ROOT", tmp_path)
    assert gen_openapi.main(["--check"]) == 1


def _template_routes() -> set[tuple[str, str]]:
    resources = load_template(ROOT / "template.yaml")["Resources"]
    routes = set()
    for resource in resources.values():
        for event in (resource.get("Properties") or {}).get("Events", {}).values():
            if event.get("Type") == "HttpApi" and "Path" in event["Properties"]:
                props = event["Properties"]
                routes.add((props["Method"].lower(), props["Path"]))
    return routes


def test_the_admin_api_has_one_catch_all_route_to_the_admin_function() -> None:
    # Without it API Gateway answers a method a path does not serve with 404; through it the
    # function answers 405 with Allow (docs/admin-api.md, "Requests").
    resources = load_template(ROOT / "template.yaml")["Resources"]
    catch_alls = [
        (name, event["Properties"])
        for name, resource in resources.items()
        for event in (resource.get("Properties") or {}).get("Events", {}).values()
        if event.get("Type") == "HttpApi" and "Path" not in event["Properties"]
    ]
    assert [name for name, _ in catch_alls] == ["AdminFunction"]
    props = catch_alls[0][1]
    assert "Method" not in props and "Auth" not in props  # behind the API's default authorizer


def test_every_route_the_template_serves_is_documented_and_no_other() -> None:
    doc = json.loads(DOC.read_text())
    documented = {(method, path) for path, operations in doc["paths"].items() for method in operations}
    assert documented == _template_routes()


def test_refusals_are_documented_as_the_roomcast_error_body() -> None:
    doc = json.loads(DOC.read_text())
    for path, operations in doc["paths"].items():
        for method, operation in operations.items():
            responses = operation["responses"]
            assert "422" not in responses, (method, path)  # refused parameters answer 400
            for status in ("400", "500"):
                schema = responses[status]["content"]["application/json"]["schema"]
                assert schema == {"$ref": "#/components/schemas/ErrorBody"}, (method, path, status)
            assert ("401" in responses) == (path != "/health"), (method, path)
    assert doc["paths"]["/health"]["get"]["security"] == []
    assert doc["security"] == [{"ApiKey": []}]
