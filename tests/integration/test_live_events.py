"""Live fleet events through the real handlers against moto: frames in through ingest, the two
tables' streams read as Lambda reads them, the publish-events handler, the fleet event bus from
the template, and each fleet's own EventBridge rule delivering to its queue.
"""

from __future__ import annotations

import importlib
import json
import sys
from collections.abc import Iterator
from types import ModuleType
from typing import Any

import boto3
import pytest
from botocore.config import Config

from laddvakt.local.deploy import LocalDeployment, StreamSource
from laddvakt.local.event_sources import stream_record
from shared.adapters.aws import client as aws_clients
from shared.adapters.registry_table import RegistryTable
from shared.live_events import LiveEvents
from shared.models.registry import Charger, RegistryDocument
from shared.topology import FLEET_EVENT_SOURCE, Names
from tests.conftest import ACCOUNT, REGION
from tests.frames import call, published, sqs_event
from tests.unit.conftest import EXAMPLE_REGISTRY

pytestmark = pytest.mark.integration

NAMES = Names()
CP = "LV-EVENTS-1"  # a charger of its own at Nordvind's Uppsala hub (no other test moves its state); RFID0006 is nor-v06


class Stream:
    """One table's stream, read from where the test began, as Lambda's event source reads it."""

    def __init__(self, aws: Any, table: str) -> None:
        # moto in-process answers the regional endpoint, not the account-based one botocore picks
        # from a stream ARN (the local stack's explicit endpoint URL has no such choice).
        self._streams = boto3.client(
            "dynamodbstreams", region_name=REGION, config=Config(account_id_endpoint_mode="disabled")
        )
        self.arn = aws.client("dynamodb").describe_table(TableName=table)["Table"]["LatestStreamArn"]
        self._source = StreamSource(self.arn, table, "publish-events", 100, 0, True, True, 4, None)
        self._after = self._last()

    def _records(self) -> list[dict[str, Any]]:
        (shard,) = self._streams.describe_stream(StreamArn=self.arn)["StreamDescription"]["Shards"]
        position = (
            {"ShardIteratorType": "AFTER_SEQUENCE_NUMBER", "SequenceNumber": self._after}
            if getattr(self, "_after", None)
            else {"ShardIteratorType": "TRIM_HORIZON"}
        )
        iterator = self._streams.get_shard_iterator(StreamArn=self.arn, ShardId=shard["ShardId"], **position)
        return list(self._streams.get_records(ShardIterator=iterator["ShardIterator"], Limit=1000)["Records"])

    def _last(self) -> str | None:
        records = self._records()
        return records[-1]["dynamodb"]["SequenceNumber"] if records else None

    def new_changes(self) -> list[dict[str, Any]]:
        records = [stream_record(r, self._source) for r in self._records()]
        if records:
            self._after = records[-1]["dynamodb"]["SequenceNumber"]
        return records


def subscribe(aws: Any, fleet_id: str) -> str:
    """What a fleet app does: a rule on the bus matching its own fleet, delivering to its queue."""
    sqs = aws.client("sqs")
    url = sqs.create_queue(QueueName=f"fleet-app-{fleet_id}")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    pattern = {"source": [FLEET_EVENT_SOURCE], "detail": {"fleet_id": [fleet_id]}}
    events = aws.client("events")
    events.put_rule(
        Name=f"fleet-app-{fleet_id}", EventBusName=NAMES.fleet_event_bus, EventPattern=json.dumps(pattern)
    )
    events.put_targets(
        Rule=f"fleet-app-{fleet_id}", EventBusName=NAMES.fleet_event_bus, Targets=[{"Id": "app", "Arn": arn}]
    )
    return str(url)


def received(aws: Any, url: str) -> list[dict[str, Any]]:
    sqs = aws.client("sqs")
    events = []
    while messages := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", []):
        events += [json.loads(m["Body"]) for m in messages]
        for m in messages:
            sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
    return events


