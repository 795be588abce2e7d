"""Statement workflow, one Map iteration: sum one day of a fleet's month (StatementDay in, StatementDaySum out)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.utilities.parser import event_parser
from aws_lambda_powertools.utilities.typing import LambdaContext

from shared.billing import Billing
from shared.models.sessions import StatementDay
from shared.settings import BillingSettings

logger = Logger()
tracer = Tracer()
billing = Billing.from_settings(BillingSettings())


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@event_parser(model=StatementDay)
def lambda_handler(event: StatementDay, context: LambdaContext) -> dict[str, Any]:
    return billing.sum_statement_day(event).model_dump(mode="json")
