"""Billing workflow step: record the rollups (the priced session in, RollupsRecorded out)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.utilities.parser import event_parser
from aws_lambda_powertools.utilities.typing import LambdaContext

from shared.analytics import RollupRecorder
from shared.models.sessions import PricedSession
from shared.settings import RollupSettings

logger = Logger()
tracer = Tracer()
recorder = RollupRecorder.from_settings(RollupSettings())


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@event_parser(model=PricedSession)
def lambda_handler(event: PricedSession, context: LambdaContext) -> dict[str, Any]:
    return recorder.record(event).model_dump(mode="json")
