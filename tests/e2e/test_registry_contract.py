"""The registry routes as an admin drives them, with schemathesis from the committed OpenAPI
document: generated ids, bodies and cursors. No request may produce a 5xx, and every answer must
match the document. The admin is of a fleet of its own, so whatever it creates or deletes stays
there (another fleet's ids answer 404 or 409 to it, never change)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.specs.openapi.checks import positive_data_acceptance

pytestmark = pytest.mark.e2e

OPENAPI = Path(__file__).resolve().parents[2] / "docs" / "openapi.json"
schema = schemathesis.openapi.from_dict(json.loads(OPENAPI.read_text())).include(tag="registry")
TOKEN: dict[str, str] = {}
FLEET = "contract-admin"


@schema.auth(refresh_interval=None)
class AdminToken:
    def get(self, case: Any, context: Any) -> str:
        return TOKEN.get("value", "")

    def set(self, case: Any, data: str, context: Any) -> None:
        case.headers = {**(case.headers or {}), "Authorization": f"Bearer {data}"}


@pytest.fixture(scope="module")
def api(local_stack) -> Any:
    TOKEN["value"] = local_stack.issue_token(FLEET, ["admin"])
    return local_stack


@schema.parametrize()
@settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_admin_request_produces_a_server_error_and_every_answer_matches_the_document(api, case):
    # The local stack shares two cores with whatever else runs; a slow answer is not a wrong one.
    response = case.call(base_url=api.api_url, timeout=60)
    assert response.status_code < 500, (case.method, case.formatted_path, response.text[:300])
    # A made-up cursor or a reference to nothing is rightly refused however well-formed it looks.
    case.validate_response(response, excluded_checks=[positive_data_acceptance])
