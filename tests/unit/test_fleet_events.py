"""Which live fleet events a change of a session head or a connector means, and which it does not."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from shared.domain.fleet_events import ConnectorReport, connector_events, session_events
from shared.models.events import (
    ChargerFaulted,
    ChargerRecovered,
    SessionCharging,
    SessionEnded,
    SessionIdle,
    SessionStarted,
)
from shared.models.sessions import Session, SessionStatus

pytestmark = pytest.mark.unit

START = datetime(2026, 11, 2, 17, 0, tzinfo=UTC)


def head(**changes) -> Session:
    values = {
        "session_id": "CP-1:7",
        "transaction_id": "7",
        "charge_point_id": "CP-1",
        "connector_id": 1,
        "id_tag": "TAG",
        "fleet_id": "nordvind",
        "site_id": "uppsala",
        "vehicle_id": "nor-v03",
        "driver_id": "nor-d03",
        "started_at": START,
        "meter_start_wh": Decimal(500_000),
    }
    return Session(**(values | changes))


def powered(watts: int, minutes: int, register_wh: int = 505_500) -> Session:
    at = START + timedelta(minutes=minutes)
    return head(
        latest_power_w=Decimal(watts),
        latest_power_at=at,
        latest_sample_at=at,
        latest_register_wh=Decimal(register_wh),
        latest_register_at=at,
        latest_soc_percent=Decimal(48),
    )


def test_a_new_session_head_is_a_started_session_of_its_fleet():
    # Given no head, When the head appears
    (event,) = session_events(None, head())
    # Then the fleet hears that its vehicle started charging, at the start time
    assert isinstance(event, SessionStarted)
    assert (event.fleet_id, event.session_id, event.vehicle_id, event.driver_id) == (
        "nordvind", "CP-1:7", "nor-v03", "nor-d03",
    )  # fmt: skip
    assert event.occurred_at == START and event.event_id == "CP-1:7/started"


def test_a_stop_ends_the_session_with_its_energy():
    # Given a live session, When the charger's stop sets its end
    ended_at = START + timedelta(hours=1, minutes=45)
    before = powered(11_000, 30)
    after = before.model_copy(
        update={"ended_at": ended_at, "meter_stop_wh": Decimal(512_345), "stop_reason": "EVDisconnected"}
    )
    (event,) = session_events(before, after)
    # Then it is announced ended, with the energy as a decimal in kWh
    assert isinstance(event, SessionEnded)
    assert (event.ended_at, event.energy_kwh, event.stop_reason, event.end_inferred) == (
        ended_at, Decimal("12.345"), "EVDisconnected", False,
    )  # fmt: skip
    assert event.model_dump(mode="json")["energy_kwh"] == "12.345"


def test_billing_moving_an_ended_session_on_announces_nothing_more():
    ended = head(ended_at=START + timedelta(hours=2), meter_stop_wh=Decimal(510_000))
    closing = ended.model_copy(update={"status": SessionStatus.CLOSING, "energy_wh": Decimal(10_000)})
    invoiced = closing.model_copy(update={"status": SessionStatus.INVOICED, "invoice_key": "invoices/x.json"})
    assert session_events(ended, closing) == []
    assert session_events(closing, invoiced) == []


def test_leaving_active_without_a_stop_ends_the_session():
    # Given a live session the billing workflow holds for an operator without a recorded end
    before = powered(11_000, 30)
    (event,) = session_events(before, before.model_copy(update={"status": SessionStatus.HELD}))
    assert isinstance(event, SessionEnded) and event.ended_at == before.latest_sample_at


def test_an_inferred_end_says_so():
    before = powered(0, 30)
    after = before.model_copy(
        update={
            "ended_at": START + timedelta(hours=2),
            "meter_stop_wh": Decimal(505_500),
            "end_inferred": True,
        }
    )
    (event,) = session_events(before, after)
    assert isinstance(event, SessionEnded) and event.end_inferred is True


def test_power_dropping_below_the_threshold_while_plugged_in_is_idle():
    # Given a car charging at 11 kW, When the next reading is 40 W
    (event,) = session_events(powered(11_000, 30), powered(40, 45, register_wh=508_000))
    # Then the fleet hears it is plugged in, not charging, with the energy so far
    assert isinstance(event, SessionIdle)
    assert (event.power_kw, event.energy_kwh, event.soc_percent) == (Decimal("0.040"), Decimal("8.000"), 48)
    assert event.occurred_at == START + timedelta(minutes=45)
    assert event.event_id == "CP-1:7/idle/2026-11-02T17:45:00.000+00:00"


def test_power_coming_back_above_the_threshold_is_charging_again():
    (event,) = session_events(powered(0, 45), powered(7_400, 60))
    assert isinstance(event, SessionCharging) and event.power_kw == Decimal("7.400")


@pytest.mark.parametrize(
    ("before", "after"),
    [
        pytest.param(
            powered(11_000, 30), powered(10_500, 35), id="a sample that keeps power above the threshold"
        ),
        pytest.param(powered(50, 30), powered(0, 35), id="a sample that keeps it below"),
        pytest.param(powered(11_000, 30), powered(11_000, 30), id="a replayed identical image"),
        pytest.param(head(), powered(0, 1), id="the first reading (Started already said it)"),
        pytest.param(
            powered(11_000, 30),
            powered(11_000, 30).model_copy(update={"seq_nos": {1, 2}, "offline_events": True}),
            id="bookkeeping fields only",
        ),
    ],
)
def test_changes_that_cross_nothing_announce_nothing(before, after):
    assert session_events(before, after) == []


def test_an_ended_session_whose_power_drops_is_not_idle():
    ended = powered(11_000, 30).model_copy(update={"ended_at": START + timedelta(hours=1)})
    assert session_events(ended, ended.model_copy(update={"latest_power_w": Decimal(0)})) == []


def test_a_removed_head_and_a_replayed_start_announce_nothing_new():
    assert session_events(head(), None) == []
    # The same insert delivered twice gives the same event id: a consumer drops the second
    assert session_events(None, head())[0].event_id == session_events(None, head())[0].event_id


def connector(
    status: str, error_code: str = "NoError", minutes: int = 0, info: str | None = None
) -> ConnectorReport:
    return ConnectorReport(
        fleet_id="nordvind",
        charge_point_id="CP-1",
        connector_id=1,
        status=status,
        error_code=error_code,
        at=START + timedelta(minutes=minutes),
        info=info,
    )


def test_a_faulted_status_is_a_charger_fault():
    (event,) = connector_events(connector("Available"), connector("Faulted", "GroundFailure", 5, "RCD"))
    assert isinstance(event, ChargerFaulted)
    assert (event.fleet_id, event.charge_point_id, event.connector_id, event.status, event.error_code) == (
        "nordvind", "CP-1", 1, "Faulted", "GroundFailure",
    )  # fmt: skip
    assert event.info == "RCD" and event.occurred_at == START + timedelta(minutes=5)


def test_an_error_code_on_an_otherwise_available_connector_is_a_fault():
    (event,) = connector_events(connector("Available"), connector("Available", "HighTemperature", 5))
    assert isinstance(event, ChargerFaulted)


def test_the_first_status_of_a_connector_is_a_fault_only_when_faulted():
    assert connector_events(None, connector("Available")) == []
    assert isinstance(connector_events(None, connector("Faulted", "OtherError"))[0], ChargerFaulted)


def test_a_new_fault_code_on_a_faulted_connector_is_announced_and_the_same_one_is_not():
    faulted = connector("Faulted", "GroundFailure", 5)
    assert connector_events(faulted, connector("Faulted", "GroundFailure", 9)) == []
    (event,) = connector_events(faulted, connector("Faulted", "OverCurrentFailure", 9))
    assert isinstance(event, ChargerFaulted) and event.error_code == "OverCurrentFailure"


def test_a_healthy_status_after_a_fault_is_a_recovery():
    (event,) = connector_events(connector("Faulted", "GroundFailure", 5), connector("Available", minutes=30))
    assert isinstance(event, ChargerRecovered)
    assert (event.status, event.error_code, event.occurred_at) == (
        "Available",
        "NoError",
        START + timedelta(minutes=30),
    )


def test_status_changes_that_keep_a_connector_healthy_announce_nothing():
    assert connector_events(connector("Available"), connector("Preparing", minutes=1)) == []
    assert connector_events(connector("Preparing"), connector("Charging", minutes=2)) == []
    assert connector_events(connector("Charging"), connector("Charging")) == []
