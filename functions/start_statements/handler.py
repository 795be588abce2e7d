"""Statements Lambda (EventBridge schedule, the 1st of each month): starts last month's statement of every monthly fleet."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.utilities.data_classes import EventBridgeEvent, event_source
from aws_lambda_powertools.utilities.typing import LambdaContext

from shared.billing import start_statements
from shared.settings import StatementSettings

logger = Logger()
tracer = Tracer()
settings = StatementSettings()


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@event_source(data_class=EventBridgeEvent)
def lambda_handler(event: EventBridgeEvent, context: LambdaContext) -> dict[str, Any]:
    started = start_statements(settings, event.time)
    logger.info("statements started", extra=started)
    return started
