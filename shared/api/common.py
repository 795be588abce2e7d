"""What every route shares: the caller (fleet and roles from the token), the roles each route
needs, RFC 9457 problems and the documented responses."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import BaseRouter
from aws_lambda_powertools.event_handler.openapi.types import OpenAPIResponse, OpenAPIResponseContentModel
from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEvent

from shared.api import examples
from shared.domain.errors import LaddvaktError
from shared.models.api import Problem, Unauthorized
from shared.topology import CLAIM_FLEET_ID, CLAIM_GROUPS

FLEET_MANAGER = "fleet_manager"
FINANCE = "finance"
ADMIN = "admin"
ROLES = (FLEET_MANAGER, FINANCE, ADMIN)

# Who may use what: reading the fleet is for its managers (and admins); invoices for finance;
# changing the registry for admins. Analytics and sessions are read by finance as well, since they
# explain the invoices.
READ_FLEET = (FLEET_MANAGER, ADMIN)
READ_SESSIONS = (FLEET_MANAGER, FINANCE, ADMIN)
READ_ANALYTICS = (FLEET_MANAGER, FINANCE, ADMIN)
READ_INVOICES = (FINANCE,)
MANAGE_REGISTRY = (ADMIN,)
PLAN_CHARGING = (FLEET_MANAGER, ADMIN)

PROBLEM_JSON = "application/problem+json"
SECURITY: list[dict[str, list[str]]] = [{"cognito": []}]


class FleetNotInToken(LaddvaktError):
    pass


class RoleMissing(LaddvaktError):
    pass


@dataclass(frozen=True)
class Caller:
    fleet_id: str
    roles: frozenset[str]


def caller_roles(claims: dict[str, Any]) -> set[str]:
    """The caller's roles: Cognito groups, which API Gateway passes as one string (`a,b` or `[a b]`)."""
    raw = claims.get(CLAIM_GROUPS) or ""
    if isinstance(raw, list):
        return {str(r) for r in raw}
    return {r for r in re.split(r"[,\s]+", str(raw).strip("[]")) if r}


def caller(router: BaseRouter, allowed: tuple[str, ...]) -> Caller:
    """The verified caller of the current request, if it holds one of the `allowed` roles."""
    event = router.current_event
    assert isinstance(event, APIGatewayProxyEvent)  # a REST API's proxy event
    claims = dict(event.request_context.authorizer.claims or {})
    fleet_id = claims.get(CLAIM_FLEET_ID)
    if not fleet_id:
        raise FleetNotInToken(f"the token has no {CLAIM_FLEET_ID} claim")
    roles = frozenset(caller_roles(claims))
    if not roles & set(allowed):
        raise RoleMissing(f"this route needs one of the roles {', '.join(allowed)}")
    return Caller(fleet_id=str(fleet_id), roles=roles)


def problem(status: int, title: str, detail: str | None = None) -> Response[str]:
    body = Problem(title=title, status=status, detail=detail).model_dump_json(exclude_none=True)
    return Response(status_code=status, content_type=PROBLEM_JSON, body=body)


def json_content(model: type) -> OpenAPIResponseContentModel:
    """A model's JSON content, with its example answer when `shared.api.examples` has one."""
    content: OpenAPIResponseContentModel = {"model": model}
    if model in examples.BY_MODEL:
        content["examples"] = examples.BY_MODEL[model]
    return content


def ok(model: type, description: str) -> dict[int, OpenAPIResponse]:
    """A route's 200 with its model: Powertools leaves it out of the document once a route names
    any response of its own, and a fleet app needs it most."""
    return {200: {"description": description, "content": {"application/json": json_content(model)}}}


def problem_response(description: str, sample: Problem | None = None) -> OpenAPIResponse:
    content: OpenAPIResponseContentModel = {"model": Problem}
    if sample is not None:
        content["examples"] = examples.example(sample, sample.title)
    return {"description": description, "content": {PROBLEM_JSON: content}}


PROBLEMS: dict[int, OpenAPIResponse] = {
    401: {
        "description": "No valid token (answered by the authorizer, before the API)",
        "content": {"application/json": {"model": Unauthorized}},
    },
    403: problem_response("The token carries no fleet, or none of the roles the route needs"),
    422: problem_response("A path, query or body value that is not valid", examples.INVALID),
}
NOT_FOUND = problem_response(
    "Not found in the caller's fleet (another fleet's things do not exist here)", examples.NOT_FOUND
)
BAD_CURSOR = problem_response("A cursor this API did not return, or returned for other filters")


def responses(model: type, description: str, **extra: OpenAPIResponse) -> dict[int, OpenAPIResponse]:
    """A route's documented answers: its 200, the problems every route may answer, and `extra`
    keyed `r404=...` (a status code as keyword)."""
    return {**ok(model, description), **PROBLEMS, **{int(k.lstrip("r")): v for k, v in extra.items()}}
