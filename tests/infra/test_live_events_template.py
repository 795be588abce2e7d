"""What the live fleet events rely on in the deployed stack: both tables stream old and new
images, one function reads both streams (only the changes that can mean an event) with partial
failures, retries and dead letters, and may put events on the fleet bus and nowhere else."""

from __future__ import annotations

import json
from typing import Any

import pytest

from infra.live_events import RETRY_ATTEMPTS
from shared.topology import ENV_FLEET_EVENT_BUS, Names
from tests.infra.test_template import one, resources

pytestmark = pytest.mark.infra

NAMES = Names()


def publisher(template: dict[str, Any]) -> str:
    function_id, _ = one(template, "AWS::Lambda::Function", FunctionName=NAMES.function("publish-events"))
    return function_id


@pytest.mark.parametrize("table", [NAMES.sessions_table, NAMES.registry_table])
def test_both_tables_stream_old_and_new_images(synthesized_template, table):
    _, resource = one(synthesized_template, "AWS::DynamoDB::Table", TableName=table)
    assert resource["Properties"]["StreamSpecification"] == {"StreamViewType": "NEW_AND_OLD_IMAGES"}


def test_publish_events_reads_both_streams_with_partial_failures_retries_and_dead_letters(
    synthesized_template,
):
    function_id = publisher(synthesized_template)
    dlq_id, _ = one(synthesized_template, "AWS::SQS::Queue", QueueName=NAMES.fleet_events_dead_letter_queue)
    tables = {
        one(synthesized_template, "AWS::DynamoDB::Table", TableName=name)[0]: name
        for name in (NAMES.sessions_table, NAMES.registry_table)
    }
    mappings = [
        m["Properties"] for m in resources(synthesized_template, "AWS::Lambda::EventSourceMapping").values()
        if m["Properties"]["FunctionName"] == {"Ref": function_id}
    ]  # fmt: skip
    streamed = {tables[m["EventSourceArn"]["Fn::GetAtt"][0]] for m in mappings}
    assert streamed == {NAMES.sessions_table, NAMES.registry_table}
    assert all(m["EventSourceArn"]["Fn::GetAtt"][1] == "StreamArn" for m in mappings)
    for mapping in mappings:
        assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
        assert mapping["BisectBatchOnFunctionError"] is True
        assert mapping["MaximumRetryAttempts"] == RETRY_ATTEMPTS
        assert mapping["DestinationConfig"] == {"OnFailure": {"Destination": {"Fn::GetAtt": [dlq_id, "Arn"]}}}
        assert mapping["StartingPosition"] == "LATEST"


def test_only_session_heads_and_connector_statuses_invoke_the_publisher(synthesized_template):
    # Meter samples are most of the sessions table's writes: Lambda filters them out before invoking
    function_id = publisher(synthesized_template)
    patterns = [
        json.loads(f["Pattern"])
        for m in resources(synthesized_template, "AWS::Lambda::EventSourceMapping").values()
        if m["Properties"]["FunctionName"] == {"Ref": function_id}
        for f in m["Properties"]["FilterCriteria"]["Filters"]
    ]
    patterns.sort(key=json.dumps)
    assert patterns == [
        {"dynamodb": {"Keys": {"sk": {"S": ["SESSION"]}}}},
        {"dynamodb": {"NewImage": {"kind": {"S": ["connector"]}}}},
    ]


def test_the_fleet_event_bus_is_named_and_given_to_the_publisher(synthesized_template):
    bus_id, _ = one(synthesized_template, "AWS::Events::EventBus", Name=NAMES.fleet_event_bus)
    _, function = one(
        synthesized_template, "AWS::Lambda::Function", FunctionName=NAMES.function("publish-events")
    )
    assert function["Properties"]["Environment"]["Variables"][ENV_FLEET_EVENT_BUS] == {"Ref": bus_id}
    assert {"FleetEventBusName", "FleetEventBusArn"} <= set(synthesized_template["Outputs"])


def test_the_publisher_may_put_events_on_the_fleet_bus_only(synthesized_template):
    bus_id, _ = one(synthesized_template, "AWS::Events::EventBus", Name=NAMES.fleet_event_bus)
    statements = [
        statement
        for policy in resources(synthesized_template, "AWS::IAM::Policy").values()
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
        if "events:PutEvents" in json.dumps(statement["Action"])
    ]
    ((statement),) = statements
    assert statement["Action"] == "events:PutEvents"
    assert statement["Resource"] == {"Fn::GetAtt": [bus_id, "Arn"]}
    # and that policy belongs to the publisher's own role
    (policy,) = [
        p for p in resources(synthesized_template, "AWS::IAM::Policy").values()
        if statement in p["Properties"]["PolicyDocument"]["Statement"]
    ]  # fmt: skip
    role_id = policy["Properties"]["Roles"][0]["Ref"]
    _, function = one(
        synthesized_template, "AWS::Lambda::Function", FunctionName=NAMES.function("publish-events")
    )
    assert function["Properties"]["Role"] == {"Fn::GetAtt": [role_id, "Arn"]}


def test_dead_letters_of_the_live_events_wake_an_operator(synthesized_template):
    dlq_id, dlq = one(synthesized_template, "AWS::SQS::Queue", QueueName=NAMES.fleet_events_dead_letter_queue)
    assert dlq["Properties"]["MessageRetentionPeriod"] == 14 * 24 * 3600
    watched = [
        a for a in resources(synthesized_template, "AWS::CloudWatch::Alarm").values()
        if {"Name": "QueueName", "Value": {"Fn::GetAtt": [dlq_id, "QueueName"]}} in a["Properties"].get("Dimensions", [])
    ]  # fmt: skip
    assert len(watched) == 1 and watched[0]["Properties"]["AlarmActions"]
