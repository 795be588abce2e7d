"""Schedule-site Lambda: the sessions' and registry's change streams (arrivals, departures,
charging needs, chargers' answers to profiles) and a sweep every minute (unanswered profiles,
retries, meter drift) each replan the sites they concern and send the profiles that changed.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.parser.models import DynamoDBStreamRecordModel
from aws_lambda_powertools.utilities.typing import LambdaContext

from shared.models.scheduling import StoredSchedule
from shared.scheduling import SchedulingService
from shared.settings import ScheduleSiteSettings

logger = Logger()
tracer = Tracer()
metrics = Metrics()
service = SchedulingService.from_settings(ScheduleSiteSettings())
processor = BatchProcessor(event_type=EventType.DynamoDBStreams, model=DynamoDBStreamRecordModel)


def _report(schedule: StoredSchedule) -> None:
    metrics.add_metric(name="SitesPlanned", unit=MetricUnit.Count, value=1)
    refused = [c for c in schedule.connectors if c.profile.status == "rejected"]
    if refused:
        metrics.add_metric(name="ProfilesRefused", unit=MetricUnit.Count, value=len(refused))
        logger.warning(
            "chargers refused their charging profile; counted at full power",
            extra={
                "site_id": schedule.site_id,
                "refused": {c.charge_point_id: c.profile.reason for c in refused},
                "uncontrolled_kw": str(schedule.uncontrolled_kw),
            },
        )


@tracer.capture_method
def record_handler(record: DynamoDBStreamRecordModel) -> None:
    for recompute in service.triggered_by(record.dynamodb.OldImage, record.dynamodb.NewImage):  # type: ignore[arg-type]
        schedule = service.reschedule(recompute.site_id, recompute.trigger)
        if schedule is not None:
            _report(schedule)


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse | None:
    if "Records" not in event:  # the EventBridge schedule's sweep
        for schedule in service.sweep():
            _report(schedule)
        return None
    return process_partial_response(
        event=event, record_handler=record_handler, processor=processor, context=context
    )
