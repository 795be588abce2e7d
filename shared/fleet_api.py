"""The fleet API's routes (Powertools REST resolver with validation), and its OpenAPI document.

The fleet always comes from the verified token's claims in the request context (Cognito
authorizer in AWS, the local authorizer in `laddvakt up`), never from the path, query or body.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from aws_lambda_powertools.event_handler.openapi.models import HTTPBearer
from aws_lambda_powertools.event_handler.openapi.params import Path
from aws_lambda_powertools.event_handler.openapi.types import OpenAPIResponse

from shared.domain.errors import LaddvaktError, NotFound, StorageUnavailable
from shared.fleet import FleetQueries
from shared.models.api import ChargerList, FleetStatus, Problem, SessionDetail
from shared.topology import CLAIM_FLEET_ID

API_TITLE = "Laddvakt fleet API"
API_VERSION = "0.1.0"
PROBLEM_JSON = "application/problem+json"
SECURITY: list[dict[str, list[str]]] = [{"cognito": []}]
_PROBLEM_RESPONSES: dict[int, OpenAPIResponse] = {
    401: {"description": "No valid token (answered by the authorizer)"},
    403: {"description": "The token carries no fleet", "content": {PROBLEM_JSON: {"model": Problem}}},
}


class FleetNotInToken(LaddvaktError):
    pass


def _problem(status: int, title: str, detail: str | None = None) -> Response[str]:
    body = Problem(title=title, status=status, detail=detail).model_dump_json(exclude_none=True)
    return Response(status_code=status, content_type=PROBLEM_JSON, body=body)


def build_resolver(queries: Callable[[], FleetQueries]) -> APIGatewayRestResolver:
    app = APIGatewayRestResolver(enable_validation=True)

    def caller_fleet() -> str:
        claims = app.current_event.request_context.authorizer.claims or {}
        fleet_id = claims.get(CLAIM_FLEET_ID)
        if not fleet_id:
            raise FleetNotInToken(f"the token has no {CLAIM_FLEET_ID} claim")
        return str(fleet_id)

    @app.get(
        "/fleet/status",
        summary="Vehicles and chargers of the caller's fleet, now",
        description="Per vehicle: charging (with power, energy so far and SoC), plugged in, or idle. "
        "Per charger: connector states and faults.",
        responses=_PROBLEM_RESPONSES,
        security=SECURITY,
        tags=["fleet"],
    )
    def fleet_status() -> FleetStatus:
        return queries().status(caller_fleet())

    @app.get(
        "/sessions/<session_id>",
        summary="One charging session of the caller's fleet",
        responses={
            **_PROBLEM_RESPONSES,
            404: {
                "description": "No such session in this fleet",
                "content": {PROBLEM_JSON: {"model": Problem}},
            },
        },
        security=SECURITY,
        tags=["sessions"],
    )
    def get_session(
        session_id: Annotated[str, Path(description="`{chargePointId}:{transactionId}`", max_length=100)],
    ) -> SessionDetail:
        return queries().session(caller_fleet(), session_id)

    @app.get(
        "/chargers",
        summary="The caller's fleet's chargers with connector states",
        responses=_PROBLEM_RESPONSES,
        security=SECURITY,
        tags=["chargers"],
    )
    def list_chargers() -> ChargerList:
        return queries().chargers(caller_fleet())

    @app.exception_handler(FleetNotInToken)
    def _no_fleet(exc: FleetNotInToken) -> Response[str]:
        return _problem(403, "Forbidden", str(exc))

    @app.exception_handler(NotFound)
    def _not_found(exc: NotFound) -> Response[str]:
        return _problem(404, "Not Found", str(exc))

    @app.exception_handler(StorageUnavailable)
    def _unavailable(exc: StorageUnavailable) -> Response[str]:
        return _problem(503, "Service Unavailable", "storage is busy; retry shortly")

    @app.not_found
    def _no_route(exc: Exception) -> Response[str]:
        return _problem(
            404, "Not Found", f"no route {app.current_event.http_method} {app.current_event.path}"
        )

    return app


def openapi_json(resolver: APIGatewayRestResolver | None = None) -> str:
    app = resolver or build_resolver(_no_queries)
    return app.get_openapi_json_schema(
        title=API_TITLE,
        version=API_VERSION,
        description="Fleet status, sessions and chargers for fleet apps. Authenticate with a Cognito ID "
        "token (`Authorization: Bearer …`) whose `custom:fleet_id` claim names your fleet. Decimal "
        "values are JSON strings.",
        security_schemes={
            "cognito": HTTPBearer(bearerFormat="JWT", description="Cognito user pool ID token")
        },
    )


def _no_queries() -> FleetQueries:
    raise RuntimeError("the OpenAPI document is built without a backend")
