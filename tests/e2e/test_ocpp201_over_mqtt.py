"""A 2.0.1 station through the whole local stack, on the same topics as 1.6 chargers."""

from __future__ import annotations

import json
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from ocpp.v201 import call

from laddvakt.cli import main
from laddvakt.simulator import SimulatedCharger
from tests.unit.conftest import EXAMPLE_REGISTRY

pytestmark = pytest.mark.e2e

CP = "LV-GBG-201"


@pytest.fixture(scope="module")
def station(local_stack, tmp_path_factory) -> Any:
    # Given Kust Taxi's site gets a 2.0.1 station (an import is an upsert)
    data = json.loads(EXAMPLE_REGISTRY.read_text())
    data["chargers"] = [
        {"id": CP, "site_id": "gbg-taxi", "connectors": 2, "max_power_kw": "150", "ocpp_version": "2.0.1"}
    ]
    registry = Path(tmp_path_factory.mktemp("registry")) / "with-201.json"
    registry.write_text(json.dumps(data))
    assert main(["registry", "import", str(registry), "--state-dir", str(local_stack.state_dir)]) == 0
    station = SimulatedCharger(CP, local_stack.mqtt_host, local_stack.mqtt_port, version="2.0.1")
    yield station
    station.close()


def meter(at: str, wh: int) -> list[dict[str, Any]]:
    return [{"timestamp": at, "sampled_value": [{"value": wh, "measurand": "Energy.Active.Import.Register",
                                                 "context": "Sample.Periodic"}]}]  # fmt: skip


def test_a_2_0_1_transaction_over_mqtt_is_invoiced(local_stack, station):
    booted = station.call(
        call.BootNotification(charging_station={"model": "DC150", "vendor_name": "Sim"}, reason="PowerUp")
    )
    assert booted["status"] == "Accepted"
    info = {"transaction_id": "e2e-201-a"}
    token = {"id_token": "RFID0013", "type": "ISO14443"}
    started = station.call(
        call.TransactionEvent(event_type="Started", timestamp="2026-11-23T12:00:00Z", trigger_reason="Authorized",
                              seq_no=0, transaction_info=info, evse={"id": 1, "connector_id": 1}, id_token=token,
                              meter_value=meter("2026-11-23T12:00:00Z", 7_000_000))
    )  # fmt: skip
    assert started["idTokenInfo"]["status"] == "Accepted"
    station.call(
        call.TransactionEvent(event_type="Updated", timestamp="2026-11-23T12:20:00Z", trigger_reason="MeterValuePeriodic",
                              seq_no=1, transaction_info=info, meter_value=meter("2026-11-23T12:20:00Z", 7_020_000))
    )  # fmt: skip
    ended = station.call(
        call.TransactionEvent(event_type="Ended", timestamp="2026-11-23T12:40:00Z", trigger_reason="EVDeparted",
                              seq_no=2, transaction_info={**info, "stopped_reason": "EVDisconnected"},
                              meter_value=meter("2026-11-23T12:40:00Z", 7_030_000))
    )  # fmt: skip
    # 30 kWh × 3.45 SEK = 103.50, + 25 % VAT = 129.38: told to the station, then invoiced alike
    assert Decimal(str(ended["totalCost"])) == Decimal("129.38")
    table = local_stack.table(local_stack.names["sessions_table"])
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        head = table.get_item(Key={"session_id": f"{CP}:e2e-201-a", "sk": "SESSION"}).get("Item", {})
        if head.get("status") == "invoiced":
            break
        time.sleep(0.25)
    assert head.get("status") == "invoiced"
    invoice = json.loads(
        local_stack.client("s3")
        .get_object(Bucket=local_stack.names["invoice_bucket"], Key=head["invoice_key"])["Body"]
        .read()
    )
    assert invoice["document"]["totals"]["tax_inclusive_total"] == "129.38"
    assert invoice["session"]["transaction_id"] == "e2e-201-a"


def test_a_station_back_online_replays_its_queue_out_of_order_and_the_session_is_whole(local_stack, station):
    # Given a station that was offline: its queued events reach Laddvakt Ended first, then Updated,
    # then Started (delivery order is not promised), each marked offline
    info = {"transaction_id": "e2e-201-offline"}
    events = [
        call.TransactionEvent(event_type="Ended", timestamp="2026-11-23T15:40:00Z", trigger_reason="EVDeparted", seq_no=3,
                              offline=True, transaction_info={**info, "stopped_reason": "EVDisconnected"},
                              meter_value=meter("2026-11-23T15:40:00Z", 8_020_000)),
        call.TransactionEvent(event_type="Updated", timestamp="2026-11-23T15:20:00Z", trigger_reason="MeterValuePeriodic",
                              seq_no=1, offline=True, transaction_info={**info, "charging_state": "SuspendedEV"},
                              meter_value=meter("2026-11-23T15:20:00Z", 8_010_000)),
        call.TransactionEvent(event_type="Started", timestamp="2026-11-23T15:00:00Z", trigger_reason="Authorized",
                              seq_no=0, offline=True, transaction_info={**info, "charging_state": "Charging"},
                              evse={"id": 1, "connector_id": 1}, id_token={"id_token": "RFID0013", "type": "ISO14443"},
                              meter_value=meter("2026-11-23T15:00:00Z", 8_000_000)),
    ]  # fmt: skip
    # When they arrive, each is answered as usual
    for event in events:
        station.call(event)
    # Then the session is whole and invoiced once: 20 kWh × 3.45 + 25 % = 86.25, and it says
    # which event never came (seqNo 2) and that the station was offline
    table = local_stack.table(local_stack.names["sessions_table"])
    deadline = time.monotonic() + 60
    head: dict[str, Any] = {}
    while time.monotonic() < deadline and head.get("status") != "invoiced":
        head = table.get_item(Key={"session_id": f"{CP}:e2e-201-offline", "sk": "SESSION"}).get("Item", {})
        time.sleep(0.25)
    assert head.get("status") == "invoiced"
    assert head["offline_events"] is True and head["seq_nos"] == {0, 1, 3}
    invoice = json.loads(
        local_stack.client("s3")
        .get_object(Bucket=local_stack.names["invoice_bucket"], Key=head["invoice_key"])["Body"]
        .read()
    )
    assert invoice["document"]["totals"]["payable"] == "86.25"
