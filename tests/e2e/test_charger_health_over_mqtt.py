"""A charger's fault through the whole local stack: OCPP 1.6 StatusNotification over MQTT in,
`GET /chargers/{id}` out through the local API Gateway, for its own fleet only."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from ocpp.v16 import call

from laddvakt.cli import main
from laddvakt.simulator import SimulatedCharger
from tests.unit.conftest import EXAMPLE_REGISTRY

pytestmark = pytest.mark.e2e

CP = "LV-GBG-HEALTH"


def get(stack: Any, path: str, token: str) -> tuple[int, dict[str, Any]]:
    request = urllib.request.Request(f"{stack.api_url}{path}", headers={"Authorization": f"Bearer {token}"})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"{}")


@pytest.fixture(scope="module")
def charger(local_stack, tmp_path_factory) -> Any:
    # Given Kust Taxi's site gets a two-outlet charger (an import is an upsert)
    data = json.loads(EXAMPLE_REGISTRY.read_text())
    data["chargers"] = [{"id": CP, "site_id": "gbg-taxi", "connectors": 2}]
    registry = Path(tmp_path_factory.mktemp("registry")) / "with-health.json"
    registry.write_text(json.dumps(data))
    assert main(["registry", "import", str(registry), "--state-dir", str(local_stack.state_dir)]) == 0
    charger = SimulatedCharger(CP, local_stack.mqtt_host, local_stack.mqtt_port)
    yield charger
    charger.close()


def test_a_fault_reported_over_mqtt_shows_on_the_charger_for_its_fleet_only(local_stack, charger):
    # When the charger boots and reports one outlet faulted an hour ago, the other available
    an_hour_ago = (datetime.now(UTC) - timedelta(hours=1)).replace(microsecond=0)
    stamp = an_hour_ago.isoformat().replace("+00:00", "Z")
    assert (
        charger.call(call.BootNotification(charge_point_vendor="Sim", charge_point_model="AC22"))["status"]
        == "Accepted"
    )
    charger.call(call.StatusNotification(connector_id=1, error_code="GroundFailure", status="Faulted",
                                         timestamp=stamp, vendor_error_code="RCD-30"))  # fmt: skip
    charger.call(
        call.StatusNotification(connector_id=2, error_code="NoError", status="Available", timestamp=stamp)
    )
    # Then Kust Taxi's fleet manager sees it online, with the fault now and in its history
    code, body = get(local_stack, f"/chargers/{CP}", local_stack.issue_token("kusttaxi", ["fleet_manager"]))
    assert code == 200 and body["online"] is True
    assert [(f["connector_id"], f["error_code"], f["vendor_error_code"]) for f in body["current_faults"]] == [
        (1, "GroundFailure", "RCD-30")
    ]
    assert [(f["connector_id"], f["since"], f["until"]) for f in body["fault_history"]] == [(1, stamp, None)]
    # one outlet faulted while the other works: the charger could charge all along
    assert body["uptime_percent"] == "100.00"
    # And Nordvind's fleet manager cannot tell it exists
    code, body = get(local_stack, f"/chargers/{CP}", local_stack.issue_token("nordvind", ["fleet_manager"]))
    assert (code, body["title"]) == (404, "Not Found")
