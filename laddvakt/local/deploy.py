"""Deploys the synthesized template into moto: the same tables, queues, bucket, functions and state
machine that `cdk deploy` creates, from the same definitions, so the local system cannot drift
from the deployed one. Resource types with no local meaning are skipped by name, in one list;
anything else unknown is an error, never silently ignored.
"""

from __future__ import annotations

import io
import json
import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3

from laddvakt.local import moto_streams
from laddvakt.local.firehose import DeliveryStream
from laddvakt.local.template import Template, TemplateError
from shared.topology import ENV_IOT_DATA_ENDPOINT

ROOT = Path(__file__).resolve().parents[2]
LOCAL_ROLE = "laddvakt-local-lambda"

# Types the local stack needs no copy of: permissions, logging, alarms, and the parts of AWS the
# local stack replaces with its own pieces (the broker and bridge for IoT, the HTTP adapter and
# local tokens for API Gateway and Cognito, the in-process runner for the dependency layer).
NOT_DEPLOYED_LOCALLY = frozenset(
    {
        "AWS::IAM::Role",
        "AWS::IAM::Policy",
        "AWS::Lambda::Permission",
        "AWS::Lambda::LayerVersion",
        "AWS::Logs::LogGroup",
        "AWS::CloudWatch::Alarm",
        "AWS::CloudWatch::Dashboard",
        "AWS::SNS::Topic",
        "AWS::SNS::TopicPolicy",
        "AWS::KMS::Key",
        "AWS::S3::BucketPolicy",
        "AWS::SQS::QueuePolicy",
        "AWS::Cognito::UserPool",
        "AWS::Cognito::UserPoolClient",
        "AWS::Cognito::UserPoolGroup",
        "AWS::ApiGateway::RestApi",
        "AWS::ApiGateway::Resource",
        "AWS::ApiGateway::Method",
        "AWS::ApiGateway::Authorizer",
        "AWS::ApiGateway::Account",
        "AWS::ApiGateway::Deployment",
        "AWS::ApiGateway::Stage",
        "AWS::ApiGateway::RequestValidator",
        "Custom::AWS",
        "AWS::IoT::TopicRule",
        "AWS::Lambda::EventSourceMapping",
        "AWS::Events::Rule",
        "AWS::KinesisFirehose::DeliveryStream",
        "AWS::Logs::LogStream",
        "CDK::Metadata",
    }
)
DEPLOYED = ("AWS::DynamoDB::Table", "AWS::S3::Bucket", "AWS::SQS::Queue", "AWS::Events::EventBus",
            "AWS::Lambda::Function", "AWS::StepFunctions::StateMachine")  # fmt: skip


@dataclass(frozen=True)
class EventSource:
    queue_url: str
    queue_arn: str
    function_name: str
    batch_size: int
    batching_window_seconds: int
    report_batch_item_failures: bool


@dataclass(frozen=True)
class StreamSource:
    """Lambda's DynamoDB stream event source: which table's stream feeds which function, how
    (batches, partial failures, retries halving the batch, where a batch that keeps failing goes)
    and which changes invoke it at all (the mapping's filter patterns)."""

    stream_arn: str
    table_name: str
    function_name: str
    batch_size: int
    batching_window_seconds: int
    report_batch_item_failures: bool
    bisect_batch_on_error: bool
    retry_attempts: int
    on_failure_queue_url: str | None
    filters: tuple[str, ...] = ()


@dataclass(frozen=True)
class Schedule:
    """An EventBridge schedule rule: the local stack invokes its function at its rate. A cron
    schedule (the monthly statements) is only fired on demand: nobody waits a month locally."""

    rule: str
    function_name: str
    every_seconds: int | None


_RATE = re.compile(r"^rate\((\d+) (minute|minutes|hour|hours|day|days)\)$")
_UNIT_SECONDS = {"minute": 60, "hour": 3600, "day": 86400}


_CRON = re.compile(r"^cron\((\S+ ){5}\S+\)$")


