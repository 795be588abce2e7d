"""One charging session through the whole local stack, as a charger and a fleet app see it:
OCPP 1.6 over MQTT in, the IoT rule bridge, the ingest queue and Lambda, the Step Functions
state machine CDK synthesized, the invoice in S3, and the session read back through the fleet API.
"""

from __future__ import annotations

import base64
import json
import re
import time
import urllib.error
import urllib.request
from decimal import Decimal
from typing import Any

import pytest
from boto3.dynamodb.conditions import Key
from ocpp.v16 import call

from laddvakt.cli import main
from laddvakt.simulator import CallErrorReceived, SimulatedCharger
from tests.unit.conftest import EXAMPLE_REGISTRY

pytestmark = pytest.mark.e2e

CP = "LV-UPPSALA-05"  # Nordvind's Uppsala hub: 3.15 SEK/kWh excl. 25 % VAT


def get(stack: Any, path: str, token: str | None) -> tuple[int, dict[str, Any]]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    request = urllib.request.Request(f"{stack.api_url}{path}", headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"{}")


def wait_for(predicate, timeout: float = 60.0, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.25)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


@pytest.fixture(scope="module")
def registered(local_stack) -> Any:
    # The registry is loaded the way an operator loads it: `laddvakt registry import`.
    assert main(["registry", "import", str(EXAMPLE_REGISTRY), "--state-dir", str(local_stack.state_dir)]) == 0
    return local_stack


@pytest.fixture(scope="module")
def charger(registered) -> Any:
    charger = SimulatedCharger(CP, registered.mqtt_host, registered.mqtt_port)
    yield charger
    charger.close()


def test_a_session_over_mqtt_is_recorded_invoiced_and_served(registered, charger):
    stack = registered
    token = stack.issue_token("nordvind", ["fleet_manager"])

    # Given a registered charger that boots and reports its connector
    assert (
        charger.call(call.BootNotification(charge_point_vendor="Sim", charge_point_model="AC11"))["status"]
        == "Accepted"
    )
    charger.call(call.StatusNotification(connector_id=1, error_code="NoError", status="Preparing"))

    # When a Nordvind card starts a session, meter values arrive and the car leaves
    started = charger.call(
        call.StartTransaction(
            connector_id=1, id_tag="RFID0003", meter_start=500_000, timestamp="2026-11-23T15:00:00Z"
        )
    )
    assert started["idTagInfo"]["status"] == "Accepted"
    transaction_id = started["transactionId"]
    session_id = f"{CP}:{transaction_id}"
    charger.call(
        call.MeterValues(
            connector_id=1,
            transaction_id=transaction_id,
            meter_value=[
                {
                    "timestamp": "2026-11-23T15:30:00Z",
                    "sampled_value": [
                        {"value": "505.5", "unit": "kWh"},
                        {"value": "11000", "unit": "W", "measurand": "Power.Active.Import"},
                        {"value": "48", "unit": "Percent", "measurand": "SoC"},
                    ],
                }
            ],
        )
    )

    # Then the fleet API shows the car charging, live
    status_code, status = get(stack, "/fleet/status", token)
    assert status_code == 200
    vehicle = next(v for v in status["vehicles"] if v["vehicle_id"] == "nor-v03")
    assert (vehicle["state"], vehicle["session_id"], vehicle["energy_kwh"]) == (
        "charging",
        session_id,
        "5.500",
    )

    charger.call(
        call.StopTransaction(
            meter_stop=512_345,
            timestamp="2026-11-23T16:45:00Z",
            transaction_id=transaction_id,
            reason="EVDisconnected",
        )
    )

    # And the state machine CDK synthesized closes, prices and invoices it
    sessions = stack.boto3_resource("dynamodb").Table(stack.names["sessions_table"])
    item = wait_for(
        lambda: (
            (i := sessions.get_item(Key={"session_id": session_id, "sk": "SESSION"}).get("Item"))
            and i["status"] == "invoiced"
            and i
        ),
        what=f"{session_id} to be invoiced",
    )
    invoice = json.loads(
        stack.boto3_client("s3")
        .get_object(Bucket=stack.names["invoice_bucket"], Key=item["invoice_key"])["Body"]
        .read()
    )
    # 12.345 kWh × 3.15 = 38.89 net; 25 % VAT 9.72; 48.61 in total
    assert re.fullmatch(r"invoices/laddvakt-cpo/2026/11/LV-\d{7}\.json", item["invoice_key"])
    assert invoice["session"]["energy_kwh"] == "12.345"
    assert (
        invoice["document"]["totals"]["tax_exclusive_total"],
        invoice["document"]["totals"]["vat_total"],
        invoice["document"]["totals"]["tax_inclusive_total"],
    ) == (
        "38.89",
        "9.72",
        "48.61",
    )
    assert Decimal(invoice["document"]["lines"][0]["net_price"]) == Decimal("3.15")

    # And the fleet app reads the finished session back
    status_code, detail = get(stack, f"/sessions/{session_id}", token)
    assert status_code == 200
    assert (detail["status"], detail["energy_kwh"], detail["invoice_key"]) == (
        "invoiced",
        "12.345",
        item["invoice_key"],
    )


