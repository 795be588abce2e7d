"""What the deployed system relies on, read from the synthesized CloudFormation template."""

from __future__ import annotations

import json
from typing import Any

import pytest
from aws_cdk.assertions import Match, Template

from infra.billing_workflow import FAILED_STATE, HELD_CHOICE, STEPS
from infra.functions import ARCHITECTURE, RUNTIME
from infra.statements import DAYS_STATE, MAP_STATE, WRITE_STATE
from laddvakt.local.template import Template as LocalTemplate
from shared.topology import (
    FUNCTIONS,
    INGEST_RULE_SQL,
    INVOICE_RETENTION_DAYS,
    LEDGER_OUT_RULE_SQL,
    LEDGER_PARTITION_QUERY,
    LEDGER_PREFIX,
    REAPER_SCHEDULE,
    STATEMENT_SCHEDULE,
    Names,
)

pytestmark = pytest.mark.infra

NAMES = Names()


@pytest.fixture(scope="module")
def template(synthesized_template: dict[str, Any]) -> Template:
    return Template.from_json(synthesized_template)


def resources(template: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in template["Resources"].items() if v["Type"] == kind}


def one(template: dict[str, Any], kind: str, **properties: Any) -> tuple[str, dict[str, Any]]:
    found = [
        (k, v)
        for k, v in resources(template, kind).items()
        if all(v["Properties"].get(p) == value for p, value in properties.items())
    ]
    assert len(found) == 1, f"expected one {kind} with {properties}, found {len(found)}"
    return found[0]