def rate_seconds(expression: str) -> int | None:
    """Seconds between runs of a rate(...) schedule; None for a cron(...) one (fired on demand)."""
    if _CRON.match(expression):
        return None
    match = _RATE.match(expression)
    if match is None:
        raise TemplateError(
            f"the local stack runs rate(...) and cron(...) schedules only, not {expression!r}"
        )
    return int(match.group(1)) * _UNIT_SECONDS[match.group(2).rstrip("s")]


@dataclass(frozen=True)
class TopicRule:
    """A rule and where its actions deliver: an SQS queue, a Firehose stream, or both."""

    name: str
    sql: str
    queue_url: str | None = None
    firehose_stream: str | None = None


@dataclass
class DeployedResources:
    tables: dict[str, str] = field(default_factory=dict)  # logical id -> table name
    buckets: dict[str, str] = field(default_factory=dict)
    queues: dict[str, str] = field(default_factory=dict)  # logical id -> queue URL
    functions: dict[str, str] = field(default_factory=dict)  # logical id -> function name
    function_env: dict[str, dict[str, str]] = field(default_factory=dict)  # function name -> env
    state_machines: dict[str, str] = field(default_factory=dict)  # logical id -> ARN
    event_sources: list[EventSource] = field(default_factory=list)
    stream_sources: list[StreamSource] = field(default_factory=list)
    event_buses: dict[str, str] = field(default_factory=dict)  # logical id -> bus name
    rules: list[TopicRule] = field(default_factory=list)
    api_function: str | None = None
    schedules: list[Schedule] = field(default_factory=list)
    delivery_streams: list[DeliveryStream] = field(default_factory=list)
    outputs: dict[str, Any] = field(default_factory=dict)


def _stream_of(source: Any) -> str | None:
    """The table whose stream an event source mapping reads (GetAtt Table.StreamArn), else None."""
    if isinstance(source, dict) and "Fn::GetAtt" in source:
        target, attribute = source["Fn::GetAtt"]
        if attribute == "StreamArn":
            return str(target)
    return None


def check_filter_pattern(pattern: Any, where: str) -> None:
    """The local stream poller matches exact values only (`{"key": {"S": ["value", ...]}}` nested at
    any depth); a pattern with EventBridge's other operators would be silently wrong, so it is an
    error here instead."""
    if isinstance(pattern, dict):
        for key, value in pattern.items():
            check_filter_pattern(value, f"{where}.{key}")
        return
    if isinstance(pattern, list) and all(isinstance(v, str | int | float | bool) for v in pattern):
        return
    raise TemplateError(f"{where}: the local stack matches exact values only, not {pattern!r}")


def matches_filter(pattern: Any, record: Any) -> bool:
    """Whether a stream record (as Lambda sees it) matches one exact-value filter pattern."""
    if isinstance(pattern, dict):
        return isinstance(record, dict) and all(
            key in record and matches_filter(value, record[key]) for key, value in pattern.items()
        )
    return record in pattern


