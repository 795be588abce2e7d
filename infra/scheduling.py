"""Depot scheduling: the schedule-site function, fed by the sessions' and registry's change
streams (only the changes that can move a plan invoke it) and swept every minute by a schedule.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aws_cdk import Aws, Duration
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_event_sources as sources
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infra.functions import FunctionFactory
from shared.adapters.sessions_table import HEAD
from shared.adapters.site_schedules import COMMAND_KIND
from shared.topology import ENV_IOT_DATA_ENDPOINT, SCHEDULE_SWEEP, Names

RETRY_ATTEMPTS = 4

_HEAD = {"Keys": {"sk": {"S": [HEAD]}}}
# Exact values only (the local stack's poller matches nothing else): an arrival is a new session
# head; a departure is a head leaving `active`; charging needs are the fleet's (per vehicle) or
# the EV's own (2.0.1); an answer is a pending command turning accepted or rejected. Meter
# frames, connector statuses and everything else never invoke the function.
STREAM_FILTERS: Mapping[str, list[dict[str, Any]]] = {
    "sessions": [
        {"eventName": ["INSERT"], "dynamodb": _HEAD},
        {
            "eventName": ["MODIFY"],
            "dynamodb": {
                **_HEAD,
                "OldImage": {"status": {"S": ["active"]}},
                "NewImage": {"status": {"S": ["closing", "held", "invoiced", "on_statement"]}},
            },
        },
    ],
    "registry": [
        {"dynamodb": {"NewImage": {"kind": {"S": ["vehicle_charging_needs", "charging_needs"]}}}},
        {"eventName": ["REMOVE"], "dynamodb": {"OldImage": {"kind": {"S": ["vehicle_charging_needs"]}}}},
        {
            "dynamodb": {
                "NewImage": {"kind": {"S": [COMMAND_KIND]}, "status": {"S": ["accepted", "rejected"]}}
            }
        },
    ],
}


class DepotScheduling(Construct):
    def __init__(
        self,
        scope: Construct,
        id_: str,
        functions: FunctionFactory,
        environment: dict[str, str],
        names: Names,
        tables: Mapping[str, dynamodb.ITable],
        iot_data_endpoint: str,
    ) -> None:
        super().__init__(scope, id_)
        # Where a change lands that kept failing: its place in the stream, for an operator.
        self.dead_letter_queue = sqs.Queue(
            self,
            "dead-letters",
            queue_name=names.schedule_dead_letter_queue,
            retention_period=Duration.days(14),
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
        )
        self.function: lambda_.Function = functions.make(
            self, "schedule-site", {**environment, ENV_IOT_DATA_ENDPOINT: iot_data_endpoint}
        )
        for key, table in tables.items():
            self.function.add_event_source(
                sources.DynamoEventSource(
                    table,
                    starting_position=lambda_.StartingPosition.LATEST,
                    batch_size=10,
                    max_batching_window=Duration.seconds(1),
                    bisect_batch_on_error=True,
                    retry_attempts=RETRY_ATTEMPTS,
                    report_batch_item_failures=True,
                    on_failure=sources.SqsDlq(self.dead_letter_queue),
                    filters=[lambda_.FilterCriteria.filter(dict(f)) for f in STREAM_FILTERS[key]],
                )
            )
        self.sweep = events.Rule(
            self,
            "sweep",
            description="Replans sites whose profiles went unanswered, whose retries are due or whose meters drifted",
            schedule=events.Schedule.expression(SCHEDULE_SWEEP),
            targets=[targets.LambdaFunction(self.function, retry_attempts=0)],
        )
        self.function.add_to_role_policy(
            iam.PolicyStatement(
                actions=["iot:Publish"],
                resources=[f"arn:{Aws.PARTITION}:iot:{Aws.REGION}:{Aws.ACCOUNT_ID}:topic/*/out"],
            )
        )