def test_the_api_refuses_without_a_token_and_hides_other_fleets(registered):
    assert get(registered, "/fleet/status", None)[0] == 401
    assert get(registered, "/fleet/status", "not-a-token")[0] == 401
    status_code, body = get(registered, "/chargers", registered.issue_token("kusttaxi", ["fleet_manager"]))
    assert status_code == 200
    listed = {c["charge_point_id"] for c in body["chargers"]}
    assert {"LV-GBG-08", "LV-GBG-09", "LV-GBG-10"} <= listed
    assert {c["site_id"] for c in body["chargers"]} == {"gbg-taxi"}, "only Kust Taxi's own chargers"


def test_bad_frames_get_call_errors_over_mqtt_and_are_kept(registered, charger):
    reply = charger.send_raw(b'[2, "e2e-bad", "Authorize", {"idTag": 42}]', "e2e-bad")
    assert reply[:3] == [4, "e2e-bad", "TypeConstraintViolation"]
    charger.send_raw(b"definitely not json")
    rejected = registered.boto3_resource("dynamodb").Table(registered.names["rejected_frames_table"])

    def kept() -> list[str]:
        items = rejected.query(
            KeyConditionExpression="charge_point_id = :cp", ExpressionAttributeValues={":cp": CP}
        )["Items"]
        return [i["reason"] for i in items]

    reasons = wait_for(lambda: len(kept()) >= 2 and kept(), what="both bad frames to be kept")
    assert any("idTag" in r for r in reasons) and any("not valid JSON" in r for r in reasons)


def test_an_unregistered_charger_is_rejected(registered):
    stranger = SimulatedCharger("NOT-IN-REGISTRY", registered.mqtt_host, registered.mqtt_port)
    try:
        assert (
            stranger.call(call.BootNotification(charge_point_vendor="X", charge_point_model="Y"))["status"]
            == "Rejected"
        )
        with pytest.raises(CallErrorReceived) as refused:
            stranger.call(call.Heartbeat())
        assert refused.value.code == "SecurityError"
    finally:
        stranger.close()


def test_an_implausible_session_is_held_then_released_by_an_operator(registered, capsys):
    stack = registered
    charger = SimulatedCharger("LV-UPPSALA-07", stack.mqtt_host, stack.mqtt_port)
    try:
        started = charger.call(
            call.StartTransaction(
                connector_id=2, id_tag="RFID0006", meter_start=50_000, timestamp="2026-11-23T18:00:00Z"
            )
        )
        transaction_id = started["transactionId"]
        # 80 kWh in 20 minutes on an 11 kW charger
        charger.call(
            call.StopTransaction(
                meter_stop=130_000, timestamp="2026-11-23T18:20:00Z", transaction_id=transaction_id
            )
        )
    finally:
        charger.close()
    session_id = f"LV-UPPSALA-07:{transaction_id}"
    sessions = stack.boto3_resource("dynamodb").Table(stack.names["sessions_table"])

    def status() -> str:
        return sessions.get_item(Key={"session_id": session_id, "sk": "SESSION"})["Item"]["status"]

    wait_for(lambda: status() == "held", what=f"{session_id} to be held")
    state_dir = str(stack.state_dir)
    assert main(["sessions", "held", "--state-dir", state_dir]) == 0
    assert session_id in capsys.readouterr().out
    assert (
        main(
            [
                "sessions",
                "release",
                session_id,
                "--energy-kwh",
                "3.5",
                "--reason",
                "register jump after a firmware update",
                "--state-dir",
                state_dir,
            ]
        )
        == 0
    )
    wait_for(lambda: status() == "invoiced", what=f"{session_id} to be invoiced after release")


def test_a_session_that_never_stops_is_closed_by_the_scheduled_reaper_and_invoiced(registered):
    stack = registered
    charger = SimulatedCharger("LV-STHLM-04", stack.mqtt_host, stack.mqtt_port)
    try:
        # A session from two days ago whose charger went offline for good
        started = charger.call(
            call.StartTransaction(
                connector_id=2, id_tag="RFID0010", meter_start=20_000, timestamp="2026-11-22T08:00:00Z"
            )
        )
        charger.call(
            call.MeterValues(connector_id=2, transaction_id=started["transactionId"],
                             meter_value=[{"timestamp": "2026-11-22T09:00:00Z", "sampled_value": [{"value": "31000"}]}])
        )  # fmt: skip
    finally:
        charger.close()
    session_id = f"LV-STHLM-04:{started['transactionId']}"
    (schedule,) = [s for s in stack.resources.schedules if s.function_name.endswith("reap-sessions")]
    report = stack.scheduler.fire(schedule)  # what EventBridge does every 5 minutes
    assert session_id in report["closed"]
    sessions = stack.boto3_resource("dynamodb").Table(stack.names["sessions_table"])
    item = wait_for(
        lambda: (
            (i := sessions.get_item(Key={"session_id": session_id, "sk": "SESSION"})["Item"])["status"]
            == "invoiced"
            and i
        ),
        what=f"{session_id} to be invoiced after an inferred end",
    )
    assert item["end_inferred"] is True and item["meter_stop_wh"] == 31_000