@pytest.fixture(scope="module")
def publisher(aws, handlers, synthesized_template, monkeypatch_module) -> ModuleType:
    # The bus comes from the template, as `cdk deploy` makes it
    LocalDeployment(synthesized_template, endpoint_url=None, region=REGION, account=ACCOUNT).create(
        {"AWS::Events::EventBus"}
    )
    monkeypatch_module.setenv("FLEET_EVENT_BUS", NAMES.fleet_event_bus)
    aws_clients.cache_clear()
    name = "functions.publish_events.handler"
    loaded = sys.modules.get(name)
    return importlib.reload(loaded) if loaded is not None else importlib.import_module(name)


@pytest.fixture(scope="module")
def monkeypatch_module() -> Iterator[pytest.MonkeyPatch]:
    with pytest.MonkeyPatch.context() as patch:
        yield patch


@pytest.fixture(scope="module")
def streams(aws) -> list[Stream]:
    example = RegistryDocument.model_validate_json(EXAMPLE_REGISTRY.read_text())
    RegistryTable(aws.registry_table).import_document(
        RegistryDocument(
            operator=example.operator,
            fleets=[f for f in example.fleets if f.id == "nordvind"],
            sites=[s for s in example.sites if s.id == "uppsala-hub"],
            chargers=[Charger(id=CP, site_id="uppsala-hub")],
        )
    )
    return [Stream(aws, aws.sessions_table), Stream(aws, aws.registry_table)]


def test_a_session_and_a_fault_reach_only_their_fleets_subscribers(
    aws, handlers, context, publisher, streams
):
    nordvind, kusttaxi = subscribe(aws, "nordvind"), subscribe(aws, "kusttaxi")

    # Given a Nordvind car that starts charging at 11 kW, drops to 40 W, and leaves; and the
    # charger reporting a ground fault in between
    def frames(*calls: bytes) -> None:
        result = handlers["ingest"].lambda_handler(sqs_event(*calls, charge_point_id=CP), context)
        assert result == {"batchItemFailures": []}

    frames(
        call("b", "BootNotification", {"chargePointVendor": "Sim", "chargePointModel": "AC22"}),
        call("a", "StatusNotification", {"connectorId": 1, "errorCode": "NoError", "status": "Preparing",
                                          "timestamp": "2026-11-24T07:00:00Z"}),
        call("s", "StartTransaction", {"connectorId": 1, "idTag": "RFID0006", "meterStart": 100_000,
                                        "timestamp": "2026-11-24T07:00:00Z"}),
    )  # fmt: skip
    transaction_id = published(f"{CP}/out")[-1][2]["transactionId"]

    def meter(at: str, kwh: str, watts: str) -> bytes:
        sampled = [
            {"value": kwh, "unit": "kWh"},
            {"value": watts, "unit": "W", "measurand": "Power.Active.Import"},
        ]
        value = [{"timestamp": at, "sampledValue": sampled}]
        return call(
            f"m{at}", "MeterValues", {"connectorId": 1, "transactionId": transaction_id, "meterValue": value}
        )

    frames(meter("2026-11-24T07:30:00Z", "105.5", "11000"), meter("2026-11-24T07:45:00Z", "108.2", "11000"))
    frames(meter("2026-11-24T08:00:00Z", "108.3", "40"))
    frames(
        call("f", "StatusNotification", {"connectorId": 1, "errorCode": "GroundFailure", "status": "Faulted",
                                          "timestamp": "2026-11-24T08:05:00Z"}),
        call("e", "StopTransaction", {"transactionId": transaction_id, "meterStop": 108_300,
                                       "timestamp": "2026-11-24T08:10:00Z", "reason": "EVDisconnected"}),
    )  # fmt: skip

    # When publish-events reads both streams' changes, as Lambda hands them over
    for stream in streams:
        result = publisher.lambda_handler({"Records": stream.new_changes()}, context)
        assert result == {"batchItemFailures": []}

    # Then Nordvind's rule delivers the session's start, idle, end and the fault, as documented
    events = received(aws, nordvind)
    session_id = f"{CP}:{transaction_id}"
    session = [e for e in events if e["detail"].get("session_id") == session_id]
    assert [e["detail-type"] for e in session] == ["SessionStarted", "SessionIdle", "SessionEnded"]
    assert {e["source"] for e in events} == {FLEET_EVENT_SOURCE}
    started, idle, ended = (e["detail"] for e in session)
    assert (started["vehicle_id"], started["driver_id"], started["started_at"]) == (
        "nor-v06", "nor-d06", "2026-11-24T07:00:00Z",
    )  # fmt: skip
    assert (idle["power_kw"], idle["energy_kwh"], idle["occurred_at"]) == (
        "0.040",
        "8.300",
        "2026-11-24T08:00:00Z",
    )
    assert (ended["energy_kwh"], ended["stop_reason"], ended["ended_at"]) == (
        "8.300", "EVDisconnected", "2026-11-24T08:10:00Z",
    )  # fmt: skip
    (fault,) = [e for e in events if e["detail-type"] == "ChargerFaulted"]
    assert (fault["detail"]["charge_point_id"], fault["detail"]["connector_id"], fault["detail"]["error_code"]) == (
        CP, 1, "GroundFailure",
    )  # fmt: skip
    # And Kust Taxi's rule, matching its own fleet id, delivers none of it
    assert received(aws, kusttaxi) == []


