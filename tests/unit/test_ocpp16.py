"""The OCPP 1.6 central system as a charger experiences it: every Call gets the right answer."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from shared.domain.ocpp16 import CentralSystem16
from tests.fakes import FakeRegistry, FakeSessions, FakeWorkflow
from tests.unit.conftest import frame

pytestmark = pytest.mark.unit

CP = "LV-STHLM-01"


def reply(outcome) -> list:
    assert outcome.reply is not None
    return json.loads(outcome.reply)


def start(central: CentralSystem16, id_tag: str = "RFID0001", meter_start: int = 12_000, connector: int = 1):
    return central.handle(
        CP,
        frame(
            "s1",
            "StartTransaction",
            {
                "connectorId": connector,
                "idTag": id_tag,
                "meterStart": meter_start,
                "timestamp": "2026-11-23T07:00:00Z",
            },
        ),
    )


def test_registered_charger_boot_is_accepted_with_heartbeat_interval(central, registry: FakeRegistry):
    # Given a registered charger, When it boots
    outcome = central.handle(
        CP, frame("1", "BootNotification", {"chargePointVendor": "V", "chargePointModel": "M"})
    )
    # Then it is accepted, told the time and its heartbeat interval, and the boot is recorded
    assert reply(outcome) == [
        3,
        "1",
        {"status": "Accepted", "currentTime": "2026-11-23T12:00:00.000Z", "interval": 300},
    ]
    assert registry.boots == [(CP, {"chargePointVendor": "V", "chargePointModel": "M"})]
    assert outcome.problem is None


def test_unregistered_charger_boot_is_rejected_and_kept(central):
    outcome = central.handle(
        "STRANGER", frame("1", "BootNotification", {"chargePointVendor": "V", "chargePointModel": "M"})
    )
    assert reply(outcome)[2]["status"] == "Rejected"
    assert "unregistered" in outcome.problem


def test_unregistered_charger_cannot_start_a_transaction(central, sessions: FakeSessions):
    outcome = central.handle("STRANGER", frame("1", "Heartbeat", {}))
    assert reply(outcome)[:3] == [4, "1", "SecurityError"]
    assert sessions.items == {}


def test_heartbeat_answers_current_time(central, registry):
    assert reply(central.handle(CP, frame("h", "Heartbeat", {}))) == [
        3,
        "h",
        {"currentTime": "2026-11-23T12:00:00.000Z"},
    ]
    assert registry.heartbeats[0][0] == CP


def test_status_notification_keeps_connector_state(central, registry):
    payload = {
        "connectorId": 2,
        "errorCode": "GroundFailure",
        "status": "Faulted",
        "timestamp": "2026-11-23T07:00:00Z",
    }
    assert reply(central.handle(CP, frame("st", "StatusNotification", payload))) == [3, "st", {}]
    report = registry.statuses[0]
    assert (report.connector_id, report.status, report.error_code) == (2, "Faulted", "GroundFailure")


@pytest.mark.parametrize(
    ("id_tag", "status"), [("RFID0001", "Accepted"), ("RFID-BLOCKED", "Blocked"), ("NOPE", "Invalid")]
)
def test_authorize_looks_the_token_up(central, id_tag, status):
    assert reply(central.handle(CP, frame("a", "Authorize", {"idTag": id_tag})))[2] == {
        "idTagInfo": {"status": status}
    }


def test_start_transaction_assigns_unique_ids_and_records_who_charges(central, sessions: FakeSessions):
    first, second = reply(start(central)), reply(start(central, id_tag="RFID0002", connector=2))
    assert first[2] == {"transactionId": 1, "idTagInfo": {"status": "Accepted"}}
    assert second[2]["transactionId"] == 2
    session = sessions.items[f"{CP}:1"]
    assert (session.fleet_id, session.driver_id, session.vehicle_id) == ("nordvind", "nor-d01", "nor-v01")
    assert session.site_id == "sthlm-depot" and session.meter_start_wh == Decimal(12_000)


def test_start_with_unknown_token_gets_an_id_but_no_session(central, sessions):
    outcome = start(central, id_tag="NOPE")
    assert reply(outcome)[2]["idTagInfo"] == {"status": "Invalid"}
    assert sessions.items == {}
    assert "Invalid" in outcome.problem


def test_start_on_a_connector_the_charger_lacks_is_refused(central, sessions):
    outcome = start(central, connector=7)
    assert reply(outcome)[:3] == [4, "s1", "PropertyConstraintViolation"]
    assert sessions.items == {}


def test_meter_values_in_kwh_are_stored_in_wh(central, sessions):
    start(central)
    payload = {
        "connectorId": 1,
        "transactionId": 1,
        "meterValue": [
            {
                "timestamp": "2026-11-23T07:15:00Z",
                "sampledValue": [
                    {"value": "14.5", "unit": "kWh", "measurand": "Energy.Active.Import.Register"},
                    {"value": "10.8", "unit": "kW", "measurand": "Power.Active.Import"},
                    {"value": "41", "unit": "Percent", "measurand": "SoC"},
                ],
            }
        ],
    }
    assert reply(central.handle(CP, frame("m", "MeterValues", payload))) == [3, "m", {}]
    session = sessions.items[f"{CP}:1"]
    assert session.latest_register_wh == Decimal("14500.0")
    assert session.latest_power_w == Decimal("10800.0")
    assert session.latest_soc_percent == Decimal(41)


def test_meter_values_for_an_unknown_transaction_are_answered_and_kept(central):
    payload = {
        "connectorId": 1,
        "transactionId": 99,
        "meterValue": [{"timestamp": "2026-11-23T07:15:00Z", "sampledValue": [{"value": "1"}]}],
    }
    outcome = central.handle(CP, frame("m", "MeterValues", payload))
    assert reply(outcome) == [3, "m", {}]
    assert f"{CP}:99" in outcome.problem


def test_stop_transaction_ends_the_session_and_starts_billing_once(central, sessions, workflow: FakeWorkflow):
    start(central)
    stop = {
        "transactionId": 1,
        "meterStop": 30_500,
        "timestamp": "2026-11-23T09:00:00Z",
        "idTag": "RFID0001",
        "reason": "Local",
    }
    assert reply(central.handle(CP, frame("x", "StopTransaction", stop)))[2] == {
        "idTagInfo": {"status": "Accepted"}
    }
    session = sessions.items[f"{CP}:1"]
    assert session.meter_stop_wh == Decimal(30_500) and session.stop_reason == "Local"
    assert workflow.closed == [f"{CP}:1"]


def test_stop_from_another_charger_does_not_touch_the_session(central, sessions, workflow):
    start(central)
    stop = {"transactionId": 1, "meterStop": 30_500, "timestamp": "2026-11-23T09:00:00Z"}
    outcome = central.handle("LV-STHLM-02", frame("x", "StopTransaction", stop))
    assert reply(outcome) == [3, "x", {}]
    assert sessions.items[f"{CP}:1"].ended_at is None
    assert workflow.closed == []
    assert "no session" in outcome.problem


@pytest.mark.parametrize(
    ("raw", "expected_reply", "reason"),
    [
        (b"{not json", None, "not valid JSON"),
        (b'{"a": 1}', None, "JSON array"),
        (b"\xff\xfe", None, "UTF-8"),
        (b'[2, "9", "Frobnicate", {}]', [4, "9", "NotImplemented"], "Frobnicate"),
        (b'[2, "9", "Heartbeat"]', [4, "9", "FormationViolation"], "[2, messageId, action, payload]"),
        (b'[7, "9", "Heartbeat", {}]', [4, "9", "FormationViolation"], "unknown message type"),
        (b'[2, "9", "Authorize", {}]', [4, "9", "OccurenceConstraintViolation"], "idTag"),
        (b'[2, "9", "Authorize", {"idTag": 5}]', [4, "9", "TypeConstraintViolation"], "idTag"),
        (b'[2, "9", "Authorize", {"idTag": "x", "extra": 1}]', [4, "9", "FormationViolation"], "extra"),
        (
            b'[2, "9", "StatusNotification", {"connectorId": 1, "errorCode": "NoError", "status": "Sleeping"}]',
            [4, "9", "PropertyConstraintViolation"],
            "Sleeping",
        ),
    ],
)
def test_bad_frames_get_the_ocpp16_error_and_are_kept(central, raw, expected_reply, reason):
    outcome = central.handle(CP, raw)
    if expected_reply is None:
        assert outcome.reply is None
    else:
        assert reply(outcome)[:3] == expected_reply
    assert reason in outcome.problem


def test_unsolicited_call_result_is_kept(central):
    outcome = central.handle(CP, b'[3, "42", {}]')
    assert outcome.reply is None and "unsolicited" in outcome.problem


def test_data_transfer_is_answered_unknown_vendor(central):
    outcome = central.handle(CP, frame("d", "DataTransfer", {"vendorId": "acme"}))
    assert reply(outcome)[2] == {"status": "UnknownVendorId"}


def test_firmware_status_is_acknowledged(central):
    assert reply(central.handle(CP, frame("f", "FirmwareStatusNotification", {"status": "Idle"}))) == [
        3,
        "f",
        {},
    ]


def test_supported_actions_are_listed(registry):
    central = CentralSystem16(registry, FakeSessions(), FakeWorkflow())
    assert {"BootNotification", "StartTransaction", "StopTransaction", "MeterValues"} <= set(
        central.supported_actions
    )


def test_a_retried_start_gets_the_same_transaction_and_no_second_session(central, sessions):
    # Given a StartTransaction whose reply was lost, When the charger sends it again
    first, again = reply(start(central)), reply(start(central))
    # Then it gets the same transactionId, and there is one session
    assert first[2]["transactionId"] == again[2]["transactionId"]
    assert len(sessions.items) == 1