def _code_zip() -> bytes:
    """The functions' real sources: what the deployed asset holds (moto needs a package to exist)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for folder in ("functions", "shared"):
            for path in sorted((ROOT / folder).rglob("*.py")):
                archive.write(path, path.relative_to(ROOT).as_posix())
    return buffer.getvalue()


class LocalDeployment:
    def __init__(
        self,
        template: dict[str, Any],
        *,
        endpoint_url: str | None,
        region: str = "eu-north-1",
        account: str = "123456789012",
    ) -> None:
        self.template = Template(template, account=account, region=region)
        self.endpoint_url = endpoint_url
        self.region = region
        self.account = account
        unknown = {
            f"{logical_id} ({resource['Type']})"
            for logical_id, resource in self.template.resources.items()
            if resource["Type"] not in NOT_DEPLOYED_LOCALLY and resource["Type"] not in DEPLOYED
        }
        if unknown:
            raise TemplateError(f"the local stack does not know how to deploy: {sorted(unknown)}")
        for logical_id, resource in self.template.of_type("AWS::Lambda::EventSourceMapping").items():
            for spec in resource["Properties"].get("FilterCriteria", {}).get("Filters", []):
                check_filter_pattern(json.loads(spec["Pattern"]), f"{logical_id}.FilterCriteria")

    def _client(self, service: str) -> Any:
        return boto3.client(service, region_name=self.region, endpoint_url=self.endpoint_url)

    def create(self, kinds: set[str] | None = None) -> DeployedResources:
        wanted = set(DEPLOYED) if kinds is None else kinds
        deployed = DeployedResources()
        if "AWS::DynamoDB::Table" in wanted:
            for logical_id, resource in self.template.of_type("AWS::DynamoDB::Table").items():
                deployed.tables[logical_id] = self._create_table(logical_id, resource["Properties"])
        if "AWS::S3::Bucket" in wanted:
            for logical_id, resource in self.template.of_type("AWS::S3::Bucket").items():
                deployed.buckets[logical_id] = self._create_bucket(logical_id, resource["Properties"])
        if "AWS::SQS::Queue" in wanted:
            queues = self.template.of_type("AWS::SQS::Queue")
            # Dead-letter queues first: a redrive policy names an existing queue.
            for logical_id in sorted(
                queues, key=lambda q: "RedrivePolicy" in queues[q].get("Properties", {})
            ):
                deployed.queues[logical_id] = self._create_queue(
                    logical_id, queues[logical_id].get("Properties", {})
                )
        if "AWS::Events::EventBus" in wanted:
            for logical_id, resource in self.template.of_type("AWS::Events::EventBus").items():
                deployed.event_buses[logical_id] = self._create_event_bus(logical_id, resource["Properties"])
        if "AWS::Lambda::Function" in wanted:
            role = self._local_role()
            code = _code_zip()
            for logical_id, resource in self.template.of_type("AWS::Lambda::Function").items():
                if "Handler" not in resource["Properties"] or not resource["Properties"][
                    "Handler"
                ].startswith("functions."):
                    continue  # CDK's own helper functions (custom resource providers) run only in AWS
                name, env = self._create_function(logical_id, resource["Properties"], role, code)
                deployed.functions[logical_id] = name
                deployed.function_env[name] = env
        if "AWS::StepFunctions::StateMachine" in wanted:
            for logical_id, resource in self.template.of_type("AWS::StepFunctions::StateMachine").items():
                deployed.state_machines[logical_id] = self._create_state_machine(
                    logical_id, resource["Properties"]
                )
        if {"AWS::Lambda::Function", "AWS::SQS::Queue"} <= wanted:
            deployed.event_sources = self._event_sources(deployed)
            deployed.stream_sources = self._stream_sources(deployed)
            deployed.rules = self._rules(deployed)
            deployed.api_function = self._api_function()
            deployed.schedules = self._schedules()
            deployed.delivery_streams = self._delivery_streams()
        deployed.outputs = {
            name: self._try_resolve(output["Value"])
            for name, output in self.template.body.get("Outputs", {}).items()
        }
        return deployed

    def _try_resolve(self, value: Any) -> Any:
        try:
            return self.template.resolve(value)
        except TemplateError:
            return None  # an output of a part AWS alone has (the API URL, the user pool)

    # --- each resource type ---------------------------------------------------------------

    def _create_table(self, logical_id: str, properties: dict[str, Any]) -> str:
        name = self.template.physical_name(logical_id)
        request: dict[str, Any] = {
            "TableName": name,
            "KeySchema": properties["KeySchema"],
            "AttributeDefinitions": properties["AttributeDefinitions"],
            "BillingMode": properties.get("BillingMode", "PAY_PER_REQUEST"),
        }
        if properties.get("GlobalSecondaryIndexes"):
            request["GlobalSecondaryIndexes"] = [
                {k: v for k, v in index.items() if k in ("IndexName", "KeySchema", "Projection")}
                for index in properties["GlobalSecondaryIndexes"]
            ]
        stream = properties.get("StreamSpecification")
        if stream:
            moto_streams.install()  # moto runs in this process (the local stack, the tests)
            request["StreamSpecification"] = {
                "StreamEnabled": True,
                "StreamViewType": stream["StreamViewType"],
            }
        client = self._client("dynamodb")
        created = client.create_table(**request)["TableDescription"]
        if stream:
            self.template.known[(logical_id, "StreamArn")] = created["LatestStreamArn"]
        ttl = properties.get("TimeToLiveSpecification")
        if ttl and ttl.get("Enabled"):
            client.update_time_to_live(
                TableName=name,
                TimeToLiveSpecification={"AttributeName": ttl["AttributeName"], "Enabled": True},
            )
        return name

    def _create_bucket(self, logical_id: str, properties: dict[str, Any]) -> str:
        name = self.template.physical_name(logical_id)
        s3 = self._client("s3")
        locked = bool(properties.get("ObjectLockEnabled"))
        s3.create_bucket(
            Bucket=name,
            CreateBucketConfiguration={"LocationConstraint": self.region},
            **({"ObjectLockEnabledForBucket": True} if locked else {}),
        )
        if properties.get("VersioningConfiguration", {}).get("Status") == "Enabled":
            s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
        if locked and "ObjectLockConfiguration" in properties:
            s3.put_object_lock_configuration(
                Bucket=name, ObjectLockConfiguration=properties["ObjectLockConfiguration"]
            )
        return name

    def _create_queue(self, logical_id: str, properties: dict[str, Any]) -> str:
        name = self.template.physical_name(logical_id)
        attributes: dict[str, str] = {}
        if "VisibilityTimeout" in properties:
            attributes["VisibilityTimeout"] = str(properties["VisibilityTimeout"])
        if "MessageRetentionPeriod" in properties:
            attributes["MessageRetentionPeriod"] = str(properties["MessageRetentionPeriod"])
        if "RedrivePolicy" in properties:
            attributes["RedrivePolicy"] = json.dumps(
                self.template.resolve(properties["RedrivePolicy"], logical_id)
            )
        url: str = self._client("sqs").create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
        self.template.known[(logical_id, "Ref")] = url
        self.template.known[(logical_id, "QueueUrl")] = url
        return url

    def _create_event_bus(self, logical_id: str, properties: dict[str, Any]) -> str:
        name = str(self.template.resolve(properties["Name"], f"{logical_id}.Name"))
        arn: str = self._client("events").create_event_bus(Name=name)["EventBusArn"]
        self.template.known[(logical_id, "Ref")] = name
        self.template.known[(logical_id, "Name")] = name
        self.template.known[(logical_id, "Arn")] = arn
        return name

    def _local_role(self) -> str:
        iam = self._client("iam")
        trust = {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"Service": "lambda.amazonaws.com"},
                    "Action": "sts:AssumeRole",
                }
            ],
        }
        try:
            return str(
                iam.create_role(RoleName=LOCAL_ROLE, AssumeRolePolicyDocument=json.dumps(trust))["Role"][
                    "Arn"
                ]
            )
        except iam.exceptions.EntityAlreadyExistsException:
            return str(iam.get_role(RoleName=LOCAL_ROLE)["Role"]["Arn"])

    def function_environment(self, logical_id: str, properties: dict[str, Any]) -> dict[str, str]:
        variables = properties.get("Environment", {}).get("Variables", {})
        env = {}
        for key, value in variables.items():
            if key == ENV_IOT_DATA_ENDPOINT:
                # In AWS a custom resource asks IoT for the account's endpoint; locally it is moto.
                env[key] = self.endpoint_url or ""
                continue
            env[key] = str(self.template.resolve(value, f"{logical_id}.Environment.{key}"))
        return env

    def _create_function(
        self, logical_id: str, properties: dict[str, Any], role: str, code: bytes
    ) -> tuple[str, dict[str, str]]:
        name = self.template.physical_name(logical_id)
        env = self.function_environment(logical_id, properties)
        self._client("lambda").create_function(
            FunctionName=name,
            Runtime=properties["Runtime"],
            Role=role,
            Handler=properties["Handler"],
            Code={"ZipFile": code},
            Description=properties.get("Description", ""),
            Timeout=int(properties.get("Timeout", 3)),
            MemorySize=int(properties.get("MemorySize", 128)),
            Architectures=properties.get("Architectures", ["arm64"]),
            Environment={"Variables": env},
        )
        return name, env

    def _create_state_machine(self, logical_id: str, properties: dict[str, Any]) -> str:
        name = self.template.physical_name(logical_id)
        definition = self.template.resolve(properties["DefinitionString"], f"{logical_id}.DefinitionString")
        json.loads(definition)  # the definition CDK synthesized must be valid JSON once resolved
        arn: str = self._client("stepfunctions").create_state_machine(
            name=name,
            definition=definition,
            roleArn=f"arn:aws:iam::{self.account}:role/{LOCAL_ROLE}",
            type=properties.get("StateMachineType", "STANDARD"),
        )["stateMachineArn"]
        return arn

    def _event_sources(self, deployed: DeployedResources) -> list[EventSource]:
        sources = []
        for logical_id, resource in self.template.of_type("AWS::Lambda::EventSourceMapping").items():
            properties = resource["Properties"]
            source = properties["EventSourceArn"]
            queue_logical = (
                source["Fn::GetAtt"][0] if isinstance(source, dict) and "Fn::GetAtt" in source else None
            )
            if _stream_of(source) is not None:
                continue  # a DynamoDB stream: see _stream_sources
            if queue_logical not in deployed.queues:
                raise TemplateError(f"{logical_id}: only SQS and DynamoDB stream event sources run locally")
            sources.append(
                EventSource(
                    queue_url=deployed.queues[queue_logical],
                    queue_arn=self.template.arn(queue_logical),
                    function_name=str(self.template.resolve(properties["FunctionName"], logical_id)),
                    batch_size=int(properties.get("BatchSize", 10)),
                    batching_window_seconds=int(properties.get("MaximumBatchingWindowInSeconds", 0)),
                    report_batch_item_failures="ReportBatchItemFailures"
                    in properties.get("FunctionResponseTypes", []),
                )
            )
        return sources

    def _stream_sources(self, deployed: DeployedResources) -> list[StreamSource]:
        sources = []
        for logical_id, resource in self.template.of_type("AWS::Lambda::EventSourceMapping").items():
            properties = resource["Properties"]
            table_logical = _stream_of(properties["EventSourceArn"])
            if table_logical is None:
                continue
            if table_logical not in deployed.tables:
                raise TemplateError(f"{logical_id}: the stream of {table_logical}, which is not deployed")
            on_failure = properties.get("DestinationConfig", {}).get("OnFailure", {}).get("Destination")
            queue_url = None
            if on_failure is not None:
                target = on_failure.get("Fn::GetAtt", [None])[0] if isinstance(on_failure, dict) else None
                if target not in deployed.queues:
                    raise TemplateError(
                        f"{logical_id}: only an SQS queue is an on-failure destination locally"
                    )
                queue_url = deployed.queues[target]
            filters = tuple(f["Pattern"] for f in properties.get("FilterCriteria", {}).get("Filters", []))
            sources.append(
                StreamSource(
                    stream_arn=str(self.template.resolve(properties["EventSourceArn"], logical_id)),
                    table_name=deployed.tables[table_logical],
                    function_name=str(self.template.resolve(properties["FunctionName"], logical_id)),
                    batch_size=int(properties.get("BatchSize", 100)),
                    batching_window_seconds=int(properties.get("MaximumBatchingWindowInSeconds", 0)),
                    report_batch_item_failures="ReportBatchItemFailures"
                    in properties.get("FunctionResponseTypes", []),
                    bisect_batch_on_error=bool(properties.get("BisectBatchOnFunctionError", False)),
                    # -1 (CloudFormation's default) retries until the records expire: locally, forever
                    retry_attempts=int(properties.get("MaximumRetryAttempts", -1)),
                    on_failure_queue_url=queue_url,
                    filters=filters,
                )
            )
        return sources

    def _rules(self, deployed: DeployedResources) -> list[TopicRule]:
        rules = []
        for logical_id, resource in self.template.of_type("AWS::IoT::TopicRule").items():
            payload = resource["Properties"]["TopicRulePayload"]
            if payload.get("RuleDisabled"):
                continue
            queue_url = firehose_stream = None
            for action in payload["Actions"]:
                if "Sqs" in action:
                    queue_url = str(self.template.resolve(action["Sqs"]["QueueUrl"], logical_id))
                elif "Firehose" in action:
                    firehose_stream = self._stream_name(action["Firehose"]["DeliveryStreamName"], logical_id)
                else:
                    raise TemplateError(
                        f"{logical_id}: only SQS and Firehose rule actions run locally, not {sorted(action)}"
                    )
            rules.append(
                TopicRule(
                    name=self.template.physical_name(logical_id),
                    sql=payload["Sql"],
                    queue_url=queue_url,
                    firehose_stream=firehose_stream,
                )
            )
        return rules

    def _stream_name(self, value: Any, where: str) -> str:
        if isinstance(value, dict) and "Ref" in value:
            stream = self.template.resources[value["Ref"]]
            return str(stream["Properties"]["DeliveryStreamName"])
        return str(self.template.resolve(value, where))

    def _delivery_streams(self) -> list[DeliveryStream]:
        streams = []
        for logical_id, resource in self.template.of_type("AWS::KinesisFirehose::DeliveryStream").items():
            destination = resource["Properties"]["ExtendedS3DestinationConfiguration"]
            query = None
            for processor in destination.get("ProcessingConfiguration", {}).get("Processors", []):
                for parameter in processor.get("Parameters", []):
                    if parameter["ParameterName"] == "MetadataExtractionQuery":
                        query = parameter["ParameterValue"]
            bucket_arn = str(self.template.resolve(destination["BucketARN"], logical_id))
            streams.append(
                DeliveryStream(
                    name=str(resource["Properties"]["DeliveryStreamName"]),
                    bucket=bucket_arn.rsplit(":", 1)[-1],
                    prefix=destination.get("Prefix", ""),
                    partition_query=query,
                )
            )
        return streams

    def _schedules(self) -> list[Schedule]:
        schedules = []
        for logical_id, resource in self.template.of_type("AWS::Events::Rule").items():
            properties = resource["Properties"]
            if "ScheduleExpression" not in properties or properties.get("State") == "DISABLED":
                continue
            for target in properties.get("Targets", []):
                schedules.append(
                    Schedule(
                        rule=logical_id,
                        function_name=self.template.physical_name(target["Arn"]["Fn::GetAtt"][0]),
                        every_seconds=rate_seconds(properties["ScheduleExpression"]),
                    )
                )
        return schedules

    def _api_function(self) -> str | None:
        """The function behind the REST API's Lambda proxy integrations (there is one)."""
        names = set()
        for resource in self.template.of_type("AWS::ApiGateway::Method").values():
            uri = resource["Properties"].get("Integration", {}).get("Uri")
            if uri is None:
                continue
            for part in uri.get("Fn::Join", ["", []])[1]:
                if isinstance(part, dict) and "Fn::GetAtt" in part:
                    names.add(self.template.physical_name(part["Fn::GetAtt"][0]))
        if len(names) > 1:
            raise TemplateError(f"the local API adapter serves one function; the API uses {sorted(names)}")
        return next(iter(names), None)