def flatten(value: Any) -> str:
    """A Fn::Join as text, with every token shown as <Ref>, to read a definition like a person."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and "Fn::Join" in value:
        separator, parts = value["Fn::Join"]
        return separator.join(flatten(p) for p in parts)
    if isinstance(value, dict) and "Fn::GetAtt" in value:
        return "<{}.{}>".format(*value["Fn::GetAtt"])
    if isinstance(value, dict) and "Ref" in value:
        return "<{}>".format(value["Ref"])
    return "<token>"


def test_the_iot_rule_sends_every_frame_base64_to_the_ingest_queue(synthesized_template):
    _, rule = one(synthesized_template, "AWS::IoT::TopicRule", RuleName=NAMES.ingest_rule)
    payload = rule["Properties"]["TopicRulePayload"]
    assert payload["Sql"] == INGEST_RULE_SQL
    queue_id, _ = one(synthesized_template, "AWS::SQS::Queue", QueueName=NAMES.ingest_queue)
    sqs, ledger = payload["Actions"]
    assert sqs["Sqs"]["QueueUrl"] == {"Ref": queue_id}
    assert sqs["Sqs"]["UseBase64"] is False
    stream_id, _ = one(
        synthesized_template, "AWS::KinesisFirehose::DeliveryStream", DeliveryStreamName=NAMES.ledger_stream
    )
    assert ledger["Firehose"]["DeliveryStreamName"] == {"Ref": stream_id}
    assert "CloudwatchLogs" in payload["ErrorAction"], "a frame the rule cannot deliver must be logged"


def test_the_ingest_queue_has_a_dead_letter_queue_after_five_receives(synthesized_template):
    _, queue = one(synthesized_template, "AWS::SQS::Queue", QueueName=NAMES.ingest_queue)
    dlq_id, dlq = one(synthesized_template, "AWS::SQS::Queue", QueueName=NAMES.ingest_dead_letter_queue)
    redrive = queue["Properties"]["RedrivePolicy"]
    assert redrive == {"deadLetterTargetArn": {"Fn::GetAtt": [dlq_id, "Arn"]}, "maxReceiveCount": 5}
    assert dlq["Properties"]["MessageRetentionPeriod"] == 14 * 24 * 3600
    assert queue["Properties"]["VisibilityTimeout"] == 6 * FUNCTIONS["ingest"].timeout_seconds


def test_ingest_reads_the_queue_in_batches_with_partial_failures(synthesized_template):
    function_id, _ = one(synthesized_template, "AWS::Lambda::Function", FunctionName=NAMES.function("ingest"))
    (mapping,) = [
        m for m in resources(synthesized_template, "AWS::Lambda::EventSourceMapping").values()
        if m["Properties"]["FunctionName"] == {"Ref": function_id}
    ]  # fmt: skip
    assert mapping["Properties"]["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert mapping["Properties"]["BatchSize"] == 10


@pytest.mark.parametrize(
    ("name", "keys", "indexes"),
    [
        (
            NAMES.registry_table,
            [("pk", "HASH"), ("sk", "RANGE")],
            {"by_fleet": [("gsi1pk", "HASH"), ("gsi1sk", "RANGE")]},
        ),
        (
            NAMES.sessions_table,
            [("session_id", "HASH"), ("sk", "RANGE")],
            {
                "active_by_fleet": [("active_fleet_id", "HASH"), ("session_id", "RANGE")],
                "by_fleet_started": [("fleet_id", "HASH"), ("started_at", "RANGE")],
                "by_vehicle_started": [("fleet_vehicle", "HASH"), ("started_at", "RANGE")],
                "by_charger_started": [("fleet_charger", "HASH"), ("started_at", "RANGE")],
            },
        ),
        (NAMES.rejected_frames_table, [("charge_point_id", "HASH"), ("received_key", "RANGE")], {}),
        (NAMES.billing_table, [("pk", "HASH"), ("sk", "RANGE")], {}),
        (NAMES.analytics_table, [("pk", "HASH"), ("sk", "RANGE")], {}),
    ],
)
def test_table_keys_and_indexes(synthesized_template, name, keys, indexes):
    _, table = one(synthesized_template, "AWS::DynamoDB::Table", TableName=name)
    properties = table["Properties"]
    assert [(k["AttributeName"], k["KeyType"]) for k in properties["KeySchema"]] == keys
    found = {
        gsi["IndexName"]: [(k["AttributeName"], k["KeyType"]) for k in gsi["KeySchema"]]
        for gsi in properties.get("GlobalSecondaryIndexes", [])
    }
    assert found == indexes
    assert properties["BillingMode"] == "PAY_PER_REQUEST"
    assert properties["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"] is True
    assert table["DeletionPolicy"] == "Retain"


def test_rejected_frames_expire_through_ttl(synthesized_template):
    _, table = one(synthesized_template, "AWS::DynamoDB::Table", TableName=NAMES.rejected_frames_table)
    assert table["Properties"]["TimeToLiveSpecification"] == {"AttributeName": "expires_at", "Enabled": True}


def test_the_invoice_bucket_is_versioned_private_encrypted_and_tls_only(synthesized_template, template):
    buckets = {
        k: v
        for k, v in resources(synthesized_template, "AWS::S3::Bucket").items()
        if "invoices" in flatten(v["Properties"].get("BucketName", ""))
    }
    ((bucket_id, bucket),) = buckets.items()
    properties = bucket["Properties"]
    assert flatten(properties["BucketName"]).startswith("laddvakt-invoices-")
    assert properties["VersioningConfiguration"] == {"Status": "Enabled"}
    # Write once: no invoice can be changed or deleted before the bookkeeping retention ends.
    assert properties["ObjectLockEnabled"] is True
    assert properties["ObjectLockConfiguration"] == {
        "ObjectLockEnabled": "Enabled",
        "Rule": {"DefaultRetention": {"Mode": "COMPLIANCE", "Days": INVOICE_RETENTION_DAYS}},
    }
    assert properties["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True, "BlockPublicPolicy": True, "IgnorePublicAcls": True, "RestrictPublicBuckets": True,
    }  # fmt: skip
    assert properties["BucketEncryption"]["ServerSideEncryptionConfiguration"][0][
        "ServerSideEncryptionByDefault"
    ]
    assert "LoggingConfiguration" in properties
    template.has_resource_properties(
        "AWS::S3::BucketPolicy",
        {
            "Bucket": {"Ref": bucket_id},
            "PolicyDocument": {
                "Statement": Match.array_with(
                    [
                        Match.object_like(
                            {"Effect": "Deny", "Condition": {"Bool": {"aws:SecureTransport": "false"}}}
                        )
                    ]
                )
            },
        },
    )


def test_the_close_and_invoice_state_machine(synthesized_template):
    _, machine = one(
        synthesized_template, "AWS::StepFunctions::StateMachine", StateMachineName=NAMES.billing_state_machine
    )
    assert machine["Properties"]["StateMachineType"] == "STANDARD"
    definition = json.loads(flatten(machine["Properties"]["DefinitionString"]))
    states = definition["States"]
    for name, _ in STEPS:
        assert states[name]["Catch"] == [
            {"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": FAILED_STATE}
        ]
        assert states[name]["Retry"][0]["MaxAttempts"] == 4
    # finalize, then held sessions stop at Held; trusted ones are priced, invoiced and marked
    assert definition["StartAt"] == "FinalizeSession"
    assert states["FinalizeSession"]["Next"] == HELD_CHOICE
    choice = states[HELD_CHOICE]
    assert choice["Choices"] == [{"Variable": "$.held_reason", "IsNull": False, "Next": "Held"}]
    order, state = [], choice["Default"]
    while states[state]["Type"] == "Task":
        order.append(state)
        state = states[state]["Next"]
    assert order == ["PriceSession", "WriteInvoice", "MarkInvoiced", "RecordRollups", "RecordVehicleProfile"]
    # and the priced session stays in the state past the invoice, for the rollups to read
    assert states["WriteInvoice"]["ResultPath"] == "$.invoice"
    assert (states["MarkInvoiced"]["InputPath"], states["MarkInvoiced"]["ResultPath"]) == (
        "$.invoice",
        "$.invoiced",
    )
    assert "InputPath" not in states["RecordRollups"] and "ResultPath" not in states["RecordRollups"]
    # and the vehicle's profile learns from the session once its rollups are recorded (their
    # result, the session id, is its whole input)
    profile = states["RecordVehicleProfile"]
    assert "InputPath" not in profile and "ResultPath" not in profile
    assert states[state]["Type"] == "Succeed" and states["Held"]["Type"] == "Succeed"
    assert states[FAILED_STATE]["Type"] == "Fail"
    assert machine["Properties"]["TracingConfiguration"] == {"Enabled": True}


def test_every_api_method_requires_the_cognito_authorizer(synthesized_template):
    ((authorizer_id, authorizer),) = resources(synthesized_template, "AWS::ApiGateway::Authorizer").items()
    assert authorizer["Properties"]["Type"] == "COGNITO_USER_POOLS"
    methods = resources(synthesized_template, "AWS::ApiGateway::Method").values()
    assert methods
    for method in methods:
        properties = method["Properties"]
        if properties["HttpMethod"] == "OPTIONS":
            continue
        assert properties["AuthorizationType"] == "COGNITO_USER_POOLS"
        assert properties["AuthorizerId"] == {"Ref": authorizer_id}


def test_the_user_pool_carries_the_fleet_and_roles(synthesized_template):
    ((_, pool),) = resources(synthesized_template, "AWS::Cognito::UserPool").items()
    schema = {a["Name"]: a for a in pool["Properties"]["Schema"]}
    assert schema["fleet_id"]["Mutable"] is False
    groups = {
        g["Properties"]["GroupName"]
        for g in resources(synthesized_template, "AWS::Cognito::UserPoolGroup").values()
    }
    assert groups == {"fleet_manager", "finance", "admin"}
    assert pool["Properties"]["AdminCreateUserConfig"]["AllowAdminCreateUserOnly"] is True


EXPECTED_ENV = {
    "ingest": {
        "REGISTRY_TABLE",
        "SESSIONS_TABLE",
        "REJECTED_FRAMES_TABLE",
        "BILLING_STATE_MACHINE_ARN",
        "IOT_DATA_ENDPOINT",
    },
    "finalize-session": {"REGISTRY_TABLE", "SESSIONS_TABLE", "INVOICE_BUCKET", "BILLING_TABLE"},
    "price-session": {"REGISTRY_TABLE", "SESSIONS_TABLE", "INVOICE_BUCKET", "BILLING_TABLE"},
    "write-invoice": {"REGISTRY_TABLE", "SESSIONS_TABLE", "INVOICE_BUCKET", "BILLING_TABLE"},
    "mark-invoiced": {"REGISTRY_TABLE", "SESSIONS_TABLE", "INVOICE_BUCKET", "BILLING_TABLE"},
    "record-rollups": {"SESSIONS_TABLE", "ANALYTICS_TABLE"},
    "record-vehicle-profile": {"REGISTRY_TABLE", "SESSIONS_TABLE"},
    "fleet-api": {"REGISTRY_TABLE", "SESSIONS_TABLE", "BILLING_TABLE", "INVOICE_BUCKET", "ANALYTICS_TABLE"},
    "statement-day": {"REGISTRY_TABLE", "SESSIONS_TABLE", "INVOICE_BUCKET", "BILLING_TABLE"},
    "write-statement": {"REGISTRY_TABLE", "SESSIONS_TABLE", "INVOICE_BUCKET", "BILLING_TABLE"},
    "start-statements": {"REGISTRY_TABLE", "STATEMENT_STATE_MACHINE_ARN"},
    "publish-events": {"FLEET_EVENT_BUS"},
    "schedule-site": {"REGISTRY_TABLE", "SESSIONS_TABLE", "IOT_DATA_ENDPOINT"},
    "reap-sessions": {
        "REGISTRY_TABLE",
        "SESSIONS_TABLE",
        "BILLING_STATE_MACHINE_ARN",
        "SILENCE_TIMEOUT_MINUTES",
    },
}


@pytest.mark.parametrize("key", sorted(FUNCTIONS))
def test_every_function_is_arm64_current_python_traced_and_configured(synthesized_template, key):
    _, function = one(synthesized_template, "AWS::Lambda::Function", FunctionName=NAMES.function(key))
    properties = function["Properties"]
    assert properties["Architectures"] == [ARCHITECTURE.name]
    assert properties["Runtime"] == RUNTIME.name
    assert properties["TracingConfig"] == {"Mode": "Active"}
    assert properties["Handler"] == FUNCTIONS[key].handler
    assert EXPECTED_ENV[key] <= set(properties["Environment"]["Variables"])
    assert len(properties["Layers"]) == 1


def test_the_settings_models_read_exactly_what_cdk_sets():
    # Settings fields are the env vars (case-insensitive): a renamed field would break at cold start.
    from shared.settings import (
        BillingSettings,
        FleetApiSettings,
        IngestSettings,
        ProfileSettings,
        PublishEventsSettings,
        RollupSettings,
        ScheduleSiteSettings,
        StatementSettings,
    )

    required = {
        "ingest": IngestSettings,
        "write-invoice": BillingSettings,
        "fleet-api": FleetApiSettings,
        "record-rollups": RollupSettings,
        "record-vehicle-profile": ProfileSettings,
        "write-statement": BillingSettings,
        "statement-day": BillingSettings,
        "start-statements": StatementSettings,
        "publish-events": PublishEventsSettings,
        "schedule-site": ScheduleSiteSettings,
    }
    for key, model in required.items():
        fields = {name.upper() for name, info in model.model_fields.items() if info.is_required()}
        assert fields <= EXPECTED_ENV[key], f"{key} needs {fields - EXPECTED_ENV[key]}"


def test_outputs_let_the_cli_find_a_deployed_stack(synthesized_template):
    assert {
        "ApiUrl",
        "RegistryTableName",
        "SessionsTableName",
        "RejectedFramesTableName",
        "InvoiceBucketName",
    } <= set(synthesized_template["Outputs"])


def test_cdk_nag_finds_nothing_unacknowledged(synthesized):
    # Synthesis runs the AwsSolutions checks as a validation plugin and fails on any unacknowledged
    # finding, so reaching here means none; the report says so explicitly.
    report = json.loads(
        (__import__("pathlib").Path(synthesized.app.outdir) / "validation-report.json").read_text()
    )
    assert [r["conclusion"] for r in report["pluginReports"]] == ["success"]


def test_the_reaper_runs_on_a_schedule(synthesized_template):
    function_id, _ = one(
        synthesized_template, "AWS::Lambda::Function", FunctionName=NAMES.function("reap-sessions")
    )
    (rule,) = [
        r for r in resources(synthesized_template, "AWS::Events::Rule").values()
        if r["Properties"].get("ScheduleExpression") == REAPER_SCHEDULE
    ]  # fmt: skip
    assert rule["Properties"]["Targets"][0]["Arn"] == {"Fn::GetAtt": [function_id, "Arn"]}


def test_monthly_statements_sum_each_day_in_a_map_then_write_one_statement(synthesized_template):
    # The schedule on the 1st starts the statements
    function_id, _ = one(
        synthesized_template, "AWS::Lambda::Function", FunctionName=NAMES.function("start-statements")
    )
    (rule,) = [
        r for r in resources(synthesized_template, "AWS::Events::Rule").values()
        if r["Properties"].get("ScheduleExpression") == STATEMENT_SCHEDULE
    ]  # fmt: skip
    assert rule["Properties"]["Targets"][0]["Arn"] == {"Fn::GetAtt": [function_id, "Arn"]}
    # Each statement: the days of the month, a Map over them, then one write
    template = LocalTemplate(synthesized_template, account="123456789012", region="eu-north-1")
    machines = template.of_type("AWS::StepFunctions::StateMachine")
    (statement_id,) = [
        k for k, v in machines.items() if v["Properties"]["StateMachineName"] == NAMES.statement_state_machine
    ]
    definition = json.loads(template.resolve(machines[statement_id]["Properties"]["DefinitionString"]))
    assert definition["StartAt"] == DAYS_STATE
    each_day = definition["States"][MAP_STATE]
    assert each_day["Type"] == "Map" and each_day["ItemsPath"] == "$.days"
    assert each_day["MaxConcurrency"] == 8 and each_day["Next"] == WRITE_STATE
    assert definition["States"][DAYS_STATE]["Result"] == list(range(1, 32))


def test_the_raw_ledger_archives_both_directions_partitioned_by_day_and_charger(synthesized_template):
    stream_id, stream = one(
        synthesized_template, "AWS::KinesisFirehose::DeliveryStream", DeliveryStreamName=NAMES.ledger_stream
    )
    destination = stream["Properties"]["ExtendedS3DestinationConfiguration"]
    assert destination["Prefix"] == LEDGER_PREFIX
    assert destination["DynamicPartitioningConfiguration"] == {"Enabled": True}
    parameters = [
        p for proc in destination["ProcessingConfiguration"]["Processors"] for p in proc["Parameters"]
    ]
    assert {
        "ParameterName": "MetadataExtractionQuery",
        "ParameterValue": LEDGER_PARTITION_QUERY,
    } in parameters
    _, out_rule = one(synthesized_template, "AWS::IoT::TopicRule", RuleName=NAMES.ledger_out_rule)
    payload = out_rule["Properties"]["TopicRulePayload"]
    assert payload["Sql"] == LEDGER_OUT_RULE_SQL
    assert payload["Actions"][0]["Firehose"]["DeliveryStreamName"] == {"Ref": stream_id}


def test_ledger_partitions_follow_the_query():
    from shared.topology import ledger_partition

    assert ledger_partition({"receivedAt": 1_763_942_399_999, "chargePointId": "CP-1"}) == {
        "date": "2025-11-23",
        "chargePointId": "CP-1",
    }


def _table_actions(template: dict[str, Any], function_key: str, table_name: str) -> set[str]:
    """The DynamoDB actions a function's role is allowed on one table (by its logical id)."""
    _, function = one(template, "AWS::Lambda::Function", FunctionName=NAMES.function(function_key))
    role = function["Properties"]["Role"]["Fn::GetAtt"][0]
    table_id, _ = one(template, "AWS::DynamoDB::Table", TableName=table_name)
    actions: set[str] = set()
    for policy in resources(template, "AWS::IAM::Policy").values():
        if {"Ref": role} not in policy["Properties"]["Roles"]:
            continue
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
            if table_id in json.dumps(statement.get("Resource")):
                listed = statement["Action"]
                actions.update([listed] if isinstance(listed, str) else listed)
    return actions


def test_the_fleet_api_manages_the_registry_but_only_reads_sessions(synthesized_template):
    # The admin routes write registry records (each write conditional on the caller's fleet)
    registry = _table_actions(synthesized_template, "fleet-api", NAMES.registry_table)
    assert {"dynamodb:UpdateItem", "dynamodb:DeleteItem", "dynamodb:BatchWriteItem"} <= registry
    sessions = _table_actions(synthesized_template, "fleet-api", NAMES.sessions_table)
    assert "dynamodb:Query" in sessions
    assert not sessions & {"dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"}


def test_the_vehicle_profile_step_writes_the_registry_and_only_reads_sessions(synthesized_template):
    # It puts one profile item per vehicle, conditional on the version it read
    registry = _table_actions(synthesized_template, "record-vehicle-profile", NAMES.registry_table)
    assert {"dynamodb:GetItem", "dynamodb:PutItem"} <= registry
    sessions = _table_actions(synthesized_template, "record-vehicle-profile", NAMES.sessions_table)
    assert "dynamodb:Query" in sessions
    assert not sessions & {"dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem"}
