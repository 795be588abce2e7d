"""Fleet API Lambda behind API Gateway (REST, Cognito authorizer)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from shared.api.services import Services
from shared.fleet_api import build_resolver, resolve
from shared.settings import FleetApiSettings

logger = Logger()
tracer = Tracer()
services = Services.from_settings(FleetApiSettings())
app = build_resolver(lambda: services)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@tracer.capture_lambda_handler
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return resolve(app, event, context)
