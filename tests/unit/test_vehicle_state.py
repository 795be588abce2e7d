"""The one rule for a vehicle's state at a glance."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from shared.domain.vehicle_state import vehicle_state
from shared.models.sessions import Session

START = datetime(2026, 11, 2, 17, 0, tzinfo=UTC)


def session(**live) -> Session:
    return Session(
        session_id="CP-1:1",
        transaction_id="1",
        charge_point_id="CP-1",
        connector_id=1,
        id_tag="TAG",
        fleet_id="f",
        site_id="s",
        started_at=START,
        meter_start_wh=Decimal(1000),
        **live,
    )


def test_a_vehicle_in_no_session_is_away():
    assert vehicle_state(None) == "away"


def test_drawing_power_is_charging_whatever_its_soc():
    s = session(
        latest_power_w=Decimal(7400), latest_soc_percent=Decimal(95), latest_register_wh=Decimal(5000)
    )
    assert vehicle_state(s, target_soc_percent=Decimal(80)) == "charging"


def test_below_the_threshold_is_not_charging():
    assert vehicle_state(session(latest_power_w=Decimal(99))) == "plugged_in"


def test_at_its_target_soc_a_vehicle_is_ready():
    s = session(latest_power_w=Decimal(0), latest_soc_percent=Decimal(80))
    assert vehicle_state(s, target_soc_percent=Decimal(80)) == "ready"
    assert vehicle_state(s, target_soc_percent=Decimal(90)) == "plugged_in"


def test_a_car_that_stopped_drawing_after_taking_energy_is_ready():
    # Given a 1.6 charger that reports SuspendedEV on the connector after 4 kWh went in
    s = session(latest_power_w=Decimal(0), latest_register_wh=Decimal(5000))
    assert vehicle_state(s, connector_status="SuspendedEV") == "ready"
    # And a 2.0.1 charger that says so in the transaction's chargingState
    s201 = session(
        latest_power_w=Decimal(0), latest_register_wh=Decimal(5000), latest_charging_state="SuspendedEV"
    )
    assert vehicle_state(s201) == "ready"


def test_a_car_that_never_took_energy_is_waiting_not_ready():
    s = session(latest_power_w=Decimal(0), latest_register_wh=Decimal(1000))
    assert vehicle_state(s, connector_status="SuspendedEV") == "plugged_in"
    assert vehicle_state(s, connector_status="SuspendedEVSE") == "plugged_in"
