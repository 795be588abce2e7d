"""The raw ledger: every frame in and out, exactly as it was, archived to S3 by Firehose in
batches, partitioned by day and charger. `laddvakt replay` rebuilds sessions from it.
"""

from __future__ import annotations

from aws_cdk import Aws, Duration, RemovalPolicy
from aws_cdk import aws_iam as iam
from aws_cdk import aws_iot as iot
from aws_cdk import aws_kinesisfirehose as firehose
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from constructs import Construct

from shared.topology import (
    INGEST_RULE_SQL_VERSION,
    LEDGER_ERROR_PREFIX,
    LEDGER_OUT_RULE_SQL,
    LEDGER_PARTITION_QUERY,
    LEDGER_PREFIX,
    Names,
)


class RawLedger(Construct):
    def __init__(self, scope: Construct, id_: str, names: Names, access_logs: s3.IBucket) -> None:
        super().__init__(scope, id_)
        self.bucket = s3.Bucket(
            self,
            "frames",
            bucket_name=names.ledger_bucket(Aws.ACCOUNT_ID, Aws.REGION),
            versioned=True,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            encryption=s3.BucketEncryption.S3_MANAGED,
            enforce_ssl=True,
            server_access_logs_bucket=access_logs,
            server_access_logs_prefix="ledger/",
            # The archive is evidence for invoices: kept, and moved to cheaper storage when cold.
            lifecycle_rules=[
                s3.LifecycleRule(
                    transitions=[
                        s3.Transition(
                            storage_class=s3.StorageClass.GLACIER_INSTANT_RETRIEVAL,
                            transition_after=Duration.days(90),
                        )
                    ]
                )
            ],
            removal_policy=RemovalPolicy.RETAIN,
        )
        delivery_logs = logs.LogGroup(self, "delivery-logs", retention=logs.RetentionDays.THREE_MONTHS)
        delivery_log_stream = logs.LogStream(self, "delivery-log-stream", log_group=delivery_logs)
        role = iam.Role(self, "delivery-role", assumed_by=iam.ServicePrincipal("firehose.amazonaws.com"))
        # Exactly the S3 actions AWS documents for a Firehose delivery role, on this bucket only.
        role.add_to_policy(
            iam.PolicyStatement(
                actions=[
                    "s3:AbortMultipartUpload", "s3:GetBucketLocation", "s3:GetObject", "s3:ListBucket",
                    "s3:ListBucketMultipartUploads", "s3:PutObject",
                ],
                resources=[self.bucket.bucket_arn, self.bucket.arn_for_objects("*")],
            )
        )  # fmt: skip
        delivery_logs.grant_write(role)
        self.stream = firehose.CfnDeliveryStream(
            self,
            "stream",
            delivery_stream_name=names.ledger_stream,
            delivery_stream_type="DirectPut",
            delivery_stream_encryption_configuration_input=firehose.CfnDeliveryStream.DeliveryStreamEncryptionConfigurationInputProperty(
                key_type="AWS_OWNED_CMK"
            ),
            extended_s3_destination_configuration=firehose.CfnDeliveryStream.ExtendedS3DestinationConfigurationProperty(
                bucket_arn=self.bucket.bucket_arn,
                role_arn=role.role_arn,
                prefix=LEDGER_PREFIX,
                error_output_prefix=LEDGER_ERROR_PREFIX,
                # Dynamic partitioning needs at least 64 MB buffers; a minute bounds the delay.
                buffering_hints=firehose.CfnDeliveryStream.BufferingHintsProperty(
                    interval_in_seconds=60, size_in_m_bs=64
                ),
                compression_format="UNCOMPRESSED",
                dynamic_partitioning_configuration=firehose.CfnDeliveryStream.DynamicPartitioningConfigurationProperty(
                    enabled=True
                ),
                processing_configuration=firehose.CfnDeliveryStream.ProcessingConfigurationProperty(
                    enabled=True,
                    processors=[
                        firehose.CfnDeliveryStream.ProcessorProperty(
                            type="MetadataExtraction",
                            parameters=[
                                firehose.CfnDeliveryStream.ProcessorParameterProperty(
                                    parameter_name="MetadataExtractionQuery",
                                    parameter_value=LEDGER_PARTITION_QUERY,
                                ),
                                firehose.CfnDeliveryStream.ProcessorParameterProperty(
                                    parameter_name="JsonParsingEngine", parameter_value="JQ-1.6"
                                ),
                            ],
                        ),
                        # One JSON document per line, so a replay reads records, not a blob.
                        firehose.CfnDeliveryStream.ProcessorProperty(
                            type="AppendDelimiterToRecord",
                            parameters=[
                                firehose.CfnDeliveryStream.ProcessorParameterProperty(
                                    parameter_name="Delimiter", parameter_value="\\\\n"
                                )
                            ],
                        ),
                    ],
                ),
                cloud_watch_logging_options=firehose.CfnDeliveryStream.CloudWatchLoggingOptionsProperty(
                    enabled=True,
                    log_group_name=delivery_logs.log_group_name,
                    log_stream_name=delivery_log_stream.log_stream_name,
                ),
            ),
        )
        self.stream.node.add_dependency(role)
        # What IoT rules need to put records into the stream.
        self.rule_role = iam.Role(self, "rule-role", assumed_by=iam.ServicePrincipal("iot.amazonaws.com"))
        self.rule_role.add_to_policy(
            iam.PolicyStatement(
                actions=["firehose:PutRecord", "firehose:PutRecordBatch"], resources=[self.stream.attr_arn]
            )
        )
        rule_errors = logs.LogGroup(self, "rule-errors", retention=logs.RetentionDays.THREE_MONTHS)
        rule_errors.grant_write(self.rule_role)
        self.out_rule = iot.CfnTopicRule(
            self,
            "out-rule",
            rule_name=names.ledger_out_rule,
            topic_rule_payload=iot.CfnTopicRule.TopicRulePayloadProperty(
                sql=LEDGER_OUT_RULE_SQL,
                aws_iot_sql_version=INGEST_RULE_SQL_VERSION,
                rule_disabled=False,
                description="Replies and commands to chargers ({chargePointId}/out) into the raw ledger",
                actions=[self.firehose_action()],
                error_action=iot.CfnTopicRule.ActionProperty(
                    cloudwatch_logs=iot.CfnTopicRule.CloudwatchLogsActionProperty(
                        log_group_name=rule_errors.log_group_name, role_arn=self.rule_role.role_arn
                    )
                ),
            ),
        )

    def firehose_action(self) -> iot.CfnTopicRule.ActionProperty:
        return iot.CfnTopicRule.ActionProperty(
            firehose=iot.CfnTopicRule.FirehoseActionProperty(
                delivery_stream_name=self.stream.ref, role_arn=self.rule_role.role_arn, batch_mode=False
            )
        )
