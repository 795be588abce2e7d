"""Statement workflow, last step: the month's statement from the day sums (StatementRequest in, InvoiceRef out)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.utilities.parser import event_parser
from aws_lambda_powertools.utilities.typing import LambdaContext

from shared.billing import Billing
from shared.models.sessions import StatementRequest
from shared.settings import BillingSettings

logger = Logger()
tracer = Tracer()
billing = Billing.from_settings(BillingSettings())


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@event_parser(model=StatementRequest)
def lambda_handler(event: StatementRequest, context: LambdaContext) -> dict[str, Any]:
    return billing.write_statement(event).model_dump(mode="json")
