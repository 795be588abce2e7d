"""What live depot scheduling relies on in the deployed stack: the schedule-site function reads
both tables' streams (only arrivals, departures, charging needs and chargers' answers invoke it)
with partial failures, retries and its own dead letters; a minute schedule sweeps; it may publish
on chargers' `/out` topics; and pending commands expire through the registry table's TTL."""

from __future__ import annotations

import json
from typing import Any

import pytest

from infra.scheduling import RETRY_ATTEMPTS
from shared.topology import (
    ENV_IOT_DATA_ENDPOINT,
    ENV_REGISTRY_TABLE,
    ENV_SESSIONS_TABLE,
    SCHEDULE_SWEEP,
    Names,
)
from tests.infra.test_template import one, resources

pytestmark = pytest.mark.infra

NAMES = Names()


def scheduler(template: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    return one(template, "AWS::Lambda::Function", FunctionName=NAMES.function("schedule-site"))


def mappings(template: dict[str, Any]) -> list[dict[str, Any]]:
    function_id, _ = scheduler(template)
    return [
        m["Properties"] for m in resources(template, "AWS::Lambda::EventSourceMapping").values()
        if m["Properties"]["FunctionName"] == {"Ref": function_id}
    ]  # fmt: skip


def test_the_scheduler_reads_both_streams_with_partial_failures_retries_and_its_dead_letters(
    synthesized_template,
):
    dlq_id, _ = one(synthesized_template, "AWS::SQS::Queue", QueueName=NAMES.schedule_dead_letter_queue)
    tables = {
        one(synthesized_template, "AWS::DynamoDB::Table", TableName=name)[0]: name
        for name in (NAMES.sessions_table, NAMES.registry_table)
    }
    found = mappings(synthesized_template)
    assert {tables[m["EventSourceArn"]["Fn::GetAtt"][0]] for m in found} == set(tables.values())
    for mapping in found:
        assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
        assert mapping["BisectBatchOnFunctionError"] is True
        assert mapping["MaximumRetryAttempts"] == RETRY_ATTEMPTS
        assert mapping["DestinationConfig"] == {"OnFailure": {"Destination": {"Fn::GetAtt": [dlq_id, "Arn"]}}}


def test_only_changes_that_can_move_a_plan_invoke_the_scheduler(synthesized_template):
    # Meter frames and connector statuses are most writes: Lambda filters them out for free
    patterns = sorted(
        (
            json.loads(f["Pattern"])
            for m in mappings(synthesized_template)
            for f in m["FilterCriteria"]["Filters"]
        ),
        key=json.dumps,
    )
    head = {"Keys": {"sk": {"S": ["SESSION"]}}}
    assert patterns == sorted(
        [
            {"eventName": ["INSERT"], "dynamodb": head},
            {"eventName": ["MODIFY"], "dynamodb": {**head, "OldImage": {"status": {"S": ["active"]}},
             "NewImage": {"status": {"S": ["closing", "held", "invoiced", "on_statement"]}}}},
            {"dynamodb": {"NewImage": {"kind": {"S": ["vehicle_charging_needs", "charging_needs"]}}}},
            {"eventName": ["REMOVE"], "dynamodb": {"OldImage": {"kind": {"S": ["vehicle_charging_needs"]}}}},
            {"dynamodb": {"NewImage": {"kind": {"S": ["charging_profile_command"]},
                                       "status": {"S": ["accepted", "rejected"]}}}},
        ],
        key=json.dumps,
    )  # fmt: skip


def test_a_minute_schedule_sweeps_and_the_scheduler_may_publish_only_on_out_topics(synthesized_template):
    function_id, function = scheduler(synthesized_template)
    rules = [
        r["Properties"] for r in resources(synthesized_template, "AWS::Events::Rule").values()
        if any(t["Arn"] == {"Fn::GetAtt": [function_id, "Arn"]} for t in r["Properties"].get("Targets", []))
    ]  # fmt: skip
    assert [r["ScheduleExpression"] for r in rules] == [SCHEDULE_SWEEP]
    variables = function["Properties"]["Environment"]["Variables"]
    assert {ENV_REGISTRY_TABLE, ENV_SESSIONS_TABLE, ENV_IOT_DATA_ENDPOINT} <= set(variables)
    statements = [
        s for p in resources(synthesized_template, "AWS::IAM::Policy").values()
        if any(r == {"Ref": function["Properties"]["Role"]["Fn::GetAtt"][0]} for r in p["Properties"]["Roles"])
        for s in p["Properties"]["PolicyDocument"]["Statement"]
    ]  # fmt: skip
    publish = [s for s in statements if s["Action"] == "iot:Publish"]
    assert len(publish) == 1 and publish[0]["Resource"]["Fn::Join"][1][-1] == ":topic/*/out"


def test_pending_commands_expire_through_the_registry_tables_ttl(synthesized_template):
    _, registry = one(synthesized_template, "AWS::DynamoDB::Table", TableName=NAMES.registry_table)
    assert registry["Properties"]["TimeToLiveSpecification"] == {
        "AttributeName": "expires_at",
        "Enabled": True,
    }


def test_dead_letters_of_the_scheduler_wake_an_operator(synthesized_template):
    dlq_id, dlq = one(synthesized_template, "AWS::SQS::Queue", QueueName=NAMES.schedule_dead_letter_queue)
    assert dlq["Properties"]["MessageRetentionPeriod"] == 14 * 24 * 3600
    watched = [
        a for a in resources(synthesized_template, "AWS::CloudWatch::Alarm").values()
        if {"Name": "QueueName", "Value": {"Fn::GetAtt": [dlq_id, "QueueName"]}} in a["Properties"].get("Dimensions", [])
    ]  # fmt: skip
    assert len(watched) == 1 and watched[0]["Properties"]["AlarmActions"]
