"""Every reply Laddvakt sends a 1.6 charger validates against the official OCPP JSON schema.

The schemas and validator come from the `ocpp` package, not from our framing module, so a bug
shared by our builder and our checker cannot hide here.
"""

from __future__ import annotations

import json

import pytest
from ocpp.messages import get_validator

from shared.domain.ocpp16 import CentralSystem16
from shared.models.events import InboundFrameRecord
from shared.models.registry import RegistryDocument
from tests.fakes import FakeRegistry, FakeSessions, FakeWorkflow
from tests.unit.conftest import EXAMPLE_REGISTRY, frame

pytestmark = pytest.mark.contract

CP = "LV-STHLM-01"
SCENARIO = [
    ("BootNotification", {"chargePointVendor": "V", "chargePointModel": "M", "firmwareVersion": "1.2"}),
    ("Heartbeat", {}),
    ("StatusNotification", {"connectorId": 0, "errorCode": "NoError", "status": "Available"}),
    ("Authorize", {"idTag": "RFID0001"}),
    ("Authorize", {"idTag": "UNKNOWN"}),
    (
        "StartTransaction",
        {"connectorId": 1, "idTag": "RFID0001", "meterStart": 0, "timestamp": "2026-11-23T07:00:00Z"},
    ),
    (
        "StartTransaction",
        {"connectorId": 2, "idTag": "RFID-BLOCKED", "meterStart": 0, "timestamp": "2026-11-23T07:00:00Z"},
    ),
    (
        "MeterValues",
        {
            "connectorId": 1,
            "transactionId": 1,
            "meterValue": [{"timestamp": "2026-11-23T07:15:00Z", "sampledValue": [{"value": "2500"}]}],
        },
    ),
    (
        "StopTransaction",
        {"transactionId": 1, "meterStop": 5000, "timestamp": "2026-11-23T08:00:00Z", "idTag": "RFID0001"},
    ),
    ("StopTransaction", {"transactionId": 1, "meterStop": 5000, "timestamp": "2026-11-23T08:00:00Z"}),
    ("DataTransfer", {"vendorId": "acme", "messageId": "x", "data": "y"}),
    ("DiagnosticsStatusNotification", {"status": "Idle"}),
    ("FirmwareStatusNotification", {"status": "Installed"}),
]


@pytest.fixture(scope="module")
def central() -> CentralSystem16:
    document = RegistryDocument.model_validate_json(EXAMPLE_REGISTRY.read_text())
    return CentralSystem16(FakeRegistry(document), FakeSessions(), FakeWorkflow())


@pytest.fixture(scope="module")
def replies(central: CentralSystem16) -> list[tuple[str, list]]:
    return [
        (action, json.loads(central.handle(CP, frame(str(i), action, payload)).reply))
        for i, (action, payload) in enumerate(SCENARIO)
    ]


@pytest.mark.parametrize("index", range(len(SCENARIO)))
def test_reply_is_a_call_result_valid_against_the_official_schema(replies, index):
    action, reply = replies[index]
    assert reply[0] == 3 and reply[1] == str(index)
    get_validator(3, action, "1.6").validate(reply[2])


def test_the_scenario_covers_every_supported_action(central: CentralSystem16):
    assert {action for action, _ in SCENARIO} == set(central.supported_actions)


def test_the_ingest_queue_record_shape_from_the_iot_rule_parses():
    # What the rule `SELECT encode(*, 'base64') AS payload, topic(1) AS chargePointId,
    # timestamp() AS receivedAt` delivers to SQS, wrapped as Lambda's SQS event record.
    body = {"payload": "WzIsIjEiLCJIZWFydGJlYXQiLHt9XQ==", "chargePointId": CP, "receivedAt": 1763884800123}
    record = InboundFrameRecord.model_validate(
        {
            "messageId": "m1",
            "receiptHandle": "r",
            "body": json.dumps(body),
            "attributes": {
                "ApproximateReceiveCount": "1",
                "SentTimestamp": "1763884800123",
                "SenderId": "AIDA",
                "ApproximateFirstReceiveTimestamp": "1763884800124",
            },
            "messageAttributes": {},
            "md5OfBody": "x",
            "eventSource": "aws:sqs",
            "eventSourceARN": "arn:aws:sqs:eu-north-1:123456789012:laddvakt-ingest",
            "awsRegion": "eu-north-1",
        }
    )
    assert record.body.raw == b'[2,"1","Heartbeat",{}]'
    assert record.body.charge_point_id == CP
    assert record.body.received_at.isoformat() == "2025-11-23T08:00:00.123000+00:00"
