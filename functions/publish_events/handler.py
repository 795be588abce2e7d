"""Publish-events Lambda: the sessions' and registry's DynamoDB streams in, live fleet events out
on EventBridge, in batches with partial failures (a failed change is retried, then dead-lettered).
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.parser.models import DynamoDBStreamRecordModel
from aws_lambda_powertools.utilities.typing import LambdaContext

from shared.live_events import LiveEvents
from shared.settings import PublishEventsSettings

logger = Logger()
tracer = Tracer()
metrics = Metrics()
live_events = LiveEvents.from_settings(PublishEventsSettings())
processor = BatchProcessor(event_type=EventType.DynamoDBStreams, model=DynamoDBStreamRecordModel)


@tracer.capture_method
def record_handler(record: DynamoDBStreamRecordModel) -> None:
    events = live_events.announce(record.dynamodb.OldImage, record.dynamodb.NewImage)  # type: ignore[arg-type]
    metrics.add_metric(name="ChangesRead", unit=MetricUnit.Count, value=1)
    for event in events:
        metrics.add_metric(name=event.detail_type(), unit=MetricUnit.Count, value=1)
    if events:
        logger.info("published", extra={"events": [e.event_id for e in events]})


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    return process_partial_response(
        event=event, record_handler=record_handler, processor=processor, context=context
    )
