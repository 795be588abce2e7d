"""Every cdk-nag acknowledgement in one place: each names one construct and why its finding is
accepted. A new finding fails `make synth` and the infra tests until it is fixed or named here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from aws_cdk import Acknowledgment, Stack, Validations
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from constructs import IConstruct

if TYPE_CHECKING:
    from infra.stack import LaddvaktStack

XRAY = "X-Ray's PutTraceSegments and PutTelemetryRecords accept only Resource '*'"
GSI = "CDK's table grant covers the table's own indexes (<table>/index/*), which the queries use"


def _ack(construct: IConstruct, rule: str, reason: str) -> None:
    Validations.of(construct).acknowledge(Acknowledgment(id=rule, reason=reason))


def _policy(function: lambda_.Function) -> IConstruct:
    role = function.role
    assert isinstance(role, iam.Role)
    return role.node.find_child("DefaultPolicy").node.find_child("Resource")


def _ref(stack: Stack, construct: IConstruct) -> str:
    return stack.get_logical_id(construct.node.default_child)  # type: ignore[arg-type]


def acknowledge(stack: LaddvaktStack) -> None:
    tables = {"registry": stack.store.registry, "sessions": stack.store.sessions}
    readers = {
        stack.ingest.function: ("registry", "sessions"),
        stack.fleet_function: ("registry", "sessions"),
        stack.reaper.function: ("registry", "sessions"),
        stack.billing.functions["finalize-session"]: ("sessions",),
        stack.billing.functions["price-session"]: ("registry", "sessions"),
        stack.billing.functions["write-invoice"]: ("registry",),
        stack.billing.functions["mark-invoiced"]: ("sessions",),
        stack.billing.functions["record-rollups"]: ("sessions",),
        stack.billing.functions["record-vehicle-profile"]: ("registry", "sessions"),
        stack.statements.day_function: (),
        stack.statements.write_function: ("registry",),
        stack.statements.start_function: ("registry",),
    }
    for function, used in readers.items():
        policy = _policy(function)
        _ack(policy, "AwsSolutions-IAM5[Resource::*]", XRAY)
        for table in used:
            _ack(policy, f"AwsSolutions-IAM5[Resource::<{_ref(stack, tables[table])}.Arn>/index/*]", GSI)

    _ack(
        _policy(stack.live_events.function),
        "AwsSolutions-IAM5[Resource::*]",
        "X-Ray's PutTraceSegments and PutTelemetryRecords, and dynamodb:ListStreams (which the stream "
        "event sources need), accept only Resource '*'; reading records is granted on the two streams only",
    )
    _ack(
        stack.live_events.dead_letter_queue.node.default_child,  # type: ignore[arg-type]
        "AwsSolutions-SQS3",
        "It is the dead-letter queue itself: the publish-events stream sources' on-failure destination",
    )

    _ack(
        _policy(stack.ingest.function),
        "AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:iot:<AWS::Region>:<AWS::AccountId>:topic/*/out]",
        "Ingest answers every registered charger on its own {chargePointId}/out topic",
    )

    scheduler = _policy(stack.scheduling.function)
    _ack(
        scheduler,
        "AwsSolutions-IAM5[Resource::*]",
        "X-Ray's PutTraceSegments and PutTelemetryRecords, and dynamodb:ListStreams (which the stream "
        "event sources need), accept only Resource '*'; reading records is granted on the two streams only",
    )
    for table in ("registry", "sessions"):
        _ack(scheduler, f"AwsSolutions-IAM5[Resource::<{_ref(stack, tables[table])}.Arn>/index/*]", GSI)
    _ack(
        scheduler,
        "AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:iot:<AWS::Region>:<AWS::AccountId>:topic/*/out]",
        "The scheduler sends SetChargingProfile to the chargers of any scheduled site on {chargePointId}/out",
    )
    _ack(
        stack.scheduling.dead_letter_queue.node.default_child,  # type: ignore[arg-type]
        "AwsSolutions-SQS3",
        "It is the dead-letter queue itself: the schedule-site stream sources' on-failure destination",
    )
    writer = _policy(stack.billing.functions["write-invoice"])
    _ack(
        writer,
        "AwsSolutions-IAM5[Action::s3:Abort*]",
        "CDK's put grant on the invoice bucket only (aborting multipart uploads)",
    )
    _ack(
        writer,
        f"AwsSolutions-IAM5[Resource::<{_ref(stack, stack.invoices.bucket)}.Arn>/*]",
        "Invoices are written under keys of the invoice layout in that one bucket",
    )

    _ack(
        _policy(stack.fleet_function),
        f"AwsSolutions-IAM5[Resource::<{_ref(stack, stack.invoices.bucket)}.Arn>/invoices/*]",
        "The fleet API signs finance's download links: s3:GetObject on invoice documents only",
    )

    statement_writer = _policy(stack.statements.write_function)
    _ack(
        statement_writer,
        "AwsSolutions-IAM5[Action::s3:Abort*]",
        "CDK's put grant on the invoice bucket only (aborting multipart uploads)",
    )
    _ack(
        statement_writer,
        f"AwsSolutions-IAM5[Resource::<{_ref(stack, stack.invoices.bucket)}.Arn>/*]",
        "Statements and their specifications are written under keys of the invoice layout",
    )
    statement_machine = stack.statements.state_machine.role.node.find_child("DefaultPolicy").node.find_child(
        "Resource"
    )
    _ack(
        statement_machine,
        "AwsSolutions-IAM5[Resource::*]",
        "Step Functions log delivery and X-Ray accept only Resource '*'",
    )
    for function in (stack.statements.day_function, stack.statements.write_function):
        _ack(
            statement_machine,
            f"AwsSolutions-IAM5[Resource::<{_ref(stack, function)}.Arn>:*]",
            "Invoking the step's own function, any version",
        )

    ledger_role = stack.ledger.node.find_child("delivery-role")
    _ack(
        ledger_role.node.find_child("DefaultPolicy").node.find_child("Resource"),
        f"AwsSolutions-IAM5[Resource::<{_ref(stack, stack.ledger.bucket)}.Arn>/*]",
        "Firehose writes the archive's objects under any key of the ledger bucket",
    )
    machine_policy = stack.billing.state_machine.role.node.find_child("DefaultPolicy").node.find_child(
        "Resource"
    )
    _ack(
        machine_policy,
        "AwsSolutions-IAM5[Resource::*]",
        "Step Functions log delivery and X-Ray accept only Resource '*'",
    )
    for function in stack.billing.functions.values():
        _ack(
            machine_policy,
            f"AwsSolutions-IAM5[Resource::<{_ref(stack, function)}.Arn>:*]",
            "Invoking the step's own function, any version",
        )

    # The singleton Lambda behind AwsCustomResource reads the IoT endpoint once per deploy.
    provider = stack.node.find_child("AWS679f53fac002430cb0da5b7982bd2287")
    _ack(
        provider.node.find_child("ServiceRole").node.find_child("Resource"),
        "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]",
        "CDK's own provider function for AwsCustomResource",
    )
    _ack(
        stack.ingest.node.find_child("iot-data-endpoint")
        .node.find_child("CustomResourcePolicy")
        .node.find_child("Resource"),
        "AwsSolutions-IAM5[Resource::*]",
        "iot:DescribeEndpoint has no resource-level permissions",
    )
    _ack(
        stack.api.api.node.find_child("CloudWatchRole").node.find_child("Resource"),
        "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs]",
        "API Gateway's account-level logging role uses the policy AWS defines for it",
    )
    _ack(
        stack.api.api.deployment_stage.node.default_child,  # type: ignore[arg-type]
        "AwsSolutions-APIG3",
        "A WAF web ACL is a per-account decision; the stage is throttled and every route is authorized",
    )
    _ack(
        stack.auth.user_pool.node.default_child,  # type: ignore[arg-type]
        "AwsSolutions-COG2",
        "TOTP MFA is offered; requiring it is each operator's policy for its fleet users",
    )
