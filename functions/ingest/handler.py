"""Ingest Lambda: OCPP-J frames from the ingest queue, in batches with partial failures."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.typing import LambdaContext

from shared.ingest import IngestService
from shared.models.events import InboundFrameRecord
from shared.settings import IngestSettings

logger = Logger()
tracer = Tracer()
metrics = Metrics()
service = IngestService.from_settings(IngestSettings())
processor = BatchProcessor(event_type=EventType.SQS, model=InboundFrameRecord)


@tracer.capture_method
def record_handler(record: InboundFrameRecord) -> None:
    result = service.process(record.body)
    metrics.add_metric(name="FramesProcessed", unit=MetricUnit.Count, value=1)
    if result.problem is not None:
        metrics.add_metric(name="FramesRejected", unit=MetricUnit.Count, value=1)
        logger.warning("frame kept for inspection", extra=result.model_dump())


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    return process_partial_response(
        event=event, record_handler=record_handler, processor=processor, context=context
    )
