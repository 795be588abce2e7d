"""Live fleet events through the whole local stack, as a fleet app sees them: a charger's session
and fault over MQTT, ingest, the tables' streams read by the local stream poller, publish-events,
the fleet event bus, and its tap queue read with `laddvakt events tail`.
"""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from ocpp.v16 import call

from laddvakt.cli import main
from laddvakt.simulator import SimulatedCharger
from tests.unit.conftest import EXAMPLE_REGISTRY

pytestmark = pytest.mark.e2e

CP = "LV-UPPSALA-06"  # Nordvind's Uppsala hub; RFID0006 is Nordvind's nor-v06


@pytest.fixture(scope="module")
def charger(local_stack) -> Any:
    assert main(["registry", "import", str(EXAMPLE_REGISTRY), "--state-dir", str(local_stack.state_dir)]) == 0
    charger = SimulatedCharger(CP, local_stack.mqtt_host, local_stack.mqtt_port)
    yield charger
    charger.close()


def tail_until(stack: Any, capsys: Any, fleet: str, done: Any, timeout: float = 60.0) -> list[dict[str, Any]]:
    """`laddvakt events tail --fleet F --json`, again and again, until `done(events)` holds."""
    events: list[dict[str, Any]] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        argv = ["events", "tail", "--fleet", fleet, "--json", "--idle-timeout", "2"]
        assert main([*argv, "--state-dir", str(stack.state_dir)]) == 0
        # The in-process functions' own log lines land in the same captured stdout: keep the events
        printed = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
        events += [e for e in printed if "detail-type" in e]
        if done(events):
            return events
    raise AssertionError(f"timed out after {timeout} s; the tap gave {[e['detail-type'] for e in events]}")


def meter(transaction_id: int, at: str, wh: int, watts: int) -> Any:
    value = [{"timestamp": at, "sampled_value": [
        {"value": str(wh), "unit": "Wh"},
        {"value": str(watts), "unit": "W", "measurand": "Power.Active.Import"},
    ]}]  # fmt: skip
    return call.MeterValues(connector_id=1, transaction_id=transaction_id, meter_value=value)


def test_a_session_and_a_fault_over_mqtt_become_live_events_of_the_fleet(local_stack, charger, capsys):
    # Given a Nordvind car that plugs in, charges at 11 kW, stops drawing, and leaves, and the
    # charger reporting a ground fault on its other connector and then recovering
    charger.call(call.BootNotification(charge_point_vendor="Sim", charge_point_model="AC22"))
    charger.call(call.StatusNotification(connector_id=1, error_code="NoError", status="Preparing",
                                         timestamp="2026-11-24T07:00:00Z"))  # fmt: skip
    started = charger.call(
        call.StartTransaction(
            connector_id=1, id_tag="RFID0006", meter_start=100_000, timestamp="2026-11-24T07:00:00Z"
        )
    )
    transaction_id = started["transactionId"]
    session_id = f"{CP}:{transaction_id}"
    charger.call(meter(transaction_id, "2026-11-24T07:30:00Z", 105_500, 11_000))
    charger.call(meter(transaction_id, "2026-11-24T08:00:00Z", 108_300, 40))
    charger.call(call.StatusNotification(connector_id=2, error_code="GroundFailure", status="Faulted",
                                         timestamp="2026-11-24T08:05:00Z"))  # fmt: skip
    charger.call(call.StatusNotification(connector_id=2, error_code="NoError", status="Available",
                                         timestamp="2026-11-24T08:20:00Z"))  # fmt: skip
    charger.call(
        call.StopTransaction(meter_stop=108_300, timestamp="2026-11-24T08:10:00Z", transaction_id=transaction_id,
                             reason="EVDisconnected")
    )  # fmt: skip

    # When the fleet app's developer tails Nordvind's events
    def mine(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [
            e for e in events
            if e["detail"].get("session_id") == session_id
            or (e["detail"].get("charge_point_id") == CP and e["detail"].get("connector_id") == 2)
        ]  # fmt: skip

    events = tail_until(local_stack, capsys, "nordvind", lambda seen: len(mine(seen)) >= 5)

    # Then the session started, went idle and ended, and the connector faulted and recovered
    ours = sorted(mine(events), key=lambda e: e["detail"]["occurred_at"])
    assert [e["detail-type"] for e in ours] == [
        "SessionStarted", "SessionIdle", "ChargerFaulted", "SessionEnded", "ChargerRecovered",
    ]  # fmt: skip
    assert {e["source"] for e in ours} == {"laddvakt.fleet"}
    assert {e["detail"]["fleet_id"] for e in events} == {"nordvind"}, "tail --fleet shows one fleet"
    started_event, idle, fault, ended, recovered = (e["detail"] for e in ours)
    assert (started_event["vehicle_id"], started_event["site_id"]) == ("nor-v06", "uppsala-hub")
    assert (idle["power_kw"], idle["energy_kwh"]) == ("0.040", "8.300")
    assert (fault["error_code"], fault["status"]) == ("GroundFailure", "Faulted")
    assert (ended["energy_kwh"], ended["stop_reason"], ended["ended_at"]) == ("8.300", "EVDisconnected",
                                                                              "2026-11-24T08:10:00Z")  # fmt: skip
    assert recovered["error_code"] == "NoError"
    # And nothing could not be published
    dead = local_stack.boto3_client("sqs").get_queue_attributes(
        QueueUrl=local_stack.names["fleet_events_dead_letter_queue"],
        AttributeNames=["ApproximateNumberOfMessages"],
    )
    assert dead["Attributes"]["ApproximateNumberOfMessages"] == "0"


def test_tail_prints_one_readable_line_per_event(local_stack, charger, capsys):
    # Given a fault on the charger's first connector
    charger.call(call.StatusNotification(connector_id=1, error_code="HighTemperature", status="Faulted",
                                         timestamp="2026-11-24T09:00:00Z"))  # fmt: skip
    # When tailing without --json, Then the fault shows as one line with its time, kind and fleet
    deadline = time.monotonic() + 60
    lines: list[str] = []
    while time.monotonic() < deadline and not any("HighTemperature" in line for line in lines):
        argv = [
            "events",
            "tail",
            "--fleet",
            "nordvind",
            "--idle-timeout",
            "2",
            "--state-dir",
            str(local_stack.state_dir),
        ]
        assert main(argv) == 0
        lines += capsys.readouterr().out.splitlines()
    (line,) = [line for line in lines if "HighTemperature" in line]
    assert line.startswith("2026-11-24 09:00:00Z  ChargerFaulted")
    assert "nordvind" in line and f"charge_point_id={CP}" in line
