"""The local stack deploys what the template says, resolved as CloudFormation would."""

from __future__ import annotations

import json

import pytest

from laddvakt.local.deploy import LocalDeployment
from laddvakt.local.template import Template, TemplateError
from shared.topology import FUNCTIONS, INGEST_RULE_SQL, LEDGER_OUT_RULE_SQL, Names

pytestmark = pytest.mark.integration
NAMES = Names()
OTHER_REGION = "eu-central-1"


def test_functions_state_machine_rule_and_event_source_come_from_the_template(
    aws, synthesized_template, monkeypatch
):
    # The session's moto world is shared by every integration test: deploy into another region.
    monkeypatch.setenv("AWS_DEFAULT_REGION", OTHER_REGION)
    deployed = LocalDeployment(synthesized_template, endpoint_url=None, region=OTHER_REGION).create()
    assert set(deployed.function_env) == {NAMES.function(key) for key in FUNCTIONS}
    ingest_env = deployed.function_env[NAMES.function("ingest")]
    assert ingest_env["SESSIONS_TABLE"] == NAMES.sessions_table
    assert ingest_env["BILLING_STATE_MACHINE_ARN"].endswith(f":stateMachine:{NAMES.billing_state_machine}")
    assert ingest_env["IOT_DATA_ENDPOINT"] == ""  # locally the SDK default, which moto serves
    rules = {rule.sql: rule for rule in deployed.rules}
    ingest = rules[INGEST_RULE_SQL]
    assert (
        ingest.queue_url.endswith(f"/{NAMES.ingest_queue}") and ingest.firehose_stream == NAMES.ledger_stream
    )
    assert rules[LEDGER_OUT_RULE_SQL].firehose_stream == NAMES.ledger_stream
    (stream,) = deployed.delivery_streams
    assert stream.bucket == NAMES.ledger_bucket("123456789012", OTHER_REGION)
    (source,) = deployed.event_sources
    assert (source.function_name, source.batch_size, source.report_batch_item_failures) == (
        NAMES.function("ingest"), 10, True,
    )  # fmt: skip
    assert deployed.api_function == NAMES.function("fleet-api")
    # The reaper runs every 5 minutes; the monthly statements' cron is fired on demand locally
    assert {(s.function_name, s.every_seconds) for s in deployed.schedules} == {
        (NAMES.function("reap-sessions"), 300),
        (NAMES.function("start-statements"), None),
        (NAMES.function("schedule-site"), 60),
    }
    assert deployed.outputs["RegistryTableName"] == NAMES.registry_table
    # The live events and depot scheduling: publish-events and schedule-site each read both
    # tables' streams, filtered, with their own dead letters
    assert set(deployed.event_buses.values()) == {NAMES.fleet_event_bus}
    dead_letters = {
        NAMES.function("publish-events"): NAMES.fleet_events_dead_letter_queue,
        NAMES.function("schedule-site"): NAMES.schedule_dead_letter_queue,
    }
    streams = {(s.function_name, s.table_name): s for s in deployed.stream_sources}
    assert set(streams) == {
        (f, t) for f in dead_letters for t in (NAMES.sessions_table, NAMES.registry_table)
    }
    for stream in streams.values():
        assert stream.report_batch_item_failures and stream.bisect_batch_on_error
        assert stream.on_failure_queue_url.endswith(f"/{dead_letters[stream.function_name]}")
        assert stream.stream_arn.startswith(
            f"arn:aws:dynamodb:{OTHER_REGION}:123456789012:table/{stream.table_name}/stream/"
        )
        assert stream.filters
    publisher_env = deployed.function_env[NAMES.function("publish-events")]
    assert publisher_env["FLEET_EVENT_BUS"] == NAMES.fleet_event_bus


def test_the_state_machine_definition_resolves_to_the_deployed_functions(synthesized_template):
    template = Template(synthesized_template, account="123456789012", region="eu-north-1")
    (logical_id,) = [
        k for k, v in template.of_type("AWS::StepFunctions::StateMachine").items()
        if v["Properties"]["StateMachineName"] == NAMES.billing_state_machine
    ]  # fmt: skip
    definition = json.loads(
        template.resolve(template.resources[logical_id]["Properties"]["DefinitionString"])
    )
    resources = [state["Resource"] for state in definition["States"].values() if state["Type"] == "Task"]
    assert resources == [
        f"arn:aws:lambda:eu-north-1:123456789012:function:{NAMES.function(key)}"
        for key in (
            "finalize-session",
            "price-session",
            "write-invoice",
            "mark-invoiced",
            "record-rollups",
            "record-vehicle-profile",
        )
    ]


def test_an_unknown_resource_type_is_an_error_not_a_silent_gap(synthesized_template):
    broken = json.loads(json.dumps(synthesized_template))
    broken["Resources"]["Mystery"] = {"Type": "AWS::Kinesis::Stream", "Properties": {}}
    with pytest.raises(TemplateError, match="Kinesis"):
        LocalDeployment(broken, endpoint_url=None)


def test_a_stream_filter_the_local_poller_cannot_match_exactly_is_an_error(synthesized_template):
    broken = json.loads(json.dumps(synthesized_template))
    mapping = next(
        m for m in broken["Resources"].values()
        if m["Type"] == "AWS::Lambda::EventSourceMapping" and "FilterCriteria" in m["Properties"]
    )  # fmt: skip
    mapping["Properties"]["FilterCriteria"]["Filters"] = [
        {"Pattern": json.dumps({"dynamodb": {"Keys": {"sk": {"S": [{"prefix": "SESSION"}]}}}})}
    ]
    with pytest.raises(TemplateError, match="exact values only"):
        LocalDeployment(broken, endpoint_url=None)


def test_the_stream_filters_keep_session_heads_and_connector_statuses():
    from infra.live_events import STREAM_FILTERS
    from laddvakt.local.deploy import matches_filter

    head = {"dynamodb": {"Keys": {"session_id": {"S": "CP:1"}, "sk": {"S": "SESSION"}}}}
    sample = {"dynamodb": {"Keys": {"session_id": {"S": "CP:1"}, "sk": {"S": "SAMPLE#2026-11-24"}}}}
    connector = {"dynamodb": {"NewImage": {"kind": {"S": "connector"}, "status": {"S": "Faulted"}}}}
    removed = {"dynamodb": {"OldImage": {"kind": {"S": "connector"}}}}
    assert matches_filter(STREAM_FILTERS["sessions"], head)
    assert not matches_filter(STREAM_FILTERS["sessions"], sample)
    assert matches_filter(STREAM_FILTERS["registry"], connector)
    assert not matches_filter(STREAM_FILTERS["registry"], removed)
