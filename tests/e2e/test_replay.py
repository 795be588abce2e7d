"""Replaying the raw ledger rebuilds the same session records ingest wrote the first time."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from typing import Any

import pytest
from boto3.dynamodb.conditions import Key
from ocpp.v16 import call

from laddvakt.cli import main
from laddvakt.simulator import SimulatedCharger
from tests.unit.conftest import EXAMPLE_REGISTRY

pytestmark = pytest.mark.e2e

CP = "LV-GBG-09"
# What billing (not ingest) writes on a session head: a replay rebuilds ingest's record only.
BILLING_FIELDS = {"status", "energy_wh", "invoice_key", "active_fleet_id", "hold_reason", "register_resets",
                  "energy_override_wh", "override_reason"}  # fmt: skip


def session_items(table: Any, session_id: str) -> list[dict[str, Any]]:
    items = table.query(KeyConditionExpression=Key("session_id").eq(session_id))["Items"]
    return sorted(
        ({k: v for k, v in i.items() if k not in BILLING_FIELDS} for i in items), key=lambda i: i["sk"]
    )


def test_replay_rebuilds_byte_identical_session_records(local_stack, capsys):
    stack = local_stack
    assert main(["registry", "import", str(EXAMPLE_REGISTRY), "--state-dir", str(stack.state_dir)]) == 0
    charger = SimulatedCharger(CP, stack.mqtt_host, stack.mqtt_port)
    try:
        charger.call(call.BootNotification(charge_point_vendor="Sim", charge_point_model="DC50"))
        started = charger.call(
            call.StartTransaction(
                connector_id=1, id_tag="RFID0014", meter_start=3_000_000, timestamp="2026-11-23T06:00:00Z"
            )
        )
        tx = started["transactionId"]
        for minute, wh in ((15, 3_010_250), (30, 3_020_500), (45, 3_030_100)):
            charger.call(
                call.MeterValues(connector_id=1, transaction_id=tx, meter_value=[{
                    "timestamp": f"2026-11-23T06:{minute:02d}:00Z",
                    "sampled_value": [{"value": str(wh)}, {"value": "41.5", "unit": "kW", "measurand": "Power.Active.Import"}],
                }])
            )  # fmt: skip
        charger.call(
            call.StopTransaction(meter_stop=3_035_000, timestamp="2026-11-23T06:55:00Z", transaction_id=tx)
        )
        charger.send_raw(b"{broken frame")  # archived too, kept, and answered by nothing
    finally:
        charger.close()
    session_id = f"{CP}:{tx}"
    live = stack.table(stack.names["sessions_table"])
    time.sleep(2.5)  # the local Firehose delivers every second, as a buffer interval would

    today = datetime.now(UTC).date().isoformat()
    into = f"{stack.names['sessions_table']}-replay-e2e"
    stack.boto3_client("dynamodb").create_table(
        TableName=into,
        KeySchema=[
            {"AttributeName": "session_id", "KeyType": "HASH"},
            {"AttributeName": "sk", "KeyType": "RANGE"},
        ],
        AttributeDefinitions=[
            {"AttributeName": "session_id", "AttributeType": "S"},
            {"AttributeName": "sk", "AttributeType": "S"},
        ],
        BillingMode="PAY_PER_REQUEST",
    )
    capsys.readouterr()
    assert (
        main(
            [
                "replay",
                "--from",
                today,
                "--to",
                today,
                "--charger",
                CP,
                "--into",
                into,
                "--state-dir",
                str(stack.state_dir),
            ]
        )
        == 0
    )
    report = _report(capsys.readouterr().out)
    assert report["sessions_closed"] == 1
    assert any("not valid JSON" in p for p in report["problems"])

    rebuilt = session_items(stack.table(into), session_id)
    original = session_items(live, session_id)
    assert len(original) == 1 + 3  # the head and three samples (the start marker has its own key)
    assert rebuilt == original


def _report(out: str) -> dict:
    """The replay's JSON summary from stdout, which it shares with the local stack's Lambdas: they
    run in this process, and one still finishing a frame from before may log (or flush its
    metrics) while the replay runs."""
    decoder, at, found = json.JSONDecoder(), 0, []
    while (start := out.find("{", at)) != -1:
        try:
            value, at = decoder.raw_decode(out, start)
        except json.JSONDecodeError:
            at = start + 1
            continue
        if isinstance(value, dict) and "sessions_closed" in value:
            found.append(value)
    (report,) = found
    return report
