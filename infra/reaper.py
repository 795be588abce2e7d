"""Sessions that never end: an EventBridge schedule runs the reaper function."""

from __future__ import annotations

from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_lambda as lambda_
from constructs import Construct

from infra.functions import FunctionFactory
from shared.topology import REAPER_SCHEDULE


class SessionReaper(Construct):
    def __init__(
        self, scope: Construct, id_: str, functions: FunctionFactory, environment: dict[str, str]
    ) -> None:
        super().__init__(scope, id_)
        self.function: lambda_.Function = functions.make(self, "reap-sessions", environment)
        self.schedule = events.Rule(
            self,
            "schedule",
            description="Closes sessions that went silent or whose connector is free again",
            schedule=events.Schedule.expression(REAPER_SCHEDULE),
            targets=[targets.LambdaFunction(self.function, retry_attempts=2)],
        )
