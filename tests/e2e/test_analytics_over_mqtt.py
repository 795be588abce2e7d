"""Analytics through the whole local stack: sessions of a fleet billed monthly go over MQTT through
the state machine CDK synthesized, whose last step adds them to the daily rollups, and a fleet app
reads the tables back through the fleet API, as JSON and as CSV."""

from __future__ import annotations

import json
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from ocpp.v16 import call

from laddvakt.cli import main
from laddvakt.simulator import SimulatedCharger
from tests.unit.conftest import EXAMPLE_REGISTRY

pytestmark = pytest.mark.e2e

CP = "LV-ANALYTICS-1"
FLEET = "laddlogistik"
MAY = "from=2024-05-01&to=2024-05-31"


@pytest.fixture(scope="module")
def charger(local_stack, tmp_path_factory) -> Any:
    # Given a fleet billed monthly, with a depot whose grid connection allows 50 kW
    data = json.loads(EXAMPLE_REGISTRY.read_text())
    data["fleets"] = [{"id": FLEET, "name": "Laddlogistik AB", "invoicing": "monthly"}]
    data["sites"] = [
        {
            "id": "ll-depot",
            "fleet_id": FLEET,
            "name": "Laddlogistik depå",
            "grid_limit_kw": "50",
            "tariff": {"currency": "SEK", "energy_price_per_kwh": "2.00", "vat_rate_percent": "25"},
        }
    ]
    data["chargers"] = [{"id": CP, "site_id": "ll-depot", "connectors": 2, "max_power_kw": "22"}]
    data["vehicles"] = [{"id": "ll-v1", "fleet_id": FLEET}]
    data["drivers"] = [{"id": "ll-d1", "fleet_id": FLEET}]
    data["tokens"] = [{"id_tag": "LL-CARD-1", "fleet_id": FLEET, "driver_id": "ll-d1", "vehicle_id": "ll-v1"}]
    path = Path(tmp_path_factory.mktemp("analytics")) / "registry.json"
    path.write_text(json.dumps(data))
    assert main(["registry", "import", str(path), "--state-dir", str(local_stack.state_dir)]) == 0
    charger = SimulatedCharger(CP, local_stack.mqtt_host, local_stack.mqtt_port)
    yield charger
    charger.close()


def fetch(stack: Any, path: str, token: str) -> tuple[int, str, str]:
    request = urllib.request.Request(f"{stack.api_url}{path}", headers={"Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(request, timeout=30) as response:
        return response.status, response.headers["Content-Type"], response.read().decode()


def test_sessions_billed_monthly_reach_every_analytics_table(local_stack, charger):
    token = local_stack.issue_token(FLEET, ["finance"])
    # When the car charges 11 kWh in an hour on Monday 6 May 2024, 17:00–18:00 local (UTC+2)
    started = charger.call(
        call.StartTransaction(
            connector_id=1, id_tag="LL-CARD-1", meter_start=0, timestamp="2024-05-06T15:00:00Z"
        )
    )
    charger.call(
        call.StopTransaction(
            meter_stop=11_000, timestamp="2024-05-06T16:00:00Z", transaction_id=started["transactionId"]
        )
    )

    # Then, once the workflow's last step has run, the fleet's energy and cost are there
    def energy() -> list[dict[str, Any]]:
        return list(
            json.loads(fetch(local_stack, f"/analytics/energy?{MAY}&group_by=vehicle", token)[2])["rows"]
        )

    deadline = time.monotonic() + 90
    while not energy() and time.monotonic() < deadline:
        time.sleep(0.5)
    ((row,),) = [energy()]
    assert (row["period"], row["key"], row["energy_kwh"], row["sessions"]) == (
        "2024-05-06",
        "ll-v1",
        "11.000",
        1,
    )
    assert row["costs"] == [{"currency": "SEK", "net": "22.0000", "gross": "27.5000"}]
    # And the site's peak, 11 kW from 17:00 local, is 22 % of its grid limit
    (load,) = json.loads(fetch(local_stack, f"/analytics/site-load?{MAY}", token)[2])["rows"]
    assert (load["peak_kw"], load["peak_at"], load["grid_limit_kw"], load["share_of_limit"]) == (
        "11.000",
        "2024-05-06T17:00:00+02:00",
        "50",
        "0.2200",
    )
    # And the arrivals table comes as CSV too, with Monday 17:00's arrival and 18:00's departure
    status, content_type, text = fetch(local_stack, f"/analytics/arrivals?{MAY}&format=csv", token)
    assert (status, content_type) == (200, "text/csv")
    lines = text.splitlines()
    assert lines[0] == "weekday,weekday_name,hour,arrivals,departures"
    assert [line for line in lines[1:] if not line.endswith(",0,0")] == ["1,Monday,17,1,0", "1,Monday,18,0,1"]
