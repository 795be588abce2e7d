"""What an operator is woken for: dead letters (ingest's and the live events'), failed billing runs, function errors, IoT rule
failures; an SNS topic to subscribe to and a dashboard.
"""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as actions
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

FIVE_MINUTES = Duration.minutes(5)


class Monitoring(Construct):
    def __init__(
        self,
        scope: Construct,
        id_: str,
        *,
        dead_letter_queue: sqs.IQueue,
        event_dead_letter_queue: sqs.IQueue,
        schedule_dead_letter_queue: sqs.IQueue,
        state_machine: sfn.IStateMachine,
        functions: Sequence[lambda_.IFunction],
        rule_name: str,
    ) -> None:
        super().__init__(scope, id_)
        key = kms.Key(self, "alarm-key", enable_key_rotation=True, description="Laddvakt alarm topic")
        self.topic = sns.Topic(self, "alarms", master_key=key, enforce_ssl=True)
        alarm_action = actions.SnsAction(self.topic)
        alarms: list[cloudwatch.Alarm] = []

        def alarm(name: str, metric: cloudwatch.IMetric, description: str) -> None:
            created = cloudwatch.Alarm(
                self,
                name,
                metric=metric,
                threshold=0,
                evaluation_periods=1,
                comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
                treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
                alarm_description=description,
            )
            created.add_alarm_action(alarm_action)
            alarms.append(created)

        alarm(
            "dead-letters",
            dead_letter_queue.metric_approximate_number_of_messages_visible(period=FIVE_MINUTES),
            "Ingest messages failed 5 times and wait in the dead-letter queue",
        )
        alarm(
            "event-dead-letters",
            event_dead_letter_queue.metric_approximate_number_of_messages_visible(period=FIVE_MINUTES),
            "Live fleet events could not be published: the changes' stream positions wait in the dead-letter queue",
        )
        alarm(
            "schedule-dead-letters",
            schedule_dead_letter_queue.metric_approximate_number_of_messages_visible(period=FIVE_MINUTES),
            "A site could not be replanned after an arrival, departure or charger answer: the changes' "
            "stream positions wait in the dead-letter queue",
        )
        alarm(
            "billing-failed",
            state_machine.metric_failed(period=FIVE_MINUTES),
            "A close-and-invoice execution failed: a session is not invoiced",
        )
        for function in functions:
            alarm(
                f"errors-{function.node.id}",
                function.metric_errors(period=FIVE_MINUTES),
                f"Errors in {function.node.id}",
            )
        alarm(
            "rule-failures",
            cloudwatch.Metric(
                namespace="AWS/IoT",
                metric_name="Failure",
                dimensions_map={"RuleName": rule_name},
                statistic="Sum",
                period=FIVE_MINUTES,
            ),
            "The IoT rule could not deliver frames to the ingest queue (see its error log group)",
        )
        dashboard = cloudwatch.Dashboard(self, "dashboard", dashboard_name="Laddvakt")
        dashboard.add_widgets(cloudwatch.AlarmStatusWidget(alarms=alarms, title="Laddvakt alarms", width=24))
