"""Live fleet events: the sessions' and registry's DynamoDB streams, the publish-events function
that reads both, the fleet event bus it writes to, and the dead letters of changes it could not
announce. Ingest is untouched: nothing on the charger's path waits for an event.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aws_cdk import Duration
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_events as events
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_event_sources as sources
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infra.functions import FunctionFactory
from shared.adapters.sessions_table import HEAD
from shared.topology import ENV_FLEET_EVENT_BUS, Names

# How often a failing batch is tried again (halved each time, to find the one bad change) before
# its place in the stream goes to the dead-letter queue and the stream moves on.
RETRY_ATTEMPTS = 4

# Only the changes that can mean an event invoke the function: a session's head (not its meter
# samples) and a connector's status (not the rest of the registry). Lambda filters for free.
STREAM_FILTERS: Mapping[str, dict[str, Any]] = {
    "sessions": {"dynamodb": {"Keys": {"sk": {"S": [HEAD]}}}},
    "registry": {"dynamodb": {"NewImage": {"kind": {"S": ["connector"]}}}},
}


class LiveEvents(Construct):
    def __init__(
        self,
        scope: Construct,
        id_: str,
        names: Names,
        functions: FunctionFactory,
        tables: Mapping[str, dynamodb.ITable],
    ) -> None:
        super().__init__(scope, id_)
        self.bus = events.EventBus(
            self,
            "bus",
            event_bus_name=names.fleet_event_bus,
            description="Laddvakt's live fleet events (docs/events.md): match detail.fleet_id in your rule",
        )
        self.dead_letter_queue = sqs.Queue(
            self,
            "dead-letters",
            queue_name=names.fleet_events_dead_letter_queue,
            retention_period=Duration.days(14),
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
        )
        self.function = functions.make(self, "publish-events", {ENV_FLEET_EVENT_BUS: self.bus.event_bus_name})
        self.bus.grant_put_events_to(self.function)
        for key, table in tables.items():
            self.function.add_event_source(
                sources.DynamoEventSource(
                    table,
                    starting_position=lambda_.StartingPosition.LATEST,
                    batch_size=100,
                    max_batching_window=Duration.seconds(1),
                    bisect_batch_on_error=True,
                    retry_attempts=RETRY_ATTEMPTS,
                    report_batch_item_failures=True,
                    on_failure=sources.SqsDlq(self.dead_letter_queue),
                    filters=[lambda_.FilterCriteria.filter(dict(STREAM_FILTERS[key]))],
                )
            )
