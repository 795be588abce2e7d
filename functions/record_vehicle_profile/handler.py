"""Billing workflow step: record the closed session in its vehicle's profile (RollupsRecorded in,
ProfileRecorded out)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.utilities.parser import event_parser
from aws_lambda_powertools.utilities.typing import LambdaContext

from shared.models.analytics import RollupsRecorded
from shared.settings import ProfileSettings
from shared.vehicle_profiles import ProfileRecorder

logger = Logger()
tracer = Tracer()
recorder = ProfileRecorder.from_settings(ProfileSettings())


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@event_parser(model=RollupsRecorded)
def lambda_handler(event: RollupsRecorded, context: LambdaContext) -> dict[str, Any]:
    return recorder.record(event).model_dump(mode="json")
