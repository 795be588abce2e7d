"""Monthly statements: a Standard state machine per fleet and month that sums the month a day at a
time (a Map over the days, each iteration idempotent, so a redriven execution resumes), then
writes one statement; and the schedule on the 1st that starts them.
"""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from infra.functions import FunctionFactory
from infra.workflows import lambda_step, standard_state_machine
from shared.topology import ENV_STATEMENT_STATE_MACHINE_ARN, STATEMENT_SCHEDULE, Names

DAYS_STATE = "DaysOfTheMonth"
MAP_STATE = "SumEachDay"
WRITE_STATE = "WriteStatement"
# Days a month may have: a day with no sessions sums to nothing.
DAYS = list(range(1, 32))


class MonthlyStatements(Construct):
    def __init__(
        self,
        scope: Construct,
        id_: str,
        names: Names,
        functions: FunctionFactory,
        environment: dict[str, str],
        registry_table_name: str,
    ) -> None:
        super().__init__(scope, id_)
        self.day_function = functions.make(self, "statement-day", environment)
        self.write_function = functions.make(self, "write-statement", environment)
        days = sfn.Pass(
            self, DAYS_STATE, state_name=DAYS_STATE, result=sfn.Result.from_array(DAYS), result_path="$.days"
        )
        sum_day = lambda_step(self, "SumDay", self.day_function)
        each_day = sfn.Map(
            self,
            MAP_STATE,
            state_name=MAP_STATE,
            items_path="$.days",
            item_selector={
                "fleet_id.$": "$.fleet_id",
                "month.$": "$.month",
                "day.$": "$$.Map.Item.Value",
            },
            max_concurrency=8,
            result_path=sfn.JsonPath.DISCARD,
        ).item_processor(sum_day)
        write = lambda_step(
            self,
            WRITE_STATE,
            self.write_function,
            sfn.TaskInput.from_object({"fleet_id.$": "$.fleet_id", "month.$": "$.month"}),
        )
        # Every event, without its data: a month's sums need no second copy in the logs.
        self.state_machine = standard_state_machine(
            self,
            names.statement_state_machine,
            days.next(each_day).next(write),
            timeout=Duration.hours(2),
            include_execution_data=False,
        )
        self.start_function: lambda_.Function = functions.make(
            self,
            "start-statements",
            {
                "REGISTRY_TABLE": registry_table_name,
                ENV_STATEMENT_STATE_MACHINE_ARN: self.state_machine.state_machine_arn,
            },
        )
        self.state_machine.grant_start_execution(self.start_function)
        self.schedule = events.Rule(
            self,
            "schedule",
            description="Starts last month's statement of every fleet billed monthly",
            schedule=events.Schedule.expression(STATEMENT_SCHEDULE),
            targets=[targets.LambdaFunction(self.start_function, retry_attempts=2)],
        )
