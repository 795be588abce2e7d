"""The committed OpenAPI document is what fleet apps build against: it must match the code."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from shared.fleet_api import openapi_json

pytestmark = pytest.mark.contract

COMMITTED = Path(__file__).resolve().parents[2] / "docs" / "openapi.json"


def test_committed_openapi_matches_the_routes():
    generated = json.loads(openapi_json())
    committed = json.loads(COMMITTED.read_text())
    assert committed == generated, "docs/openapi.json is stale: run `make openapi` and commit it"


def test_every_route_requires_the_cognito_token():
    document = json.loads(COMMITTED.read_text())
    assert document["components"]["securitySchemes"]["cognito"]["scheme"] == "bearer"
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            assert operation.get("security") == [{"cognito": []}], f"{method.upper()} {path} is not secured"


def test_the_documented_routes_are_the_routes_fleet_apps_use():
    paths = set(json.loads(COMMITTED.read_text())["paths"])
    assert paths == {
        "/fleet/status",
        "/fleet/schedule",
        "/vehicles",
        "/vehicles/{vehicle_id}",
        "/vehicles/{vehicle_id}/sessions",
        "/sessions",
        "/sessions/{session_id}",
        "/chargers",
        "/chargers/{charge_point_id}",
        "/invoices",
        "/invoices/{invoice_number}",
        "/analytics/energy",
        "/analytics/utilisation",
        "/analytics/site-load",
        "/analytics/arrivals",
        "/sites",
        "/sites/{site_id}",
        "/sites/{site_id}/availability",
        "/vehicles/{vehicle_id}/charging-needs",
        "/drivers",
        "/drivers/{driver_id}",
        "/tokens",
        "/tokens/{id_tag}",
    }


def _documented_examples() -> list[tuple[str, dict, object]]:
    document = json.loads(COMMITTED.read_text())
    found = []
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            for status, response in operation.get("responses", {}).items():
                for media, content in response.get("content", {}).items():
                    for name, sample in content.get("examples", {}).items():
                        found.append(
                            (
                                f"{method.upper()} {path} {status} {media} {name}",
                                content["schema"],
                                sample["value"],
                            )
                        )
    return found


def test_the_main_answers_have_examples():
    documented = {label.split(" ")[1] for label, _, _ in _documented_examples() if " 200 " in label}
    assert {"/fleet/status", "/vehicles", "/vehicles/{vehicle_id}", "/sessions", "/sessions/{session_id}",
            "/chargers", "/chargers/{charge_point_id}", "/invoices", "/analytics/energy"} <= documented  # fmt: skip


@pytest.mark.parametrize(
    ("label", "schema", "value"), _documented_examples(), ids=lambda v: v if isinstance(v, str) else ""
)
def test_every_example_matches_its_schema(label, schema, value):
    import jsonschema

    components = json.loads(COMMITTED.read_text())["components"]
    jsonschema.Draft202012Validator({**schema, "components": components}).validate(value)
