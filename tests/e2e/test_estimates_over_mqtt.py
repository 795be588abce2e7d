"""The estimates live, through the whole local stack: a charger sends SoC and power over MQTT, and
the fleet app reads when the car will be full, when it will leave, and when a connector frees up;
a fleet manager's charging needs that cannot be met are refused, saying why."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from ocpp.v16 import call

from laddvakt.cli import main
from laddvakt.simulator import SimulatedCharger
from tests.e2e.test_session_over_mqtt import get, wait_for
from tests.unit.conftest import EXAMPLE_REGISTRY

pytestmark = pytest.mark.e2e

CP = "LV-STHLM-03"  # Nordvind's Stockholm depot, 22 kW a connector
VEHICLE = "nor-v05"  # 75 kWh, default target 80 %
SITE = "sthlm-depot"


def _iso(at: datetime) -> str:
    return at.isoformat().replace("+00:00", "Z")


def put(stack: Any, path: str, token: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    request = urllib.request.Request(
        f"{stack.api_url}{path}",
        data=json.dumps(body).encode(),
        method="PUT",
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"{}")


@pytest.fixture(scope="module")
def charging(local_stack) -> Any:
    """Given nor-v05 plugged in at LV-STHLM-03 twenty minutes ago, drawing 11 kW at 40 % SoC."""
    assert main(["registry", "import", str(EXAMPLE_REGISTRY), "--state-dir", str(local_stack.state_dir)]) == 0
    charger = SimulatedCharger(CP, local_stack.mqtt_host, local_stack.mqtt_port)
    now = datetime.now(UTC).replace(microsecond=0)
    charger.call(call.BootNotification(charge_point_vendor="Sim", charge_point_model="AC22"))
    for connector, status in ((1, "Charging"), (2, "Available")):
        charger.call(call.StatusNotification(connector_id=connector, error_code="NoError", status=status))
    started = charger.call(
        call.StartTransaction(
            connector_id=1,
            id_tag="RFID0005",
            meter_start=100_000,
            timestamp=_iso(now - timedelta(minutes=20)),
        )
    )
    reading = {
        "timestamp": _iso(now - timedelta(minutes=1)),
        "sampled_value": [
            {"value": "103500", "unit": "Wh", "measurand": "Energy.Active.Import.Register"},
            {"value": "11.0", "unit": "kW", "measurand": "Power.Active.Import"},
            {"value": "40", "unit": "Percent", "measurand": "SoC"},
        ],
    }
    charger.call(
        call.MeterValues(connector_id=1, transaction_id=started["transactionId"], meter_value=[reading])
    )
    yield {"stack": local_stack, "charger": charger, "session": f"{CP}:{started['transactionId']}"}
    charger.close()


def _vehicle(stack: Any, token: str) -> dict[str, Any] | None:
    _, status = get(stack, "/fleet/status", token)
    return next(
        (v for v in status["vehicles"] if v["vehicle_id"] == VEHICLE and v.get("soc_percent") == "40"), None
    )


def test_the_fleet_status_says_when_the_car_will_be_full(charging):
    stack = charging["stack"]
    token = stack.issue_token("nordvind", ["fleet_manager"])
    vehicle = wait_for(lambda: _vehicle(stack, token), what="nor-v05 charging at 40 % in /fleet/status")
    complete = vehicle["charge_complete"]
    # Then: 40 % of 75 kWh to 80 % is 30 kWh, at 11 kW with losses, about three hours from now
    assert complete["done"] is False and complete["remaining_kwh"] == "30.0"
    assert complete["basis"].startswith("SoC 40% of 75 kWh to 80% (the vehicle's default), at 11.0 kW")
    finish = datetime.fromisoformat(complete["at"])
    assert timedelta(hours=2, minutes=45) < finish - datetime.now(UTC) < timedelta(hours=3, minutes=10)
    assert vehicle["estimated_end_at"] == complete["at"]


def test_charging_needs_that_cannot_be_met_are_refused_saying_why(charging):
    stack = charging["stack"]
    token = stack.issue_token("nordvind", ["fleet_manager"])
    wait_for(lambda: _vehicle(stack, token), what="nor-v05 charging")
    later = _iso(datetime.now(UTC) + timedelta(hours=5))
    status, problem = put(
        stack,
        f"/vehicles/{VEHICLE}/charging-needs",
        token,
        {"departure_at": later, "target_soc_percent": "30"},
    )
    assert status == 422 and "below the vehicle's SoC now (40%" in problem["detail"]
    earlier = _iso(datetime.now(UTC) - timedelta(hours=1))
    status, problem = put(stack, f"/vehicles/{VEHICLE}/charging-needs", token, {"departure_at": earlier})
    assert status == 422 and "is in the past" in problem["detail"]


def test_a_declared_departure_tells_a_waiting_driver_when_the_connector_frees_up(charging):
    stack = charging["stack"]
    token = stack.issue_token("nordvind", ["fleet_manager"])
    wait_for(lambda: _vehicle(stack, token), what="nor-v05 charging")
    # When the fleet manager says nor-v05 leaves in five hours
    leaves = (datetime.now(UTC) + timedelta(hours=5)).replace(microsecond=0)
    assert put(stack, f"/vehicles/{VEHICLE}/charging-needs", token, {"departure_at": _iso(leaves)})[0] in (
        200,
        201,
    )
    # Then the fleet status shows it as the departure
    departure = _vehicle(stack, token)["departure"]
    assert (datetime.fromisoformat(departure["p50_at"]), departure["basis"]) == (leaves, "declared departure")
    # And the site's availability names the connector and when it frees up
    status, answer = get(stack, f"/sites/{SITE}/availability", token)
    assert status == 200
    mine = next(c for c in answer["connectors"] if (c["charge_point_id"], c["connector_id"]) == (CP, 1))
    assert (mine["state"], mine["session_id"]) == ("occupied", charging["session"])
    assert datetime.fromisoformat(mine["expected_free_at"]) == leaves
    other = next(c for c in answer["connectors"] if (c["charge_point_id"], c["connector_id"]) == (CP, 2))
    assert other["state"] == "free" and answer["free_now"] >= 1


def test_the_car_stopping_by_itself_is_charging_complete(charging):
    stack, charger = charging["stack"], charging["charger"]
    token = stack.issue_token("nordvind", ["fleet_manager"])
    wait_for(lambda: _vehicle(stack, token), what="nor-v05 charging")
    # When the charger says the car stopped drawing power
    charger.call(call.StatusNotification(connector_id=1, error_code="NoError", status="SuspendedEV"))
    reading = {
        "timestamp": _iso(datetime.now(UTC)),
        "sampled_value": [
            {"value": "103600", "unit": "Wh", "measurand": "Energy.Active.Import.Register"},
            {"value": "0", "unit": "kW", "measurand": "Power.Active.Import"},
            {"value": "40", "unit": "Percent", "measurand": "SoC"},
        ],
    }
    transaction = int(charging["session"].split(":")[1])
    charger.call(call.MeterValues(connector_id=1, transaction_id=transaction, meter_value=[reading]))
    # Then the fleet status says charging is complete, and when
    vehicle = wait_for(
        lambda: (v := _vehicle(stack, token)) and v["charge_complete"]["done"] and v,
        what="nor-v05 done charging",
    )
    assert vehicle["state"] == "ready" and "SuspendedEV" in vehicle["charge_complete"]["basis"]
    assert vehicle["estimated_end_at"] is None
