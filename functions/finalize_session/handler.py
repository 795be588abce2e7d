"""Billing workflow step: finalize session (CloseRequest in, ClosedSession out)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.utilities.parser import event_parser
from aws_lambda_powertools.utilities.typing import LambdaContext

from shared.billing import Billing
from shared.models.sessions import CloseRequest
from shared.settings import BillingSettings

logger = Logger()
tracer = Tracer()
billing = Billing.from_settings(BillingSettings())


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@event_parser(model=CloseRequest)
def lambda_handler(event: CloseRequest, context: LambdaContext) -> dict[str, Any]:
    return billing.finalize(event).model_dump(mode="json")