def test_a_change_that_cannot_be_published_fails_alone_and_is_retried(
    aws, handlers, context, publisher, streams, monkeypatch
):
    # Given a connector fault and recovery on the registry's stream
    for status, code, at in (("Faulted", "OverCurrentFailure", "09:00"), ("Available", "NoError", "09:30")):
        payload = {"connectorId": 2, "errorCode": code, "status": status, "timestamp": f"2026-11-24T{at}:00Z"}
        handlers["ingest"].lambda_handler(
            sqs_event(call(at, "StatusNotification", payload), charge_point_id=CP), context
        )
    streams[0].new_changes()
    changes = [c for c in streams[1].new_changes() if c["dynamodb"]["Keys"]["sk"]["S"] == "CONNECTOR#002"]
    assert len(changes) == 2

    # When the bus refuses the fault's event
    class RefusingBus:
        def publish(self, events: list[Any]) -> None:
            if any(e.detail_type() == "ChargerFaulted" for e in events):
                raise publisher_errors.StorageUnavailable("EventBridge refused 1 fleet event(s)")

    from shared.domain import errors as publisher_errors

    monkeypatch.setattr(publisher, "live_events", LiveEvents(RefusingBus()))  # type: ignore[arg-type]
    result = publisher.lambda_handler({"Records": changes}, context)

    # Then that change alone is reported failed, by its sequence number, for Lambda to retry
    assert result == {"batchItemFailures": [{"itemIdentifier": changes[0]["dynamodb"]["SequenceNumber"]}]}


def test_a_cancelled_transaction_leaves_no_change_on_the_stream(aws, streams):
    # Given a session head, When a transaction puts a new head but fails its second condition
    streams[0].new_changes()
    dynamodb = aws.client("dynamodb")
    with pytest.raises(dynamodb.exceptions.TransactionCanceledException):
        dynamodb.transact_write_items(
            TransactItems=[
                {"Put": {"TableName": aws.sessions_table, "Item": {"session_id": {"S": "GHOST:1"}, "sk": {"S": "SESSION"}}}},
                {"Put": {"TableName": aws.sessions_table, "Item": {"session_id": {"S": "GHOST:1"}, "sk": {"S": "START"}},
                         "ConditionExpression": "attribute_exists(session_id)"}},
            ]
        )  # fmt: skip
    # Then the stream shows nothing: no event for a session that was never stored
    assert streams[0].new_changes() == []
