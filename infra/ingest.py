"""Chargers in: the IoT topic rule, the ingest queue with its dead-letter queue, and the ingest
function that answers chargers through the IoT data plane.
"""

from __future__ import annotations

from aws_cdk import Aws, Duration
from aws_cdk import aws_iam as iam
from aws_cdk import aws_iot as iot
from aws_cdk import aws_lambda_event_sources as sources
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sqs as sqs
from aws_cdk import custom_resources as cr
from constructs import Construct

from infra.functions import FunctionFactory
from shared.topology import (
    ENV_BILLING_STATE_MACHINE_ARN,
    ENV_IOT_DATA_ENDPOINT,
    ENV_REGISTRY_TABLE,
    ENV_REJECTED_FRAMES_TABLE,
    ENV_SESSIONS_TABLE,
    FUNCTIONS,
    INGEST_RULE_SQL,
    INGEST_RULE_SQL_VERSION,
    Names,
)

MAX_RECEIVE_COUNT = 5


class Ingest(Construct):
    def __init__(
        self,
        scope: Construct,
        id_: str,
        names: Names,
        functions: FunctionFactory,
        environment: dict[str, str],
        ledger_action: iot.CfnTopicRule.ActionProperty,
    ) -> None:
        super().__init__(scope, id_)
        timeout = Duration.seconds(FUNCTIONS["ingest"].timeout_seconds)
        self.dead_letter_queue = sqs.Queue(
            self,
            "dead-letters",
            queue_name=names.ingest_dead_letter_queue,
            retention_period=Duration.days(14),
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
        )
        self.queue = sqs.Queue(
            self,
            "queue",
            queue_name=names.ingest_queue,
            # Six times the function timeout: AWS's advice for SQS event sources.
            visibility_timeout=Duration.seconds(timeout.to_seconds() * 6),
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            dead_letter_queue=sqs.DeadLetterQueue(
                max_receive_count=MAX_RECEIVE_COUNT, queue=self.dead_letter_queue
            ),
        )

        # The account's IoT data endpoint, read at deploy time, so replies go to the right host.
        endpoint = cr.AwsCustomResource(
            self,
            "iot-data-endpoint",
            on_update=cr.AwsSdkCall(
                service="Iot",
                action="describeEndpoint",
                parameters={"endpointType": "iot:Data-ATS"},
                physical_resource_id=cr.PhysicalResourceId.of("iot-data-ats-endpoint"),
            ),
            policy=cr.AwsCustomResourcePolicy.from_sdk_calls(
                resources=cr.AwsCustomResourcePolicy.ANY_RESOURCE
            ),
            install_latest_aws_sdk=False,
        )
        # The scheduler sends its commands through the same endpoint.
        self.iot_data_endpoint = "https://" + endpoint.get_response_field("endpointAddress")
        self.function = functions.make(
            self, "ingest", {**environment, ENV_IOT_DATA_ENDPOINT: self.iot_data_endpoint}
        )
        self.function.add_event_source(
            sources.SqsEventSource(
                self.queue,
                batch_size=10,
                max_batching_window=Duration.seconds(1),
                report_batch_item_failures=True,
            )
        )
        self.function.add_to_role_policy(
            iam.PolicyStatement(
                actions=["iot:Publish"],
                resources=[f"arn:{Aws.PARTITION}:iot:{Aws.REGION}:{Aws.ACCOUNT_ID}:topic/*/out"],
            )
        )

        rule_role = iam.Role(self, "rule-role", assumed_by=iam.ServicePrincipal("iot.amazonaws.com"))
        self.queue.grant_send_messages(rule_role)
        rule_errors = logs.LogGroup(self, "rule-errors", retention=logs.RetentionDays.THREE_MONTHS)
        rule_errors.grant_write(rule_role)
        self.rule = iot.CfnTopicRule(
            self,
            "rule",
            rule_name=names.ingest_rule,
            topic_rule_payload=iot.CfnTopicRule.TopicRulePayloadProperty(
                sql=INGEST_RULE_SQL,
                aws_iot_sql_version=INGEST_RULE_SQL_VERSION,
                rule_disabled=False,
                description="OCPP-J frames from chargers ({chargePointId}/in) to the ingest queue",
                actions=[
                    iot.CfnTopicRule.ActionProperty(
                        sqs=iot.CfnTopicRule.SqsActionProperty(
                            queue_url=self.queue.queue_url, role_arn=rule_role.role_arn, use_base64=False
                        )
                    ),
                    # The same frame, exactly as received, into the raw ledger.
                    ledger_action,
                ],
                # A frame the rule cannot deliver is logged with its reason, never lost silently.
                error_action=iot.CfnTopicRule.ActionProperty(
                    cloudwatch_logs=iot.CfnTopicRule.CloudwatchLogsActionProperty(
                        log_group_name=rule_errors.log_group_name, role_arn=rule_role.role_arn
                    )
                ),
            ),
        )


def ingest_environment(registry: str, sessions: str, rejected: str, state_machine_arn: str) -> dict[str, str]:
    return {
        ENV_REGISTRY_TABLE: registry,
        ENV_SESSIONS_TABLE: sessions,
        ENV_REJECTED_FRAMES_TABLE: rejected,
        ENV_BILLING_STATE_MACHINE_ARN: state_machine_arn,
    }
