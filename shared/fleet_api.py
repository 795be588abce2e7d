"""The fleet API: the routers of `shared.api` composed into one Powertools REST resolver (with
request validation), conditional GETs, and its OpenAPI document.

The fleet always comes from the verified token's claims in the request context (Cognito
authorizer in AWS, the local authorizer in `laddvakt up`), never from the path, query or body;
`shared.api.common` says which roles may use which routes.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Callable
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError
from aws_lambda_powertools.event_handler.openapi.models import HTTPBearer

from shared.api import (
    analytics_routes,
    finance_routes,
    fleet_routes,
    registry_routes,
    session_routes,
    vehicle_routes,
)
from shared.api.common import PROBLEM_JSON, FleetNotInToken, RoleMissing, problem
from shared.api.services import Services
from shared.cursors import BadCursor
from shared.domain.errors import Conflict, InvalidInput, NotFound, StorageUnavailable
from shared.models.api import Problem

API_TITLE = "Laddvakt fleet API"
API_VERSION = "0.2.0"
ROUTERS = (fleet_routes, vehicle_routes, session_routes, finance_routes, analytics_routes, registry_routes)

# Every GET answer carries an ETag; a client that sends it back as If-None-Match gets a 304
# without the body. `no-cache` means "revalidate every time": the fleet changes by the minute.
CACHE_CONTROL = "private, no-cache"


def build_resolver(services: Callable[[], Services]) -> APIGatewayRestResolver:
    app = APIGatewayRestResolver(enable_validation=True)
    for module in ROUTERS:
        app.include_router(module.routes(services))

    @app.exception_handler(RequestValidationError)
    def _invalid(exc: RequestValidationError) -> Response[str]:
        # RFC 9457 like every other error, naming each field that is wrong and why.
        problems = "; ".join(
            f"{'.'.join(str(p) for p in error.get('loc', ()))}: {error.get('msg', 'invalid')}"
            for error in exc.errors()
        )
        return problem(422, "Unprocessable Content", problems or "the request is not valid")

    @app.exception_handler(FleetNotInToken)
    def _no_fleet(exc: FleetNotInToken) -> Response[str]:
        return problem(403, "Forbidden", str(exc))

    @app.exception_handler(RoleMissing)
    def _no_role(exc: RoleMissing) -> Response[str]:
        return problem(403, "Forbidden", str(exc))

    @app.exception_handler(BadCursor)
    def _bad_cursor(exc: BadCursor) -> Response[str]:
        return problem(400, "Bad Request", str(exc))

    @app.exception_handler(InvalidInput)
    def _invalid_input(exc: InvalidInput) -> Response[str]:
        return problem(422, "Unprocessable Content", str(exc))

    @app.exception_handler(NotFound)
    def _not_found(exc: NotFound) -> Response[str]:
        return problem(404, "Not Found", str(exc))

    @app.exception_handler(Conflict)
    def _conflict(exc: Conflict) -> Response[str]:
        return problem(409, "Conflict", str(exc))

    @app.exception_handler(StorageUnavailable)
    def _unavailable(exc: StorageUnavailable) -> Response[str]:
        return problem(503, "Service Unavailable", "storage is busy; retry shortly")

    @app.not_found
    def _no_route(exc: Exception) -> Response[str]:
        return problem(404, "Not Found", f"no route {app.current_event.http_method} {app.current_event.path}")

    return app


def _header(event: dict[str, Any], name: str) -> str | None:
    for key, value in (event.get("headers") or {}).items():
        if key.lower() == name.lower():
            return str(value)
    return None


def _undecodable_body(event: dict[str, Any]) -> bool:
    """A binary body (API Gateway passes it base64-encoded) that is not UTF-8 text, so no JSON."""
    if not event.get("isBase64Encoded") or not event.get("body"):
        return False
    try:
        base64.b64decode(str(event["body"])).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return True
    return False


def _refusal(status: int, title: str, detail: str) -> dict[str, Any]:
    """An RFC 9457 answer given before routing."""
    return {
        "statusCode": status,
        "multiValueHeaders": {"Content-Type": [PROBLEM_JSON]},
        "body": Problem(title=title, status=status, detail=detail).model_dump_json(exclude_none=True),
        "isBase64Encoded": False,
    }


def resolve(app: APIGatewayRestResolver, event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Answer one API Gateway event; a successful GET gets an ETag (a hash of its body) and is
    answered 304 Not Modified when the client already holds that version."""
    if _undecodable_body(event):
        return _refusal(422, "Unprocessable Content", "the body is not UTF-8 JSON")
    path = str(event.get("path") or "")
    if any(ord(c) < 32 or ord(c) == 127 for c in path):
        # No id has control characters, and Powertools' route patterns end in `$`, which would
        # let `/sessions/\n` match `/sessions`.
        return _refusal(404, "Not Found", "no route for a path with control characters")
    result = app.resolve(event, context)
    if event.get("httpMethod") != "GET" or result.get("statusCode") != 200:
        return result
    body = result.get("body") or ""
    etag = f'"{hashlib.sha256(body.encode()).hexdigest()[:32]}"'
    headers = result.setdefault("multiValueHeaders", {})
    headers["ETag"] = [etag]
    headers["Cache-Control"] = [CACHE_CONTROL]
    held = _header(event, "If-None-Match")
    if held is not None and (held.strip() == "*" or etag in [t.strip() for t in held.split(",")]):
        headers.pop("Content-Type", None)
        return {**result, "statusCode": 304, "body": "", "isBase64Encoded": False}
    return result


def openapi_json(resolver: APIGatewayRestResolver | None = None) -> str:
    app = resolver or build_resolver(_no_services)
    return app.get_openapi_json_schema(
        title=API_TITLE,
        version=API_VERSION,
        description="Fleet status, vehicles, chargers, sessions, analytics and invoices for fleet apps. "
        "Authenticate with a Cognito ID token (`Authorization: Bearer …`) whose `custom:fleet_id` "
        "claim names your fleet and whose `cognito:groups` carry your roles (`fleet_manager`, "
        "`finance`, `admin`). Decimal values are JSON strings. Errors are RFC 9457 problem details. "
        "Every successful GET carries an `ETag`; send it back as `If-None-Match` to get a 304 when "
        "nothing changed.",
        security_schemes={
            "cognito": HTTPBearer(bearerFormat="JWT", description="Cognito user pool ID token")
        },
    )


def _no_services() -> Services:
    raise RuntimeError("the OpenAPI document is built without a backend")