def test_every_frame_in_and_out_is_archived_as_received_by_day_and_charger(registered, charger):
    stack = registered
    marker = b'[2,"ledger-probe","Heartbeat",{}]'
    reply = charger.send_raw(marker, "ledger-probe")
    assert reply[0] == 3
    s3 = stack.boto3_client("s3")

    def archived() -> list[dict[str, Any]]:
        records = []
        listing = s3.list_objects_v2(Bucket=stack.names["ledger_bucket"], Prefix="frames/")
        for obj in listing.get("Contents", []):
            if f"/charger={CP}/" in obj["Key"]:
                body = s3.get_object(Bucket=stack.names["ledger_bucket"], Key=obj["Key"])["Body"].read()
                records += [json.loads(line) for line in body.splitlines() if line]
        return records

    def probe_both_ways() -> list[dict[str, Any]]:
        found = [r for r in archived() if b"ledger-probe" in base64.b64decode(r["payload"])]
        return found if {r["direction"] for r in found} == {"in", "out"} else []

    found = wait_for(probe_both_ways, what="the probe and its reply in the ledger")
    inbound = next(r for r in found if r["direction"] == "in")
    assert base64.b64decode(inbound["payload"]) == marker  # byte for byte
    keys = [
        o["Key"]
        for o in s3.list_objects_v2(Bucket=stack.names["ledger_bucket"], Prefix="frames/")["Contents"]
    ]
    assert any(key.startswith("frames/date=") and f"/charger={CP}/" in key for key in keys)


def test_a_late_real_stop_is_corrected_by_an_operator_with_a_credit_note_and_a_new_invoice(registered):
    stack = registered
    charger = SimulatedCharger("LV-STHLM-04", stack.mqtt_host, stack.mqtt_port)
    sessions = stack.boto3_resource("dynamodb").Table(stack.names["sessions_table"])

    def head() -> dict[str, Any]:
        return sessions.get_item(Key={"session_id": session_id, "sk": "SESSION"})["Item"]

    try:
        # Given a session that went silent after 10 kWh and was billed at its inferred end
        started = charger.call(
            call.StartTransaction(
                connector_id=1, id_tag="RFID0010", meter_start=40_000, timestamp="2026-11-21T08:00:00Z"
            )
        )
        tx = started["transactionId"]
        session_id = f"LV-STHLM-04:{tx}"
        charger.call(
            call.MeterValues(connector_id=1, transaction_id=tx,
                             meter_value=[{"timestamp": "2026-11-21T09:00:00Z", "sampled_value": [{"value": "50000"}]}])
        )  # fmt: skip
        (schedule,) = [s for s in stack.resources.schedules if s.function_name.endswith("reap-sessions")]
        stack.scheduler.fire(schedule)
        first = wait_for(lambda: head()["status"] == "invoiced" and head(), what="the inferred end invoiced")
        # When the real stop arrives (16 kWh in all) and the operator corrects the session
        charger.call(
            call.StopTransaction(meter_stop=56_000, timestamp="2026-11-21T09:30:00Z", transaction_id=tx)
        )
    finally:
        charger.close()
    assert head()["correction_needed"] is True
    state = ["--state-dir", str(stack.state_dir)]
    assert main(["sessions", "correct", session_id, "--reason", "the real stop came late", *state]) == 0
    second = wait_for(
        lambda: (h := head())["status"] == "invoiced" and h["invoice_key"] != first["invoice_key"] and h,
        what="the corrected invoice",
    )
    # Then a credit note names the first invoice, and the new invoice bills 16 kWh at 2.80 + 25 %
    s3, bucket = stack.client("s3"), stack.names["invoice_bucket"]
    new = json.loads(s3.get_object(Bucket=bucket, Key=second["invoice_key"])["Body"].read())
    old = json.loads(s3.get_object(Bucket=bucket, Key=first["invoice_key"])["Body"].read())
    assert new["document"]["totals"]["payable"] == "56.00" and old["document"]["totals"]["payable"] == "35.00"
    billing = stack.boto3_resource("dynamodb").Table(stack.names["billing_table"])
    records = billing.query(KeyConditionExpression=Key("pk").eq("FLEET#nordvind"))["Items"]
    (credit,) = [r for r in records if r["session_id"] == session_id and r["kind"] == "credit_note"]
    note = json.loads(s3.get_object(Bucket=bucket, Key=credit["keys"]["json"])["Body"].read())
    assert note["document"]["type_code"] == "381"
    assert note["document"]["preceding_invoice"]["number"] == old["document"]["number"]
