"""The OCPP 2.0.1 central system as a 2.0.1 station experiences it."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from ocpp.messages import get_validator

from shared.domain.central import CentralSystem, sniff_version
from shared.domain.ocpp16 import CentralSystem16
from shared.domain.ocpp201 import CentralSystem201
from shared.models.registry import RegistryDocument
from tests.fakes import FakeRegistry
from tests.unit.conftest import EXAMPLE_REGISTRY, NOW, frame

pytestmark = pytest.mark.unit

CP = "LV-GBG-11"  # a 2.0.1 DC charger added to Kust Taxi's site for these tests


@pytest.fixture
def registry() -> FakeRegistry:
    data = json.loads(EXAMPLE_REGISTRY.read_text())
    data["chargers"].append(
        {"id": CP, "site_id": "gbg-taxi", "connectors": 2, "max_power_kw": "150", "ocpp_version": "2.0.1"}
    )
    return FakeRegistry(RegistryDocument.model_validate(data))


@pytest.fixture
def central(registry, sessions, workflow) -> CentralSystem:
    ports = (registry, sessions, workflow)
    return CentralSystem(
        registry,
        {
            "1.6": CentralSystem16(*ports, clock=lambda: NOW),
            "2.0.1": CentralSystem201(*ports, clock=lambda: NOW),
        },
    )


def reply(outcome) -> list:
    return json.loads(outcome.reply)


def event(
    kind: str, seq: int, at: str, *, wh: float | None = None, token: str | None = "RFID0011", **info
) -> dict:
    payload = {
        "eventType": kind,
        "timestamp": at,
        "triggerReason": {"Started": "Authorized", "Updated": "MeterValuePeriodic", "Ended": "EVDeparted"}[
            kind
        ],
        "seqNo": seq,
        "transactionInfo": {"transactionId": "tx-7f3a", **info},
        "evse": {"id": 1, "connectorId": 1},
    }
    if token:
        payload["idToken"] = {"idToken": token, "type": "ISO14443"}
    if wh is not None:
        payload["meterValue"] = [
            {
                "timestamp": at,
                "sampledValue": [
                    # kWh written as Wh with multiplier 3, as some stations do
                    {
                        "value": wh,
                        "measurand": "Energy.Active.Import.Register",
                        "unitOfMeasure": {"unit": "Wh", "multiplier": 3},
                    },
                    {"value": 48.5, "measurand": "Power.Active.Import", "unitOfMeasure": {"unit": "kW"}},
                ],
            }
        ]
    return payload


def test_a_2_0_1_transaction_is_recorded_priced_and_billed(central, sessions, workflow):
    # Given a registered 2.0.1 station that boots
    boot = central.handle(
        CP,
        frame(
            "b",
            "BootNotification",
            {"reason": "PowerUp", "chargingStation": {"model": "DC150", "vendorName": "X"}},
        ),
    )
    assert reply(boot)[2]["status"] == "Accepted"
    # When a Kust Taxi card starts, meters and ends a transaction
    started = central.handle(
        CP, frame("1", "TransactionEvent", event("Started", 0, "2026-11-23T10:00:00Z", wh=1500.0))
    )
    central.handle(
        CP,
        frame("2", "TransactionEvent", event("Updated", 1, "2026-11-23T10:30:00Z", wh=1520.25, token=None)),
    )
    ended = central.handle(
        CP,
        frame(
            "3",
            "TransactionEvent",
            event(
                "Ended", 2, "2026-11-23T11:00:00Z", wh=1541.234, token=None, stoppedReason="EVDisconnected"
            ),
        ),
    )
    # Then the session is the station's own transaction, its energy the register difference
    session = sessions.items[f"{CP}:tx-7f3a"]
    assert (session.transaction_id, session.fleet_id, session.ocpp_version) == (
        "tx-7f3a",
        "kusttaxi",
        "2.0.1",
    )
    assert session.meter_start_wh == Decimal("1500000") and session.meter_stop_wh == Decimal("1541234.000")
    assert workflow.closed == [f"{CP}:tx-7f3a"]
    assert reply(started)[2] == {"idTokenInfo": {"status": "Accepted"}}
    # And the station is told the total cost, as the invoice will total it: 41.234 kWh × 3.45 + 25 %
    assert Decimal(str(reply(ended)[2]["totalCost"])) == Decimal("177.83")


def test_events_that_overtake_their_started_are_answered_kept_and_applied(central, sessions, workflow):
    # Given a station back online whose queued events arrive out of order: Ended first
    ended = event("Ended", 3, "2026-11-23T11:00:00Z", wh=1541.0, token=None, stoppedReason="EVDisconnected")
    updated = event("Updated", 1, "2026-11-23T10:30:00Z", wh=1520.0, token=None, chargingState="SuspendedEV")
    answers = [
        central.handle(CP, frame("3", "TransactionEvent", ended)),
        central.handle(CP, frame("1", "TransactionEvent", updated)),
    ]
    # Then each is answered as usual, nothing is refused, and nothing is billed yet
    assert [reply(a)[0] for a in answers] == [3, 3] and [a.problem for a in answers] == [None, None]
    assert sessions.items == {} and workflow.closed == []

    # When the Started arrives
    central.handle(CP, frame("0", "TransactionEvent", event("Started", 0, "2026-11-23T10:00:00Z", wh=1500.0)))

    # Then the session is whole, billed once, and says that seqNo 2 never came
    session = sessions.items[f"{CP}:tx-7f3a"]
    assert (session.meter_start_wh, session.meter_stop_wh) == (Decimal("1500000"), Decimal("1541000"))
    assert workflow.closed == [f"{CP}:tx-7f3a"]
    assert session.seq_gaps == [2]
    assert "SuspendedEV" in {s.charging_state for s in session.samples}
    assert sessions.parked(f"{CP}:tx-7f3a") == []


def test_a_repeated_started_event_is_the_same_session(central, sessions):
    for _ in range(2):
        central.handle(
            CP, frame("1", "TransactionEvent", event("Started", 0, "2026-11-23T10:00:00Z", wh=1500.0))
        )
    assert list(sessions.items) == [f"{CP}:tx-7f3a"]


def test_plug_in_first_then_authorize_gives_the_session_its_driver(central, sessions):
    central.handle(
        CP, frame("1", "TransactionEvent", event("Started", 0, "2026-11-23T10:00:00Z", wh=1500.0, token=None))
    )
    assert sessions.items[f"{CP}:tx-7f3a"].vehicle_id is None
    central.handle(
        CP, frame("2", "TransactionEvent", event("Updated", 1, "2026-11-23T10:01:00Z", token="RFID0012"))
    )
    session = sessions.items[f"{CP}:tx-7f3a"]
    assert (session.id_tag, session.vehicle_id, session.driver_id) == ("RFID0012", "kus-v12", "kus-d12")


def test_unknown_tokens_are_unknown_in_2_0_1_words(central):
    outcome = central.handle(
        CP, frame("a", "Authorize", {"idToken": {"idToken": "NOPE", "type": "ISO14443"}})
    )
    assert reply(outcome)[2] == {"idTokenInfo": {"status": "Unknown"}}


def test_charging_needs_are_kept_for_the_fleet(central, registry):
    needs = {
        "requestedEnergyTransfer": "DC",
        "departureTime": "2026-11-23T16:00:00Z",
        "dcChargingParameters": {"evMaxCurrent": 300, "evMaxVoltage": 800, "energyAmount": 40000},
    }
    outcome = central.handle(CP, frame("n", "NotifyEVChargingNeeds", {"evseId": 1, "chargingNeeds": needs}))
    assert reply(outcome)[2] == {"status": "Accepted"}
    assert registry.needs == [(CP, 1, needs)]


def test_2_0_1_error_codes_are_spelled_the_2_0_1_way(central):
    outcome = central.handle(CP, frame("x", "Heartbeat", {"unexpected": 1}))
    assert reply(outcome)[:3] == [4, "x", "FormatViolation"]
    outcome = central.handle(CP, frame("y", "StatusNotification", {"timestamp": "2026-11-23T10:00:00Z"}))
    assert reply(outcome)[:3] == [4, "y", "OccurrenceConstraintViolation"]


def test_every_2_0_1_reply_validates_against_the_official_schema(central):
    frames = [
        ("BootNotification", {"reason": "PowerUp", "chargingStation": {"model": "M", "vendorName": "V"}}),
        ("Heartbeat", {}),
        (
            "StatusNotification",
            {
                "timestamp": "2026-11-23T10:00:00Z",
                "connectorStatus": "Occupied",
                "evseId": 1,
                "connectorId": 1,
            },
        ),
        ("Authorize", {"idToken": {"idToken": "RFID0011", "type": "ISO14443"}}),
        ("TransactionEvent", event("Started", 0, "2026-11-23T10:00:00Z", wh=1.0)),
        ("TransactionEvent", event("Ended", 1, "2026-11-23T10:10:00Z", wh=2.0)),
        (
            "MeterValues",
            {
                "evseId": 0,
                "meterValue": [{"timestamp": "2026-11-23T10:00:00Z", "sampledValue": [{"value": 5.0}]}],
            },
        ),
        (
            "NotifyEVChargingNeeds",
            {"evseId": 1, "chargingNeeds": {"requestedEnergyTransfer": "AC_three_phase"}},
        ),
        ("FirmwareStatusNotification", {"status": "Installed"}),
    ]
    for i, (action, payload) in enumerate(frames):
        answer = reply(central.handle(CP, frame(str(i), action, payload)))
        assert answer[0] == 3, (action, answer)
        get_validator(3, action, "2.0.1").validate(json.loads(json.dumps(answer[2])))


@pytest.mark.parametrize(
    ("raw", "version"),
    [
        (
            b'[2,"1","BootNotification",{"reason":"PowerUp","chargingStation":{"model":"M","vendorName":"V"}}]',
            "2.0.1",
        ),
        (b'[2,"1","BootNotification",{"chargePointVendor":"V","chargePointModel":"M"}]', "1.6"),
        (b'[2,"1","TransactionEvent",{}]', "2.0.1"),
        (b"not json", "1.6"),
    ],
)
def test_an_unregistered_charger_is_answered_in_its_own_version(raw, version):
    assert sniff_version(raw) == version
