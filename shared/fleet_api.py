"""The fleet API's routes (Powertools REST resolver with validation), and its OpenAPI document.

The fleet always comes from the verified token's claims in the request context (Cognito
authorizer in AWS, the local authorizer in `laddvakt up`), never from the path, query or body.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date
from typing import Annotated, Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError
from aws_lambda_powertools.event_handler.openapi.models import HTTPBearer
from aws_lambda_powertools.event_handler.openapi.params import Path, Query
from aws_lambda_powertools.event_handler.openapi.types import OpenAPIResponse

from shared.domain.errors import LaddvaktError, NotFound, StorageUnavailable
from shared.finance import BadCursor, FinanceQueries
from shared.fleet import FleetQueries
from shared.models.api import (
    ChargerList,
    FleetStatus,
    InvoiceDownload,
    InvoicePage,
    Problem,
    SessionDetail,
    Unauthorized,
)
from shared.topology import CLAIM_FLEET_ID, CLAIM_GROUPS

FINANCE_ROLE = "finance"

API_TITLE = "Laddvakt fleet API"
API_VERSION = "0.1.0"
PROBLEM_JSON = "application/problem+json"
SECURITY: list[dict[str, list[str]]] = [{"cognito": []}]
_PROBLEM_RESPONSES: dict[int, OpenAPIResponse] = {
    401: {
        "description": "No valid token (answered by the authorizer, before the API)",
        "content": {"application/json": {"model": Unauthorized}},
    },
    403: {
        "description": "The token carries no fleet, or not the role the route needs",
        "content": {PROBLEM_JSON: {"model": Problem}},
    },
    422: {
        "description": "A path or query value that is not valid",
        "content": {PROBLEM_JSON: {"model": Problem}},
    },
}


def _ok(model: type, description: str) -> dict[int, OpenAPIResponse]:
    """A route's 200 with its model: Powertools leaves it out of the document once a route names
    any response of its own, and a fleet app needs it most."""
    return {200: {"description": description, "content": {"application/json": {"model": model}}}}


class FleetNotInToken(LaddvaktError):
    pass


class RoleMissing(LaddvaktError):
    pass


def _problem(status: int, title: str, detail: str | None = None) -> Response[str]:
    body = Problem(title=title, status=status, detail=detail).model_dump_json(exclude_none=True)
    return Response(status_code=status, content_type=PROBLEM_JSON, body=body)


def caller_roles(claims: dict[str, Any]) -> set[str]:
    """The caller's roles: Cognito groups, which API Gateway passes as one string (`a,b` or `[a b]`)."""
    raw = claims.get(CLAIM_GROUPS) or ""
    if isinstance(raw, list):
        return {str(r) for r in raw}
    return {r for r in re.split(r"[,\s]+", str(raw).strip("[]")) if r}


def build_resolver(
    queries: Callable[[], FleetQueries], finance: Callable[[], FinanceQueries]
) -> APIGatewayRestResolver:
    app = APIGatewayRestResolver(enable_validation=True)

    def caller_claims() -> dict[str, Any]:
        return dict(app.current_event.request_context.authorizer.claims or {})

    def caller_fleet() -> str:
        fleet_id = caller_claims().get(CLAIM_FLEET_ID)
        if not fleet_id:
            raise FleetNotInToken(f"the token has no {CLAIM_FLEET_ID} claim")
        return str(fleet_id)

    def finance_fleet() -> str:
        """The caller's fleet, for a route only its finance role may use."""
        fleet_id = caller_fleet()
        if FINANCE_ROLE not in caller_roles(caller_claims()):
            raise RoleMissing(f"this route is for the {FINANCE_ROLE!r} role of the fleet")
        return fleet_id

    @app.get(
        "/fleet/status",
        summary="Vehicles and chargers of the caller's fleet, now",
        description="Per vehicle: charging (with power, energy so far and SoC), plugged in, or idle. "
        "Per charger: connector states and faults.",
        responses={**_ok(FleetStatus, "The fleet now"), **_PROBLEM_RESPONSES},
        security=SECURITY,
        tags=["fleet"],
    )
    def fleet_status() -> FleetStatus:
        return queries().status(caller_fleet())

    @app.get(
        "/sessions/<session_id>",
        summary="One charging session of the caller's fleet",
        responses={
            **_ok(SessionDetail, "The session, with its meter curve and cost so far"),
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
        responses={**_ok(ChargerList, "The fleet's chargers"), **_PROBLEM_RESPONSES},
        security=SECURITY,
        tags=["chargers"],
    )
    def list_chargers() -> ChargerList:
        return queries().chargers(caller_fleet())

    @app.get(
        "/invoices",
        summary="The caller's fleet's invoices and credit notes, by issue date (finance role)",
        description="Oldest first, a page at a time: pass `next_cursor` back as `cursor` for the next page.",
        responses={
            **_ok(InvoicePage, "A page of the fleet's invoices"),
            **_PROBLEM_RESPONSES,
            400: {
                "description": "A cursor this API did not return",
                "content": {PROBLEM_JSON: {"model": Problem}},
            },
        },
        security=SECURITY,
        tags=["finance"],
    )
    def list_invoices(
        issued_from: Annotated[date | None, Query(description="First issue date (inclusive)")] = None,
        issued_to: Annotated[date | None, Query(description="Last issue date (inclusive)")] = None,
        limit: Annotated[int, Query(ge=1, le=100, description="Invoices per page")] = 50,
        cursor: Annotated[
            str | None, Query(max_length=1000, description="`next_cursor` of the page before")
        ] = None,
    ) -> InvoicePage:
        return finance().invoices(
            finance_fleet(), issued_from=issued_from, issued_to=issued_to, limit=limit, cursor=cursor
        )

    @app.get(
        "/invoices/<invoice_number>",
        summary="One invoice of the caller's fleet, with short-lived download links (finance role)",
        responses={
            **_ok(InvoiceDownload, "The invoice and a download link per form"),
            **_PROBLEM_RESPONSES,
            404: {
                "description": "No such invoice in this fleet",
                "content": {PROBLEM_JSON: {"model": Problem}},
            },
        },
        security=SECURITY,
        tags=["finance"],
    )
    def get_invoice(
        invoice_number: Annotated[str, Path(description="e.g. LV-0000042", max_length=40)],
    ) -> InvoiceDownload:
        return finance().invoice(finance_fleet(), invoice_number)

    @app.exception_handler(RequestValidationError)
    def _invalid(exc: RequestValidationError) -> Response[str]:
        # RFC 9457 like every other error, naming each field that is wrong and why.
        problems = "; ".join(
            f"{'.'.join(str(p) for p in error.get('loc', ()))}: {error.get('msg', 'invalid')}"
            for error in exc.errors()
        )
        return _problem(422, "Unprocessable Content", problems or "the request is not valid")

    @app.exception_handler(FleetNotInToken)
    def _no_fleet(exc: FleetNotInToken) -> Response[str]:
        return _problem(403, "Forbidden", str(exc))

    @app.exception_handler(RoleMissing)
    def _no_role(exc: RoleMissing) -> Response[str]:
        return _problem(403, "Forbidden", str(exc))

    @app.exception_handler(BadCursor)
    def _bad_cursor(exc: BadCursor) -> Response[str]:
        return _problem(400, "Bad Request", str(exc))

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
    app = resolver or build_resolver(_no_queries, _no_finance)
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


def _no_finance() -> FinanceQueries:
    raise RuntimeError("the OpenAPI document is built without a backend")
