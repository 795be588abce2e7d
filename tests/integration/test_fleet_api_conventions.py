"""What every route of the fleet API does the same way: conditional GETs and roles."""

from __future__ import annotations

import json

import pytest

from tests.frames import api_event

pytestmark = pytest.mark.integration


def call(handlers, context, path, fleet="kusttaxi", **kwargs):
    response = handlers["fleet_api"].lambda_handler(api_event(path, fleet, **kwargs), context)
    headers = {k: ",".join(v) for k, v in (response.get("multiValueHeaders") or {}).items()}
    return response["statusCode"], headers, response["body"]


def test_a_get_carries_an_etag_and_a_client_holding_it_gets_304_without_the_body(handlers, context):
    # Given a fleet app that fetched the chargers once
    status, headers, body = call(handlers, context, "/chargers")
    assert status == 200 and headers["ETag"].startswith('"')
    assert headers["Cache-Control"] == "private, no-cache"
    # When it asks again with that ETag, Then nothing is sent again
    status, again, body2 = call(handlers, context, "/chargers", headers={"If-None-Match": headers["ETag"]})
    assert (status, body2, again["ETag"]) == (304, "", headers["ETag"])
    # And with a stale ETag it gets the body
    status, _, body3 = call(handlers, context, "/chargers", headers={"If-None-Match": '"stale"'})
    assert status == 200 and json.loads(body3) == json.loads(body)


@pytest.mark.parametrize(
    ("path", "groups", "allowed"),
    [
        ("/fleet/status", "fleet_manager", True),
        ("/fleet/status", "admin", True),
        ("/fleet/status", "finance", False),
        ("/invoices", "finance", True),
        ("/invoices", "fleet_manager", False),
        ("/invoices", "admin", False),
        ("/chargers", "", False),
    ],
)
def test_each_route_answers_only_the_roles_it_is_for(handlers, context, path, groups, allowed):
    status, headers, body = call(handlers, context, path, groups=groups)
    if allowed:
        assert status == 200
    else:
        assert status == 403
        assert headers["Content-Type"] == "application/problem+json"
        assert "needs one of the roles" in json.loads(body)["detail"]


@pytest.mark.parametrize("path", ["/sessions/\n", "/vehicles/\r", "/chargers/a\tb"])
def test_a_path_with_control_characters_is_no_route(handlers, context, path):
    # Not the list route its prefix names (a route pattern's `$` matches before a trailing newline)
    status, headers, body = call(handlers, context, path)
    assert status == 404 and headers["Content-Type"] == "application/problem+json"
    assert json.loads(body)["title"] == "Not Found"
