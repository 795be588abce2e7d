"""Fleet API Lambda behind API Gateway (REST, Cognito authorizer)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from shared.finance import FinanceQueries
from shared.fleet import FleetQueries
from shared.fleet_api import build_resolver
from shared.settings import FleetApiSettings

logger = Logger()
tracer = Tracer()
settings = FleetApiSettings()
queries = FleetQueries.from_settings(settings)
finance = FinanceQueries.from_settings(settings)
app = build_resolver(lambda: queries, lambda: finance)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST)
@tracer.capture_lambda_handler
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
