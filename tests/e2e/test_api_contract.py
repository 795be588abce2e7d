"""The fleet API against its own OpenAPI document, as schemathesis drives it: generated requests
to every route (valid and invalid paths, queries and cursors, missing and bad tokens, methods the
API has not). No request may produce a 5xx, and every response must match the document."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.specs.openapi.checks import positive_data_acceptance

from laddvakt.cli import main
from tests.unit.conftest import EXAMPLE_REGISTRY

pytestmark = pytest.mark.e2e

OPENAPI = Path(__file__).resolve().parents[2] / "docs" / "openapi.json"
schema = schemathesis.openapi.from_dict(json.loads(OPENAPI.read_text()))
TOKEN: dict[str, str] = {}


@schema.auth(refresh_interval=None)
class FleetToken:
    """A Kust Taxi user with both roles, signed by the local stack as Cognito would; schemathesis
    swaps it for missing or forged tokens in its own authentication checks."""

    def get(self, case: Any, context: Any) -> str:
        # Asked again for every case (no caching): the stack that signs it starts after collection.
        return TOKEN.get("value", "")

    def set(self, case: Any, data: str, context: Any) -> None:
        case.headers = {**(case.headers or {}), "Authorization": f"Bearer {data}"}


@pytest.fixture(scope="module")
def api(local_stack) -> Any:
    assert main(["registry", "import", str(EXAMPLE_REGISTRY), "--state-dir", str(local_stack.state_dir)]) == 0
    TOKEN["value"] = local_stack.issue_token("kusttaxi", ["fleet_manager", "finance"])
    return local_stack


@schema.parametrize()
@settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_request_produces_a_server_error_and_every_answer_matches_the_document(api, case):
    response = case.call(base_url=api.api_url)
    assert response.status_code < 500, (case.method, case.formatted_path, response.text[:300])
    # Every check but "schema-valid data is accepted": a page cursor is opaque, and one this API
    # did not hand out is rightly refused (400) however well-formed it looks.
    case.validate_response(response, excluded_checks=[positive_data_acceptance])
