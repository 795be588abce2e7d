"""Reaper Lambda (EventBridge schedule): closes sessions that never ended."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.data_classes import EventBridgeEvent, event_source
from aws_lambda_powertools.utilities.typing import LambdaContext

from shared.reaper import Reaper
from shared.settings import ReaperSettings

logger = Logger()
tracer = Tracer()
metrics = Metrics()
reaper = Reaper.from_settings(ReaperSettings())


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
@event_source(data_class=EventBridgeEvent)
def lambda_handler(event: EventBridgeEvent, context: LambdaContext) -> dict[str, Any]:
    report = reaper.run()
    metrics.add_metric(name="SessionsEndInferred", unit=MetricUnit.Count, value=len(report.closed))
    if report.closed:
        logger.warning("closed sessions that never ended", extra={"reasons": report.reasons})
    return asdict(report)
